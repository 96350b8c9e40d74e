"""The local stack's faster clock for moto's SQS model gives the same values as moto's own."""

from __future__ import annotations

import datetime
import time
from typing import Any

import moto.sqs.models as sqs_models
from moto.core.utils import unix_time, unix_time_millis

from voiceprint_local.moto_patches import speed_up_sqs_clock as _speed_up_moto_sqs


def test_same_clock_values_and_idempotent() -> None:
    _speed_up_moto_sqs()
    _speed_up_moto_sqs()  # every stack start applies it: wrapping twice must not stack wrappers
    fast = vars(sqs_models)
    assert fast["unix_time"] is not unix_time
    assert abs(fast["unix_time"]() - unix_time()) < 0.5
    assert abs(fast["unix_time_millis"]() - unix_time_millis()) < 500
    assert abs(fast["unix_time"]() - time.time()) < 0.5
    when = datetime.datetime(2026, 11, 25, 12, 0, 0)
    assert fast["unix_time"](when) == unix_time(when)
    assert fast["unix_time"].__wrapped__ is unix_time


def test_retention_check_agrees_with_moto_and_is_idempotent() -> None:
    import boto3
    from moto import mock_aws

    from voiceprint_local.moto_patches import speed_up_sqs_retention_check

    speed_up_sqs_retention_check()
    speed_up_sqs_retention_check()
    backend_class = sqs_models.SQSBackend
    patched = backend_class.is_message_valid_based_on_retention_period
    original = patched.__wrapped__  # type: ignore[attr-defined]
    assert original.__name__ == "is_message_valid_based_on_retention_period"
    assert getattr(original, "__wrapped__", None) is None  # wrapped once, not twice
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="fresh")
        sqs.send_message(QueueUrl=url, MessageBody="old")
        backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
        messages: list[Any] = list(backend.get_queue("q")._messages)
        fresh, old = messages
        old.sent_timestamp = int((time.time() - 61) * 1000)  # sent 61 s ago, past the 60 s retention
        for message, kept in ((fresh, True), (old, False)):
            assert patched(backend, "q", message) is kept
            assert original(backend, "q", message) is kept
        # What the patch serves: a receive returns the fresh message, never the expired one.
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
        assert bodies == ["fresh"]


def test_dispatch_lists_moto_modules_once_with_the_same_names() -> None:
    from moto import backends

    from voiceprint_local.moto_patches import speed_up_moto_dispatch

    speed_up_moto_dispatch()
    speed_up_moto_dispatch()
    original = backends.list_of_moto_modules.__wrapped__  # type: ignore[attr-defined]
    assert getattr(original, "__wrapped__", None) is None
    assert set(backends.list_of_moto_modules()) == set(original())
    assert {"s3", "sqs", "dynamodb", "events"} <= set(backends.list_of_moto_modules())


