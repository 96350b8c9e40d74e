"""Calibration from reviewed decisions: precision and recall per threshold, the proposal, the shadow."""

from __future__ import annotations

import json

from voiceprint.record import Record
from voiceprint_cli import calibration


def _record(job: str, speakers: list[tuple[str, str | None, str, float, str | None]]) -> Record:
    """speakers: (speaker, the vendor's match, best candidate, its score, the decision: a label, "-" rejected,
    None undecided)."""
    matches, reviews = [], {}
    for speaker, match, best, score, truth in speakers:
        entry: dict[str, object] = {"speaker": speaker, "match": match, "confidence": score if match else None}
        if best != match:
            entry |= {"best": best, "bestConfidence": score}
        matches.append(entry)
        if truth == "-":
            reviews[speaker] = {"decision": "rejected", "label": None, "by": "ops", "at": 1}
        elif truth is not None:
            kind = "confirmed" if truth == best else "relabelled"
            reviews[speaker] = {"decision": kind, "label": truth, "by": "ops", "at": 1}
    return Record(
        pk=f"OBJ#{job}",
        sk="VER#1",
        job_id=job,
        object_key=f"identify/g/{job}.wav",
        matches=json.dumps(matches),
        reviews=json.dumps(reviews),
    )


RECORDS = [
    _record("j1", [("S0", "alice", "alice", 92, None), ("S1", None, "bob", 64, "bob")]),
    _record("j2", [("S0", None, "carol", 58, "carol"), ("S1", None, "dave", 45, "-")]),
    _record("j3", [("S0", None, "erin", 52, "frank"), ("S1", None, "bob", 41, "-")]),
]


def test_only_reviewed_speakers_are_observed_with_who_they_were() -> None:
    observed = calibration.observations(RECORDS)
    assert [(o.job_id, o.speaker, o.best, o.score, o.truth) for o in observed] == [
        ("j1", "S1", "bob", 64, "bob"),
        ("j2", "S0", "carol", 58, "carol"),
        ("j2", "S1", "dave", 45, None),
        ("j3", "S0", "erin", 52, "frank"),
        ("j3", "S1", "bob", 41, None),
    ]


def test_precision_and_recall_at_each_threshold() -> None:
    observed = calibration.observations(RECORDS)
    low = calibration.point(observed, 40)  # every best candidate is the match: 2 right, 3 wrong, frank missed
    assert (low.matched, low.right, low.wrong, low.missed) == (5, 2, 3, 1)
    assert (low.precision, low.recall) == (0.4, 2 / 3)
    at_55 = calibration.point(observed, 55)  # bob and carol matched, both right; frank still missed
    assert (at_55.precision, at_55.recall) == (1.0, 2 / 3)
    high = calibration.point(observed, 90)
    assert (high.matched, high.precision, high.recall) == (0, None, 0.0)


def test_the_proposal_is_the_lowest_threshold_reaching_the_target_else_the_best_f1() -> None:
    points = calibration.curve(calibration.observations(RECORDS))
    assert len(points) == 101
    proposed = calibration.propose(points, 0.95)
    assert proposed is not None
    assert proposed.threshold == 53  # above erin's 52, the wrong match; carol's 58 is still matched
    unreachable = [p for p in points if p.threshold < 53]
    best_f1 = calibration.propose(unreachable, 0.95)
    assert best_f1 is not None
    assert best_f1.threshold == 46  # past dave's 45: bob, carol right, erin wrong
    assert calibration.propose([], 0.95) is None


def test_the_shadow_lists_every_past_match_a_threshold_would_change() -> None:
    changes = calibration.shadow(RECORDS, 53)
    assert [(c.job_id, c.speaker, c.was, c.would_be) for c in changes] == [
        ("j1", "S1", None, "bob"),
        ("j2", "S0", None, "carol"),
    ]
    assert [c.speaker for c in calibration.shadow(RECORDS, 95)] == ["S0"]  # alice's 92 would no longer match
