"""Identification end to end on the local stack: voiceprints enrolled by folder (group) and label, a recording
dropped under identify/<group>/ identified against them, the output kept on the record or in the results bucket,
and every refusal recorded with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import settle
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running

pytestmark = pytest.mark.e2e

# Small enough that a three-speaker identification goes to the results bucket, a one-speaker one stays inline.
INLINE_LIMIT = 275


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    env = {"INLINE_RESULT_MAX_BYTES": str(INLINE_LIMIT), "IDENTIFY_THRESHOLD": "50"}
    with running(StackOptions(reconcile_every_seconds=0.5, env=env, log_level="WARNING", metrics=False)) as s:
        yield s


def _result(stack: LocalStack, record: dict[str, Any]) -> dict[str, Any]:
    if "result" in record:
        return dict(json.loads(record["result"]))
    bucket, _, key = record["resultLocation"].removeprefix("s3://").partition("/")
    assert bucket == stack.results_bucket
    return dict(json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_a_recording_is_identified_against_the_voiceprints_of_its_group(stack: LocalStack) -> None:
    assert stack.emulator is not None
    enrol = {f"voiceprints/team/{s}.wav": wav_bytes(2.0, s, seed=3) for s in ("alice", "bob", "carol")}
    enrol["voiceprints/other-team/bob.wav"] = wav_bytes(2.0, "alice", seed=4)  # another group: never a candidate
    for key, audio in enrol.items():
        stack.upload(key, audio)
    voiceprints = settle(stack, list(enrol))
    assert {r["label"] for r in voiceprints.values()} == {"alice", "bob", "carol"}
    assert {r["group"] for r in voiceprints.values()} == {"team/", "other-team/"}

    stack.upload("identify/team/standup.wav", wav_bytes(4.0, "bob", seed=11))
    record = settle(stack, ["identify/team/standup.wav"])["identify/team/standup.wav"]

    assert (record["status"], record["kind"], record["group"]) == ("succeeded", "identify", "team/")
    assert record["candidates"] == ["alice", "bob", "carol"]
    request = stack.emulator.jobs[record["jobId"]].request
    assert [v["label"] for v in request["voiceprints"]] == ["alice", "bob", "carol"]
    by_label = {r["label"]: r["voiceprint"] for r in voiceprints.values() if r["group"] == "team/"}
    assert {v["label"]: v["voiceprint"] for v in request["voiceprints"]} == by_label
    assert request["matching"] == {"threshold": 50, "exclusive": True}
    assert request["webhookStatusOnly"] is True  # the output is fetched, however large it is
    # Three speakers' confidences are over the inline limit: the output is in the results bucket.
    assert "result" not in record, (len(record["result"]), record["result"])
    assert record["resultLocation"].startswith(f"s3://{stack.results_bucket}/identifications/")
    output = _result(stack, record)
    assert [segment["match"] for segment in output["identification"]] == ["bob"]
    confidence = output["voiceprints"][0]["confidence"]
    assert confidence["bob"] > max(confidence["alice"], confidence["carol"])


def test_a_small_identification_stays_on_the_record(stack: LocalStack) -> None:
    stack.upload("voiceprints/solo/erin.wav", wav_bytes(2.0, "carol", seed=5))
    settle(stack, ["voiceprints/solo/erin.wav"])
    stack.upload("identify/solo/call.wav", wav_bytes(3.0, "carol", seed=9))
    record = settle(stack, ["identify/solo/call.wav"])["identify/solo/call.wav"]
    assert record["status"] == "succeeded"
    assert "resultLocation" not in record
    assert len(record["result"]) <= INLINE_LIMIT
    assert _result(stack, record)["identification"][0]["match"] == "erin"


def test_labels_come_from_metadata_or_the_file_name_and_bad_ones_are_refused(stack: LocalStack) -> None:
    assert stack.emulator is not None
    s3 = stack.client("s3")
    s3.put_object(
        Bucket="voiceprint-local-inputbucket-local",
        Key="voiceprints/labels/take-1.wav",
        Body=wav_bytes(1.5, "alice"),
        Metadata={"label": "Frank Ocean"},
    )
    stack.upload("voiceprints/labels/SPEAKER_01.wav", wav_bytes(1.5, "bob"))
    stack.upload("voiceprints/labels/" + "x" * 101 + ".wav", wav_bytes(1.5, "carol"))
    jobs_before = len(stack.emulator.jobs)
    records = settle(
        stack,
        ["voiceprints/labels/take-1.wav", "voiceprints/labels/SPEAKER_01.wav", f"voiceprints/labels/{'x' * 101}.wav"],
    )
    assert records["voiceprints/labels/take-1.wav"]["label"] == "Frank Ocean"
    refused = [r for k, r in records.items() if k != "voiceprints/labels/take-1.wav"]
    assert [r["failureCode"] for r in refused] == ["invalid_label", "invalid_label"]
    assert "SPEAKER_" in refused[0]["reason"]
    assert "101 characters" in refused[1]["reason"]
    assert len(stack.emulator.jobs) - jobs_before <= 1  # only Frank's job was paid for


def test_identification_without_usable_voiceprints_fails_with_a_reason(stack: LocalStack) -> None:
    stack.upload("identify/nobody-here/call.wav", wav_bytes(2.0, "alice"))
    for i in range(51):
        stack.upload(f"voiceprints/crowd/speaker-{i:02d}.wav", wav_bytes(1.0, ("alice", "bob", "carol")[i % 3], seed=i))
    settle(stack, [f"voiceprints/crowd/speaker-{i:02d}.wav" for i in range(51)], timeout=60)
    stack.upload("identify/crowd/call.wav", wav_bytes(2.0, "bob", seed=7))
    records = settle(stack, ["identify/nobody-here/call.wav", "identify/crowd/call.wav"])
    empty, crowd = records["identify/nobody-here/call.wav"], records["identify/crowd/call.wav"]
    assert (empty["status"], empty["failureCode"]) == ("failed", "no_voiceprints")
    assert "voiceprints/nobody-here/" in empty["reason"]
    assert (crowd["status"], crowd["failureCode"]) == ("failed", "too_many_voiceprints")
    assert "51 speaker labels" in crowd["reason"]


def test_objects_outside_both_prefixes_are_not_processed(stack: LocalStack) -> None:
    stack.upload("elsewhere/zoe.wav", wav_bytes(1.0, "alice"))
    stack.upload("voiceprints/after.wav", wav_bytes(1.0, "bob"))
    settle(stack, ["voiceprints/after.wav"])  # uploaded later, so the first has had its chance
    assert "elsewhere/zoe.wav" not in {r["objectKey"] for r in stack.records(("objectKey",))}
