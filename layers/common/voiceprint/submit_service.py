"""Submission of uploaded objects to pyannoteAI: S3 event (via SQS) -> checks -> presign -> POST /v1/voiceprint
(objects under the voiceprint prefix) or POST /v1/identify (under the identify prefix, against the voiceprints of
the same group)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import backoff, source_key
from voiceprint.audio_probe import NotAudio, RangedReader, probe
from voiceprint.job_state import FailureCode, Kind
from voiceprint.job_store import Claim, ClaimHeld, JobStore, LostClaim
from voiceprint.object_ref import ObjectRef, record_keys
from voiceprint.pyannote_client import (
    AccountError,
    JobCreated,
    PyannoteClient,
    RateLimited,
    RequestRejected,
    TransientError,
)
from voiceprint.result_store import ResultStore
from voiceprint.settings import (
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    MAX_IDENTIFY_BYTES,
    MAX_IDENTIFY_SECONDS,
    Settings,
)
from voiceprint.source_key import SourceKey

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(child=True)
metrics = Metrics()


class RetryLater(Exception):
    """The message must come back after `delay_seconds` (SQS visibility); the reason is on the record."""

    def __init__(self, reason: str, delay_seconds: int) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class DeadLetter(Exception):
    """Out of attempts: the message belongs in the dead-letter queue, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ObjectGone(Exception):
    pass


@dataclass(frozen=True)
class Refusal(Exception):
    code: FailureCode
    reason: str


