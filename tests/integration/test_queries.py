"""The documented access patterns: a result by object version, by object key (all versions), by jobId."""

from __future__ import annotations

import json

from tests.conftest import Aws, context, s3_sqs_event
from voiceprint.job_store import JobStore
from voiceprint.object_ref import record_keys
from voiceprint.record import ATTRIBUTES
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator


def _upload(load_handler, aws: Aws, key: str, data: bytes) -> str:
    version, size = aws.put(key, data)
    assert load_handler("submit").lambda_handler(s3_sqs_event(aws, key, size, version), context()) == {
        "batchItemFailures": []
    }
    return version


def test_results_by_object_version_key_and_job(load_handler, aws: Aws, emulator: Emulator) -> None:
    v1 = _upload(load_handler, aws, "people/dana.wav", wav_bytes(1.0, "alice"))
    v2 = _upload(load_handler, aws, "people/dana.wav", wav_bytes(1.2, "bob"))
    _upload(load_handler, aws, "people/other.wav", wav_bytes(1.0, "carol"))
    store = JobStore(aws.ddb, aws.table, retention_days=30)

    by_version = store.get(record_keys(aws.bucket, "people/dana.wav", v1))
    assert by_version is not None
    assert by_version.version_id == v1

    versions = store.list_object_versions(aws.bucket, "people/dana.wav")
    assert sorted(str(v.version_id) for v in versions) == sorted([v1, v2])

    job_id = str(by_version.job_id)
    found = store.find_by_job(job_id)
    assert found is not None
    assert found.keys == by_version.keys
    assert store.find_by_job("no-such-job") is None


def test_pending_index_lists_only_jobs_waiting_for_a_result(load_handler, aws: Aws, emulator: Emulator) -> None:
    _upload(load_handler, aws, "waiting.wav", wav_bytes(1.0, "alice"))
    _upload(load_handler, aws, "empty.wav", b"")
    store = JobStore(aws.ddb, aws.table, retention_days=30)
    pending = store.pending_before(cutoff=10**10, limit=10)
    # The index projects what the reconciler reads, and nothing else (no voiceprint, no status).
    assert [sorted(name for name, _, _ in ATTRIBUTES if getattr(p, name) is not None) for p in pending] == [
        ["job_id", "pending_since", "submitted_at"]
    ]
    raw = aws.ddb.query(
        TableName=aws.table,
        IndexName="byPending",
        KeyConditionExpression="pendingShard = :p",
        ExpressionAttributeValues={":p": {"S": "PENDING"}},
    )["Items"]
    assert [json.dumps(sorted(p)) for p in raw] == [
        json.dumps(sorted(["pk", "sk", "pendingShard", "pendingSince", "jobId", "submittedAt", "early"]))
    ]


def test_a_result_of_the_other_kind_never_lands_on_a_record(aws: Aws) -> None:
    from voiceprint.job_state import Kind, Status, outcome_from_job
    from voiceprint.job_store import ApplyResult
    from voiceprint.object_ref import ObjectRef

    store = JobStore(aws.ddb, aws.table, retention_days=30)
    ref = ObjectRef(aws.bucket, "identify/call.wav", 10, "v1", "v1", None)
    claim = store.claim(ref, now=1000, lease_seconds=60, kind=Kind.IDENTIFY, group="")
    assert claim is not None
    store.record_submitted(ref, claim, job_id="job-1", vendor_status="created", warning=None, now=1001)

    voiceprint = outcome_from_job("succeeded", {"voiceprint": "not-an-identification"})
    assert store.apply_outcome(ref.record_keys, "job-1", voiceprint, now=1002) is ApplyResult.DUPLICATE
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.voiceprint) == (Status.SUBMITTED, None)

    identification = outcome_from_job("succeeded", {"identification": [], "diarization": []})
    assert store.apply_outcome(ref.record_keys, "job-1", identification, now=1003) is ApplyResult.APPLIED
    assert store.voiceprints_in_group("") == []  # identifications never join the voiceprint index


def test_get_objects_returns_every_version_past_one_dynamodb_page(load_handler, aws: Aws) -> None:
    """Issue 18, item 7: 80 identification records of 15 KB each are more than one 1 MB query page."""
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    key = "identify/meeting.wav"
    for n in range(80):
        keys = record_keys(aws.bucket, key, f"v{n:03d}")
        item = {
            **keys,
            "bucket": aws.bucket,
            "objectKey": key,
            "versionId": f"v{n:03d}",
            "kind": "identify",
            "status": "succeeded",
            "createdAt": 1_700_000_000 + n,
            "result": json.dumps({"identification": [], "pad": "x" * 15_000}),
        }
        aws.ddb.put_item(TableName=aws.table, Item={k: ser.serialize(v) for k, v in item.items()})
    app = load_handler("read")

    def read(**query: str) -> list[dict]:
        event = {
            "version": "2.0",
            "routeKey": "GET /objects",
            "rawPath": "/objects",
            "queryStringParameters": {"key": key, **query},
            "requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/reader"}}},
        }
        resp = app.lambda_handler(event, context("read"))
        assert resp["statusCode"] == 200
        return list(json.loads(resp["body"])["versions"])

    listed = read()
    assert [v["versionId"] for v in listed] == [f"v{n:03d}" for n in reversed(range(80))]  # newest first, all
    assert all("result" not in v and v["hasResult"] for v in listed)  # a list view: outputs only when asked
    assert [len(v["result"]["pad"]) for v in read(result="true")[:1]] == [15_000]
