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
from voiceprint_cli.wav_clips import WavLayout, layout

MAX_PAGES = 1000  # bounded: a queue of a million waits is read in pages of 1 MB
ENROL_MAX_SECONDS = 30.0  # pyannoteAI's limit for a voiceprint's sample


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


class Audio(Protocol):
    """A recording read by byte range (review_aws.ReviewSources)."""

    def header(self, bucket: str, key: str, version_id: str | None) -> bytes: ...
    def read(self, bucket: str, key: str, version_id: str | None, first: int, last: int) -> bytes: ...


def wav_layout(audio: Audio, record: Record) -> WavLayout | None:
    """Where the recording's samples are, when it is PCM WAV (None: another format, not cut)."""
    return layout(audio.header(str(record.bucket), str(record.object_key), record.version_id))


def segment_links(spans: list[tuple[float, float]], source_link: str, wav: WavLayout | None) -> list[dict[str, Any]]:
    """Each segment with its own link: the source's short-lived link with a media fragment (`#t=start,end`, which a
    browser plays alone); for WAV, the segment's byte range too."""
    found = []
    for start, end in spans:
        entry: dict[str, Any] = {"start": start, "end": end, "link": f"{source_link}#t={start:g},{end:g}"}
        span = wav.byte_range(start, end) if wav else None
        if span:
            entry["bytes"] = f"{span[0]}-{span[1]}"
        found.append(entry)
    return found


def _samples(audio: Audio, record: Record, wav: WavLayout, spans: list[tuple[float, float]]) -> list[bytes]:
    """Each span's samples, read by byte range (only those bytes leave the bucket); empty spans are skipped."""
    return [
        audio.read(str(record.bucket), str(record.object_key), record.version_id, *span)
        for start, end in spans
        if (span := wav.byte_range(start, end))
    ]


def clips(audio: Audio, record: Record, wav: WavLayout, spans: list[tuple[float, float]]) -> list[bytes]:
    """Each segment as a playable WAV."""
    return [wav.clip(samples) for samples in _samples(audio, record, wav, spans)]


def enrolment_sample(audio: Audio, record: Record, speaker: str, result: Mapping[str, Any]) -> bytes:
    """One WAV of the speaker's segments end to end, at most ENROL_MAX_SECONDS (a voiceprint's limit): the sample
    a confirmed speaker is enrolled from with `review confirm --enrol`."""
    wav = wav_layout(audio, record)
    if wav is None:
        raise ReviewError("--enrol cuts the speaker's segments out of the recording: only PCM WAV can be cut")
    spans, left = [], ENROL_MAX_SECONDS
    for start, end in segments(result, speaker):
        if left <= 0:
            break
        spans.append((start, min(end, start + left)))
        left -= spans[-1][1] - start
    samples = b"".join(_samples(audio, record, wav, spans))
    if not samples:
        raise ReviewError(f"speaker {speaker!r} has no segment to enrol from")
    return wav.clip(samples)
