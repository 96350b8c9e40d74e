"""The real webhook handler (functions/webhook/app.py) on moto: signature, state transitions, early arrivals."""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import API_KEY, REF_KEY, WEBHOOK_SECRET, Aws, context, load_event, s3_sqs_event
from voiceprint import webhook_ref
from voiceprint.object_ref import ObjectRef
from voiceprint.pyannote_client import JobCreated, PyannoteClient
from voiceprint.webhook_signature import sign
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator

SHORT = wav_bytes(1.0, "carol")


def webhook_event(
    sample: str,
    *,
    job_id: str,
    ref: str | None,
    secret: str = WEBHOOK_SECRET,
    ts: float | None = None,
    encoding: str = "hex",
    base64_body: bool = False,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    sig: str | None = None,
) -> dict[str, Any]:
    """An events/ sample re-addressed to this job and record (its ref bound with the stack's key unless `sig` is
    given), and signed now (or at `ts`)."""
    event = copy.deepcopy(load_event(sample))
    payload = body if body is not None else {**json.loads(event["body"]), "jobId": job_id}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time() if ts is None else ts))
    event["headers"].update({"x-request-timestamp": stamp, "x-signature": sign(secret, stamp, raw, encoding)})
    event["headers"].update(headers or {})
    event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    event["isBase64Encoded"] = base64_body
    if ref is None:
        event.pop("queryStringParameters", None)
        event["rawQueryString"] = ""
    else:
        sig = webhook_ref.mac(REF_KEY, ref) if sig is None else sig
        event["queryStringParameters"] = {"ref": ref, "sig": sig}
        event["rawQueryString"] = f"ref={quote(ref, safe='')}&sig={quote(sig, safe='')}"
    return event


def _submitted(load_handler, aws: Aws, emulator: Emulator, key: str = "voice.wav") -> tuple[str, ObjectRef]:
    version, size = aws.put(key, SHORT)
    event = s3_sqs_event(aws, key, size, version)
    assert load_handler("submit").lambda_handler(event, context()) == {"batchItemFailures": []}
    ref = ObjectRef.from_s3_record(json.loads(event["Records"][0]["body"])["Records"][0])
    [job_id] = [j.id for j in emulator.jobs.values() if j.url.split("?")[0].endswith(quote(key))]
    return job_id, ref


def _invoke(app, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = app.lambda_handler(event, context("webhook"))
    assert resp["headers"]["Content-Type"] == "application/json"
    return resp["statusCode"], json.loads(resp["body"])


def _record(aws: Aws) -> dict[str, Any]:
    [item] = aws.items()
    return item


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_succeeded_webhook_stores_the_voiceprint_without_ttl(load_handler, aws, emulator, encoding) -> None:
    """VoiceprintRetentionDays 0 (the default): a voiceprint lives as long as its source object (issue 15)."""
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook")
    status, body = _invoke(
        app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, encoding=encoding)
    )
    assert (status, body) == (200, {"result": "applied"})
    record = _record(aws)
    assert record["status"] == "succeeded"
    assert record["voiceprint"].startswith("emulator-v1:")
    assert record["vendorStatus"] == "succeeded"
    assert "expiresAt" not in record  # the claim's TTL is gone with the voiceprint's arrival
    assert "pendingShard" not in record  # off the reconciler's list
    assert "early" not in record


def test_a_voiceprint_retention_in_days_gives_the_voiceprint_that_ttl(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook", VOICEPRINT_RETENTION_DAYS="90")
    status, _ = _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))
    assert status == 200
    assert time.time() + 89 * 86400 < _record(aws)["expiresAt"] < time.time() + 91 * 86400


