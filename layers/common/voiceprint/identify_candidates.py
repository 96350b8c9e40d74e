"""Which voiceprints an identification compares against: its group's, of its model, the newest per speaker label."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from voiceprint import model_lineage
from voiceprint.frozen import frozen
from voiceprint.job_state import FailureCode
from voiceprint.record import Record
from voiceprint.submission_checks import Refusal, normalise_label
from voiceprint.vendor_limits import MAX_IDENTIFY_VOICEPRINTS


@frozen
class Candidates:
    chosen: list[dict[str, str]]  # {"label", "voiceprint"}, sorted by label
    stale: list[str]  # labels left out: their only voiceprints are another model's (voiceprint reenrol)


def choose(
    records: Iterable[Record], *, group: str, voiceprint_prefix: str, model: str, only: Iterable[str] | None = None
) -> Candidates:
    """One {"label", "voiceprint"} per label (the newest when a label was enrolled more than once; labels are
    compared in NFC, so look-alike spellings of one name are one speaker), 1 to 50 of them, sorted by label; only
    voiceprints `model` made (another model's embeddings do not compare), with the labels that have none. With
    `only` (x-amz-meta-candidates, normalised), those labels and no other, each of which must have a voiceprint."""
    newest: dict[str, Record] = {}
    stale: set[str] = set()
    for record in records:
        label = normalise_label(record.label or "")
        if not label or not record.voiceprint:
            continue
        if model_lineage.is_stale(record, model):
            stale.add(label)
        elif label not in newest or (record.completed_at or 0) > (newest[label].completed_at or 0):
            newest[label] = record
    where = f"group {group!r}" if group else "the top-level group"
    if only is not None:
        asked = set(only)
        missing = sorted(asked - newest.keys())
        if missing:
            shown = ", ".join(repr(label) for label in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise Refusal(
                FailureCode.UNKNOWN_CANDIDATES,
                f"x-amz-meta-candidates names {len(missing)} labels with no voiceprint of {model} in {where}: {shown}",
            )
        newest = {label: record for label, record in newest.items() if label in asked}
        stale &= asked
    stale -= newest.keys()
    if not newest and stale:
        raise Refusal(
            FailureCode.NO_VOICEPRINTS,
            f"no voiceprints in {where} made by {model}: the {len(stale)} speaker labels there were enrolled with "
            f"another model; run `voiceprint reenrol --group {group}` to enrol them again from their source audio",
        )
    if not newest:
        raise Refusal(
            FailureCode.NO_VOICEPRINTS,
            f"no voiceprints in {where} to identify against: upload samples under {voiceprint_prefix}{group} first",
        )
    if len(newest) > MAX_IDENTIFY_VOICEPRINTS:
        raise Refusal(
            FailureCode.TOO_MANY_VOICEPRINTS,
            f"{where} has {len(newest)} speaker labels; pyannoteAI compares at most "
            f"{MAX_IDENTIFY_VOICEPRINTS}: split it into subfolders",
        )
    chosen = [{"label": label, "voiceprint": str(newest[label].voiceprint)} for label in sorted(newest)]
    return Candidates(chosen, sorted(stale))


def request_digest(group: str, etag: str, size: int, candidates: Iterable[Mapping[str, str]]) -> str:
    """One identification request's identity: its group, its content (ETag and size) and its candidates (label and
    voiceprint), whatever the object is called: the deduplication key."""
    h = hashlib.sha256()
    for part in (group, etag, str(size)):
        h.update(part.encode() + b"\0")
    for candidate in sorted(candidates, key=lambda c: c["label"]):
        h.update(candidate["label"].encode() + b"\0" + hashlib.sha256(candidate["voiceprint"].encode()).digest())
    return h.hexdigest()
