"""Reads of the local stack's state for the tests, the CLI and the reliability runs: the table's object records,
the DLQ's messages and the events published on the bus."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer


def records(ddb: Any, table: str, attributes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every object record (a paginated scan; the budget's counters and markers left out), or only these
    attributes of each (cheaper over thousands)."""
    de = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :obj)",
        "ExpressionAttributeValues": {":obj": {"S": "OBJ#"}},
    }
    if attributes:
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        kwargs.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    for page in ddb.get_paginator("scan").paginate(**kwargs):
        items += [{k: de.deserialize(v) for k, v in i.items()} for i in page["Items"]]
    return items


def count_records(ddb: Any, table: str, statuses: tuple[str, ...]) -> int:
    """How many object records have one of these statuses: a counting scan (Select=COUNT), so no item is sent
    back. Polled through a 10,000-upload burst, the full scans cost the stack a third of its time."""
    values = {f":s{i}": {"S": s} for i, s in enumerate(statuses)}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Select": "COUNT",
        "FilterExpression": f"begins_with(pk, :obj) AND #s IN ({', '.join(values)})",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":obj": {"S": "OBJ#"}, **values},
    }
    return sum(int(page["Count"]) for page in ddb.get_paginator("scan").paginate(**kwargs))


def dead_letters(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    """Every message in the DLQ, with its attributes (received with visibility 0, so nothing is hidden)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(200):  # bounded: the DLQ is small or empty
        resp = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
        )
        fresh = {m["MessageId"]: m for m in resp.get("Messages", []) if m["MessageId"] not in seen}
        if not fresh:
            break
        seen.update(fresh)
    return list(seen.values())


def published_events(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every event published on the bus so far (drained from the observing queue: each is returned once)."""
    found: list[dict[str, Any]] = []
    for _ in range(1000):  # bounded
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = resp.get("Messages", [])
        if not messages:
            return found
        found += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return found
