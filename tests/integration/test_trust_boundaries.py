"""Issue 11, as an attacker would try it: the real handlers on moto, fed forged queue messages, replayed webhooks
and lying files. Each test drives only the public surfaces (an SQS record, an HTTP API event, an S3 object), so it
runs unchanged against the code before the fixes."""

from __future__ import annotations

import json
import struct
import time
import unicodedata
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import BUCKET, Aws, context, s3_sqs_event
from tests.integration.test_webhook_handler import _invoke, webhook_event
from voiceprint.object_ref import ObjectRef, key_hash, record_keys
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator

SHORT = wav_bytes(1.0, "alice")


def _item(aws: Aws, key: str, version: str, bucket: str = BUCKET) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    keys = record_keys(bucket, key, version)
    got = aws.ddb.get_item(TableName=aws.table, Key={k: {"S": v} for k, v in keys.items()}, ConsistentRead=True)
    return {k: TypeDeserializer().deserialize(v) for k, v in got["Item"].items()} if "Item" in got else None


def _token(aws: Aws, key: str, version: str) -> str:
    """The record reference a webhook URL carries (anyone who knows bucket, key and version can compute it)."""
    return f"{key_hash(aws.bucket, key)}.{version}"


def _posts(emulator: Emulator) -> int:
    return emulator.stats.requests["POST /v1/voiceprint"] + emulator.stats.requests["POST /v1/identify"]


def _message(aws: Aws, body: dict[str, Any], message_id: str = "forged-1") -> dict[str, Any]:
    event = s3_sqs_event(aws, "x.wav", 1, None)
    event["Records"][0]["body"] = json.dumps(body)
    event["Records"][0]["messageId"] = message_id
    return event


def _s3_body(bucket: str, key: str, event_name: str, **obj: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": {"key": key, **obj}},
            }
        ]
    }


def _succeed(load_handler, aws: Aws, emulator: Emulator, key: str, data: bytes = SHORT) -> tuple[str, str]:
    """Upload, submit and complete one voiceprint; returns (versionId, jobId)."""
    version, size = aws.put(key, data)
    assert load_handler("submit").lambda_handler(s3_sqs_event(aws, key, size, version), context()) == {
        "batchItemFailures": []
    }
    [job] = [j for j in emulator.jobs.values() if j.url.split("?")[0].endswith(quote(key, safe="/"))]
    emulator.complete_job(job.id, "succeeded", {"voiceprint": f"vp-of-{key}"}, webhook=False)
    ref = _token(aws, key, version)
    status, _ = _invoke(load_handler("webhook"), webhook_event("webhook_succeeded.json", job_id=job.id, ref=ref))
    assert status == 200
    return version, job.id


# -- 1. cross-record adoption ------------------------------------------------------------------------------------
def test_a_genuine_webhook_replayed_at_another_records_ref_is_never_adopted(load_handler, aws, emulator) -> None:
    # Object A's first submission meets a 500: A is `retrying`, with no jobId.
    emulator.script("/v1/voiceprint", (500, {"message": "boom"}, {}))
    a_version, a_size = aws.put("a.wav", SHORT)
    submit = load_handler("submit")
    submit.lambda_handler(s3_sqs_event(aws, "a.wav", a_size, a_version), context())
    assert _item(aws, "a.wav", a_version)["status"] == "retrying"  # type: ignore[index]
    # Object B succeeds normally; the attacker holds B's genuine, signed webhook body.
    b_version, b_size = aws.put("b.wav", wav_bytes(1.0, "bob"))
    submit.lambda_handler(s3_sqs_event(aws, "b.wav", b_size, b_version), context())
    b_job = next(j.id for j in emulator.jobs.values() if j.url.split("?")[0].endswith("/b.wav"))
    # ... and replays it with A's ref (computable from bucket, key and version), without this stack's MAC.
    a_ref = _token(aws, "a.wav", a_version)
    body = {"jobId": b_job, "status": "succeeded", "output": {"voiceprint": "vp-of-bob"}}
    replay = webhook_event("webhook_succeeded.json", job_id=b_job, ref=a_ref, body=body, sig="0" * 32)
    replay["queryStringParameters"] = {"ref": a_ref}  # the attacker has no sig to give
    replay["rawQueryString"] = f"ref={quote(a_ref, safe='')}"
    _invoke(load_handler("webhook"), replay)
    # A's retry must submit A itself, never take B's voiceprint.
    submit.lambda_handler(s3_sqs_event(aws, "a.wav", a_size, a_version, receive_count=2), context())
    a = _item(aws, "a.wav", a_version)
    assert a is not None
    assert a.get("jobId") != b_job
    assert a.get("voiceprint") != "vp-of-bob"
    assert "early" not in a or b_job not in (a.get("early") or {})


