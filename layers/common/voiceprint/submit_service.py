"""Submission of uploaded objects to pyannoteAI: S3 notification (via SQS) -> what S3 says the object is ->
claim -> checks -> budget -> presign -> POST /v1/voiceprint (voiceprint prefix) or POST /v1/identify (identify
prefix, against the voiceprints of the same group). Removal notifications go to removal_service.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import backoff, budget_charge, submission_plan, webhook_ref
from voiceprint.disposition import DeadLetter, Disposition, RetryLater
from voiceprint.identify_options import IdentifyOptions
from voiceprint.job_state import FailureCode, Kind, Outcome
from voiceprint.job_store import Claim, ClaimHeld, LostClaim
from voiceprint.object_ref import ObjectRef
from voiceprint.object_source import FIRST_BLOCK_BYTES, ObjectGone, ObjectRead
from voiceprint.pyannote_client import (
    AccountError,
    InvalidAnswer,
    JobCreated,
    RateLimited,
    RequestRejected,
    TransientError,
)
from voiceprint.redaction import redact
from voiceprint.s3_notifications import Notification
from voiceprint.source_key import SourceKey
from voiceprint.submission_checks import Refusal

if TYPE_CHECKING:
    from voiceprint.ports import Budget, GroupThresholds, ObjectReader, OptOuts, RecordWriter, Vendor
    from voiceprint.rate_allowance import RateAllowance
    from voiceprint.settings import Settings

logger = Logger(child=True)
metrics = Metrics()


class SubmitService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: RecordWriter,
        objects: ObjectReader,
        client: Vendor,
        budget: Budget,
        ref_key: Callable[[], str],
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_adopted: Callable[[ObjectRef, str], None] | None = None,
        backlog: Callable[[], int] = lambda: 0,
        allowance: RateAllowance | None = None,
        opt_outs: OptOuts | None = None,
        thresholds: GroupThresholds | None = None,
    ) -> None:
        """`on_adopted(ref, job_id)` is told of each result adopted instead of a new submission (the local
        stack's chaos run counts them). `allowance`: the submit endpoint's tokens, shared by every container
        (rate_allowance); without it, each container finds the limit by its 429s alone. `opt_outs`: the labels
        whose enrolment is refused (opt_out_list). `thresholds`: the groups' calibrated thresholds
        (calibration_store), in place of IdentifyThreshold where a group has one."""
        self._settings = settings
        self._store = store
        self._objects = objects
        self._client = client
        self._budget = budget
        self._ref_key = ref_key  # binds webhook URLs to their records (webhook_ref)
        self._clock = clock
        self._rand = rand
        self._on_adopted = on_adopted
        self._backlog = backlog  # messages waiting in the input queue (queue_actions.Backlog)
        self._allowance = allowance
        self._opt_outs = opt_outs
        self._thresholds = thresholds
        self._batch_left = 1  # messages of this invocation's batch still to come (expect)
        # After a 429 this container stops calling the API until the window has passed (the rest of a batch is
        # requeued without a request that would only be refused too).
        self._throttled_until = 0.0

    def expect(self, messages: int) -> None:
        """The invocation's batch size: a block of rate tokens is never more than the messages left to submit."""
        self._batch_left = max(1, messages)

    def pause_until(self, until: float) -> None:
        """Call the API no more until `until` (after a 429); a later pause never shortens an earlier one."""
        self._throttled_until = max(self._throttled_until, until)

    def submit_object(self, note: Notification, source: SourceKey, receive_count: int) -> Disposition:
        """Submit the object of a creation notification (its `source`: what its key makes it), once per version.
        Raises RetryLater or DeadLetter when its message must come back or go."""
        logger.append_keys(object_key=note.key, bucket=note.bucket)
        upcoming, self._batch_left = self._batch_left, max(1, self._batch_left - 1)
        if note.key.endswith("/") and note.size == 0:
            return Disposition.FOLDER_MARKER
        logger.append_keys(kind=source.kind.value)
        now = self._clock()
        if now < self._throttled_until:
            # Paused by a 429: the spread grows with the message's receive count, so a backlog far larger than one
            # window's quota spreads out over the windows it needs instead of coming back every window to be turned
            # away again.
            delay = self._paced(self._delay(receive_count, self._throttled_until - now))
            raise RetryLater("waiting for the API's rate-limit window", delay)
        wait = self._allowance.wait(now) if self._allowance is not None else 0.0
        if wait > 0:
            raise RetryLater("waiting for the rate limit's next window", self._turn(wait))
        try:
            # The object's identity is the version this read was served from, whatever the message said.
            first = self._objects.read(note.bucket, note.key, note.version_id, 0, FIRST_BLOCK_BYTES - 1)
        except ObjectGone:
            logger.info("object gone before it could be processed; nothing to submit")
            metrics.add_metric(name="ObjectsGoneBeforeSubmit", unit=MetricUnit.Count, value=1)
            return Disposition.OBJECT_GONE
        ref = ObjectRef.identified(note.bucket, note.key, version_id=first.version_id, etag=first.etag, size=first.size)
        logger.append_keys(version=ref.version)
        logger.set_correlation_id(ref.uri)
        try:
            claim = self._store.claim(
                ref, now=now, lease_seconds=self._settings.claim_lease_seconds, kind=source.kind, group=source.group
            )
        except ClaimHeld as held:
            # A duplicate delivery while another invocation submits, or the return of a message whose invocation
            # crashed before its lease ran out: either way, come back once the lease is over.
            logger.info("object version claimed by another invocation; back after its lease")
            raise RetryLater("claimed by another invocation", max(1, held.lease_until - int(now) + 1)) from None
        if claim is None:
            logger.info("duplicate delivery: object version already claimed")
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            return Disposition.DUPLICATE
        try:
            return self._submit_claimed(ref, source, claim, first, receive_count, upcoming)
        except LostClaim:
            logger.warning("claim taken over by another invocation; leaving the object to it")
            return Disposition.LOST_CLAIM
        except (RetryLater, DeadLetter):
            raise
        except Exception as exc:
            self._release_after_error(ref, claim, exc)
            raise

    # -- steps ---------------------------------------------------------------------------------------------
    def _submit_claimed(
        self, ref: ObjectRef, source: SourceKey, claim: Claim, first: ObjectRead, receive_count: int, upcoming: int
    ) -> Disposition:
        try:
            planned = submission_plan.plan(
                ref,
                source,
                first,
                objects=self._objects,
                records=self._store,
                voiceprint_prefix=self._settings.voiceprint_prefix,
                model=self._settings.model,
                require_consent=self._settings.require_consent,
                opt_outs=self._opt_outs,
                thresholds=self._thresholds,
                threshold=self._settings.identify_threshold,
                exclusive=self._settings.identify_exclusive,
                review_band_on=self._settings.review_band is not None,
            )
            adopted = self._adopt(ref, claim, planned.details)
            if adopted:
                return adopted
            if not claim.charged:
                budget_charge.charge(
                    self._budget,
                    self._settings,
                    ref,
                    claim,
                    group=source.group,
                    seconds=planned.seconds,
                    candidates=planned.candidates,
                    now=self._clock(),
                )
        except Refusal as refusal:
            self._store.mark_failed(ref, claim, code=refusal.code, reason=refusal.reason, now=self._clock())
            logger.info("object refused", extra={"failure_code": refusal.code.value, "reason": refusal.reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return Disposition.REFUSED

        url = self._objects.presign_get(ref.bucket, ref.key, ref.version_id, self._settings.presign_expiry_seconds)
        webhook = (
            webhook_ref.webhook_url(self._settings.webhook_url, ref.webhook_ref, self._ref_key())
            if self._settings.webhook_url
            else None
        )
        if self._allowance is not None:
            wait = self._allowance.take(self._clock(), upcoming)
            if wait:
                # Every token of this window is out: back when the limit has room, unpaid and with no 429.
                metrics.add_metric(name="RateTokensWaited", unit=MetricUnit.Count, value=1)
                reason = "waiting for the rate limit's next window"
                self._retry(ref, claim, receive_count, reason, wait, throttled=True, turn=True)
        try:
            job = self._post(source.kind, url, webhook, planned)
        except RequestRejected as exc:
            reason = redact(
                str(exc)
                + "".join(f"; {e.get('field')}: {e.get('message')}" for e in exc.errors[:5] if isinstance(e, dict))
            )
            self._store.mark_failed(ref, claim, code=FailureCode.API_REJECTED, reason=reason, now=self._clock())
            logger.warning("pyannoteAI rejected the job", extra={"failure_code": "api_rejected", "reason": reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return Disposition.REFUSED
        except RateLimited as exc:
            metrics.add_metric(name="ApiThrottled", unit=MetricUnit.Count, value=1)
            if self._allowance is not None:
                self._allowance.refused(self._clock(), exc.retry_after)
            self._retry(ref, claim, receive_count, str(exc), exc.retry_after, throttled=True)
        except (TransientError, AccountError) as exc:
            self._retry(ref, claim, receive_count, str(exc), None, throttled=False)
        except InvalidAnswer as exc:
            # A 200 whose body cannot be used: a job may exist and be billed, so this version is never POSTed again.
            reason = redact(str(exc))
            logger.error("pyannoteAI's answer to the submission is outside its spec", extra={"reason": reason})
            metrics.add_metric(name="VendorInvalidAnswers", unit=MetricUnit.Count, value=1)
            self._store.mark_failed(ref, claim, code=FailureCode.VENDOR_INVALID, reason=reason, now=self._clock())
            return Disposition.REFUSED

        early = self._record_job(ref, claim, job, planned.details)
        self._observe_rate(job)
        logger.set_correlation_id(job.job_id)
        logger.info("job submitted", extra={"job_id": job.job_id, "attempt": claim.attempt})
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        # Alarmed on (template): what the vendor bills by, whatever the budget allows.
        metrics.add_metric(name="AudioSecondsSubmitted", unit=MetricUnit.Seconds, value=planned.seconds)
        if early is not None:
            self._store.apply_outcome(ref.record_keys, job.job_id, early, now=self._clock())
            logger.info("applied a webhook that arrived before the job was recorded")
        return Disposition.SUBMITTED

    def _record_job(self, ref: ObjectRef, claim: Claim, job: JobCreated, details: Mapping[str, Any]) -> Outcome | None:
        """Record the paid job. Should the write fail (anything but a lost claim), the claim must not stay
        `submitting`, or its return after the lease would POST, and pay, again: the job is recorded without its
        warning (the only part of unbounded origin), else the record fails with the jobId in its reason."""
        for attempt, (warning, then) in enumerate(
            ((job.warning, "recording it without its warning"), (None, "failing the record"))
        ):
            try:
                return self._store.record_submitted(
                    ref,
                    claim,
                    job_id=job.job_id,
                    vendor_status=job.status,
                    # The plan's own warning (labels another model enrolled) and the vendor's, both kept.
                    warning="; ".join(w for w in (details.get("warning"), warning) if w) or None,
                    now=self._clock(),
                    details=details,
                )
            except LostClaim:
                raise
            except Exception as exc:  # noqa: BLE001 - the job exists: whatever failed, it must be written down
                logger.error(
                    f"job created but not recorded; {then}",
                    extra={"job_id": job.job_id, "error_type": type(exc).__name__},
                )
                if attempt == 0:
                    metrics.add_metric(name="JobRecordErrors", unit=MetricUnit.Count, value=1)
        reason = f"pyannoteAI job {job.job_id} was created but could not be recorded; not resubmitted"
        self._store.mark_failed(ref, claim, code=FailureCode.VENDOR_INVALID, reason=reason, now=self._clock())
        return None

    def _observe_rate(self, job: JobCreated) -> None:
        """The answer's remaining count, for the shared counter; after the job is recorded, and never raising: the
        job is paid, and an error here must not send its message back to be paid again."""
        if self._allowance is None:
            return
        try:
            self._allowance.observe(self._clock(), job.rate_remaining, job.rate_limit)
        except Exception as exc:  # noqa: BLE001 - the counter catches up with the next answer or 429
            logger.warning("could not raise the rate counter", extra={"error_type": type(exc).__name__})

    def _post(self, kind: Kind, url: str, webhook: str | None, planned: submission_plan.Plan) -> JobCreated:
        if kind is Kind.VOICEPRINT:
            return self._client.submit_voiceprint(url, webhook=webhook, model=self._settings.model)
        return self._client.submit_identify(
            url,
            voiceprints=planned.candidates,
            webhook=webhook,
            model=self._settings.model,
            options=planned.options or IdentifyOptions(),
            # An identification's output grows with the recording (24 h of audio: megabytes), past what a webhook
            # body may carry; the webhook function fetches it with GET /v1/jobs/{id} instead.
            status_only_webhook=True,
        )

    def _adopt(self, ref: ObjectRef, claim: Claim, details: Mapping[str, Any]) -> Disposition | None:
        """An earlier submission timed out or crashed after pyannoteAI created the job, and that job's webhook has
        since arrived through this record's bound URL: take its result instead of submitting (and paying) again."""
        for job_id, outcome in claim.early.items():
            if not outcome.terminal:
                continue
            self._store.record_submitted(
                ref,
                claim,
                job_id=job_id,
                vendor_status=outcome.vendor_status,
                warning=None,
                now=self._clock(),
                details=details,
            )
            self._store.apply_outcome(ref.record_keys, job_id, outcome, now=self._clock())
            logger.set_correlation_id(job_id)
            logger.info("adopted the result of an earlier submission instead of resubmitting")
            metrics.add_metric(name="JobsAdopted", unit=MetricUnit.Count, value=1)
            if self._on_adopted is not None:
                self._on_adopted(ref, job_id)
            return Disposition.ADOPTED
        return None

    def _release_after_error(self, ref: ObjectRef, claim: Claim, exc: Exception) -> None:
        """An unexpected error with the claim held: say so on the record (`retrying`, `lastError`) so the object
        is not left `submitting` without a word; the message comes back and the error is logged and counted."""
        reason = f"internal error ({type(exc).__name__}); retried"
        logger.error("unexpected error while submitting", extra={"error_type": type(exc).__name__})
        metrics.add_metric(name="SubmitErrors", unit=MetricUnit.Count, value=1)
        try:
            self._store.mark_retrying(ref, claim, reason=reason, now=self._clock(), throttled=False, dead_letter=False)
        except Exception as release_error:  # noqa: BLE001 - the original error is the one to report
            logger.error("could not record the error", extra={"error_type": type(release_error).__name__})

    def _retry(
        self,
        ref: ObjectRef,
        claim: Claim,
        receive_count: int,
        reason: str,
        retry_after: float | None,
        *,
        throttled: bool,
        turn: bool = False,
    ) -> NoReturn:
        """Send the message back (or dead-letter it when out of attempts). `turn`: our own budget had no token for
        it, so it returns by its turn (`_turn`) and this container is not paused: the budget says when to ask."""
        failures = claim.failures + (0 if throttled else 1)
        throttles = claim.throttles + (1 if throttled else 0)
        exhausted = failures >= self._settings.max_submit_attempts or receive_count >= self._settings.max_receive_count
        self._store.mark_retrying(
            ref, claim, reason=reason, now=self._clock(), throttled=throttled, dead_letter=exhausted
        )
        if exhausted:
            logger.error("out of attempts: dead-lettered", extra={"reason": reason, "failures": failures})
            metrics.add_metric(name="JobsDeadLettered", unit=MetricUnit.Count, value=1)
            raise DeadLetter(reason)
        if turn:
            delay = self._turn(retry_after or 0.0)
        else:
            delay = self._delay(throttles if throttled else failures, retry_after)
            if throttled:
                delay = self._paced(delay)
                self.pause_until(self._clock() + (retry_after or delay))
        logger.warning("submission will be retried", extra={"reason": reason, "delay": delay, "throttled": throttled})
        metrics.add_metric(name="JobsRetried", unit=MetricUnit.Count, value=1)
        raise RetryLater(reason, delay)

    def _paced(self, delay: int) -> int:
        """A message sent back for the rate limit returns by its place in the backlog: at a random point of the
        time the limit needs to drain the messages waiting, if that is later than its backoff. With the backoff
        alone, a backlog deeper than a few hours of work came back so often that the redrive dead-lettered its
        tail after 50 receives (docs/RELIABILITY.md, the scale model); spread over the drain, each message is
        received about twice, and the limit is kept busy to the end."""
        drain = self._backlog() / self._settings.submits_per_window * self._settings.rate_window_seconds
        return int(max(delay, min(backoff.MAX_VISIBILITY_SECONDS, drain * self._rand())))

    def _turn(self, wait: float) -> int:
        """A message our budget had no token for: back at the window with room (`wait`) while the backlog is under
        backoff.TURN_FREE_WINDOWS windows of work; beyond that, at a random point of the backlog's drain less
        those windows.
        So the limit is always oversubscribed (every window full to the end, where a spread over the whole drain
        left the last windows part-empty) and a message is received a few times, not once a window (the redrive
        dead-letters at 50 receives). No doubling jitter: the budget, not the timing, keeps requests under the
        limit, and a jitter doubling with each return outlasted the backlog ahead (the pacing runs, docs/
        RELIABILITY.md)."""
        window = self._settings.rate_window_seconds
        drain = self._backlog() / self._settings.submits_per_window * window - backoff.TURN_FREE_WINDOWS * window
        place = min(backoff.MAX_VISIBILITY_SECONDS, max(0.0, drain) * self._rand())
        return int(max(math.ceil(wait), place, 1))

    def _delay(self, attempt: int, retry_after: float | None) -> int:
        return backoff.retry_delay(
            attempt,
            base=self._settings.retry_base_seconds,
            cap=self._settings.retry_max_delay_seconds,
            retry_after=retry_after,
            rand=self._rand,
        )
