"""Submission of uploaded objects to pyannoteAI: S3 notification (via SQS) -> what S3 says the object is ->
claim -> checks -> presign -> POST /v1/voiceprint (voiceprint prefix) or POST /v1/identify (identify prefix,
against the voiceprints of the same group). Removal notifications take the records of deleted objects with them.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import backoff, identify_candidates, s3_notifications, source_key, submission_checks, webhook_ref
from voiceprint.audio_probe import RangedReader
from voiceprint.budget_store import BudgetStore, Charge, Limits
from voiceprint.job_state import FailureCode, Kind, Outcome
from voiceprint.job_store import Claim, ClaimHeld, JobStore, LostClaim
from voiceprint.object_ref import ObjectRef, record_keys
from voiceprint.object_source import FIRST_BLOCK_BYTES, ObjectGone, ObjectRead, ObjectSource
from voiceprint.pyannote_client import (
    AccountError,
    InvalidAnswer,
    JobCreated,
    PyannoteClient,
    RateLimited,
    RequestRejected,
    TransientError,
)
from voiceprint.redaction import redact
from voiceprint.result_store import ResultStore
from voiceprint.s3_notifications import MalformedMessage, Notification
from voiceprint.settings import Settings
from voiceprint.source_key import SourceKey
from voiceprint.submission_checks import Refusal

logger = Logger(child=True)
metrics = Metrics()


class RetryLater(Exception):
    """The message must come back after `delay_seconds` (SQS visibility); the reason is on the record."""

    def __init__(self, reason: str, delay_seconds: int) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class DeadLetter(Exception):
    """Out of attempts, or a message no retry can help: it belongs in the dead-letter queue, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SubmitService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        objects: ObjectSource,
        client: PyannoteClient,
        results: ResultStore,
        budget: BudgetStore,
        ref_key: Callable[[], str],
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_adopted: Callable[[ObjectRef, str], None] | None = None,
    ) -> None:
        """`on_adopted(ref, job_id)` is told of each result adopted instead of a new submission (the local
        stack's chaos run counts them)."""
        self._settings = settings
        self._store = store
        self._objects = objects
        self._client = client
        self._results = results
        self._budget = budget
        self._limits = Limits(
            group_daily_jobs=settings.group_daily_jobs,
            group_daily_audio_seconds=settings.group_daily_audio_seconds,
            stack_daily_audio_seconds=settings.stack_daily_audio_seconds,
        )
        self._ref_key = ref_key  # binds webhook URLs to their records (webhook_ref)
        self._clock = clock
        self._rand = rand
        self._on_adopted = on_adopted
        # After a 429 this container stops calling the API until the window has passed (the rest of a batch is
        # requeued without a request that would only be refused too).
        self._throttled_until = 0.0

    def pause_until(self, until: float) -> None:
        """Call the API no more until `until` (after a 429); a later pause never shortens an earlier one."""
        self._throttled_until = max(self._throttled_until, until)

    # -- entry point ---------------------------------------------------------------------------------------
    def handle_message(self, body: str, receive_count: int) -> list[str]:
        """Process one SQS message (an S3 notification). Returns one outcome label per S3 record.

        Raises RetryLater if any record must be retried (the records already done are no-ops on redelivery), else
        DeadLetter if any record is out of attempts or the message is not an S3 notification at all.
        """
        try:
            notifications = s3_notifications.parse(body)
        except MalformedMessage as exc:
            logger.error("malformed queue message: dead-lettered", extra={"reason": str(exc)})
            metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
            raise DeadLetter(f"malformed_message: {exc}") from None
        if notifications is None:
            return ["test_event"]
        outcomes: list[str] = []
        retry: RetryLater | None = None
        dead: DeadLetter | None = None
        for note in notifications:
            if note.bucket != self._settings.input_bucket:
                # Only the input bucket notifies this queue; anything else is forged or misrouted.
                logger.warning("notification for another bucket ignored", extra={"bucket": note.bucket[:63]})
                metrics.add_metric(name="ForeignBucketNotifications", unit=MetricUnit.Count, value=1)
                outcomes.append("foreign_bucket")
                continue
            if note.removed:
                outcomes.append(self.forget_object(note))
                continue
            if not note.created:
                outcomes.append("ignored_event")
                continue
            try:
                outcomes.append(self.submit_object(note, receive_count))
            except RetryLater as exc:
                outcomes.append("retry")
                if retry is None or exc.delay_seconds > retry.delay_seconds:
                    retry = exc
            except DeadLetter as exc:
                outcomes.append("dead_letter")
                dead = exc
        if retry is not None:
            raise retry
        if dead is not None:
            raise dead
        return outcomes

    def forget_object(self, note: Notification) -> str:
        """The source is gone, so its voiceprint (biometric data) or identification goes too. A deleted version
        takes its own record; a delete marker (a plain delete on the versioned bucket) takes every record of the
        key, since the object is gone for its owner even while old versions wait for their lifecycle expiry.
        Nothing goes unless S3 confirms it: a forged or stale removal changes nothing."""
        if self._source(note.key) is None:
            return "filtered"
        logger.append_keys(object_key=note.key, bucket=note.bucket)
        version_delete = note.event_name == "ObjectRemoved:Delete" and note.version_id is not None
        if self._objects.exists(note.bucket, note.key, note.version_id if version_delete else None):
            logger.warning("removal notification for an object that still exists; nothing deleted")
            metrics.add_metric(name="RemovalsNotConfirmed", unit=MetricUnit.Count, value=1)
            return "not_deleted"
        if version_delete and note.version_id is not None:
            records = [record_keys(note.bucket, note.key, note.version_id)]
        else:
            records = [{"pk": r["pk"], "sk": r["sk"]} for r in self._store.list_object_versions(note.bucket, note.key)]
        deleted = 0
        for keys in records:
            old = self._store.delete(keys)
            if old is None:
                continue
            deleted += 1
            if old.get("resultLocation"):
                self._results.delete(str(old["resultLocation"]))
        logger.info("records deleted with their source", extra={"deleted": deleted, "event": note.event_name})
        metrics.add_metric(name="RecordsDeleted", unit=MetricUnit.Count, value=deleted)
        return f"deleted:{deleted}"

    def _source(self, key: str) -> SourceKey | None:
        return source_key.parse(
            key,
            voiceprint_prefix=self._settings.voiceprint_prefix,
            identify_prefix=self._settings.identify_prefix,
            suffix=self._settings.key_suffix,
        )

    def submit_object(self, note: Notification, receive_count: int) -> str:
        logger.append_keys(object_key=note.key, bucket=note.bucket)
        if note.key.endswith("/") and note.size == 0:
            return "folder_marker"
        source = self._source(note.key)
        if source is None:
            return "filtered"
        logger.append_keys(kind=source.kind.value)
        now = self._clock()
        if now < self._throttled_until:
            # The spread grows with the message's receive count: a backlog far larger than one window's quota
            # spreads out over the windows it needs instead of coming back every window to be turned away again.
            delay = self._delay(receive_count, self._throttled_until - now)
            raise RetryLater("waiting for the API's rate-limit window", delay)
        try:
            # The object's identity is the version this read was served from, whatever the message said.
            first = self._objects.read(note.bucket, note.key, note.version_id, 0, FIRST_BLOCK_BYTES - 1)
        except ObjectGone:
            logger.info("object gone before it could be processed; nothing to submit")
            metrics.add_metric(name="ObjectsGoneBeforeSubmit", unit=MetricUnit.Count, value=1)
            return "object_gone"
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
            return "duplicate"
        try:
            return self._submit_claimed(ref, source, claim, first, receive_count)
        except LostClaim:
            logger.warning("claim taken over by another invocation; leaving the object to it")
            return "lost_claim"
        except (RetryLater, DeadLetter):
            raise
        except Exception as exc:
            self._release_after_error(ref, claim, exc)
            raise

    # -- steps ---------------------------------------------------------------------------------------------
    def _submit_claimed(
        self, ref: ObjectRef, source: SourceKey, claim: Claim, first: ObjectRead, receive_count: int
    ) -> str:
        try:
            details, candidates, seconds = self._check(ref, source, first)
            adopted = self._adopt(ref, claim, details)
            if adopted:
                return adopted
            if not claim.charged:
                self._charge(ref, source, claim, seconds, candidates)
        except Refusal as refusal:
            self._store.mark_failed(ref, claim, code=refusal.code, reason=refusal.reason, now=self._clock())
            logger.info("object refused", extra={"failure_code": refusal.code.value, "reason": refusal.reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return f"refused:{refusal.code.value}"

        url = self._objects.presign_get(ref.bucket, ref.key, ref.version_id, self._settings.presign_expiry_seconds)
        webhook = (
            webhook_ref.webhook_url(self._settings.webhook_url, ref.webhook_ref, self._ref_key())
            if self._settings.webhook_url
            else None
        )
        try:
            job = self._post(source.kind, url, webhook, candidates)
        except RequestRejected as exc:
            reason = redact(
                str(exc)
                + "".join(f"; {e.get('field')}: {e.get('message')}" for e in exc.errors[:5] if isinstance(e, dict))
            )
            self._store.mark_failed(ref, claim, code=FailureCode.API_REJECTED, reason=reason, now=self._clock())
            logger.warning("pyannoteAI rejected the job", extra={"failure_code": "api_rejected", "reason": reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return "refused:api_rejected"
        except RateLimited as exc:
            metrics.add_metric(name="ApiThrottled", unit=MetricUnit.Count, value=1)
            self._retry(ref, claim, receive_count, str(exc), exc.retry_after, throttled=True)
        except (TransientError, AccountError) as exc:
            self._retry(ref, claim, receive_count, str(exc), None, throttled=False)
        except InvalidAnswer as exc:
            # A 200 whose body cannot be used: a job may exist and be billed, so this version is never POSTed again.
            reason = redact(str(exc))
            logger.error("pyannoteAI's answer to the submission is outside its spec", extra={"reason": reason})
            metrics.add_metric(name="VendorInvalidAnswers", unit=MetricUnit.Count, value=1)
            self._store.mark_failed(ref, claim, code=FailureCode.VENDOR_INVALID, reason=reason, now=self._clock())
            return "refused:vendor_invalid"

        early = self._record_job(ref, claim, job, details)
        logger.set_correlation_id(job.job_id)
        logger.info("job submitted", extra={"job_id": job.job_id, "attempt": claim.attempt})
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        # Alarmed on (template): what the vendor bills by, whatever the budget allows.
        metrics.add_metric(name="AudioSecondsSubmitted", unit=MetricUnit.Seconds, value=seconds)
        if early is not None:
            self._store.apply_outcome(ref.record_keys, job.job_id, early, now=self._clock())
            logger.info("applied a webhook that arrived before the job was recorded")
        return "submitted"

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
                    warning=warning,
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

    def _post(self, kind: Kind, url: str, webhook: str | None, candidates: list[dict[str, str]]) -> JobCreated:
        if kind is Kind.VOICEPRINT:
            return self._client.submit_voiceprint(url, webhook=webhook, model=self._settings.model)
        return self._client.submit_identify(
            url,
            voiceprints=candidates,
            webhook=webhook,
            model=self._settings.model,
            threshold=self._settings.identify_threshold,
            exclusive=self._settings.identify_exclusive,
            # An identification's output grows with the recording (24 h of audio: megabytes), past what a webhook
            # body may carry; the webhook function fetches it with GET /v1/jobs/{id} instead.
            status_only_webhook=True,
        )

    def _adopt(self, ref: ObjectRef, claim: Claim, details: Mapping[str, Any]) -> str | None:
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
            return "adopted"
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
    ) -> NoReturn:
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
        delay = self._delay(throttles if throttled else failures, retry_after)
        if throttled:
            self.pause_until(self._clock() + (retry_after or delay))
        logger.warning("submission will be retried", extra={"reason": reason, "delay": delay, "throttled": throttled})
        metrics.add_metric(name="JobsRetried", unit=MetricUnit.Count, value=1)
        raise RetryLater(reason, delay)

    def _delay(self, attempt: int, retry_after: float | None) -> int:
        return backoff.retry_delay(
            attempt,
            base=self._settings.retry_base_seconds,
            cap=self._settings.retry_max_delay_seconds,
            retry_after=retry_after,
            rand=self._rand,
        )

    def _charge(
        self, ref: ObjectRef, source: SourceKey, claim: Claim, seconds: int, candidates: list[dict[str, str]]
    ) -> None:
        """Charge the budget for this job, with the claim; raises Refusal if a quota is spent or the same
        identification was just requested, LostClaim if the claim is no longer ours."""
        # Without an ETag the content is unknown: no deduplication rather than a false match.
        dedup = (
            identify_candidates.request_digest(source.group, ref.etag, ref.size, candidates)
            if candidates and ref.etag
            else None
        )
        result = self._budget.charge(
            ref.record_keys,
            claim.token,
            group=source.group,
            audio_seconds=seconds,
            limits=self._limits,
            now=self._clock(),
            dedup_key=dedup,
            dedup_seconds=self._settings.identify_dedup_seconds,
            original={"bucket": ref.bucket, "key": ref.key, "versionId": ref.version},
        )
        if result.charge is Charge.CHARGED:
            return
        if result.charge is Charge.LOST_CLAIM:
            raise LostClaim(ref.uri)
        metrics.add_metric(name="BudgetRefusals", unit=MetricUnit.Count, value=1)
        if result.charge is Charge.DUPLICATE:
            was = result.duplicate_of or {}
            raise Refusal(
                FailureCode.DUPLICATE_REQUEST,
                f"the same identification (content, group and candidates) was requested for {was.get('key')!r} "
                f"(version {was.get('versionId')}) within the last {self._settings.identify_dedup_seconds} s: "
                "its record has the result",
            )
        whose = f"group {source.group!r}" if result.charge is Charge.GROUP_QUOTA else "the stack"
        raise Refusal(FailureCode.QUOTA_EXCEEDED, f"the daily budget of {whose} is spent (UTC day); not submitted")

    def _check(
        self, ref: ObjectRef, source: SourceKey, first: ObjectRead
    ) -> tuple[dict[str, Any], list[dict[str, str]], int]:
        """Refuse what pyannoteAI would refuse (or could not load), before paying for it. Returns what to record
        with the job (a voiceprint's label; an identification's candidate labels) and an identification's
        voiceprints."""
        problem = submission_checks.key_problem(ref.key)
        if problem:
            raise Refusal(FailureCode.INVALID_KEY, problem)
        submission_checks.check_size(source.kind, ref.size)

        def fetch(start: int, end: int) -> bytes:
            return self._objects.read(ref.bucket, ref.key, ref.version_id, start, end).data

        reader = RangedReader(fetch, ref.size, block_size=FIRST_BLOCK_BYTES, first_block=first.data)
        try:
            info = submission_checks.check_audio(source.kind, reader, ref.size)
        except ObjectGone:
            raise Refusal(FailureCode.OBJECT_GONE, "the object was deleted before it could be processed") from None
        seconds = max(1, math.ceil(info.duration_seconds))  # billed by the second (at the vendor's minimum)
        if source.kind is Kind.IDENTIFY:
            candidates = identify_candidates.choose(
                self._store.voiceprints_in_group(source.group),
                group=source.group,
                voiceprint_prefix=self._settings.voiceprint_prefix,
            )
            return {"candidates": [c["label"] for c in candidates]}, candidates, seconds
        # The object's own metadata wins over its file name (x-amz-meta-label), read from the header GET.
        label = submission_checks.check_label(first.metadata.get("label") or source.stem)
        return {"label": label}, [], seconds


def parse_receive_count(attributes: Mapping[str, Any]) -> int:
    try:
        return int(attributes.get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1