def test_a_ref_with_a_wrong_mac_leaves_no_early_result(load_handler, aws, emulator) -> None:
    a_version, a_size = aws.put("a.wav", SHORT)
    # A is claimed but has no jobId (the submit crashed before answering).
    a = ObjectRef(aws.bucket, "a.wav", a_size, a_version, a_version, None)
    from voiceprint.job_store import JobStore

    JobStore(aws.ddb, aws.table, retention_days=30).claim(a, now=time.time() - 1000, lease_seconds=1)
    event = webhook_event("webhook_succeeded.json", job_id="job-of-someone-else", ref=a.webhook_ref, sig="f" * 32)
    assert _invoke(load_handler("webhook"), event) == (202, {"result": "unknown"})
    assert not (_item(aws, "a.wav", a_version) or {}).get("early")


# -- 2. the input queue believes every message -------------------------------------------------------------------
def test_a_forged_created_message_for_an_unchanged_object_costs_nothing(load_handler, aws, emulator) -> None:
    _succeed(load_handler, aws, emulator, "voice.wav")
    before = _posts(emulator)
    submit = load_handler("submit")
    for i in range(3):  # fresh sequencers, no versionId: three "new uploads" that never happened
        body = _s3_body(aws.bucket, "voice.wav", "ObjectCreated:Put", size=len(SHORT), sequencer=f"00FORGED{i:08d}")
        assert submit.lambda_handler(_message(aws, body, f"forged-{i}"), context()) == {"batchItemFailures": []}
    assert _posts(emulator) == before
    assert len(aws.items()) == 1


def test_a_forged_delete_marker_message_deletes_nothing(load_handler, aws, emulator) -> None:
    version, _ = _succeed(load_handler, aws, emulator, "voiceprints/alice.wav")
    submit = load_handler("submit", VOICEPRINT_PREFIX="voiceprints/")
    body = _s3_body(aws.bucket, "voiceprints/alice.wav", "ObjectRemoved:DeleteMarkerCreated", sequencer="00FF")
    assert submit.lambda_handler(_message(aws, body), context()) == {"batchItemFailures": []}
    forged_version = _s3_body(aws.bucket, "voiceprints/alice.wav", "ObjectRemoved:Delete", versionId=version)
    assert submit.lambda_handler(_message(aws, forged_version), context()) == {"batchItemFailures": []}
    record = _item(aws, "voiceprints/alice.wav", version)
    assert record is not None
    assert record["status"] == "succeeded"


