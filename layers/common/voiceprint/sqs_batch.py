"""Partial batch responses for an SQS event source with `ReportBatchItemFailures`: every record is handled, and
only the ones that raised are reported, so SQS deletes the rest and returns the failures after their visibility.

Written here rather than used from Powertools' BatchProcessor: importing that module pulls in asyncio and every
event data class, about 40 ms of the submit function's 260 ms cold start (docs/BENCHMARKS.md), for one loop.
Standard queues only (a FIFO queue would need the rest of the batch failed after the first failure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

logger = logging.getLogger(__name__)


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


def process_partial_response(event: Mapping[str, Any], handle: Callable[[Mapping[str, Any]], object]) -> BatchResponse:
    failures: list[ItemFailure] = []
    for record in event.get("Records", []):
        try:
            handle(record)
        except Exception as exc:  # noqa: BLE001 - any failure of one record is that record's, reported to SQS
            # The type only: messages may quote object keys, and the handler has already logged the cause.
            logger.debug("record %s failed: %s", record.get("messageId"), type(exc).__name__)
            failures.append({"itemIdentifier": str(record["messageId"])})
    return {"batchItemFailures": failures}
