"""Issue 17: where moto departs from AWS, the local stack behaves as AWS does. Each test drives the stack from
outside (boto3 against its moto server), as a user's tools would."""

from __future__ import annotations

import io
import threading

import pytest

from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import BUCKET, TABLE, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e


def test_a_reader_never_sees_a_half_applied_update_item() -> None:
    """DynamoDB applies an UpdateItem atomically; moto stored the keys first, then the update."""
    with running(StackOptions(run_functions=False)) as stack:
        ddb_writer, ddb_reader = stack.client("dynamodb"), stack.client("dynamodb")
        done = threading.Event()
        half_applied: list[dict[str, object]] = []

        def write() -> None:
            try:
                for i in range(400):  # bounded
                    ddb_writer.update_item(
                        TableName=TABLE,
                        Key={"pk": {"S": f"OBJ#{i:040d}"}, "sk": {"S": "VER#1"}},
                        UpdateExpression="SET #s = :s, objectKey = :k",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":s": {"S": "submitting"}, ":k": {"S": f"key-{i}"}},
                    )
            finally:
                done.set()

        writer = threading.Thread(target=write)
        writer.start()
        scans = 0
        while not done.is_set() and scans < 5000:  # bounded
            scans += 1
            for item in ddb_reader.scan(TableName=TABLE)["Items"]:
                if "objectKey" not in item:
                    half_applied.append(item)
        writer.join(timeout=60)
        assert scans > 0
        assert half_applied == []


def test_identical_bytes_uploaded_twice_are_two_versions_with_two_voiceprints() -> None:
    """In AWS a re-upload to a versioned bucket is a new version with its own notification (versionId,
    sequencer): it gets its own voiceprint. moto's notifications carried neither, so locally it was deduplicated."""
    data = wav_bytes(2.0, "alice")
    with running() as stack:
        stack.upload("voiceprints/alice.wav", data)
        assert wait_for(lambda: len(stack.terminal_records()) == 1, timeout=60)
        stack.upload("voiceprints/alice.wav", data)

        def two_done() -> bool:
            records = stack.records()
            return len(records) == 2 and all(r.get("status") == "succeeded" for r in records)

        assert wait_for(two_done, timeout=60)
        versions = stack.client("s3").list_object_versions(Bucket=BUCKET, Prefix="voiceprints/alice.wav")["Versions"]
        assert sorted(r["versionId"] for r in stack.records()) == sorted(v["VersionId"] for v in versions)
        assert len({r["jobId"] for r in stack.records()}) == 2


def test_the_serve_console_survives_a_record_it_cannot_describe() -> None:
    from voiceprint_local.__main__ import watch  # the serve loop's body (bfeccaa had it inline: it died instead)

    out = io.StringIO()
    seen: dict[str, str] = {}
    keys_only = {"pk": "OBJ#1", "sk": "VER#1"}  # what moto's non-atomic UpdateItem showed readers
    odd = {"objectKey": "odd.wav", "sk": "VER#2", "status": "succeeded", "kind": "identify", "matches": "not json"}
    fine = {"objectKey": "voiceprints/bob.wav", "sk": "VER#3", "status": "failed", "failureCode": "x", "reason": "y"}
    watch([keys_only, odd, fine], seen, out)
    assert "voiceprints/bob.wav: failed - x: y" in out.getvalue()


def test_the_serve_console_escapes_control_characters_in_keys() -> None:
    from voiceprint_local.__main__ import watch

    out = io.StringIO()
    record = {"objectKey": "voiceprints/\x1b[2Jevil\r.wav", "sk": "VER#1", "status": "failed", "reason": "\x9b31m"}
    watch([record], {}, out)
    assert "\x1b" not in out.getvalue()
    assert "\r" not in out.getvalue()
    assert "\x9b" not in out.getvalue()
    assert "\\x1b[2Jevil\\x0d.wav" in out.getvalue()