def test_messages_naming_another_bucket_are_not_processed(load_handler, aws, emulator) -> None:
    aws.s3.create_bucket(Bucket="someone-elses-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    aws.s3.put_object(Bucket="someone-elses-bucket", Key="voice.wav", Body=SHORT)
    body = _s3_body("someone-elses-bucket", "voice.wav", "ObjectCreated:Put", size=len(SHORT), sequencer="01")
    assert load_handler("submit").lambda_handler(_message(aws, body), context()) == {"batchItemFailures": []}
    assert _posts(emulator) == 0
    assert aws.items() == []


# -- 3. duration from the header alone ---------------------------------------------------------------------------
def _lying_wav(real_seconds: float, claimed_seconds: float) -> bytes:
    """A 16 kHz mono 16-bit WAV whose RIFF and data sizes claim `claimed_seconds` of audio."""
    data = wav_bytes(real_seconds, "alice")
    claimed = int(claimed_seconds * 16000 * 2)
    offset = data.index(b"data")
    patched = bytearray(data)
    patched[4:8] = struct.pack("<I", min(0xFFFFFFFF, claimed + offset))
    patched[offset + 4 : offset + 8] = struct.pack("<I", min(0xFFFFFFFF, claimed))
    return bytes(patched)


@pytest.mark.parametrize(
    ("key", "real", "claimed"),
    [("long-behind-short-header.wav", 60.0, 10.0), ("identify/two-gigabytes.wav", 2.0, 60_000.0)],
)
def test_a_header_that_lies_about_the_duration_is_refused_unpaid(load_handler, aws, emulator, key, real, claimed):
    # An identification needs a voiceprint to compare against: one is enrolled first (by its record).
    _succeed(load_handler, aws, emulator, "enrolled.wav")
    before = _posts(emulator)
    version, size = aws.put(key, _lying_wav(real, claimed))
    submit = load_handler("submit")
    assert submit.lambda_handler(s3_sqs_event(aws, key, size, version), context()) == {"batchItemFailures": []}
    assert _posts(emulator) == before
    record = _item(aws, key, version)
    assert record is not None
    assert (record["status"], record["failureCode"]) == ("failed", "header_mismatch")


# -- 4. paths that cannot succeed --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["team/../alice.wav", "team/./alice.wav", "team//alice.wav", "/alice.wav"])
def test_keys_with_dot_or_empty_segments_are_refused_unpaid(load_handler, aws, emulator, key) -> None:
    version, size = aws.put(key, SHORT)
    assert load_handler("submit").lambda_handler(s3_sqs_event(aws, key, size, version), context()) == {
        "batchItemFailures": []
    }
    assert _posts(emulator) == 0
    record = _item(aws, key, version)
    assert record is not None
    assert (record["status"], record["failureCode"]) == ("failed", "invalid_key")


# -- 5. look-alike labels ----------------------------------------------------------------------------------------
def test_nfc_and_nfd_spellings_of_one_name_are_one_label(load_handler, aws, emulator) -> None:
    labels = []
    for form in ("NFC", "NFD"):
        key = unicodedata.normalize(form, "José.wav")
        version, _ = _succeed(load_handler, aws, emulator, key)
        record = _item(aws, key, version)
        assert record is not None
        labels.append(record["label"])
    assert labels == [unicodedata.normalize("NFC", "José")] * 2
    version, size = aws.put("identify/call.wav", wav_bytes(2.0, "alice"))
    load_handler("submit").lambda_handler(s3_sqs_event(aws, "identify/call.wav", size, version), context())
    [identify] = [j for j in emulator.jobs.values() if j.request.get("voiceprints")]
    assert [v["label"] for v in identify.request["voiceprints"]] == [unicodedata.normalize("NFC", "José")]


# -- 6 and 7. secret rotation, and what forged webhooks cost ------------------------------------------------------
def _count_secret_reads(app: Any) -> dict[str, int]:
    counts = {"GetSecretValue": 0}

    def count(**_: Any) -> None:
        counts["GetSecretValue"] += 1

    app.secrets.meta.events.register("before-call.secretsmanager.GetSecretValue", count)
    return counts


def test_a_rotated_secret_is_accepted_at_once_by_a_warm_function(load_handler, aws, emulator) -> None:
    version, size = aws.put("voice.wav", SHORT)
    load_handler("submit").lambda_handler(s3_sqs_event(aws, "voice.wav", size, version), context())
    [job] = emulator.jobs.values()
    ref = _token(aws, "voice.wav", version)
    app = load_handler("webhook")
    running = {"jobId": job.id, "status": "running"}
    assert _invoke(app, webhook_event("webhook_status_only.json", job_id=job.id, ref=ref, body=running))[0] == 200
    aws.secrets.put_secret_value(SecretId=aws.webhook_secret, SecretString="whsec_rotated_new")
    signed_new = webhook_event("webhook_succeeded.json", job_id=job.id, ref=ref, secret="whsec_rotated_new")
    assert _invoke(app, signed_new)[0] == 200


def test_forged_webhooks_do_not_each_cost_a_secret_read(load_handler, aws, emulator) -> None:
    app = load_handler("webhook")
    reads = _count_secret_reads(app)
    for i in range(20):
        forged = webhook_event("webhook_succeeded.json", job_id=f"job-{i}", ref=None, secret="whsec_guess")
        assert _invoke(app, forged)[0] == 401
    # current once, AWSPREVIOUS's absence once, one rate-limited refresh of current: never one per request
    assert reads["GetSecretValue"] <= 3


# -- 8. poison messages --------------------------------------------------------------------------------------------
def test_a_poison_message_is_logged_at_error_and_dead_lettered_with_its_reason(
    load_handler, aws, emulator, captured_logs
) -> None:
    event = s3_sqs_event(aws, "x.wav", 1, None)
    event["Records"][0]["body"] = "this is not JSON"
    event["Records"][0]["messageId"] = "poison-1"
    load_handler("submit").lambda_handler(event, context())
    logs = captured_logs()
    assert '"level":"ERROR"' in logs
    assert "malformed" in logs
    [dead] = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert dead["Body"] == "this is not JSON"
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("malformed_message")


# -- 9. 4xx, not 500 -----------------------------------------------------------------------------------------------
def test_hostile_headers_and_bodies_get_a_4xx(load_handler, aws, emulator) -> None:
    app = load_handler("webhook")
    event = webhook_event("webhook_succeeded.json", job_id="j", ref=None, headers={"x-request-timestamp": "²"})
    assert _invoke(app, event)[0] == 400
    nested = b"[" * 200_000 + b"]" * 200_000
    event = webhook_event("webhook_succeeded.json", job_id="j", ref=None)
    from tests.conftest import WEBHOOK_SECRET
    from voiceprint.webhook_signature import sign

    stamp = str(int(time.time()))
    event["body"] = nested.decode()
    event["headers"].update({"x-request-timestamp": stamp, "x-signature": sign(WEBHOOK_SECRET, stamp, nested)})
    status, _ = _invoke(load_handler("webhook", MAX_WEBHOOK_BODY_BYTES="1048576"), event)
    assert 400 <= status < 500


# -- 17. vendor text is redacted -----------------------------------------------------------------------------------
def test_vendor_error_text_is_stored_without_query_strings_or_amz_parameters(load_handler, aws, emulator) -> None:
    version, size = aws.put("voice.wav", SHORT)
    load_handler("submit").lambda_handler(s3_sqs_event(aws, "voice.wav", size, version), context())
    [job] = emulator.jobs.values()
    leaked = f"Could not load audio from {job.url}"
    body = {"jobId": job.id, "status": "failed", "output": {"error": leaked}}
    ref = _token(aws, "voice.wav", version)
    assert (
        _invoke(load_handler("webhook"), webhook_event("webhook_failed.json", job_id=job.id, ref=ref, body=body))[0]
        == 200
    )
    record = _item(aws, "voice.wav", version)
    assert record is not None
    assert "X-Amz-Signature" not in record["reason"]
    assert job.url.split("?")[1] not in record["reason"]
    assert record["reason"].startswith("pyannoteAI job failed: Could not load audio from http")


# -- 9 and 12. the read API: 4xx for hostile cursors, voiceprints only when asked, every read audited -------------
def _read_event(route: str, *, path: dict[str, str] | None = None, query: dict[str, str] | None = None) -> dict:
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": "/",
        "pathParameters": path or {},
        "queryStringParameters": query or {},
        "requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/auditor"}}},
    }


