"""Publishing the events of a range of records again, from the table (an operator's tool: a consumer that was
down, or a bus that refused events). Events carry the same eventId as when they were first published, so
consumers that dedupe on it see each change once. Removed records are gone from the table: their Deleted events
cannot be replayed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from voiceprint import change_events
from voiceprint.event_publisher import EventPublisher, Pending

if TYPE_CHECKING:
    from voiceprint.record_queries import Page


class ChangedRecords(Protocol):
    """The one read a replay needs (record_queries.RecordQueries)."""

    def changed_page(self, since: float, until: float, start: Mapping[str, Any] | None) -> Page: ...


MAX_PAGES = 10_000  # bounded: a scan of a very large table stops here and says so


@dataclass
class ReplayReport:
    examined: int = 0
    published: int = 0
    not_published: int = 0  # from the first event EventBridge refused for now (throttled): run the range again
    complete: bool = True


def replay(records: ChangedRecords, publisher: EventPublisher, *, since: float, until: float) -> ReplayReport:
    report = ReplayReport()
    start = None
    for _ in range(MAX_PAGES):
        page, start = records.changed_page(since, until, start)
        pending: list[Pending] = []
        for record in page:
            report.examined += 1
            detail_type = change_events.detail_type_of(record)
            if detail_type is None:
                continue  # not terminal yet: its event comes when it is
            detail = change_events.detail_of(record)
            detail["eventId"] = change_events.event_id(record.pk, record.sk, detail_type)
            pending.append(Pending("", detail_type, detail))
        failed = publisher.put(pending)
        if failed is not None:
            done = pending.index(failed)
            report.published += done
            report.not_published += len(pending) - done
            report.complete = False
            return report
        report.published += len(pending)
        if not start:
            return report
    report.complete = False
    return report
