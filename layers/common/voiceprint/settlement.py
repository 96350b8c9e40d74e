"""Settling a record with a job's outcome, where the outcome may carry an identification output too large for the
record: the output is placed in the results bucket first, and taken away again unless the record took it. A
result that arrives after its source (and so its record) was deleted, or for a record of another job, leaves
nothing behind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from voiceprint.job_store import ApplyResult

if TYPE_CHECKING:
    from voiceprint.job_state import Outcome
    from voiceprint.ports import RecordWriter, ResultKeeper


def settle(
    store: RecordWriter,
    results: ResultKeeper,
    keys: Mapping[str, str],
    job_id: str,
    outcome: Outcome,
    *,
    now: float,
    allow_early: bool = False,
) -> tuple[ApplyResult, Outcome]:
    """Apply `outcome` to the record of `job_id`; returns what happened and the outcome as recorded."""
    placed = results.place(job_id, outcome)
    result = store.apply_outcome(keys, job_id, placed, now=now, allow_early=allow_early)
    location = placed.result_location
    if location and result not in (ApplyResult.APPLIED, ApplyResult.EARLY):
        current = store.get(keys)
        if current is None or current.result_location != location:
            results.delete(location)
    return result, placed
