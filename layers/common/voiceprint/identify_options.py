"""An identification's options, per recording, from its object's metadata, checked against the spec
(openapi.json IdentifyRequest) before anything is paid:

    x-amz-meta-candidates     the labels to compare against, comma-separated (percent-encoded UTF-8 where a label
                              is not ASCII: S3 metadata is ASCII), in place of every label of the folder
    x-amz-meta-num-speakers   how many people speak (numSpeakers), or
    x-amz-meta-min-speakers / x-amz-meta-max-speakers   a range (minSpeakers, maxSpeakers)

The matching threshold is the group's calibrated one when `voiceprint calibrate --store` set it, else the stack's
IdentifyThreshold; turn-level confidence is asked for when the review band is on (the review shows it per turn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from voiceprint.frozen import frozen
from voiceprint.job_state import FailureCode
from voiceprint.submission_checks import Refusal, normalise_label
from voiceprint.vendor_limits import MAX_IDENTIFY_VOICEPRINTS

MAX_SPEAKERS = 1000  # not in the spec; a number past it is a typo, refused before it is paid


@frozen
class IdentifyOptions:
    candidates: tuple[str, ...] | None = None  # None: every label of the group
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    threshold: int | None = None
    exclusive: bool | None = None
    turn_level_confidence: bool = False

    def body(self) -> dict[str, Any]:
        """The request fields these options add to POST /v1/identify."""
        fields: dict[str, Any] = {
            name: value
            for name, value in (
                ("numSpeakers", self.num_speakers),
                ("minSpeakers", self.min_speakers),
                ("maxSpeakers", self.max_speakers),
            )
            if value is not None
        }
        if self.turn_level_confidence:
            fields["turnLevelConfidence"] = True
        matching = {k: v for k, v in (("threshold", self.threshold), ("exclusive", self.exclusive)) if v is not None}
        if matching:
            fields["matching"] = matching
        return fields

    def details(self) -> dict[str, Any]:
        """What the record keeps of them (the threshold a match was made under, for calibration)."""
        return {} if self.threshold is None else {"threshold": self.threshold}


def _refuse(reason: str) -> Refusal:
    return Refusal(FailureCode.INVALID_OPTIONS, reason)


def _count(metadata: Mapping[str, str], name: str) -> int | None:
    raw = metadata.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise _refuse(f"x-amz-meta-{name} must be a whole number, got {raw[:20]!r}") from None
    if not 1 <= value <= MAX_SPEAKERS:
        raise _refuse(f"x-amz-meta-{name} must be within [1, {MAX_SPEAKERS}], got {value}")
    return value


def candidates_of(raw: str | None) -> tuple[str, ...] | None:
    """The labels of x-amz-meta-candidates, decoded and normalised, in order, each once; None when absent."""
    if raw is None or not raw.strip():
        return None
    labels: list[str] = []
    for part in raw.split(","):
        label = normalise_label(unquote(part.strip(), errors="strict"))
        if label and label not in labels:
            labels.append(label)
    if not labels:
        raise _refuse("x-amz-meta-candidates names no label")
    if len(labels) > MAX_IDENTIFY_VOICEPRINTS:
        raise _refuse(f"x-amz-meta-candidates names {len(labels)} labels; pyannoteAI compares at most 50")
    return tuple(labels)


def from_metadata(
    metadata: Mapping[str, str], *, threshold: int | None, exclusive: bool | None, review_band_on: bool
) -> IdentifyOptions:
    """The options of one recording (Refusal when one is outside the spec: nothing is paid)."""
    try:
        candidates = candidates_of(metadata.get("candidates"))
    except UnicodeDecodeError:
        raise _refuse("x-amz-meta-candidates: a percent-encoded label is not UTF-8") from None
    num, low, high = (_count(metadata, n) for n in ("num-speakers", "min-speakers", "max-speakers"))
    if num is not None and (low is not None or high is not None):
        raise _refuse("x-amz-meta-num-speakers and a min/max range together: give one or the other")
    if low is not None and high is not None and low > high:
        raise _refuse(f"x-amz-meta-min-speakers ({low}) is above x-amz-meta-max-speakers ({high})")
    return IdentifyOptions(candidates, num, low, high, threshold, exclusive, review_band_on)
