from __future__ import annotations

import pytest

from voiceprint.job_state import FailureCode, Outcome, Status, needs_output_fetch, outcome_from_job


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


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown job status"):
        outcome_from_job("exploded", None)


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