class SubmitService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        s3: S3Client,
        client: PyannoteClient,
        results: ResultStore,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._store = store
        self._s3 = s3
        self._client = client
        self._results = results
        self._clock = clock
        self._rand = rand
        # After a 429 this container stops calling the API until the window has passed (the rest of a batch is
        # requeued without a request that would only be refused too).
        self._throttled_until = 0.0

    # -- entry point ---------------------------------------------------------------------------------------
    def handle_message(self, body: str, receive_count: int) -> list[str]:
        """Process one SQS message (an S3 notification). Returns one outcome label per S3 record.

        Raises RetryLater if any record must be retried (the records already done are no-ops on redelivery), else
        DeadLetter if any record is out of attempts.
        """
        event = json.loads(body)
        if event.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
            return ["test_event"]
        outcomes: list[str] = []
        retry: RetryLater | None = None
        dead: DeadLetter | None = None
        for record in event.get("Records", []):
            event_name = str(record.get("eventName", ""))
            if event_name.startswith("ObjectRemoved"):
                outcomes.append(self.forget_object(ObjectRef.from_s3_record(record), event_name))
                continue
            if not event_name.startswith("ObjectCreated"):
                outcomes.append("ignored_event")
                continue
            ref = ObjectRef.from_s3_record(record)
            try:
                outcomes.append(self.submit_object(ref, receive_count))
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

    def forget_object(self, ref: ObjectRef, event_name: str) -> str:
        """The source is gone, so its voiceprint (biometric data) or identification goes too. A deleted version
        takes its own record; a delete marker (a plain delete on the versioned bucket) takes every record of the
        key, since the object is gone for its owner even while old versions wait for their lifecycle expiry."""
        if self._source(ref.key) is None:
            return "filtered"
        logger.append_keys(object_key=ref.key, bucket=ref.bucket)
        if event_name == "ObjectRemoved:Delete" and ref.version_id:
            records = [record_keys(ref.bucket, ref.key, ref.version_id)]
        else:
            records = [{"pk": r["pk"], "sk": r["sk"]} for r in self._store.list_object_versions(ref.bucket, ref.key)]
        deleted = 0
        for keys in records:
            old = self._store.delete(keys)
            if old is None:
                continue
            deleted += 1
            if old.get("resultLocation"):
                self._results.delete(str(old["resultLocation"]))
        logger.info("records deleted with their source", extra={"deleted": deleted, "event": event_name})
        metrics.add_metric(name="RecordsDeleted", unit=MetricUnit.Count, value=deleted)
        return f"deleted:{deleted}"

    def _source(self, key: str) -> SourceKey | None:
        return source_key.parse(
            key,
            voiceprint_prefix=self._settings.voiceprint_prefix,
            identify_prefix=self._settings.identify_prefix,
            suffix=self._settings.key_suffix,
        )

    def submit_object(self, ref: ObjectRef, receive_count: int) -> str:
        logger.append_keys(object_key=ref.key, bucket=ref.bucket, version=ref.version)
        logger.set_correlation_id(ref.label)
        if ref.key.endswith("/") and ref.size == 0:
            return "folder_marker"
        source = self._source(ref.key)
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
            return self._submit_claimed(ref, source, claim, receive_count)
        except LostClaim:
            logger.warning("claim taken over by another invocation; leaving the object to it")
            return "lost_claim"

    # -- steps ---------------------------------------------------------------------------------------------
    def _submit_claimed(self, ref: ObjectRef, source: SourceKey, claim: Claim, receive_count: int) -> str:
        try:
            details, candidates = self._check(ref, source)
        except Refusal as refusal:
            self._store.mark_failed(ref, claim, code=refusal.code, reason=refusal.reason, now=self._clock())
            logger.info("object refused", extra={"failure_code": refusal.code.value, "reason": refusal.reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return f"refused:{refusal.code.value}"
        adopted = self._adopt(ref, claim, details)
        if adopted:
            return adopted

        url = self._presign(ref)
        webhook = (
            f"{self._settings.webhook_url}?ref={quote(ref.token, safe='')}" if self._settings.webhook_url else None
        )
        try:
            job = self._post(source.kind, url, webhook, candidates)
        except RequestRejected as exc:
            reason = str(exc) + "".join(f"; {e.get('field')}: {e.get('message')}" for e in exc.errors[:5])
            self._store.mark_failed(ref, claim, code=FailureCode.API_REJECTED, reason=reason, now=self._clock())
            logger.warning("pyannoteAI rejected the job", extra={"failure_code": "api_rejected", "reason": reason})
            metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
            return "refused:api_rejected"
        except RateLimited as exc:
            metrics.add_metric(name="ApiThrottled", unit=MetricUnit.Count, value=1)
            self._retry(ref, claim, receive_count, str(exc), exc.retry_after, throttled=True)
        except (TransientError, AccountError) as exc:
            self._retry(ref, claim, receive_count, str(exc), None, throttled=False)

        early = self._store.record_submitted(
            ref,
            claim,
            job_id=job.job_id,
            vendor_status=job.status,
            warning=job.warning,
            now=self._clock(),
            details=details,
        )
        logger.set_correlation_id(job.job_id)
        logger.info("job submitted", extra={"job_id": job.job_id, "attempt": claim.attempt})
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        if early is not None:
            self._store.apply_outcome(ref.keys, job.job_id, early, now=self._clock())
            logger.info("applied a webhook that arrived before the job was recorded")
        return "submitted"

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

    def _candidates(self, group: str) -> list[dict[str, str]]:
        """The group's voiceprints, one per label (the newest when a label was uploaded more than once)."""
        newest: dict[str, dict[str, Any]] = {}
        for item in self._store.voiceprints_in_group(group):
            label = item.get("label")
            if not label or not item.get("voiceprint"):
                continue
            if label not in newest or int(item.get("completedAt", 0)) > int(newest[label].get("completedAt", 0)):
                newest[label] = item
        where = f"group {group!r}" if group else "the top-level group"
        if not newest:
            raise Refusal(
                FailureCode.NO_VOICEPRINTS,
                f"no voiceprints in {where} to identify against: upload samples under "
                f"{self._settings.voiceprint_prefix}{group} first",
            )
        if len(newest) > source_key.MAX_IDENTIFY_VOICEPRINTS:
            raise Refusal(
                FailureCode.TOO_MANY_VOICEPRINTS,
                f"{where} has {len(newest)} speaker labels; pyannoteAI compares at most "
                f"{source_key.MAX_IDENTIFY_VOICEPRINTS}: split it into subfolders",
            )
        return [{"label": label, "voiceprint": str(newest[label]["voiceprint"])} for label in sorted(newest)]

    def _adopt(self, ref: ObjectRef, claim: Claim, details: Mapping[str, Any]) -> str | None:
        """An earlier submission timed out or crashed after pyannoteAI created the job, and that job's webhook has
        since arrived: take its result instead of submitting (and paying) again."""
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
            self._store.apply_outcome(ref.keys, job_id, outcome, now=self._clock())
            logger.set_correlation_id(job_id)
            logger.info("adopted the result of an earlier submission instead of resubmitting")
            metrics.add_metric(name="JobsAdopted", unit=MetricUnit.Count, value=1)
            return "adopted"
        return None

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
            self._throttled_until = max(self._throttled_until, self._clock() + (retry_after or delay))
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

    def _check(self, ref: ObjectRef, source: SourceKey) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """Refuse what pyannoteAI would refuse, before paying for it. Returns what to record with the job (a
        voiceprint's label; an identification's candidate labels) and an identification's voiceprints."""
        identify = source.kind is Kind.IDENTIFY
        max_bytes, max_seconds = (
            (MAX_IDENTIFY_BYTES, MAX_IDENTIFY_SECONDS) if identify else (MAX_AUDIO_BYTES, MAX_AUDIO_SECONDS)
        )
        if ref.size == 0:
            raise Refusal(FailureCode.EMPTY, "the object is empty")
        if ref.size > max_bytes:
            raise Refusal(FailureCode.TOO_LARGE, f"{ref.size} bytes is over the API's limit of {max_bytes} bytes")
        metadata: dict[str, str] = {}
        reader = RangedReader(lambda start, end: self._get_range(ref, start, end, metadata), ref.size)
        try:
            info = probe(reader)
        except NotAudio as exc:
            raise Refusal(FailureCode.NOT_AUDIO, str(exc)) from None
        except ObjectGone:
            raise Refusal(FailureCode.OBJECT_GONE, "the object was deleted before it could be processed") from None
        if info.duration_seconds > max_seconds:
            raise Refusal(
                FailureCode.TOO_LONG,
                f"{info.duration_seconds:.1f} s of audio is over the API's limit of {max_seconds:.0f} s",
            )
        if identify:
            candidates = self._candidates(source.group)
            return {"candidates": [c["label"] for c in candidates]}, candidates
        # The object's own metadata wins over its file name (x-amz-meta-label), read from the header GET.
        label = metadata.get("label") or source.stem
        problem = source_key.label_problem(label)
        if problem:
            raise Refusal(FailureCode.INVALID_LABEL, f"{problem} (set x-amz-meta-label or rename the file)")
        return {"label": label}, []

    def _object_params(self, ref: ObjectRef) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            params["VersionId"] = ref.version_id
        return params

    def _get_range(self, ref: ObjectRef, start: int, end: int, metadata: dict[str, str]) -> bytes:
        try:
            resp = self._s3.get_object(**self._object_params(ref), Range=f"bytes={start}-{end}")
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "NoSuchVersion", "404"):
                raise ObjectGone() from None
            raise
        metadata.update(resp.get("Metadata") or {})
        return resp["Body"].read()

    def _presign(self, ref: ObjectRef) -> str:
        # SigV4 comes from the client's config (signature_version="s3v4"), set where the client is created.
        return self._s3.generate_presigned_url(
            "get_object", Params=self._object_params(ref), ExpiresIn=self._settings.presign_expiry_seconds
        )


def parse_receive_count(attributes: Mapping[str, Any]) -> int:
    try:
        return int(attributes.get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1
