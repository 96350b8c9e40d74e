"""End to end over the running local stack: uploads to moto over HTTP, the emulator fetching through presigned
URLs and sending signed webhooks to the local HTTP API, the unchanged handlers in between.

Bounded in time, loopback only; every test's stack is stopped in a finally, whatever happens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore.config import Config

from tests.e2e.helpers import settle
from voiceprint.webhook_signature import sign
from voiceprint_local import openapi_spec
from voiceprint_local.audio_samples import silent_wav, wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e

FAST = {"RECONCILE_AFTER_SECONDS": "2"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running(StackOptions(reconcile_every_seconds=0.5, env=FAST, log_level="WARNING", metrics=False)) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset_knobs(stack: LocalStack) -> Iterator[None]:
    assert stack.emulator is not None
    before = dict(stack.emulator.config.__dict__)
    yield
    stack.emulator.config.__dict__.update(before)


def test_upload_becomes_a_voiceprint(stack: LocalStack) -> None:
    assert stack.emulator is not None
    stack.upload("voiceprints/e2e/alice.wav", wav_bytes(2.0, "alice"))
    record = settle(stack, ["voiceprints/e2e/alice.wav"])["voiceprints/e2e/alice.wav"]
    assert record["status"] == "succeeded"
    assert record["voiceprint"].startswith("emulator-v1:")
    job = stack.emulator.jobs[record["jobId"]]
    # the emulator fetched the audio through the SigV4 presigned URL it was given (and verified it)
    assert "X-Amz-Signature=" in job.url
    assert job.url.startswith(stack.aws_url + "/voiceprint-local-inputbucket-local/voiceprints/e2e/alice.wav?")
    # its answers validate against the vendor's spec
    openapi_spec.validate("VoiceprintJob", stack.emulator.job_answer(job))
    openapi_spec.validate("VoiceprintRequest", job.request)


def test_refused_files_get_reasons_and_cost_no_api_call(stack: LocalStack) -> None:
    assert stack.emulator is not None
    before = stack.emulator.stats.requests["POST /v1/voiceprint"]
    files = {
        "voiceprints/e2e/long.wav": silent_wav(31),
        "voiceprints/e2e/readme.txt": b"not audio" * 100,
        "voiceprints/e2e/empty.wav": b"",
    }
    for key, data in files.items():
        stack.upload(key, data)
    records = settle(stack, list(files))
    assert {k: r["failureCode"] for k, r in records.items()} == {
        "voiceprints/e2e/long.wav": "too_long",
        "voiceprints/e2e/readme.txt": "not_audio",
        "voiceprints/e2e/empty.wav": "empty_object",
    }
    assert stack.emulator.stats.requests["POST /v1/voiceprint"] == before


def test_forged_webhook_is_refused_over_http(stack: LocalStack) -> None:
    stack.upload("voiceprints/e2e/bob.wav", wav_bytes(1.5, "bob"))
    record = settle(stack, ["voiceprints/e2e/bob.wav"])["voiceprints/e2e/bob.wav"]
    before = stack.records()
    body = json.dumps({"jobId": record["jobId"], "status": "failed", "output": {"error": "forged"}}).encode()
    ts = str(int(time.time()))
    for signature in (
        sign("not-the-secret", ts, body),
        "",
        sign(stack.webhook_secret, str(int(time.time()) - 7200), body),
    ):
        resp = requests.post(
            stack.webhook_url,
            data=body,
            headers={"Content-Type": "application/json", "X-Request-Timestamp": ts, "X-Signature": signature},
            timeout=10,
        )
        assert resp.status_code == 401
    assert stack.records() == before


def test_binary_content_type_arrives_base64_and_still_verifies(stack: LocalStack) -> None:
    stack.upload("voiceprints/e2e/carol.wav", wav_bytes(1.0, "carol"))
    record = settle(stack, ["voiceprints/e2e/carol.wav"])["voiceprints/e2e/carol.wav"]
    body = json.dumps({"jobId": record["jobId"], "status": "succeeded", "output": {"voiceprint": "x"}}).encode()
    ts = str(int(time.time()))
    resp = requests.post(
        stack.webhook_url,
        data=body,
        headers={
            "Content-Type": "application/octet-stream",
            "X-Request-Timestamp": ts,
            "X-Signature": sign(stack.webhook_secret, ts, body),
        },
        timeout=10,
    )
    # The local API Gateway sent it base64-encoded; the signature held on the decoded raw bytes. It is a
    # duplicate (the record is already terminal) and the genuine voiceprint is untouched.
    assert (resp.status_code, resp.json()) == (200, {"result": "duplicate"})
    assert stack.terminal_records()["voiceprints/e2e/carol.wav"]["voiceprint"] == record["voiceprint"]


def test_dropped_webhook_is_recovered_by_polling(stack: LocalStack) -> None:
    assert stack.emulator is not None
    stack.emulator.config.drop_webhook_rate = 1.0
    dropped_before = stack.emulator.stats.webhooks_dropped
    stack.upload("voiceprints/e2e/dropped.wav", wav_bytes(1.0, "alice"))
    record = settle(stack, ["voiceprints/e2e/dropped.wav"], timeout=30)["voiceprints/e2e/dropped.wav"]
    assert record["status"] == "succeeded"
    assert stack.emulator.stats.webhooks_dropped == dropped_before + 1
    assert stack.emulator.stats.requests["GET /v1/jobs/{id}"] >= 1


def test_status_only_and_duplicated_webhooks(stack: LocalStack) -> None:
    assert stack.emulator is not None
    stack.emulator.config.status_only = True
    stack.emulator.config.duplicate_webhook_rate = 1.0
    stack.upload("voiceprints/e2e/status-only.wav", wav_bytes(1.0, "bob"))
    record = settle(stack, ["voiceprints/e2e/status-only.wav"])["voiceprints/e2e/status-only.wav"]
    assert record["status"] == "succeeded"
    assert record["voiceprint"].startswith("emulator-v1:")


def test_failed_jobs_are_recorded_with_the_vendor_error(stack: LocalStack) -> None:
    assert stack.emulator is not None
    stack.emulator.config.failure_rate = 1.0
    stack.upload("voiceprints/e2e/unlucky.wav", wav_bytes(1.0, "carol"))
    record = settle(stack, ["voiceprints/e2e/unlucky.wav"])["voiceprints/e2e/unlucky.wav"]
    assert record["status"] == "failed"
    assert record["reason"] == "pyannoteAI job failed: Internal processing error"


def test_a_429_storm_is_survived_without_double_submission(stack: LocalStack) -> None:
    assert stack.emulator is not None
    stack.emulator.config.rate_limits = {"submit": 2}  # a storm even when a loaded machine submits slowly
    stack.emulator.config.rate_window_seconds = 2.0
    before_429 = stack.emulator.stats.answers[429]
    keys = [f"voiceprints/e2e/storm/{i:02d}.wav" for i in range(16)]
    audio = wav_bytes(0.5, "alice")
    for key in keys:
        stack.upload(key, audio)
    records = settle(stack, keys, timeout=90)
    assert all(r["status"] == "succeeded" for r in records.values())
    assert stack.emulator.stats.answers[429] > before_429  # there was a storm
    per_object = {k: v for k, v in stack.emulator.stats.submissions_by_url.items() if "/e2e/storm/" in k}
    assert len(per_object) == 16
    assert set(per_object.values()) == {1}  # every object billed once
    assert max(r["attempts"] for r in records.values()) > 1
    assert stack.dead_letters() == []


def test_emulator_enforces_its_own_limits(stack: LocalStack) -> None:
    """What pyannoteAI would say to a file our checks let through: 31 s fails the job with output.error."""
    assert stack.emulator is not None
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="e2e-direct", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="e2e-direct", Key="long.wav", Body=silent_wav(31))
    signer = boto3.client(
        "s3", endpoint_url=stack.aws_url, region_name="eu-west-1", config=Config(signature_version="s3v4")
    )
    url = signer.generate_presigned_url("get_object", Params={"Bucket": "e2e-direct", "Key": "long.wav"}, ExpiresIn=60)
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    job = requests.post(f"{stack.emulator.url}/v1/voiceprint", json={"url": url}, headers=headers, timeout=10).json()
    openapi_spec.validate("JobCreated", job)
    assert wait_for(lambda: stack.emulator is not None and stack.emulator.jobs[job["jobId"]].status == "failed", 10)
    answer = requests.get(f"{stack.emulator.url}/v1/jobs/{job['jobId']}", headers=headers, timeout=10).json()
    assert answer["output"]["error"].startswith("Audio too long")
    tampered = url.replace("long.wav", "long.wa%76")
    job2 = requests.post(
        f"{stack.emulator.url}/v1/voiceprint", json={"url": tampered}, headers=headers, timeout=10
    ).json()
    assert wait_for(lambda: stack.emulator is not None and stack.emulator.jobs[job2["jobId"]].status == "failed", 10)
    assert stack.emulator.jobs[job2["jobId"]].output == {"error": "Could not load audio"}
