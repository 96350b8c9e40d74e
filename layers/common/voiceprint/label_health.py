"""Per-label health of a group's voiceprints: when each label was last compared against (used), last recognised
(matched), and its best confidence. A label that is used and never matched may need a better sample; one never
used may be enrolled in the wrong group.

Derived from each identification as it settles (settlement), one item per group in the jobs table
(label_health_store); it covers the identifications of the last `RetentionDays` (older entries are dropped as
the item is rewritten, as the identifications themselves expire), and an erasure forgets the person's label.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from voiceprint.record import Record

# An entry of the item's `labels` map, by label: short names, as a group's item holds every label's.
USED, MATCHED, SCORE = "u", "m", "s"


@frozen
class LabelHealth:
    label: str
    last_used: int | None  # epoch seconds of the newest identification that compared against the label
    last_matched: int | None  # of the newest that recognised it
    best_score: float | None  # its best confidence among those

    @property
    def never_matched(self) -> bool:
        return self.last_matched is None

    def public(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "lastUsed": self.last_used,
            "lastMatched": self.last_matched,
            "bestScore": self.best_score,
            "neverMatched": self.never_matched,
        }


def of(label: str, entry: Mapping[str, Any] | None) -> LabelHealth:
    entry = entry or {}
    used, matched, score = entry.get(USED), entry.get(MATCHED), entry.get(SCORE)
    return LabelHealth(
        label,
        int(used) if used is not None else None,
        int(matched) if matched is not None else None,
        float(score) if score is not None else None,
    )


def merged(
    labels: Mapping[str, Mapping[str, Any]], record: Record, *, now: float, keep_seconds: int
) -> dict[str, dict[str, Any]]:
    """The group's entries with one settled identification added: its candidates used at its completion, its
    matched labels matched then with their confidence; entries unused for `keep_seconds` dropped. Idempotent: the
    same identification twice changes nothing more."""
    at = int(record.completed_at or now)
    out = {
        label: dict(entry) for label, entry in labels.items() if int(entry.get(USED) or 0) >= int(now) - keep_seconds
    }
    candidates = set(record.candidates or ())
    for label in candidates:
        entry = out.setdefault(label, {})
        entry[USED] = max(int(entry.get(USED) or 0), at)
    for match in record.matches_list():
        matched = match.get("match") if isinstance(match, Mapping) else None
        if not isinstance(matched, str) or matched not in candidates:
            continue  # not a label of ours (or none): nothing to say of it
        entry = out[matched]
        entry[MATCHED] = max(int(entry.get(MATCHED) or 0), at)
        score = match.get("confidence")
        if isinstance(score, int | float) and not isinstance(score, bool):
            best = entry.get(SCORE)
            entry[SCORE] = Decimal(str(score)) if best is None else max(Decimal(str(best)), Decimal(str(score)))
    return out