def test_failed_webhook_records_the_reason(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    status, _ = _invoke(
        load_handler("webhook"), webhook_event("webhook_failed.json", job_id=job_id, ref=ref.webhook_ref)
    )
    assert status == 200
    record = _record(aws)
    assert record["status"] == "failed"
    assert record["failureCode"] == "job_failed"
    assert record["reason"] == "pyannoteAI job failed: Could not load audio"


def test_base64_body_from_api_gateway_is_verified_on_the_raw_bytes(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, base64_body=True)
    assert _invoke(load_handler("webhook"), event)[0] == 200
    assert _record(aws)["status"] == "succeeded"


def test_status_only_webhook_fetches_the_output(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    emulator.complete_job(job_id, "succeeded", {"voiceprint": "vp-from-get"}, webhook=False)
    status, _ = _invoke(
        load_handler("webhook"), webhook_event("webhook_status_only.json", job_id=job_id, ref=ref.webhook_ref)
    )
    assert status == 200
    assert _record(aws)["voiceprint"] == "vp-from-get"
    assert emulator.stats.requests["GET /v1/jobs/{id}"] == 1


def test_status_only_webhook_answers_503_when_the_output_cannot_be_fetched(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    emulator.script(f"/v1/jobs/{job_id}", (429, {"requestId": "r", "message": "slow down"}, {"Retry-After": "3"}))
    status, _ = _invoke(
        load_handler("webhook"), webhook_event("webhook_status_only.json", job_id=job_id, ref=ref.webhook_ref)
    )
    assert status == 503  # pyannoteAI retries; the reconciler is the fallback
    assert _record(aws)["status"] == "submitted"


FORGERIES: dict[str, dict[str, Any]] = {
    "wrong secret": {"secret": "whsec_attacker"},
    "stale": {"ts": time.time() - 3600},
    "from the future": {"ts": time.time() + 3600},
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_or_stale_webhooks_are_refused_and_change_nothing(load_handler, aws, emulator, forgery) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    before = aws.items()
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, **FORGERIES[forgery])
    status, body = _invoke(load_handler("webhook"), event)
    assert status == 401
    assert body == {"message": "invalid signature"}
    assert aws.items() == before


def test_sample_event_as_shipped_is_refused(load_handler, aws, emulator) -> None:
    before = aws.items()
    status, _ = _invoke(load_handler("webhook"), load_event("webhook_succeeded.json"))
    assert status == 400  # "REPLACED_BY_TESTS" is not a signature
    assert aws.items() == before


def test_tampered_body_is_refused(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref)
    event["body"] = event["body"].replace("emulator-v1:", "attacker-v1:")
    before = aws.items()
    assert _invoke(load_handler("webhook"), event)[0] == 401
    assert aws.items() == before


@pytest.mark.parametrize(
    "headers", [{"x-signature": ""}, {"x-request-timestamp": ""}, {"x-request-timestamp": "yesterday"}]
)
def test_missing_or_malformed_signature_headers(load_handler, aws, emulator, headers) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    before = aws.items()
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, headers=headers)
    assert _invoke(load_handler("webhook"), event)[0] in (400, 401)
    assert aws.items() == before


@pytest.mark.parametrize(
    "body",
    [
        {"jobId": "", "status": "succeeded"},
        {"status": "succeeded"},
        {"jobId": "j", "status": 42},
        {"jobId": "../x", "status": "running"},
        [1, 2],
    ],
)
def test_signed_but_malformed_payload_is_a_400(load_handler, aws, emulator, body) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    before = aws.items()
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, body=body)
    assert _invoke(load_handler("webhook"), event) == (400, {"message": "malformed payload"})
    assert aws.items() == before


def test_oversized_body_is_refused_before_anything_else(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    big = {"jobId": job_id, "status": "succeeded", "output": {"voiceprint": "x" * (1024 * 1024)}}
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, body=big)
    assert _invoke(load_handler("webhook"), event)[0] == 413
    assert _record(aws)["status"] == "submitted"


def test_replayed_and_duplicate_webhooks_are_no_ops(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook")
    event = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref)
    assert _invoke(app, event) == (200, {"result": "applied"})
    after_first = aws.items()
    assert _invoke(app, event) == (200, {"result": "duplicate"})  # replay of the very same request
    retry = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, headers={"x-retry-num": "1"})
    assert _invoke(app, retry) == (200, {"result": "duplicate"})
    assert aws.items() == after_first


def test_terminal_states_never_regress(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook")
    assert _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))[0] == 200
    # out of order: a failed (or a running) status arrives after the success
    assert _invoke(app, webhook_event("webhook_failed.json", job_id=job_id, ref=ref.webhook_ref)) == (
        200,
        {"result": "duplicate"},
    )
    running = {"jobId": job_id, "status": "running"}
    assert (
        _invoke(app, webhook_event("webhook_status_only.json", job_id=job_id, ref=ref.webhook_ref, body=running))[0]
        == 200
    )
    record = _record(aws)
    assert record["status"] == "succeeded"
    assert record["vendorStatus"] == "succeeded"


