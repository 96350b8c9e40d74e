"""Issue 18, items 1 to 3 and 5: pyannoteAI's answers are input too. The real handlers on moto (with AWS's size
limits, tests/conftest.py) against the emulator scripted with answers outside the spec; each test drives only public
surfaces (an SQS record, a webhook event, a scheduled run), so it runs unchanged against the code before the fixes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import RESULTS_BUCKET, Aws, context, load_event, s3_sqs_event
from tests.integration.test_webhook_handler import _invoke, webhook_event
from voiceprint.object_ref import key_hash
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator

SHORT = wav_bytes(1.0, "bob")


def _records(aws: Aws) -> dict[str, dict[str, Any]]:
    return {r["objectKey"]: r for r in aws.items() if "objectKey" in r}


def _posts(emulator: Emulator) -> int:
    return emulator.stats.requests["POST /v1/voiceprint"] + emulator.stats.requests["POST /v1/identify"]


def _submit(load_handler, aws: Aws, key: str, data: bytes = SHORT, *, receive_count: int = 1) -> dict[str, Any]:
    version, size = aws.put(key, data)
    return dict(
        load_handler("submit").lambda_handler(
            s3_sqs_event(aws, key, size, version, receive_count=receive_count), context()
        )
    )


def _job_of(emulator: Emulator, key: str) -> str:
    [job_id] = [j.id for j in emulator.jobs.values() if j.url.split("?")[0].endswith("/" + key)]
    return job_id


def _reconcile(load_handler, monkeypatch, *, after: float = 901) -> dict[str, Any]:
    app = load_handler("reconciler")
    monkeypatch.setattr(app, "service", app.build_service(clock=lambda: time.time() + after))
    return dict(app.lambda_handler(load_event("reconciler_schedule.json"), context("reconciler")))


# -- 1. one bad answer must not stop the reconciler ---------------------------------------------------------------
@pytest.mark.parametrize(
    "odd_answer",
    [
        {"status": "queued"},  # a status the spec does not list
        {"status": "succeeded", "output": {"identification": "x", "voiceprints": [{"confidence": 3}]}},
        {"status": "succeeded", "output": {"voiceprint": {"not": "a string"}}},
        {"status": "succeeded", "output": [1, 2, 3]},
    ],
)
def test_one_odd_answer_does_not_stop_the_reconciler_for_newer_records(
    load_handler, aws, emulator: Emulator, monkeypatch, odd_answer
) -> None:
    _submit(load_handler, aws, "old.wav")
    _submit(load_handler, aws, "new.wav")
    old, new = _job_of(emulator, "old.wav"), _job_of(emulator, "new.wav")
    emulator.complete_job(new, "succeeded", {"voiceprint": "vp-new"}, webhook=False)
    emulator.script(f"/v1/jobs/{old}", (200, {"jobId": old, **odd_answer}, {}))
    _reconcile(load_handler, monkeypatch)
    records = _records(aws)
    assert records["new.wav"]["status"] == "succeeded"
    assert records["old.wav"]["status"] == "submitted"  # nothing guessed from the odd answer


def test_a_record_whose_answers_stay_invalid_is_failed_as_vendor_invalid(
    load_handler, aws, emulator: Emulator, monkeypatch
) -> None:
    _submit(load_handler, aws, "odd.wav")
    job = _job_of(emulator, "odd.wav")
    odd: tuple[int, dict[str, Any], dict[str, str]] = (
        200,
        {"jobId": job, "status": "succeeded", "output": {"voiceprint": 42}},
        {},
    )
    emulator.script(f"/v1/jobs/{job}", odd, odd, odd, odd)
    for run in range(3):
        report = _reconcile(load_handler, monkeypatch, after=901 * (run + 1))
        assert report["errors"] == 1
    record = _records(aws)["odd.wav"]
    assert record["status"] == "failed"
    assert record["failureCode"] == "vendor_invalid"
    assert "pendingShard" not in record  # off the poll queue for good
    assert _reconcile(load_handler, monkeypatch, after=901 * 4)["examined"] == 0


def test_an_unknown_status_in_a_webhook_is_still_running(load_handler, aws, emulator: Emulator) -> None:
    _submit(load_handler, aws, "voice.wav")
    job = _job_of(emulator, "voice.wav")
    body = {"jobId": job, "status": "queued"}
    status, _ = _invoke(
        load_handler("webhook"), webhook_event("webhook_status_only.json", job_id=job, ref=None, body=body)
    )
    assert status == 200
    assert _records(aws)["voice.wav"]["status"] == "submitted"


# -- 2. an odd POST answer must not make the submit function pay again --------------------------------------------
def test_a_huge_warning_is_capped_and_the_job_recorded_once(load_handler, aws, emulator: Emulator) -> None:
    emulator.script(
        "/v1/voiceprint", (200, {"jobId": "3c8a89a5-0001", "status": "created", "warning": "w" * 420_000}, {})
    )
    assert _submit(load_handler, aws, "voice.wav") == {"batchItemFailures": []}
    record = _records(aws)["voice.wav"]
    assert record["status"] == "submitted"
    assert record["jobId"] == "3c8a89a5-0001"
    assert len(record["warning"]) <= 1000
    assert _posts(emulator) == 1


@pytest.mark.parametrize(
    "answer",
    [{"status": "created"}, {"jobId": "j" * 2100, "status": "created"}, {"jobId": None, "status": "created"}],
    ids=["no-job-id", "job-id-past-the-index-key-limit", "null-job-id"],
)
def test_a_200_without_a_usable_job_id_is_paid_once_and_recorded(
    load_handler, aws, emulator: Emulator, answer, captured_logs
) -> None:
    emulator.script("/v1/voiceprint", (200, answer, {}))
    version, size = aws.put("voice.wav", SHORT)
    submit = load_handler("submit")
    for attempt in range(1, 4):  # the message back after each visibility timeout, the lease long over
        event = s3_sqs_event(aws, "voice.wav", size, version, receive_count=attempt)
        submit.lambda_handler(event, context())
        for record in aws.items():  # as if the lease had run out
            if record.get("status") == "submitting":
                aws.ddb.update_item(
                    TableName=aws.table,
                    Key={"pk": {"S": record["pk"]}, "sk": {"S": record["sk"]}},
                    UpdateExpression="SET leaseUntil = :z",
                    ExpressionAttributeValues={":z": {"N": "0"}},
                )
    assert _posts(emulator) == 1
    record = _records(aws)["voice.wav"]
    assert record["status"] == "failed"
    assert record["failureCode"] == "vendor_invalid"
    assert '"level":"ERROR"' in captured_logs().replace(" ", "")


# -- 3. another job's answer never lands on this record ------------------------------------------------------------
def test_a_job_answer_for_another_job_is_not_applied(load_handler, aws, emulator: Emulator, monkeypatch) -> None:
    _submit(load_handler, aws, "a.wav")
    job = _job_of(emulator, "a.wav")
    other = {"jobId": "someone-elses-job", "status": "succeeded", "output": {"voiceprint": "vp-of-someone-else"}}
    emulator.script(f"/v1/jobs/{job}", (200, other, {}))
    _reconcile(load_handler, monkeypatch)
    record = _records(aws)["a.wav"]
    assert record["status"] == "submitted"
    assert "voiceprint" not in record


# -- 5. a result that arrives after its source was deleted leaves nothing behind ------------------------------------
def test_an_identification_result_for_a_deleted_source_is_not_kept(load_handler, aws, emulator: Emulator) -> None:
    for name in ("alice", "carol"):
        _submit(load_handler, aws, f"{name}.wav", wav_bytes(1.0, name))
        job = _job_of(emulator, f"{name}.wav")
        emulator.complete_job(job, "succeeded", {"voiceprint": f"vp-{name}"}, webhook=False)
        ref = f"{key_hash(aws.bucket, name + '.wav')}.{_records(aws)[name + '.wav']['versionId']}"
        assert _invoke(load_handler("webhook"), webhook_event("webhook_succeeded.json", job_id=job, ref=ref))[0] == 200
    version, size = aws.put("identify/call.wav", wav_bytes(2.0, "alice"))
    load_handler("submit").lambda_handler(s3_sqs_event(aws, "identify/call.wav", size, version), context())
    [job] = [j.id for j in emulator.jobs.values() if j.request.get("voiceprints")]
    # The source is deleted (its record with it) while the job runs.
    aws.s3.delete_object(Bucket=aws.bucket, Key="identify/call.wav", VersionId=version)
    removal = s3_sqs_event(aws, "identify/call.wav", 0, version)
    body = json.loads(removal["Records"][0]["body"])
    body["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    removal["Records"][0]["body"] = json.dumps(body)
    load_handler("submit").lambda_handler(removal, context())
    assert "identify/call.wav" not in _records(aws)
    # Then the job's result comes: large enough to be kept in the results bucket.
    segments = [{"speaker": "SPEAKER_00", "start": i, "end": i + 1, "match": "alice"} for i in range(2000)]
    output = {"identification": segments, "diarization": [], "voiceprints": []}
    emulator.complete_job(job, "succeeded", output, webhook=False)
    # Through the URL the job was given: its ref names the deleted record, and is bound to it.
    ref = f"{key_hash(aws.bucket, 'identify/call.wav')}.{version}"
    done = {"jobId": job, "status": "succeeded"}
    status, _ = _invoke(
        load_handler("webhook"), webhook_event("webhook_status_only.json", job_id=job, ref=ref, body=done)
    )
    assert status == 200
    assert aws.s3.list_objects_v2(Bucket=RESULTS_BUCKET).get("KeyCount", 0) == 0