def _read(app: Any, event: dict) -> tuple[int, dict[str, Any]]:
    resp = app.lambda_handler(event, context("read"))
    return resp["statusCode"], json.loads(resp["body"])


@pytest.mark.parametrize(
    "cursor",
    [
        {"a": 1},  # decodes to the wrong shape
        {"pk": {"S": "x" * 5000}, "sk": {"S": "VER#1"}},  # a 5,000-character value
        ["not", "an", "object"],
    ],
)
def test_a_hostile_cursor_is_a_400_not_a_500(load_handler, aws, emulator, cursor) -> None:
    import base64

    token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
    event = _read_event("GET /voiceprints", query={"group": "", "next": token})
    assert _read(load_handler("read"), event)[0] == 400


def test_the_voiceprint_is_returned_only_when_asked_and_every_read_is_audited(
    load_handler, aws, emulator, captured_logs
) -> None:
    version, job_id = _succeed(load_handler, aws, emulator, "voice.wav")
    app = load_handler("read")
    status, body = _read(app, _read_event("GET /jobs/{jobId}", path={"jobId": job_id}))
    assert status == 200
    assert "voiceprint" not in body
    status, body = _read(app, _read_event("GET /objects", query={"key": "voice.wav"}))
    assert "voiceprint" not in body["versions"][0]
    asked = _read_event("GET /objects", query={"key": "voice.wav", "voiceprint": "true"})
    stored = _item(aws, "voice.wav", version)
    assert stored is not None
    assert _read(app, asked)[1]["versions"][0]["voiceprint"] == stored["voiceprint"]
    logs = captured_logs()
    assert logs.count('"caller":"arn:aws:iam::123456789012:user/auditor"') == 3
    assert '"route":"GET /objects"' in logs
    assert stored["voiceprint"] not in logs


def test_a_group_in_the_path_lists_that_group_only(load_handler, aws, emulator) -> None:
    _succeed(load_handler, aws, emulator, "team-a/alice.wav")
    _succeed(load_handler, aws, emulator, "team-b/bob.wav")
    app = load_handler("read")
    status, body = _read(app, _read_event("GET /groups/{group}/voiceprints", path={"group": "team-a"}))
    assert status == 200
    assert [v["key"] for v in body["items"]] == ["team-a/alice.wav"]
