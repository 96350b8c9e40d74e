"""What Lambda's service does around the functions, emulated for the local stack: the SQS event source mapping of
the submit function, the DynamoDB stream event source of the events function, and the reconciler's schedule.
Each runs on its own thread until `stop` is set, and calls a function through `invoke` as Lambda would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from voiceprint import s3_notifications
from voiceprint_local import template
from voiceprint_local.fault_injection import FaultInjector, SimulatedCrash
from voiceprint_local.lambda_context import LocalLambdaContext

Invoke = Callable[[dict[str, Any], Any], dict[str, Any]]


class SqsEventSource:
    """Receive a batch, invoke, delete what succeeded; a crashed invocation returns the whole batch."""

    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str,
        queue_arn: str,
        region: str,
        invoke: Invoke,
        wait_seconds: int,
        faults: FaultInjector,
        errors: list[str],
        stop: threading.Event,
        mapping: Mapping[str, Any],
    ) -> None:
        """`mapping`: the event source mapping as CloudFormation made it (its BatchSize)."""
        self._sqs, self._url, self._arn, self._region = sqs, queue_url, queue_arn, region
        self._invoke, self._wait, self._faults, self._errors, self._stop = invoke, wait_seconds, faults, errors, stop
        self._batch_size = int(mapping["BatchSize"])

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception as exc:  # noqa: BLE001 - keep polling, as the event source mapping does
                if not self._stop.is_set():
                    self._errors.append(f"dispatcher: {type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)

    def _poll_once(self) -> None:
        resp = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = self._expire_some(resp.get("Messages", []))
        if not messages:
            return
        self._duplicate_some(messages)
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self._invoke(event, LocalLambdaContext(function_name="submit"))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except SimulatedCrash:  # an injected crash: the whole batch comes back, as after a timeout
            failed = {m["MessageId"] for m in messages}
        except Exception as exc:  # noqa: BLE001 - a crashed invocation: every message comes back
            self._errors.append(f"submit crashed: {type(exc).__name__}: {exc}")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def _expire_some(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """SQS deletes a message past its retention without a trace: some objects' notifications, at any receive,
        are deleted instead of delivered. The chaos run's sweep must find their objects again."""
        kept = []
        for m in messages:
            key = _created_key(m["Body"])
            if key is not None and self._faults.chance(self._faults.faults.expired_message_rate):
                self._faults.injected["expired_message"] += 1
                self._faults.expired_keys[key] += 1
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=m["ReceiptHandle"])
            else:
                kept.append(m)
        return kept

    def _duplicate_some(self, messages: list[dict[str, Any]]) -> None:
        """S3 and SQS deliver at least once: some first deliveries are sent again."""
        for m in messages:
            first = m.get("Attributes", {}).get("ApproximateReceiveCount") == "1"
            if first and self._faults.chance(self._faults.faults.duplicate_delivery_rate):
                self._faults.injected["duplicate_delivery"] += 1
                self._sqs.send_message(QueueUrl=self._url, MessageBody=m["Body"])

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        }


def _created_key(body: str) -> str | None:
    """The object key of an S3 ObjectCreated notification (decoded as the submit function decodes it), else None."""
    try:
        notes = s3_notifications.parse(body)
    except s3_notifications.MalformedMessage:  # a poison message: the submit function dead-letters it
        return None
    return notes[0].key if notes and len(notes) == 1 and notes[0].created else None


class Schedule:
    """EventBridge Scheduler: the reconciler every `every_seconds`, with the events/ sample as its event."""

    def __init__(self, invoke: Invoke, *, every_seconds: float, errors: list[str], stop: threading.Event) -> None:
        self._invoke, self._every, self._errors, self._stop = invoke, every_seconds, errors, stop

    def run(self) -> None:
        event = json.loads((template.ROOT / "events" / "reconciler_schedule.json").read_text())
        while not self._stop.wait(self._every):
            try:
                self._invoke(event, LocalLambdaContext(function_name="reconciler", timeout_seconds=120))
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                self._errors.append(f"reconciler: {type(exc).__name__}: {exc}")


class StreamEventSource:
    """Lambda's DynamoDB stream event source: batches of up to the mapping's size, its filter criteria, retries
    from the first failed record; a batch still failing after its retries is recorded as an error (in AWS it goes
    to the on-failure destination)."""

    def __init__(
        self,
        streams: Any,
        *,
        stream_arn: str,
        invoke: Invoke,
        errors: list[str],
        stop: threading.Event,
        mapping: Mapping[str, Any],
    ) -> None:
        """`mapping`: the event source mapping as CloudFormation made it (filters, batch size, retries)."""
        self._streams, self._arn, self._invoke, self._errors, self._stop = streams, stream_arn, invoke, errors, stop
        self._patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
        self._batch_size, self._retries = int(mapping["BatchSize"]), int(mapping["MaximumRetryAttempts"])

    def run(self) -> None:
        shard = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while not self._stop.is_set():
            try:
                resp = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
            except Exception as exc:  # noqa: BLE001 - keep polling, as the event source mapping does
                if not self._stop.is_set():
                    self._errors.append(f"stream: {type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)
                continue
            iterator = resp["NextShardIterator"]
            if not resp.get("Records"):
                self._stop.wait(0.1)
            records = [
                _as_lambda_delivers(r, self._arn)
                for r in resp.get("Records", [])
                if any(matches(p, r) for p in self._patterns)
            ]
            self._deliver(records)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        for attempt in range(self._retries + 1):
            if not records:
                return
            try:
                result = self._invoke({"Records": records}, LocalLambdaContext(function_name="events"))
                failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            except Exception as exc:  # noqa: BLE001 - a crashed invocation: the whole batch again
                self._errors.append(f"events crashed: {type(exc).__name__}: {exc}")
                failed = [records[0]["dynamodb"]["SequenceNumber"]]
            if not failed:
                return
            first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            records = records[first:]
            if attempt == self._retries:
                self._errors.append(
                    f"events: {len(records)} stream records not published after {self._retries} retries"
                )
            self._stop.wait(min(2.0, 0.05 * 2**attempt))


def matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge/Lambda filter patterns the template uses: nested objects, lists of exact values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def _as_lambda_delivers(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to the function: JSON, with ApproximateCreationDateTime in epoch
    seconds (boto3 parses it into a datetime, which no Lambda event carries)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        dynamodb["ApproximateCreationDateTime"] = float(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": arn}
