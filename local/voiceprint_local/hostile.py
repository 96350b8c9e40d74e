"""What an attacker can send the local stack, for the chaos run: forged and stale webhooks, genuine webhooks
replayed at other records, and forged messages on the input queue. Each returns what it sent and the answers."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

import requests

from voiceprint.object_ref import key_hash
from voiceprint.webhook_signature import sign
from voiceprint_local.stack import REGION, LocalStack

OTHER_BUCKET = "chaos-someone-elses-bucket"


def forge_webhooks(stack: LocalStack, job_ids: list[str], count: int, seed: int) -> Counter[str]:
    """Hostile webhooks: wrong secret, stale timestamp (a captured request replayed late), tampered body,
    missing headers, garbage. Each claims a real job failed with reason FORGED."""
    rng = random.Random(seed)
    answers: Counter[str] = Counter()
    http = requests.Session()
    now = int(time.time())
    for i in range(count):
        job_id = rng.choice(job_ids) if job_ids else "00000000-0000-0000-0000-000000000000"
        body = json.dumps({"jobId": job_id, "status": "failed", "output": {"error": "FORGED"}}).encode()
        ts = str(now)
        kind = i % 5
        if kind == 0:  # signed with a guessed secret
            headers = {"X-Request-Timestamp": ts, "X-Signature": sign("whsec_guess", ts, body)}
        elif kind == 1:  # the real secret, but an hour old: a replay outside the window
            old = str(now - 3600)
            headers = {"X-Request-Timestamp": old, "X-Signature": sign(stack.webhook_secret, old, body)}
        elif kind == 2:  # a valid signature over another body
            headers = {"X-Request-Timestamp": ts, "X-Signature": sign(stack.webhook_secret, ts, b"{}")}
        elif kind == 3:  # no signature at all
            headers = {"X-Request-Timestamp": ts}
        else:  # garbage
            headers = {"X-Request-Timestamp": "yesterday", "X-Signature": "%%%"}
            body = bytes(rng.randrange(256) for _ in range(64))
        resp = http.post(stack.webhook_url, data=body, headers={"Content-Type": "application/json", **headers})
        answers[str(resp.status_code)] += 1
    http.close()
    return answers


def replay_across_records(
    stack: LocalStack, jobs: list[tuple[str, dict[str, Any]]], records: list[dict[str, Any]], count: int, seed: int
) -> Counter[str]:
    """Genuine, freshly signed results of real jobs (as captured from the vendor), each sent with the ref of
    another record: without the stack's MAC, and with the MAC of the job's own record (a lifted URL). Neither
    may put one object's result on another's record."""
    rng = random.Random(seed + 1)
    answers: Counter[str] = Counter()
    http = requests.Session()
    for i in range(count):
        if not jobs or not records:
            break
        job_id, output = rng.choice(jobs)
        target = rng.choice(records)
        ref = f"{key_hash(stack.bucket, str(target['objectKey']))}.{str(target['sk']).removeprefix('VER#')}"
        body = json.dumps({"jobId": job_id, "status": "succeeded", "output": output}).encode()
        ts = str(int(time.time()))
        params = {"ref": ref} if i % 2 == 0 else {"ref": ref, "sig": "0" * 32}
        resp = http.post(
            stack.webhook_url,
            params=params,
            data=body,
            headers={"X-Request-Timestamp": ts, "X-Signature": sign(stack.webhook_secret, ts, body)},
        )
        answers[str(resp.status_code)] += 1
    http.close()
    return answers


def _s3_message(bucket: str, key: str, event_name: str, **obj: Any) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": event_name,
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": {"key": key, **obj}},
    }
    return json.dumps({"Records": [record]})


def forge_queue_messages(stack: LocalStack, keys: list[str], count: int, seed: int) -> Counter[str]:
    """Messages anyone with sqs:SendMessage on the input queue could send: a "new upload" of an unchanged object
    (fresh sequencer, no versionId), a delete marker or a version delete for an object that still exists, an
    upload in another bucket (with real audio in it), and poison that is not an S3 notification at all."""
    rng = random.Random(seed + 2)
    sqs, s3 = stack.client("sqs"), stack.client("s3")
    s3.create_bucket(Bucket=OTHER_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    sent: Counter[str] = Counter()
    for i in range(count):
        key = rng.choice(keys)
        kind = ("created_again", "delete_marker", "version_delete", "other_bucket", "poison")[i % 5]
        if kind == "created_again":
            body = _s3_message(stack.bucket, key, "ObjectCreated:Put", size=1000, sequencer=f"FFFF{i:012X}")
        elif kind == "delete_marker":
            body = _s3_message(stack.bucket, key, "ObjectRemoved:DeleteMarkerCreated", sequencer=f"FFFE{i:012X}")
        elif kind == "version_delete":
            versions = s3.list_object_versions(Bucket=stack.bucket, Prefix=key).get("Versions", [])
            version = versions[0]["VersionId"] if versions else "missing"
            body = _s3_message(stack.bucket, key, "ObjectRemoved:Delete", versionId=version)
        elif kind == "other_bucket":
            s3.put_object(Bucket=OTHER_BUCKET, Key=key, Body=s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
            body = _s3_message(OTHER_BUCKET, key, "ObjectCreated:Put", size=1000, sequencer=f"FFFD{i:012X}")
        else:
            body = "not an S3 notification {"
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
        sent[kind] += 1
    return sent
