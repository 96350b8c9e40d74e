"""Publishes the change stream's news on EventBridge and reports what failed in the form a DynamoDB stream event
source expects: the first failed record's sequence number, from which Lambda retries (and, after its retry limit,
sends the batch's description to the on-failure destination).

PutEvents takes at most 10 entries and 256 KB a request, so entries are batched by both. An entry EventBridge
refuses for good (not a throttle or an internal error: retrying cannot help) is replaced by its stub, the record's
identity without its details, so one unpublishable record neither blocks the stream nor takes its neighbours
with it; consumers read the rest from the results API, and `voiceprint replay-events` can publish it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from voiceprint import change_events
from voiceprint.aws_errors import error_code
from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

logger = Logger(child=True)
metrics = Metrics()

PUT_EVENTS_MAX = 10
PUT_EVENTS_MAX_BYTES = 256 * 1024
# Entry errors worth retrying from the stream; any other is the entry's own fault.
RETRYABLE = frozenset({"InternalFailure", "InternalException", "ThrottlingException", "ServiceUnavailable"})


@frozen
class Pending:
    sequence: str  # the stream record's sequence number ("" for a replay)
    detail_type: str
    detail: dict[str, Any]

    def entry(self, bus: str) -> dict[str, Any]:
        return change_events.entry(self.detail_type, self.detail, bus)

    def stub(self, bus: str) -> dict[str, Any]:
        return change_events.entry(self.detail_type, change_events.stub_of(self.detail), bus)


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it toward the 256 KB of a request."""
    size = 14 if entry.get("Time") else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode())
    return size + sum(len(str(r).encode()) for r in entry.get("Resources") or [])


def _count_failures(published: Sequence[Pending]) -> None:
    """FailuresByCode, one metric per failure code (a closed set: FailureCode), for the dashboard. Counted here,
    where every terminal record passes once it is published (a batch the stream retries may count again)."""
    for event in published:
        code = event.detail.get("failureCode")
        if code:
            with single_metric(name="FailuresByCode", unit=MetricUnit.Count, value=1) as metric:
                metric.add_dimension(name="failureCode", value=str(code))


class RequestFailed(Exception):
    """A PutEvents request that failed as a whole (not entry by entry)."""

    def __init__(self, code: str | None, name: str) -> None:
        super().__init__(code or name)
        self.code = code  # the AWS error code; None when the request never got an answer
        self.name = name


class EventPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, records: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
        pending: list[Pending] = []
        for record in records:
            sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
            pending += [Pending(sequence, t, detail) for t, detail in change_events.events_for(record)]
        failed = self.put(pending)
        _count_failures(pending[: pending.index(failed)] if failed is not None else pending)
        if failed is None:
            return {"batchItemFailures": []}
        logger.warning("events not published; the stream retries from here", extra={"sequence": failed.sequence})
        return {"batchItemFailures": [{"itemIdentifier": failed.sequence}]}

    def put(self, pending: Sequence[Pending]) -> Pending | None:
        """Publish in order; returns the first event that may succeed later. Events of its request that came after
        it may have been published already: the stream's retry publishes them again, with the same eventId."""
        for chunk in self._chunks(pending):
            try:
                codes = self._put_events([p.entry(self._bus) for p in chunk])
            except RequestFailed as refused:
                code = refused.code
                if code is None or code in RETRYABLE:  # the network, a throttle: the stream retries from here
                    logger.warning("PutEvents failed", extra={"error": code or refused.name})
                    return chunk[0]
                if len(chunk) > 1:  # the request refused as a whole: each entry alone finds the one at fault
                    failed = self.put_each(chunk)
                    if failed is not None:
                        return failed
                    continue
                codes = [code]
            for event, code in zip(chunk, codes, strict=False):
                if code is None:
                    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=1)
                elif code in RETRYABLE:
                    return event  # the events before it are published; the stream retries from this one
                elif not self._put_stub(event, code):
                    return event
        return None

    def put_each(self, chunk: Sequence[Pending]) -> Pending | None:
        for event in chunk:
            failed = self.put([event])
            if failed is not None:
                return failed
        return None

    def _put_stub(self, event: Pending, code: str) -> bool:
        """The event refused for good: publish its stub instead. False if even that may only succeed later."""
        logger.error("event refused by EventBridge; its stub is published", extra={"error": code})
        metrics.add_metric(name="EventsStubbed", unit=MetricUnit.Count, value=1)
        try:
            stub_code = next(iter(self._put_events([event.stub(self._bus)])), None)
        except RequestFailed as failed:
            stub_code = failed.code or failed.name
        if stub_code is None:
            return True
        if stub_code in RETRYABLE:
            return False
        # Not even the record's identity can be published: logged and counted (alarmed), never a blocked stream.
        logger.error("event and its stub refused; not published", extra={"error": stub_code})
        metrics.add_metric(name="EventsUnpublishable", unit=MetricUnit.Count, value=1)
        return True

    def _put_events(self, entries: list[dict[str, Any]]) -> list[str | None]:
        """Each entry's error code (None: published). The one place this adapter calls EventBridge: a request
        that fails as a whole raises RequestFailed with its AWS error code, or None for the network."""
        try:
            resp = self._client.put_events(Entries=entries)  # type: ignore[arg-type]
        except ClientError as exc:
            raise RequestFailed(error_code(exc), type(exc).__name__) from None
        except BotoCoreError as exc:  # connection and read timeouts, endpoint unreachable: may succeed later
            raise RequestFailed(None, type(exc).__name__) from None
        return [r.get("ErrorCode") for r in resp.get("Entries", [])]

    @staticmethod
    def _chunks(pending: Sequence[Pending]) -> list[list[Pending]]:
        chunks: list[list[Pending]] = []
        size = 0
        for event in pending:
            # The bus name is not counted by EventBridge; a placeholder keeps the size independent of it.
            n = entry_size(event.entry(""))
            if not chunks or len(chunks[-1]) == PUT_EVENTS_MAX or size + n > PUT_EVENTS_MAX_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(event)
            size += n
        return chunks
