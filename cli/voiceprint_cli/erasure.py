"""Erasure by person (issue 15: GDPR Art. 17, BIPA): every record made from a person's samples, and their label in
every identification that names them, found and deleted or redacted, with a receipt.

`voiceprint erase --label NAME [--group G] [--with-source] [--dry-run]`:
- the person's records (their voiceprints, of any status) are deleted, each marked `erasedAt` first so that its
  `... Deleted` event says `deletedBecause: erased`;
- identifications that name them (as a candidate, a match, or a label in the stored output, inline or in the
  results bucket) keep their record with the label replaced by `[erased]`;
- with `--with-source`, every version of the person's source audio is deleted too;
- their label's per-label health (last used, last matched, best score) is removed from every group's, or G's;
- the receipt says what went where and when, and the vendor's side: pyannoteAI deletes job outputs 24 h after
  completion and has no endpoint to delete them sooner; it is announced as a `Person Erased` event.
The table has no index over every mention of a label, so the records are found by a scan: an operator's command,
priced by the table's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from voiceprint.frozen import frozen
from voiceprint.submission_checks import normalise_label

ERASED = "[erased]"
VENDOR_OUTPUT_HOURS = 24  # API_NOTES.md: "Outputs are deleted 24 h after completion"


@frozen
class Found:
    """A record that holds or names the person: its keys, what it is, and what mentions them."""

    pk: str
    sk: str
    bucket: str
    key: str
    version_id: str | None
    kind: str
    status: str
    group: str
    label: str | None
    job_id: str | None
    completed_at: int | None
    candidates: tuple[str, ...] = ()
    matches: str | None = None  # JSON text
    result: str | None = None  # JSON text
    reviews: str | None = None  # JSON text: review decisions name who a speaker was
    result_location: str | None = None  # s3://bucket/key
    consent_ref: str | None = None
    created_at: int | None = None
    failure_code: str | None = None


class PersonRecords(Protocol):
    def mentioning(self, label: str) -> Iterator[Found]:
        """Every record whose label is `label`, or that may name it (candidates, matches, output)."""
        ...

    def erase(self, found: Found, now: float) -> None:
        """Mark the record erased, then delete it."""
        ...

    def redact(
        self,
        found: Found,
        candidates: Sequence[str],
        matches: str | None,
        result: str | None,
        reviews: str | None = None,
    ) -> None: ...


class Sources(Protocol):
    def delete_versions(self, bucket: str, key: str) -> list[str]:
        """Delete every version of the object (delete markers too); the version ids deleted."""
        ...


class Results(Protocol):
    def redact(self, location: str, label: str) -> bool:
        """Rewrite the identification output at `location` with the label replaced; False if it did not name it."""
        ...


class Health(Protocol):
    def forget(self, label: str, group: str | None) -> int:
        """Remove the label from the groups' per-label health (one group, or every one); how many entries."""
        ...


class Announcer(Protocol):
    def announce(self, receipt: dict[str, Any]) -> None: ...


@dataclass
class Receipt:
    label: str
    group: str | None
    erasedAt: str
    dryRun: bool
    withSource: bool
    voiceprintsDeleted: list[dict[str, Any]] = field(default_factory=list)
    identificationsRedacted: list[dict[str, Any]] = field(default_factory=list)
    sourceVersionsDeleted: list[dict[str, Any]] = field(default_factory=list)
    healthEntriesRemoved: int | None = None  # per-label health entries (None in a dry run: not counted)
    vendor: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def redact_json(text: str | None, label: str) -> tuple[str | None, bool]:
    """`text` (JSON) with every string equal to `label`, and every key equal to it (confidence maps), replaced."""
    if text is None:
        return None, False
    try:
        value = json.loads(text)
    except ValueError:
        return text, False
    changed = [False]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            if normalise_label(node) == label:
                changed[0] = True
                return ERASED
            return node
        if isinstance(node, list):
            return [walk(n) for n in node]
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if normalise_label(k) == label:
                    changed[0] = True
                    k = ERASED
                out[k] = walk(v)
            return out
        return node

    redacted = walk(value)
    return (json.dumps(redacted, separators=(",", ":"), ensure_ascii=False) if changed[0] else text), changed[0]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _erase_sources(
    receipt: Receipt, sources_of: list[tuple[str, str]], sources: Sources, *, with_source: bool, dry_run: bool
) -> None:
    """Every version of the person's audio deleted (`with_source`), or a warning that it was kept."""
    if with_source:
        for bucket, key in sources_of:
            versions = [] if dry_run else sources.delete_versions(bucket, key)
            receipt.sourceVersionsDeleted.append({"bucket": bucket, "key": key, "versions": versions})
    elif sources_of:
        receipt.warnings.append(
            "the source audio was kept: a message still on the queue, a backfill, a sweep or a new upload would "
            "enrol it again unless the label is on the opt-out list (voiceprint optout add) or the audio is deleted "
            "(--with-source)"
        )


def erase(
    label: str,
    *,
    group: str | None,
    with_source: bool,
    dry_run: bool,
    records: PersonRecords,
    sources: Sources,
    results: Results,
    announcer: Announcer,
    now: float,
    health: Health | None = None,
) -> Receipt:
    label = normalise_label(label)
    receipt = Receipt(label, group, _iso(now), dry_run, with_source)
    latest_job = 0
    sources_of: set[tuple[str, str]] = set()
    for found in records.mentioning(label):
        if group is not None and found.group != group:
            continue
        where = {"bucket": found.bucket, "key": found.key, "versionId": found.version_id, "jobId": found.job_id}
        if found.label is not None and normalise_label(found.label) == label and found.kind == "voiceprint":
            receipt.voiceprintsDeleted.append({**where, "group": found.group, "status": found.status})
            sources_of.add((found.bucket, found.key))
            if not dry_run:
                records.erase(found, now)
        else:
            candidates = [ERASED if normalise_label(c) == label else c for c in found.candidates]
            matches, in_matches = redact_json(found.matches, label)
            result, in_result = redact_json(found.result, label)
            reviews, in_reviews = redact_json(found.reviews, label)
            in_candidates = list(found.candidates) != candidates
            in_output = bool(found.result_location) and (dry_run or results.redact(str(found.result_location), label))
            if not (in_candidates or in_matches or in_result or in_output or in_reviews):
                continue  # the scan's substring match named someone else
            receipt.identificationsRedacted.append({**where, "group": found.group})
            if not dry_run:
                records.redact(found, candidates, matches, result, reviews if in_reviews else None)
        if found.job_id and found.completed_at:
            latest_job = max(latest_job, found.completed_at)
    if health is not None and not dry_run:
        receipt.healthEntriesRemoved = health.forget(label, group)
    _erase_sources(receipt, sorted(sources_of), sources, with_source=with_source, dry_run=dry_run)
    receipt.vendor = {
        "name": "pyannoteAI",
        "holds": "job outputs (voiceprints, identifications) of the jobs above",
        "deletedBy": _iso(latest_job + VENDOR_OUTPUT_HOURS * 3600) if latest_job else None,
        "note": f"pyannoteAI deletes job outputs {VENDOR_OUTPUT_HOURS} h after completion; its API has no endpoint "
        "to delete them sooner",
    }
    if not dry_run:
        announcer.announce(receipt.as_json())
    return receipt
