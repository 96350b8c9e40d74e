from __future__ import annotations

import json

import pytest

from voiceprint.job_state import (
    MAX_MATCHES,
    FailureCode,
    InvalidOutput,
    Outcome,
    Status,
    needs_output_fetch,
    outcome_from_job,
)
from voiceprint.review import BandError, ReviewBand


def test_succeeded_with_voiceprint() -> None:
    outcome = outcome_from_job("succeeded", {"voiceprint": "vp", "warning": "short audio"})
    assert outcome == Outcome("succeeded", Status.SUCCEEDED, voiceprint="vp", warning="short audio")
    assert outcome.terminal


def test_failed_carries_the_vendor_error() -> None:
    outcome = outcome_from_job("failed", {"error": "Could not load audio"})
    assert outcome.status is Status.FAILED
    assert outcome.failure_code is FailureCode.JOB_FAILED
    assert outcome.reason == "pyannoteAI job failed: Could not load audio"


def test_canceled_is_a_failure() -> None:
    assert outcome_from_job("canceled", None).failure_code is FailureCode.JOB_CANCELED


def test_succeeded_without_output_is_a_failure_with_reason() -> None:
    outcome = outcome_from_job("succeeded", None)
    assert outcome.status is Status.FAILED
    assert outcome.failure_code is FailureCode.NO_OUTPUT


@pytest.mark.parametrize("status", ["pending", "created", "running"])
def test_running_states_are_not_terminal(status: str) -> None:
    outcome = outcome_from_job(status, None)
    assert outcome.status is Status.SUBMITTED
    assert not outcome.terminal


def test_a_status_outside_the_spec_means_still_running() -> None:
    outcome = outcome_from_job("queued", {"voiceprint": "vp"})
    assert outcome == Outcome("queued", Status.SUBMITTED)
    assert len(outcome_from_job("q" * 5000, None).vendor_status) <= 40  # stored, so capped


@pytest.mark.parametrize(
    "output",
    [
        {"voiceprint": 42},
        {"voiceprint": "v" * 20_001},
        {"identification": "everyone"},
        {"identification": [1, 2]},
        {"identification": [], "voiceprints": [{"speaker": 7, "match": None, "confidence": {}}]},
        {"identification": [], "voiceprints": [{"speaker": "S0", "match": ["a"], "confidence": {}}]},
        {"identification": [], "voiceprints": [{"speaker": "S0", "match": "a", "confidence": {"a": "high"}}]},
        {"identification": [], "voiceprints": [{"speaker": "S0", "match": "a", "confidence": [1]}]},
        {"identification": [], "voiceprints": ["S0"]},
        {"identification": [], "diarization": {"start": 0}},
    ],
)
def test_an_output_with_the_wrong_types_is_invalid_not_guessed_at(output: dict[str, object]) -> None:
    with pytest.raises(InvalidOutput):
        outcome_from_job("succeeded", output)


def test_the_matches_summary_is_capped_to_fit_the_record() -> None:
    # The worst case: long names, and a best candidate that is not the match (exclusive matching gave it away).
    scores = {"L" * 500: 60, "M" * 500: 90}
    speakers = [{"speaker": "S" * 500, "match": "L" * 500, "confidence": scores} for _ in range(5000)]
    outcome = outcome_from_job("succeeded", {"identification": [], "voiceprints": speakers}, ReviewBand(40, 70))
    matches = json.loads(outcome.matches or "[]")
    assert len(matches) == MAX_MATCHES
    assert {len(m["speaker"]) for m in matches} == {100}
    assert {len(m["match"]) for m in matches} == {100}
    assert {len(m["best"]) for m in matches} == {100}
    # Far below the record's 400 KB; an event carries it whole up to 64 KB, else its count (change_events.capped).
    assert len((outcome.matches or "").encode()) < 80_000


def test_vendor_text_is_capped_before_it_is_stored() -> None:
    outcome = outcome_from_job("failed", {"error": "e" * 300_000, "warning": "w" * 300_000})
    assert len(outcome.reason or "") <= 1100
    assert len(outcome.warning or "") <= 1000


@pytest.mark.parametrize(
    ("status", "output", "fetch"),
    [
        ("succeeded", None, True),  # status-only webhook
        ("succeeded", {}, True),
        ("succeeded", {"voiceprint": "vp"}, False),
        ("failed", None, True),  # status-only: the reason is in the job
        ("failed", {"error": "x"}, False),
        ("canceled", None, False),
        ("running", None, False),
    ],
)
def test_needs_output_fetch(status: str, output, fetch: bool) -> None:
    assert needs_output_fetch(status, output) is fetch


def test_outcome_round_trips_through_an_item() -> None:
    outcome = outcome_from_job("failed", {"error": "boom"})
    assert Outcome.from_item(outcome.to_item()) == outcome


def test_a_speaker_whose_best_score_is_in_the_review_band_queues_the_identification() -> None:
    band = ReviewBand.parse("40-70")
    output = {
        "identification": [],
        "voiceprints": [
            {"speaker": "S0", "match": "alice", "confidence": {"alice": 91, "bob": 12}},  # sure: no review
            {"speaker": "S1", "match": None, "confidence": {"carol": 55, "dave": 31}},  # under the threshold, grey
            {"speaker": "S2", "match": None, "confidence": {"erin": 39.9}},  # below the band: nobody
            {"speaker": "S3", "match": "frank", "confidence": {"frank": 40}},  # the band's low end is in it
            {"speaker": "S4", "match": None, "confidence": {}},  # no candidate at all
        ],
    }
    outcome = outcome_from_job("succeeded", output, band)
    matches = json.loads(outcome.matches or "[]")
    assert [m["speaker"] for m in matches if m.get("review")] == ["S1", "S3"]
    assert matches[1] == {
        "speaker": "S1",
        "match": None,
        "confidence": None,
        "best": "carol",
        "bestConfidence": 55.0,
        "review": True,
    }
    assert matches[0] == {"speaker": "S0", "match": "alice", "confidence": 91}  # best is the match: said once
    assert outcome.queued_for_review
    assert outcome.to_item()["reviewQueue"] == "pending"
    assert Outcome.from_item(outcome.to_item()) == outcome  # kept whole on an early webhook
    assert not outcome_from_job("succeeded", output).queued_for_review  # no band, no queue
    assert "review" not in json.dumps(json.loads(outcome_from_job("succeeded", output).matches or ""))


@pytest.mark.parametrize(
    ("text", "band"),
    [
        ("", None),
        ("  ", None),
        ("40-70", ReviewBand(40, 70)),
        (" 0 - 100 ", ReviewBand(0, 100)),
        ("55.5-60", ReviewBand(55.5, 60)),
    ],
)
def test_the_review_band_is_low_dash_high(text: str, band: ReviewBand | None) -> None:
    assert ReviewBand.parse(text) == band


@pytest.mark.parametrize("text", ["70-40", "40-40", "40", "40-101", "-1-50", "forty-seventy", "40-70-90"])
def test_a_malformed_review_band_is_refused(text: str) -> None:
    with pytest.raises(BandError):
        ReviewBand.parse(text)
