"""The review queue: an identification whose best score for a speaker falls in the grey band (`ReviewBand`, e.g.
40-70) waits for a person's decision, instead of being trusted or ignored.

A speaker is in the band when the highest confidence pyannoteAI gave any candidate for them is at least the
band's low end and below its high end, whether or not the vendor called it a match (a 55 under a threshold of 60 is
exactly the case a person should look at). Such an identification's record is queued (`reviewQueue`, the sparse
byReview index) and announced ("Identification Needs Review"). A decision per speaker is one of:

    confirmed   the best candidate is the speaker
    rejected    none of the candidates is the speaker
    relabelled  another label is the speaker (a label of the group, or one not enrolled yet)

Decisions are stored on the record (`reviews`), announced ("Identification Reviewed"), and are the ground truth
that `voiceprint calibrate` measures thresholds against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from voiceprint.frozen import frozen

QUEUED = "pending"  # reviewQueue's one value: the sparse index holds only records waiting for a decision
_BAND = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*-\s*(\d{1,3}(?:\.\d+)?)\s*$")


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RELABELLED = "relabelled"


class BandError(ValueError):
    """A ReviewBand that is not "LOW-HIGH" with 0 <= LOW < HIGH <= 100."""


@frozen
class ReviewBand:
    low: float
    high: float

    @classmethod
    def parse(cls, text: str) -> ReviewBand | None:
        """ "" (no review queue) or "LOW-HIGH", confidences in pyannoteAI's 0-100 scale."""
        if not text.strip():
            return None
        found = _BAND.match(text)
        if not found:
            raise BandError(f"ReviewBand {text!r} is not LOW-HIGH, e.g. 40-70")
        low, high = float(found[1]), float(found[2])
        if not 0 <= low < high <= 100:
            raise BandError(f"ReviewBand {text!r}: need 0 <= LOW < HIGH <= 100")
        return cls(low, high)

    def holds(self, score: float | None) -> bool:
        return score is not None and self.low <= score < self.high


def best_candidate(confidence: Mapping[str, Any] | None) -> tuple[str | None, float | None]:
    """The candidate label with the highest confidence, and that confidence (ties: the first label in order)."""
    scores = [(float(v), label) for label, v in sorted((confidence or {}).items())]
    if not scores:
        return None, None
    score, label = max(scores, key=lambda pair: pair[0])
    return label, score


def best_of(match: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """A matches summary entry's best candidate and score: its own `best` when it differs from the match."""
    if "best" in match:
        return match.get("best"), match.get("bestConfidence")
    return match.get("match"), match.get("confidence")


def speakers_to_review(matches: Iterable[Mapping[str, Any]]) -> list[str]:
    """The speakers of a matches summary that wait for a decision."""
    return [str(m["speaker"]) for m in matches if m.get("review")]


@frozen
class SpeakerDecision:
    speaker: str
    decision: Decision
    label: str | None  # who the speaker is: the best candidate (confirmed), another label (relabelled), None
    by: str  # who decided (the operator's identity, as the CLI saw it)
    at: int  # epoch seconds

    def to_item(self) -> dict[str, Any]:
        return {"decision": self.decision.value, "label": self.label, "by": self.by, "at": self.at}

    @classmethod
    def from_item(cls, speaker: str, item: Mapping[str, Any]) -> SpeakerDecision:
        return cls(speaker, Decision(item["decision"]), item.get("label"), str(item.get("by", "")), int(item["at"]))
