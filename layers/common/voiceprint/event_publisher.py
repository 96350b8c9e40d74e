"""Publishes the change stream's news on EventBridge (PutEvents, 10 entries a call) and reports what failed in
the form a DynamoDB stream event source expects: the first failed record's sequence number, from which Lambda
retries (and, after its retry limit, sends the batch's description to the on-failure destination)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import change_events

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

logger = Logger(child=True)
metrics = Metrics()

PUT_EVENTS_MAX = 10


def _event_id(record: Mapping[str, Any], detail_type: str) -> str:
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    return change_events.event_id(str(keys.get("pk", {}).get("S")), str(keys.get("sk", {}).get("S")), detail_type)


class EventPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, records: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
        pending: list[tuple[str, dict[str, Any]]] = []
        for record in records:
            news = change_events.event_for(record)
            if news is None:
                continue
            detail_type, detail = news
            detail["eventId"] = _event_id(record, detail_type)
            sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
            pending.append((sequence, change_events.entry(detail_type, detail, self._bus)))
        for start in range(0, len(pending), PUT_EVENTS_MAX):
            chunk = pending[start : start + PUT_EVENTS_MAX]
            try:
                resp = self._client.put_events(Entries=[e for _, e in chunk])  # type: ignore[misc]
                failed = [i for i, r in enumerate(resp.get("Entries", [])) if r.get("ErrorCode")]
            except Exception as exc:  # noqa: BLE001 - any failure means: retry from this record
                logger.warning("PutEvents failed", extra={"error": type(exc).__name__})
                failed = [0]
            published = failed[0] if failed else len(chunk)
            metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=published)
            if failed:
                sequence = chunk[failed[0]][0]
                logger.warning("events not published; the stream retries from here", extra={"sequence": sequence})
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        return {"batchItemFailures": []}
