"""The burst: N uploads at once against the API's submit limit, on an accelerated clock, and its verdict."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from voiceprint_local import stack_reads
from voiceprint_local.reliability import observe
from voiceprint_local.reliability.capture import captured_output, say
from voiceprint_local.stack import Faults, LocalStack, StackOptions, wait_for


@dataclass
class BurstResult:
    uploads: int
    scale: float
    window_seconds: float
    limit: int = observe.API_RATE_PER_MINUTE
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    jobs_created: int = 0
    objects_submitted_twice: int = 0
    answers_429: int = 0
    windows: int = 0
    max_throttles_per_object: int = 0
    objects_throttled: int = 0
    dead_lettered: int = 0
    submit_invocations: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    secret_leaks: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    announcements: observe.Announcements = field(default_factory=observe.Announcements)

    @property
    def ok(self) -> bool:
        return (
            self.announcements.ok
            and self.settled
            and self.statuses.get("succeeded", 0) == self.uploads
            and self.jobs_created == self.uploads
            and self.objects_submitted_twice == 0
            and self.dead_lettered == 0
            and self.lost == 0
            and self.answers_429 <= 3 * max(1, self.windows)  # bounded: a few per window, never one per message
            and not any(self.secret_leaks.values())
        )


def run_burst(
    uploads: int, *, scale: float, seed: int, timeout: float, limit: int = observe.API_RATE_PER_MINUTE
) -> BurstResult:
    """`limit` submits per window of 60/`scale` seconds (the API's is 100 per 60 s)."""
    window = 60.0 / scale
    result = BurstResult(uploads=uploads, scale=scale, window_seconds=window, limit=limit)
    options = StackOptions(
        emulator={
            "rate_limits": {"submit": limit},
            "rate_window_seconds": window,
            "processing_seconds": 0.2,
            "retry_schedule": tuple(s / scale for s in (0.0, 60.0, 300.0)),
            "seed": seed,
        },
        # Our backoff runs on the same accelerated time: base 10 s and cap 900 s, shortened `scale` times.
        env={
            "RETRY_BASE_SECONDS": str(max(1, round(10 / scale))),
            "RETRY_MAX_DELAY_SECONDS": str(max(1, round(900 / scale))),
            # The limit's window as the emulator keeps it: a message sent back returns by its place in the backlog.
            "SUBMITS_PER_WINDOW": str(limit),
            "RATE_WINDOW_SECONDS": str(max(1, round(window))),
            # A webhook that fails every delivery is polled after this delay (900 s), shortened alike: a small run
            # must not sit out a quarter of an hour for one such object.
            "RECONCILE_AFTER_SECONDS": str(max(1, round(900 / scale))),
            # The burst measures the pipeline, not the budget: its uploads share one group, and the full run's
            # 10,000 are more than the default daily quota of a group.
            "GROUP_DAILY_JOBS": "0",
        },
        log_level="WARNING",
        metrics=False,
        faults=Faults(seed=seed),
    )
    clips = list(observe.clips().values())
    files = [(f"voiceprints/burst/{i:05d}.wav", clips[i % len(clips)]) for i in range(uploads)]
    with captured_output() as log_file, LocalStack(options) as stack:
        assert stack.emulator is not None
        emulator = stack.emulator
        secrets = observe.secrets_of(stack)
        say(f"burst: uploading {uploads} files (API limit {limit}/window of {window:.1f} s) ...")
        started = time.monotonic()
        observe.upload_all(stack, files)
        say(f"burst: uploaded in {time.monotonic() - started:.0f} s")

        counted_at, counted = time.monotonic(), 0

        def terminal() -> int:
            # A counting scan walks the whole table on the stack's own CPU (seconds, at 10,000 records): taken every
            # 5 minutes while uploads wait to be submitted (the emulator counts those for free), then at every poll.
            nonlocal counted_at, counted
            if len(emulator.stats.submissions_by_url) >= uploads or time.monotonic() - counted_at >= 300.0:
                counted_at, counted = (
                    time.monotonic(),
                    stack_reads.count_records(stack.client("dynamodb"), stack.table, ("succeeded", "failed")),
                )
            return counted

        def progress() -> None:
            say(
                f"burst: {len(emulator.stats.submissions_by_url)}/{uploads} submitted, {counted} terminal at the last "
                f"count, after {time.monotonic() - started:.0f} s, {emulator.stats.answers[429]} answers 429"
            )

        result.settled = wait_for(lambda: terminal() >= uploads, timeout, 30.0, progress=progress, progress_every=60.0)
        result.seconds = time.monotonic() - started
        rows = observe.statuses(stack)
        result.statuses = dict(Counter(str(r.get("status")) for r in rows))
        per_object = Counter({observe.object_of(u): n for u, n in emulator.stats.submissions_by_url.items()})
        result.jobs_created = sum(per_object.values())
        result.objects_submitted_twice = sum(1 for n in per_object.values() if n > 1)
        result.answers_429 = emulator.stats.answers[429]
        result.windows = max(1, int(result.seconds / window) + 1)
        throttles = [int(r.get("throttles", 0)) for r in rows]
        result.max_throttles_per_object = max(throttles, default=0)
        result.objects_throttled = sum(1 for t in throttles if t)
        result.dead_lettered = len(observe.dead_letters(stack))
        result.submit_invocations = stack.invocations["submit"]
        done = {str(r["objectKey"]) for r in rows if r.get("status") in ("succeeded", "failed")}
        result.lost = sum(1 for key, _ in files if key not in done) - result.dead_lettered
        result.announcements = observe.announcements(stack)
        result.errors = list(stack.errors[:20])
    _, result.secret_leaks = observe.leaks(log_file, secrets)
    return result
