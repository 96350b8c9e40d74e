"""Settling a record with a job's outcome, where the outcome may carry an identification output too large for the
record: the output is placed in the results bucket first, and taken away again unless the record took it. A
result that arrives after its source (and so its record) was deleted, or for a record of another job, leaves
nothing behind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from voiceprint.job_state import Kind
from voiceprint.job_store import ApplyResult

if TYPE_CHECKING:
    from voiceprint.job_state import Outcome
    from voiceprint.ports import LabelHealthKeeper, RecordWriter, ResultKeeper

logger = Logger(child=True)


def settle(
    store: RecordWriter,
    results: ResultKeeper,
    keys: Mapping[str, str],
    job_id: str,
    outcome: Outcome,
    *,
    now: float,
    allow_early: bool = False,
    health: LabelHealthKeeper | None = None,
) -> tuple[ApplyResult, Outcome]:
    """Apply `outcome` to the record of `job_id`; returns what happened and the outcome as recorded. An
    identification that succeeds here is added to its group's per-label health (`health`)."""
    placed = results.place(job_id, outcome)
    result = store.apply_outcome(keys, job_id, placed, now=now, allow_early=allow_early)
    location = placed.result_location
    if location and result not in (ApplyResult.APPLIED, ApplyResult.EARLY):
        current = store.get(keys)
        if current is None or current.result_location != location:
            results.delete(location)
    # Identifications only (the output's shape says so): a voiceprint's webhook pays no read for it.
    if health is not None and result is ApplyResult.APPLIED and placed.kind is Kind.IDENTIFY:
        _observe(store, health, keys, now)
    return result, placed


def _observe(store: RecordWriter, health: LabelHealthKeeper, keys: Mapping[str, str], now: float) -> None:
    """Never raising: the result is recorded, and health is derived from it (a lost update is one identification
    missing from a label's figures, not a lost result)."""
    try:
        record = store.get(keys)
        if record is not None and record.kind is Kind.IDENTIFY and record.candidates:
            health.observe(record, now)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logger.warning("could not update the labels' health", extra={"error_type": type(exc).__name__})
