"""Downstream events and deletion on the local stack: every terminal record is announced once on EventBridge with
the documented detail, never with the voiceprint in it; deleting a source object deletes its record (and an
identification's stored output) and announces that too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import settle
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    env = {"INLINE_RESULT_MAX_BYTES": "0"}  # every identification output goes to the results bucket
    with running(StackOptions(reconcile_every_seconds=0.5, env=env, log_level="WARNING", metrics=False)) as s:
        yield s


class Events:
    """Everything published so far, accumulated across drains of the observing queue."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.seen: list[dict[str, Any]] = []

    def wait(self, detail_type: str, key: str, timeout: float = 20) -> dict[str, Any]:
        def found() -> bool:
            self.seen += self.stack.published_events()
            return any(e["detail-type"] == detail_type and e["detail"]["key"] == key for e in self.seen)

        assert wait_for(found, timeout, 0.2), [(e["detail-type"], e["detail"]["key"]) for e in self.seen]
        return next(e for e in self.seen if e["detail-type"] == detail_type and e["detail"]["key"] == key)

    def of(self, key: str) -> list[str]:
        self.seen += self.stack.published_events()
        return [e["detail-type"] for e in self.seen if e["detail"]["key"] == key]


def test_terminal_records_are_announced_once_without_the_voiceprint(stack: LocalStack) -> None:
    events = Events(stack)
    stack.upload("voiceprints/events/alice.wav", wav_bytes(2.0, "alice"))
    stack.upload("voiceprints/events/notes.txt", b"not audio at all" * 50)
    record = settle(stack, ["voiceprints/events/alice.wav"])["voiceprints/events/alice.wav"]

    ready = events.wait("Voiceprint Ready", "voiceprints/events/alice.wav")
    assert ready["source"] == "voiceprint-pipeline"
    assert ready["resources"] == [f"arn:aws:s3:::{stack.bucket}/voiceprints/events/alice.wav"]
    detail = ready["detail"]
    assert {k: detail[k] for k in ("schemaVersion", "kind", "status", "label", "group", "jobId")} == {
        "schemaVersion": 1,
        "kind": "voiceprint",
        "status": "succeeded",
        "label": "alice",
        "group": "events/",
        "jobId": record["jobId"],
    }
    assert record["voiceprint"] not in json.dumps(ready)  # biometric data stays behind the read API

    failed = events.wait("Voiceprint Failed", "voiceprints/events/notes.txt")["detail"]
    assert (failed["failureCode"], failed["status"]) == ("not_audio", "failed")
    assert "reason" in failed

    # A duplicate webhook changes nothing, so nothing more is announced.
    assert stack.emulator is not None
    stack.emulator.complete_job(record["jobId"], "succeeded", {"voiceprint": record["voiceprint"]})
    wait_for(lambda: False, 1.5)
    assert events.of("voiceprints/events/alice.wav") == ["Voiceprint Ready"]


def test_identifications_are_announced_with_their_matches(stack: LocalStack) -> None:
    events = Events(stack)
    stack.upload("voiceprints/events-id/bob.wav", wav_bytes(2.0, "bob", seed=2))
    settle(stack, ["voiceprints/events-id/bob.wav"])
    stack.upload("identify/events-id/call.wav", wav_bytes(3.0, "bob", seed=8))
    record = settle(stack, ["identify/events-id/call.wav"])["identify/events-id/call.wav"]
    detail = events.wait("Identification Ready", "identify/events-id/call.wav")["detail"]
    assert detail["candidates"] == ["bob"]
    assert [(m["speaker"], m["match"]) for m in detail["matches"]] == [("SPEAKER_00", "bob")]
    assert detail["resultLocation"] == record["resultLocation"]
    assert detail["resultInline"] is False


def test_deleting_the_source_deletes_its_records_and_outputs(stack: LocalStack) -> None:
    events = Events(stack)
    s3 = stack.client("s3")
    stack.upload("voiceprints/gone/carol.wav", wav_bytes(2.0, "carol"))
    stack.upload("voiceprints/gone/carol.wav", wav_bytes(2.5, "carol", seed=4))  # a second version
    assert wait_for(
        lambda: (
            sum(
                1
                for r in stack.records()
                if r["objectKey"] == "voiceprints/gone/carol.wav" and r["status"] == "succeeded"
            )
            == 2
        ),
        30,
    )
    stack.upload("identify/gone/call.wav", wav_bytes(3.0, "carol", seed=6))
    identification = settle(stack, ["identify/gone/call.wav"])["identify/gone/call.wav"]
    result_key = identification["resultLocation"].split("/", 3)[3]
    assert s3.get_object(Bucket=stack.results_bucket, Key=result_key)["ContentLength"] > 0

    # A plain DELETE on the versioned bucket (a delete marker): every version's record goes.
    s3.delete_object(Bucket=stack.bucket, Key="voiceprints/gone/carol.wav")
    # Deleting one version for good: that version's record goes, with its stored output.
    versions = s3.list_object_versions(Bucket=stack.bucket, Prefix="identify/gone/call.wav")["Versions"]
    s3.delete_object(Bucket=stack.bucket, Key="identify/gone/call.wav", VersionId=versions[0]["VersionId"])

    def gone() -> bool:
        keys = {r["objectKey"] for r in stack.records(("objectKey",))}
        return not keys & {"voiceprints/gone/carol.wav", "identify/gone/call.wav"}

    assert wait_for(gone, 20)
    assert s3.list_objects_v2(Bucket=stack.results_bucket, Prefix=result_key).get("KeyCount", 0) == 0
    deleted = events.wait("Voiceprint Deleted", "voiceprints/gone/carol.wav")
    assert deleted["detail"]["deletedBecause"] == "source_deleted"
    events.wait("Identification Deleted", "identify/gone/call.wav")
    assert events.of("voiceprints/gone/carol.wav").count("Voiceprint Deleted") == 2  # one per version's record
    assert stack.errors == []
