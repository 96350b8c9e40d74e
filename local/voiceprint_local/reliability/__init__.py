"""Reliability runs over the local stack, and the report they write (docs/RELIABILITY.md).

burst  N uploads at once against the API's 100 submits per minute, on an accelerated clock (the minute is
       shortened `scale` times, and so are our backoff delays): every upload must end with a voiceprint, no object
       submitted twice, and 429s bounded (a few per rate-limit window, not a storm per message).
chaos  a seeded random fault matrix over N uploads (API 429/5xx/timeouts, failed jobs, dropped, duplicated and
       status-only webhooks, duplicate S3/SQS deliveries, DynamoDB throttling and conditional conflicts, a
       crash between the API call and the jobId write, bad files, new versions of a key, forged and stale
       webhooks): nothing lost, every failure with a reason, double billing only where the API's lack of an
       idempotency key forces it, forged webhooks change nothing, secrets absent from everything logged.

python -m voiceprint_local.reliability [--burst-uploads 10000] [--chaos-uploads 1000] [--seed 7] [--out FILE]

Rooms: `burst` and `chaos` drive one run each and score it; `observe` reads what the stack did (records, dead
letters, announcements, leaks); `capture` keeps everything logged apart from the report's progress; `report`
renders docs/RELIABILITY.md; `__main__` is the command line.
"""
