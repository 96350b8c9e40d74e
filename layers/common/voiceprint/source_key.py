"""What an object key means: its kind (by prefix), its group (the folder under that prefix) and the speaker
label it implies (the file name without extension, unless the object's `x-amz-meta-label` says otherwise).

    voiceprints/alice.wav            voiceprint, group "",        label "alice"
    voiceprints/team-a/Bob Smith.m4a voiceprint, group "team-a/", label "Bob Smith"
    identify/call.wav                identification against the voiceprints of group ""
    identify/team-a/standup.mp3      identification against the voiceprints of group "team-a/"
"""

from __future__ import annotations

from voiceprint.frozen import frozen
from voiceprint.job_state import Kind
from voiceprint.vendor_limits import MAX_LABEL_LENGTH, RESERVED_LABEL_PREFIX


@frozen
class SourceKey:
    kind: Kind
    group: str  # the folder under the kind's prefix, with its trailing "/"; "" at the top
    stem: str  # the file name without its extension: a voiceprint's default label


def parse(key: str, *, voiceprint_prefix: str, identify_prefix: str, suffix: str = "") -> SourceKey | None:
    """None for keys outside both prefixes (or without the required suffix): not ours to process."""
    if not key.endswith(suffix) or key.endswith("/"):
        return None
    # The identify prefix is checked first: with an empty voiceprint prefix, every other key is a voiceprint.
    for kind, prefix in ((Kind.IDENTIFY, identify_prefix), (Kind.VOICEPRINT, voiceprint_prefix)):
        if key.startswith(prefix) and (prefix or kind is Kind.VOICEPRINT):
            rest = key[len(prefix) :]
            folder, _, name = rest.rpartition("/")
            stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
            return SourceKey(kind, f"{folder}/" if folder else "", stem)
    return None


def label_problem(label: str) -> str | None:
    """Why pyannoteAI would refuse this label, or None if it is fine."""
    if not label.strip():
        return "the speaker label is empty"
    if len(label) > MAX_LABEL_LENGTH:
        return f"the speaker label is {len(label)} characters long; pyannoteAI allows {MAX_LABEL_LENGTH}"
    if label.lower().startswith(RESERVED_LABEL_PREFIX):
        return f"the speaker label {label[:40]!r} starts with SPEAKER_, which pyannoteAI reserves"
    return None
