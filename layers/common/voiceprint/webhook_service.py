"""Handling of pyannoteAI webhooks: verify, parse, (fetch the output if needed), apply to the record."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint import webhook_ref, webhook_signature
from voiceprint.frozen import field, frozen
from voiceprint.job_state import (
    VENDOR_STATUSES,
    InvalidOutput,
    Outcome,
    Status,
    needs_output_fetch,
    outcome_from_job,
)
from voiceprint.job_store import ApplyResult
from voiceprint.object_ref import keys_from_webhook_ref
from voiceprint.redaction import redact
from voiceprint.settlement import settle
from voiceprint.vendor_limits import valid_job_id

if TYPE_CHECKING:
    from voiceprint.ports import LabelHealthKeeper, RecordWriter, ResultKeeper, Secret, Vendor
    from voiceprint.pyannote_client import Job
    from voiceprint.rate_allowance import RateAllowance
    from voiceprint.settings import Settings

logger = Logger(child=True)
metrics = Metrics()


@frozen
class WebhookRequest:
    """What the handler extracts from the API Gateway event; the body is the raw bytes as received."""

    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_http_api(
        cls, body: str | None, is_base64: bool, headers: Mapping[str, str] | None, query: Mapping[str, str] | None
    ) -> WebhookRequest:
        if body is None:
            raw = b""
        elif is_base64:
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
        else:
            raw = body.encode("utf-8")
        return cls(raw, {k.lower(): v for k, v in (headers or {}).items()}, dict(query or {}))


@frozen
class WebhookResponse:
    status_code: int
    body: dict[str, Any]


def _reject(status: int, message: str, reason: str) -> WebhookResponse:
    logger.warning("webhook rejected", extra={"rejection": reason})
    metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
    return WebhookResponse(status, {"message": message})


@frozen
class _Fetched:
    job: Job | None


class WebhookService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: RecordWriter,
        secrets: Secret,
        ref_keys: Secret,
        client: Callable[[], Vendor],
        results: ResultKeeper,
        clock: Callable[[], float] = time.time,
        reads: Callable[[], RateAllowance | None] = lambda: None,
        health: LabelHealthKeeper | None = None,
    ) -> None:
        """`reads`: the job-read endpoint's tokens (shared with the reconciler), made on first use like `client`;
        `health`: the per-label health an identification's result adds to."""
        self._settings = settings
        self._health = health
        self._reads = reads
        self._store = store
        self._results = results
        self._secrets = secrets
        self._ref_keys = ref_keys
        self._client = client  # a factory: most webhooks carry their output and never need the API
        self._clock = clock

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        if len(request.body) > self._settings.max_webhook_body_bytes:
            return _reject(413, "payload too large", "too_large")
        try:
            webhook_signature.verify(
                secrets=self._secrets.candidates(include_previous=self._settings.accept_previous_webhook_secret),
                timestamp=request.headers.get("x-request-timestamp"),
                signature=request.headers.get("x-signature"),
                body=request.body,
                now=self._clock(),
                tolerance_seconds=self._settings.webhook_tolerance_seconds,
            )
        except webhook_signature.SignatureError as exc:
            status = 400 if exc.rejection is webhook_signature.Rejection.MALFORMED else 401
            return _reject(status, "invalid signature", exc.rejection.value)

        payload = self._parse(request.body)
        if payload is None:
            return _reject(400, "malformed payload", "malformed_payload")
        job_id, vendor_status, output = payload
        logger.set_correlation_id(job_id)
        logger.append_keys(job_id=job_id, vendor_status=vendor_status, retry_num=request.headers.get("x-retry-num"))

        keys, bound = self._record_of(request.query, job_id)
        if keys is None:
            logger.info("webhook for a job we do not know; ignored")
            return WebhookResponse(202, {"result": ApplyResult.UNKNOWN.value})

        if needs_output_fetch(vendor_status, output):
            fetched = self._fetch(job_id)
            if fetched is None:
                # Answering 5xx makes pyannoteAI retry; the reconciler is the fallback after its last retry.
                return WebhookResponse(503, {"message": "output not available yet, retry"})
            if fetched.job is not None:
                vendor_status, output = fetched.job.status, fetched.job.output
        try:
            outcome = outcome_from_job(vendor_status, output, self._settings.review_band)
        except InvalidOutput as exc:
            # Signed, so from pyannoteAI, but unusable: acknowledged (a retry would bring the same), logged, and
            # left to the poller, which fails the record as vendor_invalid if its answers stay this way.
            logger.error("webhook output outside the spec; left to the poller", extra={"error": str(exc)})
            metrics.add_metric(name="WebhooksInvalidOutput", unit=MetricUnit.Count, value=1)
            return WebhookResponse(202, {"result": "invalid_output"})
        # Only a ref bound to this stack may leave a result on a record that has no jobId yet (an early webhook).
        result, outcome = settle(
            self._store, self._results, keys, job_id, outcome, now=self._clock(), allow_early=bound, health=self._health
        )
        self._count(result, outcome)
        logger.info("webhook applied", extra={"result": result.value, "status": outcome.status.value})
        return WebhookResponse(200, {"result": result.value})

    def _fetch(self, job_id: str) -> _Fetched | None:
        """GET /v1/jobs/{id} for a status-only webhook, within the job-read limit: None when it cannot be had now
        (no token this window, a 429, a 5xx), else the job (None if the vendor no longer knows it)."""
        # Imported here: most webhooks carry their output, and the client's module is not needed for them.
        from voiceprint.pyannote_client import JobNotFound, PyannoteError, RateLimited

        reads = self._reads()
        if reads is not None and reads.take(self._clock()):
            logger.info("job-read limit reached; the webhook will be retried")
            return None
        try:
            return _Fetched(self._client().get_job(job_id))
        except JobNotFound:
            return _Fetched(None)
        except RateLimited as exc:
            if reads is not None:
                reads.refused(self._clock(), exc.retry_after)  # for the reconciler and the other containers too
            logger.warning("could not fetch the job output: rate limited")
        except PyannoteError as exc:
            logger.warning("could not fetch the job output", extra={"error": str(exc)})
        return None

    def _record_of(self, query: Mapping[str, str], job_id: str) -> tuple[dict[str, str] | None, bool]:
        """The record's keys, and whether they came from a ref bound to this stack. An unbound ref (no `sig`, a
        wrong one, or one of another record) is ignored: the result goes only to the record holding its jobId."""
        ref, sig = query.get("ref", ""), query.get("sig", "")
        keys = keys_from_webhook_ref(ref)
        if keys is not None and webhook_ref.is_bound(ref, sig, self._ref_keys.candidates(include_previous=True)):
            return keys, True
        if ref:
            logger.warning("webhook ref not bound to this stack; using the jobId only", extra={"rejection": "ref"})
            metrics.add_metric(name="WebhookRefsUnbound", unit=MetricUnit.Count, value=1)
        found = self._store.find_by_job(job_id)
        return (found.keys if found else None), False

    @staticmethod
    def _parse(body: bytes) -> tuple[str, str, dict[str, Any] | None] | None:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: a body nested 100,000 deep
            return None
        if not isinstance(data, dict):
            return None
        job_id, status, output = data.get("jobId"), data.get("status"), data.get("output")
        if not valid_job_id(job_id) or not isinstance(status, str):
            return None
        if status not in VENDOR_STATUSES:
            # A status the spec does not list (yet): the job is treated as still running, and the poller settles it.
            status = redact(status, 40)
        if output is not None and not isinstance(output, dict):
            return None
        return job_id, status, output

    @staticmethod
    def _count(result: ApplyResult, outcome: Outcome) -> None:
        if result is not ApplyResult.APPLIED:
            metrics.add_metric(name=f"Webhooks{result.value.capitalize()}", unit=MetricUnit.Count, value=1)
            return
        if outcome.status is Status.SUCCEEDED:
            metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
        elif outcome.status is Status.FAILED:
            metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
