from __future__ import annotations

import pytest

from voiceprint.job_state import Kind
from voiceprint.source_key import SourceKey, label_problem, parse

PREFIXES = {"voiceprint_prefix": "voiceprints/", "identify_prefix": "identify/"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("voiceprints/alice.wav", SourceKey(Kind.VOICEPRINT, "", "alice")),
        ("voiceprints/team-a/Bob Smith.m4a", SourceKey(Kind.VOICEPRINT, "team-a/", "Bob Smith")),
        ("voiceprints/a/b/c.d.flac", SourceKey(Kind.VOICEPRINT, "a/b/", "c.d")),
        ("voiceprints/no-extension", SourceKey(Kind.VOICEPRINT, "", "no-extension")),
        ("identify/call.wav", SourceKey(Kind.IDENTIFY, "", "call")),
        ("identify/team-a/standup.mp3", SourceKey(Kind.IDENTIFY, "team-a/", "standup")),
        ("elsewhere/x.wav", None),
        ("voiceprints/folder/", None),
        ("voiceprintsx.wav", None),
    ],
)
def test_kind_group_and_label_come_from_the_key(key: str, expected: SourceKey | None) -> None:
    assert parse(key, **PREFIXES) == expected


def test_suffix_filter_and_empty_prefixes() -> None:
    assert parse("voiceprints/a.mp3", suffix=".wav", **PREFIXES) is None
    # No voiceprint prefix: every key outside the identify prefix is a sample; no identify prefix: none is.
    assert parse("x/a.wav", voiceprint_prefix="", identify_prefix="identify/") == SourceKey(Kind.VOICEPRINT, "x/", "a")
    assert parse("identify/a.wav", voiceprint_prefix="voiceprints/", identify_prefix="") is None


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("Alice", None),
        ("x" * 100, None),
        ("x" * 101, "101 characters"),
        ("SPEAKER_00", "SPEAKER_"),
        ("speaker_01", "SPEAKER_"),  # the spec's pattern forbids lowercase, its prose uppercase: both refused
        ("   ", "empty"),
    ],
)
def test_labels_follow_pyannote_rules(label: str, problem: str | None) -> None:
    found = label_problem(label)
    assert (found is None) if problem is None else (found is not None and problem in found)
