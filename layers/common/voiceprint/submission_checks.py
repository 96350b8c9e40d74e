"""What is refused before anything is paid: objects pyannoteAI would refuse or could not load, headers that lie
about their audio, and speaker labels the API does not allow. Pure functions over what S3 answered."""

from __future__ import annotations

import unicodedata

from voiceprint import source_key, vendor_limits
from voiceprint.audio_probe import AudioInfo, NotAudio, RangedReader, probe, size_problem
from voiceprint.frozen import frozen
from voiceprint.job_state import FailureCode, Kind


@frozen
class Refusal(Exception):
    code: FailureCode
    reason: str


def key_problem(key: str) -> str | None:
    """'.', '..' and empty segments: HTTP clients and servers normalise such paths, so a presigned URL for the key
    reaches another object or none (pyannoteAI answers "Could not load audio", after billing)."""
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            shown = "an empty segment" if segment == "" else f"a {segment!r} segment"
            return f"the object key has {shown}; rename it without '//', '/./' or '/../'"
    return None


def check_size(kind: Kind, size: int) -> None:
    max_bytes = vendor_limits.max_bytes(kind)
    if size == 0:
        raise Refusal(FailureCode.EMPTY, "the object is empty")
    if size > max_bytes:
        raise Refusal(FailureCode.TOO_LARGE, f"{size} bytes is over the API's limit of {max_bytes} bytes")


def check_audio(kind: Kind, reader: RangedReader, size: int) -> AudioInfo:
    """Format and duration from the header (ranged reads), checked against the limits and the object's size."""
    try:
        info = probe(reader)
    except NotAudio as exc:
        raise Refusal(FailureCode.NOT_AUDIO, str(exc)) from None
    max_seconds = vendor_limits.max_seconds(kind)
    if info.duration_seconds > max_seconds:
        raise Refusal(
            FailureCode.TOO_LONG,
            f"{info.duration_seconds:.1f} s of audio is over the API's limit of {max_seconds:.0f} s",
        )
    problem = size_problem(info, size)
    if problem:
        raise Refusal(FailureCode.HEADER_MISMATCH, problem)
    return info


def normalise_label(label: str) -> str:
    """NFC: 'José' typed on a Mac (NFD) and on Windows (NFC) is one speaker, with one label."""
    return unicodedata.normalize("NFC", label)


MAX_CONSENT_CHARS = 256


def check_consent(reference: str | None, *, required: bool) -> str | None:
    """An enrolment's consent reference (x-amz-meta-consent: a consent record's id, a signed document's hash), kept
    on the record and announced with the voiceprint. Refused unpaid when required and missing, or unusable."""
    if reference is None or not reference.strip():
        if required:
            raise Refusal(
                FailureCode.NO_CONSENT,
                "this stack enrols only with the speaker's consent on record: set x-amz-meta-consent to its "
                "reference (an id or a document hash)",
            )
        return None
    reference = reference.strip()
    if len(reference) > MAX_CONSENT_CHARS or not reference.isprintable():
        raise Refusal(
            FailureCode.NO_CONSENT, f"the consent reference is not usable (printable, at most {MAX_CONSENT_CHARS})"
        )
    return reference


def check_label(label: str) -> str:
    label = normalise_label(label)
    problem = source_key.label_problem(label)
    if problem:
        raise Refusal(FailureCode.INVALID_LABEL, f"{problem} (set x-amz-meta-label or rename the file)")
    return label
