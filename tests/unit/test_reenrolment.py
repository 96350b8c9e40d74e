"""`voiceprint reenrol` (cli/voiceprint_cli/reenrolment.py) on in-memory fakes: which labels are enrolled again,
from which source version, what is left alone, the dry run, and the pacing by the queue's backlog."""

from __future__ import annotations

import pytest

from voiceprint.job_state import Kind, Status
from voiceprint.record import Record
from voiceprint_cli.reenrolment import reenrol


def _voiceprint(label: str, version: str, *, model: str | None, completed: int, group: str = "team/") -> Record:
    return Record(
        pk=f"OBJ#{label}",
        sk=f"VER#{version}",
        status=Status.SUCCEEDED,
        kind=Kind.VOICEPRINT,
        bucket="in",
        object_key=f"voiceprints/{group}{label}.wav",
        version_id=version,
        group=group,
        label=label,
        voiceprint="VP",
        completed_at=completed,
        model=model,
    )


class Sources:
    def __init__(self, newest: dict[str, str | None]) -> None:
        self.newest = newest  # key -> its newest version id (None: gone)
        self.copied: list[tuple[str, str | None]] = []

    def newest_version(self, bucket: str, key: str) -> str | None:
        return self.newest.get(key)

    def copy_forward(self, bucket: str, key: str, version_id: str | None) -> str | None:
        self.copied.append((key, version_id))
        self.newest[key] = f"copy-of-{version_id}"
        return self.newest[key]


class Queue:
    def __init__(self, depths: list[int]) -> None:
        self.depths = depths

    def backlog(self) -> int:
        return self.depths.pop(0) if len(self.depths) > 1 else self.depths[0]


RECORDS = [
    _voiceprint("alice", "a1", model="precision-1", completed=1),
    _voiceprint("alice", "a2", model="precision-1", completed=2),  # her newest: the one enrolled again
    _voiceprint("bob", "b1", model="precision-1", completed=1),
    _voiceprint("bob", "b2", model="precision-2", completed=3),  # current already
    _voiceprint("carol", "c1", model=None, completed=1),  # unrecorded: precision-2
    _voiceprint("dan", "d1", model="precision-1", completed=1),  # his key has a newer upload
    _voiceprint("erin", "e1", model="precision-1", completed=1),  # her key is gone
]


def test_each_stale_label_is_enrolled_again_from_its_newest_source_version() -> None:
    sources = Sources(
        {"voiceprints/team/alice.wav": "a2", "voiceprints/team/dan.wav": "d2", "voiceprints/team/erin.wav": None}
    )
    slept: list[float] = []
    report = reenrol(
        RECORDS, sources, Queue([0]), model="precision-2", max_backlog=10, sleep=slept.append, poll_seconds=5
    )
    assert sources.copied == [("voiceprints/team/alice.wav", "a2")]
    assert (report.stale_labels, report.current_labels, report.copied, report.superseded, report.gone) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert report.copies == [{"key": "voiceprints/team/alice.wav", "from": "a2", "to": "copy-of-a2"}]
    assert slept == []
    again = reenrol(RECORDS, sources, Queue([0]), model="precision-2", max_backlog=10, sleep=slept.append)
    assert (again.copied, again.superseded, len(sources.copied)) == (0, 2, 1)  # the copy is newest: no second copy


def test_a_dry_run_counts_and_copies_nothing() -> None:
    sources = Sources({"voiceprints/team/alice.wav": "a2", "voiceprints/team/dan.wav": "d1"})
    report = reenrol(RECORDS, sources, Queue([99]), model="precision-2", max_backlog=10, dry_run=True, sleep=print)
    assert (report.copied, sources.copied) == (2, [])
    assert report.line().startswith("3 speaker labels have no precision-2 voiceprint: 2 would be enrolled again")


def test_copies_wait_for_the_queue_and_give_up_if_it_never_drains() -> None:
    sources = Sources({"voiceprints/team/alice.wav": "a2"})
    slept: list[float] = []
    report = reenrol(RECORDS[:2], sources, Queue([30, 12, 9]), model="precision-2", max_backlog=10, sleep=slept.append)
    assert (slept, report.waited_seconds, len(sources.copied)) == ([5.0, 5.0], 10.0, 1)
    with pytest.raises(RuntimeError, match="stayed above 10 messages"):
        reenrol(
            RECORDS[:2],
            Sources({"voiceprints/team/alice.wav": "a2"}),
            Queue([11]),
            model="precision-2",
            max_backlog=10,
            sleep=lambda s: None,
        )