def test_a_replayed_body_cannot_be_pointed_at_another_record(load_handler, aws, emulator) -> None:
    job_a, ref_a = _submitted(load_handler, aws, emulator, "a.wav")
    _job_b, ref_b = _submitted(load_handler, aws, emulator, "b.wav")
    # A genuine, signed webhook for job A, sent with B's reference in the URL (the query is not signed).
    event = webhook_event("webhook_succeeded.json", job_id=job_a, ref=ref_b.webhook_ref)
    assert _invoke(load_handler("webhook"), event) == (200, {"result": "superseded"})
    records = {r["objectKey"]: r for r in aws.items()}
    assert records["b.wav"]["status"] == "submitted"
    assert records["a.wav"]["status"] == "submitted"
    assert ref_a.webhook_ref != ref_b.webhook_ref


def test_webhook_before_the_submit_record_is_kept_and_merged(load_handler, aws, emulator, monkeypatch) -> None:
    version, size = aws.put("race.wav", SHORT)
    submit = load_handler("submit")
    webhook = load_handler("webhook")
    sqs_event = s3_sqs_event(aws, "race.wav", size, version)
    ref = ObjectRef.from_s3_record(json.loads(sqs_event["Records"][0]["body"])["Records"][0])
    seen: dict[str, Any] = {}

    class RacingClient(PyannoteClient):
        def submit_voiceprint(self, url: str, *, webhook: str | None, model: str | None) -> JobCreated:
            job = super().submit_voiceprint(url, webhook=webhook, model=model)
            # pyannoteAI is fast: its webhook lands before our handler has recorded the jobId.
            seen["answer"] = _invoke(
                webhook_app, webhook_event("webhook_succeeded.json", job_id=job.job_id, ref=ref.webhook_ref)
            )
            seen["record"] = aws.items()[0]
            return job

    webhook_app = webhook
    client = RacingClient(emulator.url, lambda: API_KEY, timeout_seconds=5)
    monkeypatch.setattr(submit, "service", submit.build_service(client=client))
    assert submit.lambda_handler(sqs_event, context()) == {"batchItemFailures": []}
    assert seen["answer"] == (200, {"result": "early"})
    assert seen["record"]["status"] == "submitting"
    record = _record(aws)
    assert record["status"] == "succeeded"
    assert record["voiceprint"].startswith("emulator-v1:")
    assert "early" not in record


def test_unknown_job_without_reference_is_acknowledged_and_ignored(load_handler, aws, emulator) -> None:
    event = webhook_event("webhook_succeeded.json", job_id="not-ours", ref=None)
    assert _invoke(load_handler("webhook"), event) == (202, {"result": "unknown"})
    assert aws.items() == []


def test_previous_secret_is_accepted_during_rotation(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    aws.secrets.put_secret_value(SecretId=aws.webhook_secret, SecretString="whsec_rotated_new")
    app = load_handler("webhook")
    # pyannoteAI still signs with the old secret (now AWSPREVIOUS): accepted
    assert _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))[0] == 200
    assert _record(aws)["status"] == "succeeded"


def test_previous_secret_is_refused_when_rotation_support_is_off(load_handler, aws, emulator) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    aws.secrets.put_secret_value(SecretId=aws.webhook_secret, SecretString="whsec_rotated_new")
    app = load_handler("webhook", ACCEPT_PREVIOUS_WEBHOOK_SECRET="false")
    assert _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))[0] == 401
    new = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, secret="whsec_rotated_new")
    assert _invoke(app, new)[0] == 200


def test_rejections_are_counted_and_secrets_never_logged(load_handler, aws, emulator, captured_logs) -> None:
    job_id, ref = _submitted(load_handler, aws, emulator)
    app = load_handler("webhook")
    forged = webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref, secret="whsec_attacker")
    _invoke(app, forged)
    _invoke(app, webhook_event("webhook_succeeded.json", job_id=job_id, ref=ref.webhook_ref))
    logs = captured_logs()
    assert '"WebhooksRejected":[1.0]' in logs
    assert '"JobsSucceeded":[1.0]' in logs
    assert '"rejection":"signature_mismatch"' in logs
    assert WEBHOOK_SECRET not in logs
    assert forged["headers"]["x-signature"] not in logs
