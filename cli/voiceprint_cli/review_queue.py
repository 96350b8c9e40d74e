"""The review queue's use cases for `voiceprint review` (voiceprint/review.py says what the queue is): what waits,
one identification's speakers with the segments where they speak, and a person's decision on a speaker.

No AWS here: the records come through RecordQueries and go back through ReviewStore (the layer's adapters)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from voiceprint.frozen import frozen
from voiceprint.record import Record
from voiceprint.review import Decision, SpeakerDecision, best_of
from voiceprint.submission_checks import normalise_label

MAX_PAGES = 1000  # bounded: a queue of a million waits is read in pages of 1 MB


class Queries(Protocol):
    def review_page(self, limit: int | None, start: Mapping[str, Any] | None) -> tuple[list[Record], Any]: ...
    def find_by_job(self, job_id: str) -> Record | None: ...
    def get(self, keys: Mapping[str, str]) -> Record | None: ...


class Decisions(Protocol):
    def decide(self, record: Record, decisions: Mapping[str, SpeakerDecision], *, now: float) -> Record: ...


class ReviewError(Exception):
    """What the operator asked cannot be done as asked (exit code 2)."""


@frozen
class Waiting:
    """One speaker of an identification that waits for (or has had) a decision."""

    speaker: str
    best: str | None
    score: float | None
    match: str | None  # what pyannoteAI called a match under the stack's threshold (None: no match)
    decision: Mapping[str, Any] | None


def waiting(queries: Queries, limit: int | None = None) -> Iterator[Record]:
    """The identifications waiting for review, oldest first."""
    start: Any = None
    shown = 0
    for _ in range(MAX_PAGES):
        page, start = queries.review_page(limit, start)
        for record in page:
            yield record
            shown += 1
            if limit is not None and shown >= limit:
                return
        if not start:
            return


def speakers(record: Record) -> list[Waiting]:
    """The speakers of `record` that were queued, with their best candidate and any decision made."""
    decided = record.reviews_map()
    found = []
    for entry in record.matches_list():
        if not entry.get("review"):
            continue
        best, score = best_of(entry)
        speaker = str(entry["speaker"])
        found.append(Waiting(speaker, best, score, entry.get("match"), decided.get(speaker)))
    return found


def record_of(queries: Queries, job_id: str) -> Record:
    """The whole record of an identification job (byJobId projects its keys only)."""
    keys = queries.find_by_job(job_id)
    record = queries.get(keys.keys) if keys is not None else None
    if record is None:
        raise ReviewError(f"no record for job {job_id}")
    return record


def segments(result: Mapping[str, Any], speaker: str) -> list[tuple[float, float]]:
    """Where `speaker` (a diarization speaker) talks, in seconds: the identification's turns, else the
    diarization's."""
    turns = [
        (float(s["start"]), float(s["end"]))
        for s in result.get("identification") or []
        if s.get("diarizationSpeaker") == speaker and "start" in s and "end" in s
    ]
    if turns:
        return turns
    return [
        (float(s["start"]), float(s["end"]))
        for s in result.get("diarization") or []
        if s.get("speaker") == speaker and "start" in s and "end" in s
    ]


def inline_result(record: Record) -> dict[str, Any] | None:
    return dict(json.loads(record.result)) if record.result else None


def decide(
    store: Decisions,
    record: Record,
    speaker: str,
    decision: Decision,
    *,
    label: str | None,
    by: str,
    now: float,
) -> Record:
    """Record one decision on one queued speaker; a speaker may be decided again (the newer stands)."""
    queued = {w.speaker: w for w in speakers(record)}
    if speaker not in queued:
        waiting_for = ", ".join(sorted(queued)) or "none"
        raise ReviewError(f"speaker {speaker!r} of job {record.job_id} is not in the review queue ({waiting_for})")
    if decision is Decision.CONFIRMED:
        label = queued[speaker].best
        if label is None:
            raise ReviewError(f"speaker {speaker!r} has no candidate to confirm; relabel or reject")
    elif decision is Decision.RELABELLED:
        label = normalise_label(label or "")
        if not label:
            raise ReviewError("relabel: --label is required")
    else:
        label = None
    made = SpeakerDecision(speaker, decision, label, by, int(now))
    return store.decide(record, {speaker: made}, now=now)
