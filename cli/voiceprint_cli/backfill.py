"""Backfill and sweep: objects of the input bucket that have no record are put on the input queue, as S3 would have.

- **backfill**: objects that were in the bucket before the stack was (S3 notifies only new uploads);
- **sweep**: objects whose notification never became a record: lost, or expired from the queue (SQS deletes a
  message after its retention period without dead-lettering it). Only objects older than an age are swept, so
  that a message still on its way is not doubled.

Each object is the newest version of its key; a key whose newest version is a delete marker is gone. Objects with a
record, in any state, are left alone. What is enqueued is idempotent with the submit function's claim: a message
sent twice costs one job, so an interrupted run can be resumed or run again.

Pacing: the queue's backlog is kept under `max_backlog`, by default an hour of what the vendor's rate limit drains:
new uploads wait at most that long behind a backfill, and nothing enqueued comes near the queue's retention.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

SEND_BATCH = 10  # SQS SendMessageBatch's maximum


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str | None  # None for an unversioned bucket's object ("null" version)
    size: int
    etag: str
    last_modified: float  # epoch seconds
    position: str  # where a listing resumes after this object (opaque: the key, or an inventory file and row)


@dataclass(frozen=True)
class Listed:
    """One page of a listing: its objects (newest versions only), and where the next page starts."""

    objects: Sequence[StoredObject]
    resume_after: str | None  # opaque to the service: stored in the state, handed back on resume


class Listing(Protocol):
    def pages(self, prefix: str, resume_after: str | None) -> Iterator[Listed]: ...


class Records(Protocol):
    def missing(
        self, bucket: str, objects: Sequence[StoredObject], stale_before: float | None = None
    ) -> list[StoredObject]:
        """The objects that have no record; with `stale_before`, also those whose record is still `retrying` and
        unchanged since then (its message expired or was lost after the object was claimed)."""
        ...


class Queue(Protocol):
    def backlog(self) -> int:
        """Messages on the queue: visible, in flight and delayed."""
        ...

    def send(self, bucket: str, objects: Sequence[StoredObject]) -> None: ...


class State(Protocol):
    """Where each prefix's listing stopped, kept between runs."""

    def position(self, prefix: str) -> str | None: ...
    def finished(self, prefix: str) -> bool: ...
    def save(self, prefix: str, position: str | None, *, finished: bool, report: Report) -> None: ...


@dataclass
class Report:
    listed: int = 0  # newest versions seen under the prefixes
    recorded: int = 0  # of which had a record already
    skipped: int = 0  # too young (sweep), or outside the key suffix
    sweep_age: float = 0.0  # sweep: the age it used (--older-than, or the queue's retention while messages wait)
    enqueued: int = 0  # sent to the queue (or, in a dry run, that would be)
    waited_seconds: float = 0.0  # paused for the queue's backlog to drain
    complete: bool = False
    stopped: str | None = None  # why the run stopped before the end (--limit)
    prefixes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.listed} objects listed, {self.recorded} already recorded, {self.skipped} skipped, "
            f"{self.enqueued} enqueued"
        )


@dataclass(frozen=True)
class Options:
    bucket: str
    prefixes: Sequence[str]
    suffix: str = ""
    older_than_seconds: float = 0.0  # sweep: only objects at least this old
    sweep: bool = False  # also records left `retrying` for older_than_seconds: their message is gone
    # Sweep: the queue's MessageRetentionPeriod. While messages wait on the queue, an object without a record may
    # be among them, so only one older than this has surely lost its message (see Backfill.run).
    retention_seconds: float = 0.0
    max_backlog: int = 10_000
    limit: int | None = None  # enqueue at most this many in this run (e.g. a day's quota)
    dry_run: bool = False
    poll_seconds: float = 30.0


def max_backlog(retention_seconds: int, drain_per_minute: float, share: float = 0.5) -> int:
    """What may wait on the queue: an hour of what the vendor's limit drains (new uploads queue behind it), and
    never more than it drains in `share` of the queue's retention."""
    hour = drain_per_minute * 60
    return max(SEND_BATCH, int(min(hour, retention_seconds / 60 * drain_per_minute * share)))


class Backfill:
    def __init__(
        self,
        listing: Listing,
        records: Records,
        queue: Queue,
        state: State,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[Report, int], None] = lambda report, backlog: None,
    ) -> None:
        self._listing, self._records, self._queue, self._state = listing, records, queue, state
        self._clock, self._sleep, self._progress = clock, sleep, progress

    def run(self, options: Options) -> Report:
        report = Report(prefixes=list(options.prefixes))
        age = options.older_than_seconds
        if options.sweep and options.retention_seconds > age and self._queue.backlog():
            # Messages still wait (a backlog of hours is normal under the rate limit): an object without a record,
            # or with one left `retrying`, may have its message among them. Sweeping it now would add a duplicate
            # to the backlog it waits in, every sweep: only the queue's retention proves a message gone. Once the
            # queue is empty, nothing waits and --older-than is enough.
            age = options.retention_seconds
        report.sweep_age = age
        for prefix in options.prefixes:
            if self._state.finished(prefix):
                continue
            position = self._state.position(prefix)
            for page in self._listing.pages(prefix, position):
                wanted = self._eligible(page.objects, age, options, report)
                stale = self._clock() - age if options.sweep else None
                missing = self._records.missing(options.bucket, wanted, stale) if wanted else []
                report.recorded += len(wanted) - len(missing)
                if options.limit is not None and report.enqueued + len(missing) > options.limit:
                    # The next run resumes after the last object enqueued.
                    room = missing[: options.limit - report.enqueued]
                    self._enqueue(options, room, report)
                    report.stopped = f"the limit of {options.limit} reached"
                    if not options.dry_run:
                        self._state.save(prefix, room[-1].position if room else position, finished=False, report=report)
                    return report
                self._enqueue(options, missing, report)
                position = page.resume_after
                if not options.dry_run:
                    self._state.save(prefix, position, finished=False, report=report)
            if not options.dry_run:
                self._state.save(prefix, position, finished=True, report=report)
        report.complete = True
        return report

    def _eligible(
        self, objects: Iterable[StoredObject], age: float, options: Options, report: Report
    ) -> list[StoredObject]:
        newest_allowed = self._clock() - age
        wanted = []
        for obj in objects:
            report.listed += 1
            if not obj.key.endswith(options.suffix) or obj.last_modified > newest_allowed:
                report.skipped += 1
            else:
                wanted.append(obj)
        return wanted

    def _enqueue(self, options: Options, objects: Sequence[StoredObject], report: Report) -> None:
        for start in range(0, len(objects), SEND_BATCH):
            batch = objects[start : start + SEND_BATCH]
            if not options.dry_run:
                self._wait_for_room(len(batch), options, report)
                self._queue.send(options.bucket, batch)
            report.enqueued += len(batch)

    def _wait_for_room(self, count: int, options: Options, report: Report) -> None:
        backlog = self._queue.backlog()
        while backlog + count > options.max_backlog:
            self._progress(report, backlog)
            self._sleep(options.poll_seconds)
            report.waited_seconds += options.poll_seconds
            backlog = self._queue.backlog()
        self._progress(report, backlog)
