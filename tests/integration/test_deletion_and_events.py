"""The real handlers on moto: S3 removal notifications delete records (one version, or every version behind a
delete marker), and the events function turns the table's stream into EventBridge events."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.conftest import REGION, Aws, context, load_event, s3_sqs_event
from voiceprint.job_store import JobStore
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.emulator import Emulator

KEY = "voiceprints/Jane Doe (take 2) été.wav"


def _removal(aws: Aws, sample: str, version_id: str | None) -> dict[str, Any]:
    event = load_event(sample)
    body = json.loads(event["Records"][0]["body"])
    s3 = body["Records"][0]["s3"]
    s3["bucket"].update(name=aws.bucket, arn=f"arn:aws:s3:::{aws.bucket}")
    s3["object"]["key"] = quote_plus(KEY, safe="/")
    if version_id:
        s3["object"]["versionId"] = version_id
    event["Records"][0]["body"] = json.dumps(body)
    return event


def test_a_deleted_version_takes_its_record_and_a_delete_marker_takes_them_all(
    load_handler, aws: Aws, emulator: Emulator
) -> None:
    submit = load_handler("submit")
    versions = []
    for seconds in (1.0, 1.5):
        version, size = aws.put(KEY, wav_bytes(seconds, "alice"))
        assert submit.lambda_handler(s3_sqs_event(aws, KEY, size, version), context()) == {"batchItemFailures": []}
        versions.append(version)
    store = JobStore(aws.ddb, aws.table, retention_days=30)
    assert len(store.list_object_versions(aws.bucket, KEY)) == 2

    aws.s3.delete_object(Bucket=aws.bucket, Key=KEY, VersionId=versions[0])
    event = _removal(aws, "s3_version_deleted_via_sqs.json", versions[0])
    assert submit.lambda_handler(event, context()) == {"batchItemFailures": []}
    assert [r.version_id for r in store.list_object_versions(aws.bucket, KEY)] == [versions[1]]

    aws.s3.delete_object(Bucket=aws.bucket, Key=KEY)  # a delete marker
    event = _removal(aws, "s3_delete_marker_via_sqs.json", None)
    assert submit.lambda_handler(event, context()) == {"batchItemFailures": []}
    assert store.list_object_versions(aws.bucket, KEY) == []
    # A repeated notification finds nothing left to delete, and says so without failing.
    assert submit.lambda_handler(event, context()) == {"batchItemFailures": []}


def test_a_lifecycle_expiry_takes_the_record_of_the_version_it_expired(
    load_handler, aws: Aws, emulator: Emulator
) -> None:
    """Issue 15: with VoiceprintRetentionDays 0 (the default) a voiceprint has no TTL and lives as long as its
    source, so the input bucket's lifecycle expiry of a version (S3's LifecycleExpiration:Delete) must take its
    record, once S3 confirms the version is gone."""
    submit = load_handler("submit")
    version, size = aws.put(KEY, wav_bytes(1.0, "alice"))
    assert submit.lambda_handler(s3_sqs_event(aws, KEY, size, version), context()) == {"batchItemFailures": []}
    store = JobStore(aws.ddb, aws.table, retention_days=30)
    [record] = store.list_object_versions(aws.bucket, KEY)
    event = _removal(aws, "s3_lifecycle_expired_via_sqs.json", version)
    assert submit.lambda_handler(event, context()) == {"batchItemFailures": []}
    assert len(store.list_object_versions(aws.bucket, KEY)) == 1  # not expired yet: nothing deleted
    aws.s3.delete_object(Bucket=aws.bucket, Key=KEY, VersionId=version)  # as the lifecycle rule does
    assert submit.lambda_handler(event, context()) == {"batchItemFailures": []}
    assert store.list_object_versions(aws.bucket, KEY) == []
    assert record.version_id == version


def test_the_events_function_publishes_the_stream_sample_on_the_bus(load_handler, aws: Aws) -> None:
    events = boto3.client("events", region_name=REGION)
    queue_url = aws.sqs.create_queue(QueueName="observer")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["voiceprint-pipeline"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])

    result = load_handler("events").lambda_handler(load_event("dynamodb_stream_terminal_and_expired.json"), context())

    assert result == {"batchItemFailures": []}
    messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    published = sorted((json.loads(m["Body"])["detail-type"], json.loads(m["Body"])["detail"]["key"]) for m in messages)
    assert published == [("Voiceprint Deleted", KEY), ("Voiceprint Ready", KEY)]
