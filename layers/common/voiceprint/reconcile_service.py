"""The poller: jobs that got no webhook are looked up with GET /v1/jobs/{id} and settled like a webhook would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint.job_state import FailureCode, Outcome, Status, outcome_from_job
from voiceprint.job_store import ApplyResult, JobStore
from voiceprint.pyannote_client import JobNotFound, PyannoteClient, RateLimited, TransientError
from voiceprint.result_store import ResultStore
from voiceprint.settings import Settings

logger = Logger(child=True)
metrics = Metrics()

PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 records examined per run at most, whatever the poll budget


@dataclass
class ReconcileReport:
    examined: int = 0
    polled: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    still_running: int = 0
    errors: int = 0
    throttled: bool = False
    oldest_pending_seconds: int = 0  # since the oldest waiting record was last polled (or submitted)

    def count(self, key: str) -> None:
        self.settled[key] = self.settled.get(key, 0) + 1


class ReconcileService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        client: PyannoteClient,
        results: ResultStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._results = results
        self._client = client
        self._clock = clock

    def _pending(self, now: float) -> Iterator[dict[str, Any]]:
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
        for item in self._pending(now):
            if report.oldest_pending_seconds == 0:
                report.oldest_pending_seconds = max(0, int(now) - int(item.get("pendingSince", now)))
            if (
                report.polled >= self._settings.reconcile_max_polls
                or self._clock() - now >= self._settings.reconcile_time_budget_seconds
            ):
                break  # this run's job-read or time budget; the next run carries on from the oldest again
            report.examined += 1
            try:
                outcome = self._outcome_for(item, now, report)
            except RateLimited:
                # Job reads are rate limited too: stop here, the next scheduled run carries on.
                report.throttled = True
                break
            except TransientError as exc:
                logger.warning("poll failed", extra={"job_id": item.get("jobId"), "error": str(exc)})
                report.errors += 1
                continue
            except Exception as exc:  # noqa: BLE001 - one odd record must not stop the run for every newer one
                logger.error("could not settle a record", extra={"error_type": type(exc).__name__})
                metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=1)
                report.errors += 1
                continue
            keys = {"pk": item["pk"], "sk": item["sk"]}
            outcome = self._results.place(str(item["jobId"]), outcome)
            result = self._store.apply_outcome(keys, str(item["jobId"]), outcome, now=self._clock())
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

    def _outcome_for(self, item: dict[str, Any], now: float, report: ReconcileReport) -> Outcome:
        job_id = str(item["jobId"])
        early = (item.get("early") or {}).get(job_id)
        if early:  # a webhook came before the job was recorded and nobody merged it
            return Outcome.from_item(early)
        report.polled += 1
        try:
            job = self._client.get_job(job_id)
        except JobNotFound:
            return Outcome(
                "failed", Status.FAILED, failure_code=FailureCode.LOST, reason="pyannoteAI no longer knows the job"
            )
        outcome = outcome_from_job(job.status, job.output)
        submitted_at = float(item.get("submittedAt", now))
        if not outcome.terminal and now - submitted_at > self._settings.lost_after_seconds:
            return Outcome(
                job.status,
                Status.FAILED,
                failure_code=FailureCode.LOST,
                reason=f"no result {int(now - submitted_at)} s after submission; giving up",
            )
        return outcome
