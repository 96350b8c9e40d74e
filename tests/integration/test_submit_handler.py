"""The real submit handler (functions/submit/app.py) on moto, talking HTTP to the emulator."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from tests.conftest import API_KEY, WEBHOOK_URL, Aws, context, load_event, s3_sqs_event
from voiceprint.job_store import JobStore
from voiceprint.object_ref import ObjectRef, keys_from_webhook_ref, record_keys
from voiceprint.vendor_limits import MAX_AUDIO_BYTES
from voiceprint_local import openapi_spec
from voiceprint_local.audio_samples import silent_wav, wav_bytes
from voiceprint_local.emulator import Emulator
from voiceprint_local.sigv4 import PresignError, verify_presigned_get

SHORT = wav_bytes(2.0, "alice")


def _record(aws: Aws, key: str, version: str) -> dict:
    item = aws.ddb.get_item(
        TableName=aws.table, Key={k: {"S": v} for k, v in record_keys(aws.bucket, key, version).items()}
    )
    from boto3.dynamodb.types import TypeDeserializer

    return {k: TypeDeserializer().deserialize(v) for k, v in item["Item"].items()}


def _submit(load_handler, aws: Aws, key: str, data: bytes, **kw):
    version, size = aws.put(key, data)
    app = load_handler("submit")
    result = app.lambda_handler(s3_sqs_event(aws, key, size, version, **kw), context("submit"))
    return app, version, result


def test_upload_becomes_a_submitted_job(load_handler, aws: Aws, emulator: Emulator) -> None:
    before = time.time()
    _, version, result = _submit(load_handler, aws, "voiceprints/alice.wav", SHORT)
    assert result == {"batchItemFailures": []}
    [job] = emulator.jobs.values()
    openapi_spec.validate("VoiceprintRequest", job.request)
    assert job.request["model"] == "precision-2"
    record = _record(aws, "voiceprints/alice.wav", version)
    assert record["status"] == "submitted"
    assert record["jobId"] == job.id
    assert record["bucket"] == aws.bucket
    assert record["objectKey"] == "voiceprints/alice.wav"
    assert record["versionId"] == version
    assert record["attempts"] == 1
    # TTL is epoch seconds, in the future by the retention period
    assert before + 30 * 86400 - 5 <= record["expiresAt"] <= time.time() + 30 * 86400 + 5
    assert record["pendingShard"] == "PENDING"
    assert "claimToken" not in record
    assert "leaseUntil" not in record


def test_webhook_url_is_the_stacks_with_a_reference_to_the_record(load_handler, aws: Aws, emulator: Emulator) -> None:
    _, version, _ = _submit(load_handler, aws, "a.wav", SHORT)
    [job] = emulator.jobs.values()
    assert job.webhook is not None
    assert job.webhook.startswith(WEBHOOK_URL + "?ref=")
    token = parse_qs(urlsplit(job.webhook).query)["ref"][0]
    assert keys_from_webhook_ref(token) == record_keys(aws.bucket, "a.wav", version)


def test_presigned_url_is_sigv4_short_lived_and_verifiable(load_handler, aws: Aws, emulator: Emulator) -> None:
    _, version, _ = _submit(load_handler, aws, "dir/with space+plus ü.wav", SHORT)
    [job] = emulator.jobs.values()
    query = parse_qs(urlsplit(job.url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["1800"]
    assert query["versionId"] == [version]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    now = time.time()
    credentials = boto3.session.Session().get_credentials()
    assert credentials is not None
    secret = credentials.secret_key  # what the handler signed with (moto's fake keys)
    verify_presigned_get(job.url, secret_key=secret, now=now)
    with pytest.raises(PresignError, match="expired"):
        verify_presigned_get(job.url, secret_key=secret, now=now + 1801)
    with pytest.raises(PresignError, match="signature"):
        verify_presigned_get(job.url.replace("with%20space", "with%20spacf"), secret_key=secret, now=now)
    with pytest.raises(PresignError, match="signature"):
        verify_presigned_get(job.url, secret_key="another-secret", now=now)


@pytest.mark.parametrize("key", ["with space.wav", "a+b.wav", "ünïcödé/日本語 (1).wav", "x%20y.wav"])
def test_keys_with_spaces_plus_and_unicode(load_handler, aws: Aws, emulator: Emulator, key: str) -> None:
    _, version, result = _submit(load_handler, aws, key, SHORT)
    assert result == {"batchItemFailures": []}
    assert _record(aws, key, version)["status"] == "submitted"
    [job] = emulator.jobs.values()
    assert unquote(urlsplit(job.url).path) == f"/{key}"  # the presigned URL names the decoded key


def test_same_object_version_delivered_twice_creates_one_job(load_handler, aws: Aws, emulator: Emulator) -> None:
    version, size = aws.put("dup.wav", SHORT)
    app = load_handler("submit")
    event = s3_sqs_event(aws, "dup.wav", size, version, records=2)  # the same notification twice in one batch
    assert app.lambda_handler(event, context()) == {"batchItemFailures": []}
    assert app.lambda_handler(s3_sqs_event(aws, "dup.wav", size, version), context()) == {"batchItemFailures": []}
    assert len(emulator.jobs) == 1
    assert emulator.stats.requests["POST /v1/voiceprint"] == 1


def test_a_new_version_of_the_same_key_is_a_new_job(load_handler, aws: Aws, emulator: Emulator) -> None:
    _submit(load_handler, aws, "same.wav", SHORT)
    _submit(load_handler, aws, "same.wav", wav_bytes(1.0, "bob"))
    assert len(emulator.jobs) == 2


def test_s3_test_event_and_folder_markers_are_ignored(load_handler, aws: Aws, emulator: Emulator) -> None:
    app = load_handler("submit")
    assert app.lambda_handler(load_event("s3_test_event_via_sqs.json"), context()) == {"batchItemFailures": []}
    aws.s3.put_object(Bucket=aws.bucket, Key="folder/", Body=b"")
    assert app.lambda_handler(s3_sqs_event(aws, "folder/", 0, None), context()) == {"batchItemFailures": []}
    assert emulator.jobs == {}
    assert aws.items() == []


@pytest.mark.parametrize(
    ("key", "data", "size", "code", "reason"),
    [
        ("empty.wav", b"", None, "empty_object", "empty"),
        ("notes.txt", b"just some text, not audio at all" * 50, None, "not_audio", "not a recognised audio format"),
        ("long.wav", silent_wav(31), None, "too_long", "31.0 s of audio is over the API's limit of 30 s"),
        # The size is S3's, not the message's: the object really is one byte over (built when the test runs).
        ("huge.wav", None, MAX_AUDIO_BYTES + 1, "too_large", "over the API's limit of 104857600 bytes"),
    ],
)
def test_refused_objects_get_a_failed_record_and_no_api_call(
    load_handler, aws: Aws, emulator: Emulator, key: str, data: bytes | None, size: int | None, code: str, reason: str
) -> None:
    if data is None and size is not None:
        data = SHORT + bytes(size - len(SHORT))
    assert data is not None
    version, real_size = aws.put(key, data)
    app = load_handler("submit")
    result = app.lambda_handler(s3_sqs_event(aws, key, size or real_size, version), context())
    assert result == {"batchItemFailures": []}
    record = _record(aws, key, version)
    assert record["status"] == "failed"
    assert record["failureCode"] == code
    assert reason in record["reason"]
    assert "pendingShard" not in record
    assert emulator.stats.requests["POST /v1/voiceprint"] == 0


def test_exactly_30_seconds_is_accepted(load_handler, aws: Aws, emulator: Emulator) -> None:
    _, version, _ = _submit(load_handler, aws, "thirty.wav", silent_wav(30))
    assert _record(aws, "thirty.wav", version)["status"] == "submitted"


def test_object_deleted_before_processing(load_handler, aws: Aws, emulator: Emulator) -> None:
    version, size = aws.put("gone.wav", SHORT)
    aws.s3.delete_object(Bucket=aws.bucket, Key="gone.wav", VersionId=version)
    app = load_handler("submit")
    assert app.lambda_handler(s3_sqs_event(aws, "gone.wav", size, version), context()) == {"batchItemFailures": []}
    # Nothing to submit and nothing to keep: S3 is the judge of what exists (its removal notification follows).
    assert aws.items() == []
    assert emulator.stats.requests["POST /v1/voiceprint"] == 0


def test_api_400_fails_the_object_with_the_apis_reason(load_handler, aws: Aws, emulator: Emulator) -> None:
    emulator.script(
        "/v1/voiceprint",
        (400, {"message": "Invalid request", "errors": [{"field": "url", "message": "Invalid URL"}]}, {}),
    )
    _, version, result = _submit(load_handler, aws, "bad.wav", SHORT)
    assert result == {"batchItemFailures": []}  # retrying cannot help: the message is done
    record = _record(aws, "bad.wav", version)
    assert record["status"] == "failed"
    assert record["failureCode"] == "api_rejected"
    assert "Invalid request" in record["reason"]
    assert "url: Invalid URL" in record["reason"]


def _visibility_changes(app, monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(app.sqs, "change_message_visibility", lambda **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize(
    ("answer", "expect_delay"),
    [
        ((429, {"requestId": "r", "message": "Too many requests"}, {"Retry-After": "37"}), (37, 47)),
        ((500, {"message": "oops"}, {}), (1, 10)),
        ((503, None, {}), (1, 10)),
        ((401, {"requestId": "r", "message": "Invalid API key"}, {}), (1, 10)),
        ((402, {"requestId": "r", "message": "Subscription is required"}, {}), (1, 10)),
    ],
)
def test_transient_and_account_errors_return_the_message_to_the_queue(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch, answer, expect_delay
) -> None:
    version, size = aws.put("retry.wav", SHORT)
    app = load_handler("submit")
    calls = _visibility_changes(app, monkeypatch)
    emulator.script("/v1/voiceprint", answer)
    result = app.lambda_handler(s3_sqs_event(aws, "retry.wav", size, version), context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    [call] = calls
    assert call["QueueUrl"].endswith("/123456789012/input")
    assert call["ReceiptHandle"] == "rh-0"
    assert expect_delay[0] <= call["VisibilityTimeout"] <= expect_delay[1]
    record = _record(aws, "retry.wav", version)
    assert record["status"] == "retrying"
    assert str(answer[0]) in record["lastError"]
    # The redelivery (after the delay it was given, and in a later window of the limit: a 429 spends the window
    # it came in for every container) takes the claim again and completes.
    later = call["VisibilityTimeout"] + 60
    monkeypatch.setattr(app, "service", app.build_service(clock=lambda: time.time() + later))
    result = app.lambda_handler(s3_sqs_event(aws, "retry.wav", size, version, receive_count=2), context())
    assert result == {"batchItemFailures": []}
    record = _record(aws, "retry.wav", version)
    assert record["status"] == "submitted"
    assert record["attempts"] == 2
    assert "lastError" not in record


def _dlq_messages(aws: Aws) -> list[dict]:
    resp = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(resp.get("Messages", []))


def test_out_of_attempts_moves_the_message_to_the_dlq_with_its_reason(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    version, size = aws.put("dead.wav", SHORT)
    app = load_handler("submit", MAX_SUBMIT_ATTEMPTS="2")
    _visibility_changes(app, monkeypatch)
    emulator.script("/v1/voiceprint", (503, None, {}), (500, {"message": "still down"}, {}))
    first = app.lambda_handler(s3_sqs_event(aws, "dead.wav", size, version, receive_count=1), context())
    assert first["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    assert _dlq_messages(aws) == []
    second = app.lambda_handler(s3_sqs_event(aws, "dead.wav", size, version, receive_count=2), context())
    assert second == {"batchItemFailures": []}  # moved to the DLQ by the function, so done here
    record = _record(aws, "dead.wav", version)
    assert record["status"] == "dead_letter"
    assert record["failures"] == 2
    assert "still down" in record["lastError"]
    [moved] = _dlq_messages(aws)
    assert "still down" in moved["MessageAttributes"]["reason"]["StringValue"]
    # Redrive: the same message comes back to the input queue and is submitted this time.
    redriven = s3_sqs_event(aws, "dead.wav", size, version, receive_count=1)
    redriven["Records"][0]["body"] = moved["Body"]
    assert app.lambda_handler(redriven, context()) == {"batchItemFailures": []}
    assert _record(aws, "dead.wav", version)["status"] == "submitted"


def test_throttling_does_not_spend_the_dead_letter_budget(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    version, size = aws.put("busy.wav", SHORT)
    app = load_handler("submit", MAX_SUBMIT_ATTEMPTS="2")
    calls = _visibility_changes(app, monkeypatch)
    limited = (429, {"requestId": "r", "message": "Too many requests"}, {"Retry-After": "30"})
    emulator.script("/v1/voiceprint", limited, limited, limited, limited)
    clock = {"now": time.time()}
    monkeypatch.setattr(app, "service", app.build_service(clock=lambda: clock["now"]))
    for attempt in range(1, 5):
        result = app.lambda_handler(s3_sqs_event(aws, "busy.wav", size, version, receive_count=attempt), context())
        assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
        # Each return lands in a later window of the limit (in the same one, the shared counter, spent by the
        # 429, would send it back without a request).
        clock["now"] += calls[-1]["VisibilityTimeout"] + 60
    assert emulator.stats.answers[429] == 4
    record = _record(aws, "busy.wav", version)
    assert record["status"] == "retrying"
    assert record["throttles"] == 4
    assert "failures" not in record
    assert _dlq_messages(aws) == []
    # each throttle waits at least Retry-After, with a spread that grows: 30+[0,10), 30+[0,20), ...
    assert all(c["VisibilityTimeout"] >= 30 for c in calls)
    assert app.lambda_handler(s3_sqs_event(aws, "busy.wav", size, version, receive_count=5), context()) == {
        "batchItemFailures": []
    }


def _batch(aws: Aws, prefix: str, count: int) -> list[dict[str, object]]:
    """The SQS records of `count` uploads under `prefix/`, with message ids msg-0, msg-1, ..."""
    records = []
    for i in range(count):
        version, size = aws.put(f"{prefix}/{i}.wav", SHORT)
        rec = s3_sqs_event(aws, f"{prefix}/{i}.wav", size, version)["Records"][0]
        rec["messageId"] = f"msg-{i}"
        records.append(rec)
    return records


def test_after_a_429_the_rest_of_the_batch_waits_without_calling_the_api(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    records = _batch(aws, "batch", 3)
    app = load_handler("submit")
    calls = _visibility_changes(app, monkeypatch)
    emulator.script("/v1/voiceprint", (429, {"requestId": "r", "message": "Too many requests"}, {"Retry-After": "20"}))
    result = app.lambda_handler({"Records": records}, context())
    assert result == {"batchItemFailures": [{"itemIdentifier": f"msg-{i}"} for i in range(3)]}
    assert emulator.stats.requests["POST /v1/voiceprint"] == 1
    assert all(c["VisibilityTimeout"] >= 19 for c in calls)
    assert len(aws.items()) == 1  # the two others were not even claimed


def test_two_containers_share_the_limit_through_the_table_and_meet_no_429(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    """Issue 14: one rate budget for every container. Two submit containers (two handler modules, each with its
    own allowance) drain 8 uploads against a limit of 5 a window: 5 are submitted and 3 wait for the next window
    without a request."""
    records = _batch(aws, "shared", 8)
    env = {"SUBMITS_PER_WINDOW": "5", "RATE_BLOCK_TOKENS": "2", "SUBMIT_CONTAINERS": "2"}
    clock = {"now": 1_800_000_000.0}  # the first second of a 60 s window
    first, second = load_handler("submit", **env), load_handler("submit", **env)
    for app in (first, second):
        _visibility_changes(app, monkeypatch)
        monkeypatch.setattr(app, "service", app.build_service(clock=lambda: clock["now"]))
    failed = []
    for i, rec in enumerate(records):
        app = first if i % 2 == 0 else second
        failed += app.lambda_handler({"Records": [rec]}, context())["batchItemFailures"]
    assert emulator.stats.requests["POST /v1/voiceprint"] == 5
    assert emulator.stats.answers[429] == 0
    assert len(failed) == 3
    [counter] = [i for i in aws.all_items() if i["pk"] == "RATE#submit"]
    assert (counter["window"], counter["used"]) == (1_800_000_000 // 60, 5)
    clock["now"] += 60  # the next window: the three come back and go through
    for rec in records:
        if {"itemIdentifier": rec["messageId"]} in failed:
            assert first.lambda_handler({"Records": [rec]}, context()) == {"batchItemFailures": []}
    assert emulator.stats.requests["POST /v1/voiceprint"] == 8


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [20 + 10, 20 + 80, 20 + 900]),  # defaults: base 10 s, cap 900 s
        ({"RETRY_BASE_SECONDS": "1", "RETRY_MAX_DELAY_SECONDS": "5"}, [20 + 1, 20 + 5, 20 + 5]),
    ],
)
def test_while_paused_a_backlog_spreads_further_each_time_it_comes_back(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch, env, expected
) -> None:
    version, size = aws.put("backlog.wav", SHORT)
    app = load_handler("submit", **env)
    calls = _visibility_changes(app, monkeypatch)
    now = time.time()
    service = app.build_service(clock=lambda: now, rand=lambda: 1.0)  # the top of each jitter window
    service.submission.pause_until(now + 20)  # a 429 said: 20 s
    monkeypatch.setattr(app, "service", service)
    for receive_count in (1, 4, 8):
        result = app.lambda_handler(
            s3_sqs_event(aws, "backlog.wav", size, version, receive_count=receive_count), context()
        )
        assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert [c["VisibilityTimeout"] for c in calls] == expected
    assert emulator.stats.requests["POST /v1/voiceprint"] == 0
    assert aws.items() == []  # not even claimed


def test_partial_batch_failure_reports_only_the_failed_message(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    v1, s1 = aws.put("ok.wav", SHORT)
    v2, s2 = aws.put("throttled.wav", SHORT)
    app = load_handler("submit")
    _visibility_changes(app, monkeypatch)
    event = {
        "Records": s3_sqs_event(aws, "ok.wav", s1, v1)["Records"]
        + s3_sqs_event(aws, "throttled.wav", s2, v2)["Records"]
    }
    event["Records"][1]["messageId"] = "msg-1"
    original = emulator.handle
    calls = {"n": 0}

    def second_is_throttled(method, path, headers, body):
        if path == "/v1/voiceprint":
            calls["n"] += 1
            if calls["n"] == 2:
                return 429, {"requestId": "r", "message": "Too many requests"}, {"Retry-After": "5"}
        return original(method, path, headers, body)

    emulator.handle = second_is_throttled  # type: ignore[method-assign]
    result = app.lambda_handler(event, context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert _record(aws, "ok.wav", v1)["status"] == "submitted"
    assert _record(aws, "throttled.wav", v2)["status"] == "retrying"


def test_crash_after_claim_is_retried_once_the_lease_expires(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    version, size = aws.put("crash.wav", SHORT)
    app = load_handler("submit")
    ref = ObjectRef.from_s3_record(
        json.loads(s3_sqs_event(aws, "crash.wav", size, version)["Records"][0]["body"])["Records"][0]
    )
    # An invocation that claimed and then died (timeout, OOM) leaves a SUBMITTING claim behind.
    now = time.time()
    claim = JobStore(aws.ddb, aws.table, retention_days=30).claim(ref, now=now, lease_seconds=120)
    assert claim is not None
    calls = _visibility_changes(app, monkeypatch)
    monkeypatch.setattr(app, "service", app.build_service(clock=lambda: now + 30))
    # While the lease runs, the message is neither submitted nor dropped: it comes back when the lease is over.
    assert app.lambda_handler(s3_sqs_event(aws, "crash.wav", size, version, receive_count=2), context()) == {
        "batchItemFailures": [{"itemIdentifier": "msg-0"}]
    }
    assert [c["VisibilityTimeout"] for c in calls] == [int(now) + 120 - int(now + 30) + 1]
    assert emulator.stats.requests["POST /v1/voiceprint"] == 0
    assert _record(aws, "crash.wav", version)["status"] == "submitting"
    monkeypatch.setattr(app, "service", app.build_service(clock=lambda: time.time() + 121))
    assert app.lambda_handler(s3_sqs_event(aws, "crash.wav", size, version, receive_count=3), context()) == {
        "batchItemFailures": []
    }
    assert _record(aws, "crash.wav", version)["status"] == "submitted"
    assert emulator.stats.requests["POST /v1/voiceprint"] == 1


def test_terminal_records_are_never_resubmitted(load_handler, aws: Aws, emulator: Emulator) -> None:
    _, version, _ = _submit(load_handler, aws, "empty.wav", b"")
    assert _record(aws, "empty.wav", version)["status"] == "failed"
    app = load_handler("submit")
    app.lambda_handler(s3_sqs_event(aws, "empty.wav", 0, version, receive_count=2), context())
    assert _record(aws, "empty.wav", version)["attempts"] == 1


def test_secrets_and_presigned_urls_never_reach_the_logs(
    load_handler, aws: Aws, emulator: Emulator, captured_logs
) -> None:
    emulator.script("/v1/voiceprint", (400, {"message": "Invalid request", "errors": []}, {}))
    _submit(load_handler, aws, "one.wav", SHORT)
    _submit(load_handler, aws, "two.wav", SHORT)
    logs = captured_logs()
    assert '"message":"job submitted"' in logs  # the logs were captured at all
    assert '"message":"pyannoteAI rejected the job"' in logs
    [job] = emulator.jobs.values()
    assert API_KEY not in logs
    assert parse_qs(urlsplit(job.url).query)["X-Amz-Signature"][0] not in logs
    assert "X-Amz-Credential" not in logs


def test_a_timed_out_submission_whose_webhook_came_is_adopted_not_resubmitted(
    load_handler, aws: Aws, emulator: Emulator, monkeypatch
) -> None:
    from tests.integration.test_webhook_handler import webhook_event

    version, size = aws.put("slow-answer.wav", SHORT)
    app = load_handler("submit", HTTP_TIMEOUT_SECONDS="1")
    _visibility_changes(app, monkeypatch)
    emulator.config.timeout_rate = 1.0  # the job is created, the answer comes too late
    emulator.config.stall_seconds = 1.5
    first = app.lambda_handler(s3_sqs_event(aws, "slow-answer.wav", size, version), context())
    emulator.config.timeout_rate = 0.0
    assert first["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    assert _record(aws, "slow-answer.wav", version)["status"] == "retrying"
    [job] = emulator.jobs.values()  # billed once already
    # pyannoteAI finishes that job; its webhook reaches a record that never learnt the jobId
    token = parse_qs(urlsplit(job.webhook or "").query)["ref"][0]
    hook = load_handler("webhook")
    resp = hook.lambda_handler(webhook_event("webhook_succeeded.json", job_id=job.id, ref=token), context())
    assert json.loads(resp["body"]) == {"result": "early"}
    # the retry adopts that result instead of paying for a second job
    app = load_handler("submit")
    again = app.lambda_handler(s3_sqs_event(aws, "slow-answer.wav", size, version, receive_count=2), context())
    assert again == {"batchItemFailures": []}
    record = _record(aws, "slow-answer.wav", version)
    assert record["status"] == "succeeded"
    assert record["jobId"] == job.id
    assert emulator.stats.requests["POST /v1/voiceprint"] == 1
