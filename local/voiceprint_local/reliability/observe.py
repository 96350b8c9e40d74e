"""What the local stack did, read back for the verdicts: records, dead letters, EventBridge announcements, and
secrets found in the captured logs."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from voiceprint import change_events
from voiceprint.record import Record
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, wait_for

API_RATE_PER_MINUTE = 100  # API_NOTES.md: 100 submits per minute


def clips() -> dict[str, bytes]:
    """A few valid clips, reused under many keys (each key is its own object; identical bytes are fine)."""
    return {name: wav_bytes(0.5, name, sample_rate=8000) for name in ("alice", "bob", "carol")}


def upload_all(stack: LocalStack, files: list[tuple[str, bytes]], workers: int = 8) -> None:
    s3 = stack.client("s3")  # boto3 clients are thread-safe
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=stack.bucket, Key=kv[0], Body=kv[1]), files))


STATUS_ATTRIBUTES = ("objectKey", "sk", "status", "failureCode", "reason", "throttles", "failures", "jobId")


def statuses(stack: LocalStack) -> list[dict[str, Any]]:
    """The attributes the verdicts need, of every record (a projected scan: the table holds thousands)."""
    return stack.records(STATUS_ATTRIBUTES)


@dataclass
class Announcements:
    """How the terminal records were announced on EventBridge: each once is the goal, at least once the contract."""

    expected: int = 0
    missing: int = 0
    duplicates: int = 0  # allowed (consumers dedupe on eventId), counted
    unexpected: int = 0

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.unexpected == 0


def announcements(stack: LocalStack, timeout: float = 120.0) -> Announcements:
    """Wait (bounded) until every terminal record's Ready/Failed event has been published, then compare."""
    rows = stack.records(("pk", "sk", "kind", "status"))
    expected = {
        change_events.event_id(r["pk"], r["sk"], t): t
        for r in rows
        if (t := change_events.detail_type_of(Record.from_item(r)))
    }
    seen: Counter[str] = Counter()

    def caught_up() -> bool:
        seen.update(
            e["detail"].get("eventId", "")
            for e in stack.published_events()
            if not str(e.get("detail-type", "")).endswith("Deleted")
        )
        return set(expected) <= set(seen)

    wait_for(caught_up, timeout, 1.0)
    return Announcements(
        expected=len(expected),
        missing=len(set(expected) - set(seen)),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        unexpected=len(set(seen) - set(expected)),
    )


def dead_letters(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message in the DLQ as the object keys it names and the reason the function gave."""
    letters = []
    for m in stack.dead_letters():
        try:
            records = json.loads(m["Body"]).get("Records", [])
        except (ValueError, AttributeError):  # a poison message: no object behind it
            records = []
        reason = m.get("MessageAttributes", {}).get("reason", {}).get("StringValue", "")
        letters.append({"keys": [unquote_plus(r["s3"]["object"]["key"]) for r in records], "reason": reason})
    return letters


def secrets_of(stack: LocalStack) -> dict[str, str]:
    """What must never appear in anything logged: the two secrets, and presigned URLs' signatures."""
    return {
        "api key": stack.api_key,
        "webhook secret": stack.webhook_secret,
        "webhook ref key": stack.ref_key,
        "presigned URL signatures": "X-Amz-Signature=",
    }


def leaks(log_file: Path, secrets: dict[str, str], extra: str = "") -> tuple[int, dict[str, int]]:
    """Lines captured, and how often each secret appears in them (the file is removed: it may hold a leak)."""
    text = log_file.read_text(errors="replace") + extra
    log_file.unlink()
    return text.count("\n"), {name: text.count(value) for name, value in secrets.items()}


def object_of_url(url: str) -> str:
    """The object key of a presigned URL (path style: /bucket/key)."""
    return unquote(urlsplit(url).path).split("/", 2)[-1]


def object_of(url_identity: str) -> str:
    """The object key in an emulator submissions_by_url entry (host/bucket/key?versionId=...)."""
    path = urlsplit("http://" + url_identity).path
    return unquote(path.split("/", 2)[2]) if path.count("/") >= 2 else path
