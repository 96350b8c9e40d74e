"""The backfill and sweep service (cli/voiceprint_cli/backfill.py) on in-memory fakes: what is enqueued, what is
left alone, pacing by the queue's backlog, and resuming after a limit or an interruption."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from voiceprint_cli.backfill import Backfill, Listed, Options, Report, StoredObject, max_backlog

NOW = 1_800_000_000.0


def _obj(key: str, age: float = 86_400.0) -> StoredObject:
    return StoredObject(key=key, version_id=f"v-{key}", size=100, etag="e", last_modified=NOW - age, position=key)


class FakeListing:
    def __init__(self, objects: list[StoredObject], page_size: int = 3) -> None:
        self.objects, self.page_size = sorted(objects, key=lambda o: o.key), page_size
        self.listed_from: list[tuple[str, str | None]] = []

    def pages(self, prefix: str, resume_after: str | None) -> Iterator[Listed]:
        self.listed_from.append((prefix, resume_after))
        chosen = [
            o for o in self.objects if o.key.startswith(prefix) and (resume_after is None or o.key > resume_after)
        ]
        for start in range(0, len(chosen), self.page_size):
            page = chosen[start : start + self.page_size]
            yield Listed(page, page[-1].key)


class FakeRecords:
    def __init__(self, recorded: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.recorded = set(recorded)

    def missing(
        self, bucket: str, objects: Sequence[StoredObject], stale_before: float | None = None
    ) -> list[StoredObject]:
        return [o for o in objects if o.key not in self.recorded]


class FakeQueue:
    """A queue a consumer drains by `drain` messages per poll interval slept."""

    def __init__(self, backlog: int = 0, drain: int = 0) -> None:
        self.depth, self.drain, self.deepest = backlog, drain, backlog
        self.sent: list[str] = []

    def backlog(self) -> int:
        return self.depth

    def send(self, bucket: str, objects: Sequence[StoredObject]) -> None:
        assert len(objects) <= 10
        self.sent += [o.key for o in objects]
        self.depth += len(objects)
        self.deepest = max(self.deepest, self.depth)

    def slept(self, seconds: float) -> None:
        self.depth = max(0, self.depth - self.drain)


class MemoryState:
    def __init__(self) -> None:
        self.saved: dict[str, tuple[str | None, bool]] = {}

    def position(self, prefix: str) -> str | None:
        return self.saved.get(prefix, (None, False))[0]

    def finished(self, prefix: str) -> bool:
        return self.saved.get(prefix, (None, False))[1]

    def save(self, prefix: str, position: str | None, *, finished: bool, report: Report) -> None:
        self.saved[prefix] = (position, finished)


def _run(listing: FakeListing, records: FakeRecords, queue: FakeQueue, state: MemoryState, **options: object) -> Report:
    service = Backfill(listing, records, queue, state, clock=lambda: NOW, sleep=queue.slept)
    return service.run(Options(bucket="b", **{"prefixes": ["voiceprints/"], **options}))  # type: ignore[arg-type]


def test_enqueues_only_the_objects_without_a_record() -> None:
    objects = [_obj(f"voiceprints/t/{n}.wav") for n in "abcdefg"]
    queue = FakeQueue()
    report = _run(
        FakeListing(objects), FakeRecords({"voiceprints/t/b.wav", "voiceprints/t/f.wav"}), queue, MemoryState()
    )
    assert queue.sent == [f"voiceprints/t/{n}.wav" for n in "acdeg"]
    assert (report.listed, report.recorded, report.enqueued, report.complete) == (7, 2, 5, True)


def test_keys_outside_the_suffix_and_other_prefixes_are_not_enqueued() -> None:
    objects = [_obj("voiceprints/a.wav"), _obj("voiceprints/notes.txt"), _obj("elsewhere/b.wav")]
    queue = FakeQueue()
    report = _run(FakeListing(objects), FakeRecords(), queue, MemoryState(), suffix=".wav")
    assert queue.sent == ["voiceprints/a.wav"]
    assert (report.listed, report.skipped) == (2, 1)


def test_sweep_leaves_objects_younger_than_the_age_alone() -> None:
    objects = [_obj("voiceprints/old.wav", age=7200), _obj("voiceprints/new.wav", age=60)]
    queue = FakeQueue()
    report = _run(FakeListing(objects), FakeRecords(), queue, MemoryState(), older_than_seconds=3600)
    assert queue.sent == ["voiceprints/old.wav"]
    assert report.skipped == 1


def test_a_sweep_while_messages_wait_takes_only_what_the_queues_retention_proves_lost() -> None:
    """Under the rate limit a backlog of hours is normal, and an object may have no record (or one left `retrying`)
    because its message waits in it: sweeping it would add a duplicate to that backlog at every sweep (the chaos run
    found the queue at 5,000 messages for 1,000 uploads). While messages wait, only objects older than the queue's
    retention are taken; once it is empty, --older-than."""
    objects = [_obj("voiceprints/expired.wav", age=20_000), _obj("voiceprints/waiting.wav", age=7200)]
    options = {"older_than_seconds": 3600, "sweep": True, "retention_seconds": 14_400, "max_backlog": 100}
    queue = FakeQueue(backlog=50)
    report = _run(FakeListing(objects), FakeRecords(), queue, MemoryState(), **options)
    assert (queue.sent, report.sweep_age) == (["voiceprints/expired.wav"], 14_400)
    drained = FakeQueue(backlog=0)
    report = _run(FakeListing(objects), FakeRecords(), drained, MemoryState(), **options)
    assert (drained.sent, report.sweep_age) == (["voiceprints/expired.wav", "voiceprints/waiting.wav"], 3600)


def test_the_backlog_never_exceeds_its_maximum_and_the_run_waits_for_the_queue_to_drain() -> None:
    objects = [_obj(f"voiceprints/{n:03}.wav") for n in range(95)]
    queue = FakeQueue(backlog=15, drain=12)
    report = _run(
        FakeListing(objects, page_size=7), FakeRecords(), queue, MemoryState(), max_backlog=30, poll_seconds=5
    )
    assert sorted(queue.sent) == [o.key for o in objects]  # each once
    assert queue.deepest <= 30
    assert (report.waited_seconds > 0, report.waited_seconds % 5) == (True, 0)


def test_a_limit_stops_the_run_and_the_next_run_resumes_after_the_last_object_sent() -> None:
    objects = [_obj(f"voiceprints/{n:02}.wav") for n in range(10)]
    listing, queue, state = FakeListing(objects, page_size=4), FakeQueue(), MemoryState()
    first = _run(listing, FakeRecords(), queue, state, limit=6)
    assert (first.enqueued, first.complete, first.stopped) == (6, False, "the limit of 6 reached")
    assert state.saved["voiceprints/"] == ("voiceprints/05.wav", False)
    second = _run(listing, FakeRecords(), queue, state)
    assert (second.complete, second.enqueued) == (True, 4)
    assert queue.sent == [o.key for o in objects]  # each exactly once across the two runs
    assert listing.listed_from[-1] == ("voiceprints/", "voiceprints/05.wav")
    third = _run(listing, FakeRecords(), queue, state)
    # Finished prefixes are not listed again.
    assert (third.complete, third.listed, len(queue.sent)) == (True, 0, 10)


def test_an_interrupted_run_resumes_at_the_last_page_it_finished() -> None:
    objects = [_obj(f"voiceprints/{n:02}.wav") for n in range(9)]
    listing, state = FakeListing(objects, page_size=3), MemoryState()

    class Broken(FakeQueue):
        def send(self, bucket: str, objects: Sequence[StoredObject]) -> None:
            if objects[0].key == "voiceprints/06.wav":
                raise KeyboardInterrupt
            super().send(bucket, objects)

    broken = Broken()
    with pytest.raises(KeyboardInterrupt):
        _run(listing, FakeRecords(), broken, state)
    assert broken.sent == [o.key for o in objects[:6]]
    queue = FakeQueue()
    assert _run(listing, FakeRecords(), queue, state).complete
    assert queue.sent == [o.key for o in objects[6:]]


def test_a_dry_run_sends_nothing_and_keeps_no_state() -> None:
    objects = [_obj(f"voiceprints/{n}.wav") for n in range(5)]
    queue, state = FakeQueue(backlog=10**6), MemoryState()
    report = _run(FakeListing(objects), FakeRecords({"voiceprints/0.wav"}), queue, state, dry_run=True, max_backlog=1)
    assert (report.enqueued, queue.sent, state.saved) == (4, [], {})


def test_the_default_backlog_is_an_hour_of_work_and_at_most_half_the_retention() -> None:
    assert max_backlog(14 * 86_400, 100) == 6_000  # what 100/min drains in an hour
    assert max_backlog(3600, 100) == 3000  # a queue keeping messages an hour: half of that
    assert max_backlog(60, 1) == 10  # never below one batch
