"""Partial batch responses for an SQS event source with `ReportBatchItemFailures`: every record is handled, and
only the ones that raised are reported, so SQS deletes the rest and returns the failures after their visibility.

Written here rather than used from Powertools' BatchProcessor: importing that module pulls in asyncio and every
event data class (its cost on a cold start is measured in docs/BENCHMARKS.md), for one loop.
Standard queues only (a FIFO queue would need the rest of the batch failed after the first failure).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(child=True)
metrics = Metrics()


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


def process_partial_response(
    event: Mapping[str, Any],
    handle: Callable[[Mapping[str, Any]], object],
    *,
    expected: tuple[type[Exception], ...] = (),
) -> BatchResponse:
    """`expected`: the exceptions that are how a record asks to come back later (already logged by whoever raised
    them); any other is a bug or a poison message, logged at ERROR with its type and counted."""
    failures: list[ItemFailure] = []
    for record in event.get("Records", []):
        try:
            handle(record)
        except expected:
            failures.append({"itemIdentifier": str(record["messageId"])})
        except Exception as exc:  # noqa: BLE001 - any failure of one record is that record's, reported to SQS
            # The type only: messages may quote object keys.
            logger.error(
                "record failed unexpectedly",
                extra={"message_id": str(record.get("messageId")), "error_type": type(exc).__name__},
            )
            metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=1)
            failures.append({"itemIdentifier": str(record["messageId"])})
    return {"batchItemFailures": failures}


def receive_count(record: Mapping[str, Any]) -> int:
    """How many times SQS has delivered this record's message (1 on the first delivery)."""
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1
