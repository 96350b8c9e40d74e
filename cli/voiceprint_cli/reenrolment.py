"""`voiceprint reenrol`: enrol again, from their kept source audio, the speakers whose voiceprints another model made.

A voiceprint is one model's embedding, and identification compares only the current `PyannoteModel`'s (the submit
function's identify_candidates). When the model changes, each speaker label whose voiceprints are all another
model's is enrolled again: the newest such voiceprint's source version is copied onto its key as a new version
(its metadata, label and consent reference included, with `reenrol-of` naming the version it came from). That
upload goes through the pipeline like any other: claimed once, checked, charged to the budget and paced by the
shared rate budget. The old version and its voiceprint stay, as every earlier upload does, until deleted.

Left alone: a label that already has a current-model voiceprint, and a source version that is no longer its key's
newest (copying it back would undo the newer upload; that upload is enrolled, or re-enrolled, on its own).
Pacing: like backfill, the queue's backlog is kept under `max_backlog` before each copy. Idempotent: a label
re-enrolled has a current voiceprint once its job succeeds, and a run before that finds the copy as its key's
newest version and leaves the old one alone (superseded), so nothing is copied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from voiceprint import model_lineage
from voiceprint.record import Record
from voiceprint.submission_checks import normalise_label

MAX_WAITS = 720  # backlog checks before giving up (an hour at the default 5 s poll)


class Sources(Protocol):
    def newest_version(self, bucket: str, key: str) -> str | None:
        """The key's newest version id ("null" unversioned), None when the key is gone (or a delete marker)."""
        ...

    def copy_forward(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """Copy the version onto its key as a new version; its new version id."""
        ...


class Backlog(Protocol):
    def backlog(self) -> int: ...


@dataclass
class Report:
    model: str
    stale_labels: int = 0  # labels with no voiceprint of `model`
    current_labels: int = 0  # labels with one: left alone
    copied: int = 0  # source versions copied forward (in a dry run: that would be)
    superseded: int = 0  # the source version is no longer the key's newest: left alone
    gone: int = 0  # the key or the version is gone
    waited_seconds: float = 0.0
    dry_run: bool = False
    copies: list[dict[str, str | None]] | None = None  # what was copied: key, from, to

    def line(self) -> str:
        verb = "would be enrolled again (dry run: nothing copied)" if self.dry_run else "enrolled again"
        return (
            f"{self.stale_labels} speaker labels have no {self.model} voiceprint: {self.copied} {verb}, "
            f"{self.superseded} left alone (their source has a newer upload), {self.gone} gone; "
            f"{self.current_labels} labels already current"
        )


def stale_sources(voiceprints: Iterable[Record], model: str) -> tuple[list[Record], int]:
    """Per (group, label) with no voiceprint of `model`, its newest voiceprint; and how many labels are current."""
    newest: dict[tuple[str, str], Record] = {}
    current: set[tuple[str, str]] = set()
    for record in voiceprints:
        who = (record.group or "", normalise_label(record.label or ""))
        if not model_lineage.is_stale(record, model):
            current.add(who)
        elif who not in newest or (record.completed_at or 0) > (newest[who].completed_at or 0):
            newest[who] = record
    stale = [r for who, r in sorted(newest.items()) if who not in current]
    return stale, len(current)


def reenrol(
    voiceprints: Iterable[Record],
    sources: Sources,
    queue: Backlog,
    *,
    model: str,
    max_backlog: int,
    dry_run: bool = False,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None],
) -> Report:
    stale, current = stale_sources(voiceprints, model)
    report = Report(model=model, stale_labels=len(stale), current_labels=current, dry_run=dry_run, copies=[])
    for record in stale:
        bucket, key = record.bucket or "", record.object_key or ""
        newest = sources.newest_version(bucket, key)
        if newest is None:
            report.gone += 1
            continue
        if newest != (record.version_id or "null"):
            report.superseded += 1
            continue
        report.copied += 1
        if dry_run:
            continue
        for _ in range(MAX_WAITS):
            if queue.backlog() < max_backlog:
                break
            sleep(poll_seconds)
            report.waited_seconds += poll_seconds
        else:
            raise RuntimeError(f"the input queue stayed above {max_backlog} messages: run again later")
        copied = sources.copy_forward(bucket, key, record.version_id)
        assert report.copies is not None
        report.copies.append({"key": key, "from": record.version_id, "to": copied})
    return report