def test_queue_attributes_are_computed_once_with_moto_s_answers() -> None:
    import boto3
    import pytest
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from voiceprint_local.moto_patches import speed_up_sqs_attributes

    speed_up_sqs_attributes()
    speed_up_sqs_attributes()
    backend_class = sqs_models.SQSBackend
    original_get = backend_class.get_queue_attributes.__wrapped__  # type: ignore[attr-defined]
    assert getattr(original_get, "__wrapped__", None) is None  # wrapped once, not twice
    attributes: Any = sqs_models.Queue.attributes
    assert getattr(attributes.__wrapped__, "__wrapped__", None) is None
    with mock_aws():
        sqs: Any = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for body in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
        counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
        assert got == {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "1"}
        backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
        for names in (counts, ["All"], ["VisibilityTimeout", "All"], []):
            assert backend.get_queue_attributes("q", names) == original_get(backend, "q", names)
        with pytest.raises(ClientError) as refused:
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "Nonsense"])
        assert refused.value.response["Error"]["Code"] == "InvalidAttributeName"
        # A send still deduplicates by content where the queue asks for it.
        fifo = sqs.create_queue(
            QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]
        for _ in range(2):
            sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
        sqs.send_message(QueueUrl=fifo, MessageBody="other", MessageGroupId="g")
        depth = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages"])
        assert depth["Attributes"]["ApproximateNumberOfMessages"] == "2"
        # ... and a FIFO queue without it still refuses a message with no deduplication id, as moto does.
        strict = sqs.create_queue(QueueName="strict.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        with pytest.raises(ClientError) as refused_send:
            sqs.send_message(QueueUrl=strict, MessageBody="x", MessageGroupId="g")
        assert "MessageDeduplicationId" in refused_send.value.response["Error"]["Message"]


def test_queries_answer_as_moto_does_without_sorting_the_table() -> None:
    import random

    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.table import Table

    from voiceprint_local.moto_patches import speed_up_dynamodb_queries

    speed_up_dynamodb_queries()
    speed_up_dynamodb_queries()
    fast_query, fast_items = Table.query, Table.all_items
    original_query, original_items = fast_query.__wrapped__, fast_items.__wrapped__  # type: ignore[attr-defined]
    assert getattr(original_query, "__wrapped__", None) is None  # wrapped once, not twice
    attributes = [("pk", "S"), ("sk", "S"), ("job", "S"), ("shard", "S"), ("since", "N"), ("level", "N")]
    rng = random.Random(7)
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attributes],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": name,
                    "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}]
                    + ([{"AttributeName": r, "KeyType": "RANGE"}] if r else []),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for name, h, r in (("byJob", "job", None), ("byShard", "shard", "since"), ("byLevel", "level", "since"))
            ],
        )
        for n in rng.sample(range(400), 400):  # written in random order: the table's own order is not the answer's
            item = {"pk": {"S": f"p{n % 37}"}, "sk": {"S": f"s{n:03d}"}, "job": {"S": f"j{n % 150}"}}
            if n % 3:  # sparse, as byPending is
                item |= {"shard": {"S": f"h{n % 2}"}, "since": {"N": str(n % 50)}, "level": {"N": str(n % 4)}}
            ddb.put_item(TableName="t", Item=item)
        queries: list[dict[str, Any]] = [
            {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "p5"}}},
            {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "nobody"}}},
            {
                "KeyConditionExpression": "pk = :v AND sk > :s",
                "ExpressionAttributeValues": {":v": {"S": "p3"}, ":s": {"S": "s100"}},
                "ScanIndexForward": False,
            },
            {
                "IndexName": "byJob",
                "KeyConditionExpression": "job = :v",
                "ExpressionAttributeValues": {":v": {"S": "j7"}},
            },
            {
                "IndexName": "byShard",
                "KeyConditionExpression": "shard = :v AND since < :c",
                "ExpressionAttributeValues": {":v": {"S": "h1"}, ":c": {"N": "20"}},
            },
            {
                "IndexName": "byShard",
                "KeyConditionExpression": "shard = :v",
                "ExpressionAttributeValues": {":v": {"S": "h0"}, ":f": {"S": "s2"}},
                "FilterExpression": "begins_with(sk, :f)",
                "ScanIndexForward": False,
            },
            # A number key is left to moto's own comparison: 2 and 2.0 are one value.
            {
                "IndexName": "byLevel",
                "KeyConditionExpression": "level = :v",
                "ExpressionAttributeValues": {":v": {"N": "2.0"}},
            },
        ]

        def pages(query: dict[str, Any]) -> list[dict[str, Any]]:
            answers, start = [], None
            for _ in range(100):
                answer = ddb.query(TableName="t", Limit=7, **query, **({"ExclusiveStartKey": start} if start else {}))
                answers.append({k: answer.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
                start = answer.get("LastEvaluatedKey")
                if not start:
                    return answers
            raise AssertionError("more than 100 pages")

        fast = [pages(q) for q in queries]
        Table.query, Table.all_items = original_query, original_items  # type: ignore[method-assign]
        try:
            moto_s = [pages(q) for q in queries]
        finally:
            Table.query, Table.all_items = fast_query, fast_items  # type: ignore[method-assign]
    assert fast == moto_s
    counts = [sum(page["Count"] for page in answers) for answers in fast]
    assert counts[1] == 0  # a partition that does not exist
    assert all(counts[i] > 7 for i in (4, 5, 6))  # paged past the first page
    assert all(n > 0 for n in counts[:1] + counts[2:])
