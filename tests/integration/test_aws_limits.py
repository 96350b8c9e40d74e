"""The local stack refuses what AWS refuses, as AWS does: whole requests, with nothing half-applied."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, Aws

KEYS = {"pk": {"S": "OBJ#limits"}, "sk": {"S": "VER#1"}}


def _update(aws: Aws, **values: str) -> None:
    names = {f"#n{i}": name for i, name in enumerate(values)}
    aws.ddb.update_item(
        TableName=aws.table,
        Key=KEYS,
        UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":v{i}": {"S": v} for i, v in enumerate(values.values())},
    )


def _item(aws: Aws) -> dict[str, Any]:
    return dict(aws.ddb.get_item(TableName=aws.table, Key=KEYS, ConsistentRead=True).get("Item", {}))


def test_an_update_past_400_kb_changes_nothing(aws: Aws) -> None:
    _update(aws, status="submitting")
    with pytest.raises(ClientError) as err:
        _update(aws, status="submitted", warning="w" * 420_000)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert _item(aws)["status"] == {"S": "submitting"}  # all or nothing: the SET beside it did not land
    assert "warning" not in _item(aws)


def test_an_update_past_400_kb_on_a_new_item_leaves_no_item(aws: Aws) -> None:
    with pytest.raises(ClientError):
        _update(aws, status="submitted", a="x" * 250_000, b="y" * 250_000)
    assert _item(aws) == {}


def test_an_index_key_past_2048_bytes_is_refused(aws: Aws) -> None:
    _update(aws, status="submitting")
    with pytest.raises(ClientError) as err:
        _update(aws, status="submitted", jobId="j" * 2049)  # the byJobId index's partition key
    assert "2048" in err.value.response["Error"]["Message"]
    assert "jobId" not in _item(aws)
    _update(aws, jobId="j" * 2048)
    assert _item(aws)["jobId"] == {"S": "j" * 2048}


def test_a_put_events_request_past_256_kb_is_refused_whole(aws: Aws) -> None:
    events = boto3.client("events", region_name=REGION)
    entry: dict[str, Any] = {"Source": "test", "DetailType": "t", "EventBusName": "default"}
    small: list[Any] = [{**entry, "Detail": json.dumps({"n": i})} for i in range(2)]
    assert events.put_events(Entries=small)["FailedEntryCount"] == 0
    big = [*small, {**entry, "Detail": json.dumps({"pad": "p" * 263_000})}]
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=big)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_s3_keys_past_1024_bytes_are_refused(aws: Aws) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="k" * 1024, Body=b"ok")
    with pytest.raises(ClientError) as err:
        aws.s3.put_object(Bucket=aws.bucket, Key="k" * 1025, Body=b"x")
    assert err.value.response["Error"]["Code"] == "KeyTooLongError"
    with pytest.raises(ClientError) as err:
        aws.s3.copy_object(Bucket=aws.bucket, Key="é" * 513, CopySource={"Bucket": aws.bucket, "Key": "k" * 1024})
    assert err.value.response["Error"]["Code"] == "KeyTooLongError"
