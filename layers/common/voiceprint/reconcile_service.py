"""The poller: jobs that got no webhook are looked up with GET /v1/jobs/{id} and settled like a webhook would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint.job_state import FailureCode, Outcome, Status, outcome_from_job
from voiceprint.job_store import ApplyResult
from voiceprint.pyannote_client import JobNotFound, RateLimited, TransientError
from voiceprint.redaction import redact
from voiceprint.settlement import settle

if TYPE_CHECKING:
    from voiceprint.ports import LabelHealthKeeper, RecordWriter, ResultKeeper, Vendor
    from voiceprint.rate_allowance import RateAllowance
    from voiceprint.record import Record
    from voiceprint.settings import Settings

logger = Logger(child=True)
metrics = Metrics()

PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 records examined per run at most, whatever the poll budget
# A record whose answers cannot be settled this many times (outside the spec, too large, a write DynamoDB refuses)
# is failed as vendor_invalid: by then a vendor fix or an operator is needed, not another poll.
FAIL_AFTER_ERRORS = 3


class ReconcileReport:
    """What one run did; filled in as it goes (a plain class: no dataclass on the function's cold path)."""

    def __init__(self) -> None:
        self.examined = 0
        self.polled = 0
        self.settled: dict[str, int] = {}
        self.still_running = 0
        self.errors = 0
        self.throttled = False
        self.oldest_pending_seconds = 0  # since the oldest waiting record was last polled (or submitted)

    def count(self, key: str) -> None:
        self.settled[key] = self.settled.get(key, 0) + 1


class _NoToken(Exception):
    """No job-read token left in this window."""


class ReconcileService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: RecordWriter,
        client: Vendor,
        results: ResultKeeper,
        clock: Callable[[], float] = time.time,
        allowance: RateAllowance | None = None,
        health: LabelHealthKeeper | None = None,
    ) -> None:
        """`allowance`: the job-read endpoint's tokens, shared with the webhook function (rate_allowance);
        `health`: the per-label health an identification's result adds to."""
        self._settings = settings
        self._health = health
        self._allowance = allowance
        self._store = store
        self._results = results
        self._client = client
        self._clock = clock

    def _pending(self, now: float) -> Iterator[Record]:
        """The backlog, oldest first, page after page, until this run's poll budget is spent."""
        cutoff = now - self._settings.reconcile_after_seconds
        start: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):  # bounded
            items, start = self._store.pending_page(cutoff, PAGE_SIZE, start)
            yield from items
            if not start:
                return

    def run(self) -> ReconcileReport:
        now = self._clock()
        report = ReconcileReport()
        for record in self._pending(now):
            if report.oldest_pending_seconds == 0:
                report.oldest_pending_seconds = max(0, int(now) - int(record.pending_since or now))
            if (
                report.polled >= self._settings.reconcile_max_polls
                or self._clock() - now >= self._settings.reconcile_time_budget_seconds
            ):
                break  # this run's job-read or time budget; the next run carries on from the oldest again
            report.examined += 1
            job_id = str(record.job_id)
            try:
                result, outcome = settle(
                    self._store,
                    self._results,
                    record.keys,
                    job_id,
                    self._outcome_for(record, now, report),
                    now=self._clock(),
                    health=self._health,
                )
            except RateLimited as exc:
                # Job reads are rate limited too: stop here, the next scheduled run carries on.
                if self._allowance is not None:
                    self._allowance.refused(self._clock(), exc.retry_after)
                report.throttled = True
                break
            except _NoToken:
                report.throttled = True  # the window's read tokens are out: the next run carries on
                break
            except TransientError as exc:
                logger.warning("poll failed", extra={"job_id": job_id, "error": str(exc)})
                report.errors += 1
                continue
            except Exception as exc:  # noqa: BLE001 - one odd record must not stop the run for every newer one
                report.errors += 1
                self._record_error(record.keys, job_id, exc, report)
                continue
            if outcome.terminal and result is ApplyResult.APPLIED:
                report.count(outcome.failure_code.value if outcome.failure_code else outcome.status.value)
                metrics.add_metric(
                    name="JobsSucceeded" if outcome.status is Status.SUCCEEDED else "JobsFailed",
                    unit=MetricUnit.Count,
                    value=1,
                )
            elif not outcome.terminal:
                report.still_running += 1
        metrics.add_metric(name="JobsPolled", unit=MetricUnit.Count, value=report.polled)
        # Alarmed on: a backlog that outgrows the poll budget ages here, long before outputs expire (24 h).
        metrics.add_metric(name="OldestPendingAgeSeconds", unit=MetricUnit.Seconds, value=report.oldest_pending_seconds)
        logger.info("reconcile run done", extra={"report": report.__dict__})
        return report

    def _record_error(self, keys: dict[str, str], job_id: str, exc: Exception, report: ReconcileReport) -> None:
        """Count the error on the record and move it to the back of the queue; fail it after FAIL_AFTER_ERRORS."""
        reason = redact(f"{type(exc).__name__}: {exc}", 300)
        logger.error("could not settle a record", extra={"job_id": job_id, "error": reason})
        metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=1)
        try:
            errors = self._store.record_poll_error(keys, job_id, reason=reason, now=self._clock())
            if errors is None or errors < FAIL_AFTER_ERRORS:
                return
            failed = Outcome(
                "invalid",
                Status.FAILED,
                failure_code=FailureCode.VENDOR_INVALID,
                reason=f"pyannoteAI's answers for the job could not be used {errors} times; last: {reason}",
            )
            if self._store.apply_outcome(keys, job_id, failed, now=self._clock()) is ApplyResult.APPLIED:
                report.count(FailureCode.VENDOR_INVALID.value)
                metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        except Exception as again:  # noqa: BLE001 - the next run sees the record again
            logger.error("could not record the error", extra={"job_id": job_id, "error_type": type(again).__name__})

    def _outcome_for(self, record: Record, now: float, report: ReconcileReport) -> Outcome:
        job_id = str(record.job_id)
        early = record.early.get(job_id)
        if early:  # a webhook came before the job was recorded and nobody merged it
            return early
        if self._allowance is not None and self._allowance.take(self._clock()):
            raise _NoToken
        report.polled += 1
        try:
            job = self._client.get_job(job_id)
        except JobNotFound:
            return Outcome(
                "failed", Status.FAILED, failure_code=FailureCode.LOST, reason="pyannoteAI no longer knows the job"
            )
        outcome = outcome_from_job(job.status, job.output, self._settings.review_band)
        submitted_at = float(record.submitted_at or now)
        if not outcome.terminal and now - submitted_at > self._settings.lost_after_seconds:
            return Outcome(
                job.status,
                Status.FAILED,
                failure_code=FailureCode.LOST,
                reason=f"no result {int(now - submitted_at)} s after submission; giving up",
            )
        return outcome
