"""The calls a successful job costs, counted as the bench counts them (botocore hooks + the emulator): a
regression here is a cost regression. Counts, not timings."""

from __future__ import annotations

import pytest

from bench import calls

pytestmark = pytest.mark.e2e


def test_a_successful_job_costs_the_floor_plus_the_claim_and_budget_writes() -> None:
    counts = calls.count(6, timeout=120)

    assert counts.jobs == 6
    per_job = {
        "presigns": sum(counts.presigns.values()) / counts.jobs,
        "posts": counts.api["POST /v1/voiceprint"] / counts.jobs,
        "polls": counts.api["GET /v1/jobs/{id}"] / counts.jobs,
        "submit writes": counts.per_job(counts.calls, *[("submit", "dynamodb", op) for op in calls.WRITES]),
        "webhook writes": counts.per_job(counts.calls, *[("webhook", "dynamodb", op) for op in calls.WRITES]),
        "header reads": counts.per_job(counts.calls, ("submit", "s3", "GetObject")),
    }
    rate_writes = counts.by(lambda f, service, op: service == calls.RATE_COUNTER and op in calls.WRITES)
    assert per_job == {
        "presigns": 1,
        "posts": 1,
        "polls": 0,
        "submit writes": 3,  # claim + the budget's transaction (one call) + jobId
        "webhook writes": 1,  # the result
        "header reads": 1,
    }
    # The shared rate counter: a block of tokens per write (a new window's first take may cost two), never one a job.
    assert 1 <= rate_writes < counts.jobs
    # One fetch per secret and function container, whatever the number of jobs: the API key (submit) or the webhook
    # secret (webhook), and the ref key that binds webhook URLs to their records (both).
    secrets = {f: n for (f, service, _), n in counts.calls.items() if service == "secrets-manager"}
    assert secrets == {"submit": 2, "webhook": 2}
    assert sum(counts.attempts.values()) == sum(counts.calls.values())  # no retries on a healthy run
