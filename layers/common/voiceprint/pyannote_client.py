"""A small client for the pyannoteAI API (openapi.json beside API_NOTES.md).

urllib3 rather than requests: botocore already imports urllib3, so the client adds nothing to cold start.
Only connection failures are retried in-process (the request never reached the server, so nothing was
billed). 429, 5xx and timeouts are raised as typed errors for the caller to reschedule through SQS: a resent
POST creates and bills a second job, because the API has no idempotency key.

Answers are input too: each request has one deadline for connect, send and the whole answer (a body trickled a
byte at a time ends there), answers are capped in size before they are parsed, and a 200 whose body is outside
the spec raises InvalidAnswer rather than passing odd values on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import urllib3
from urllib3.util.retry import Retry

from voiceprint.frozen import frozen
from voiceprint.job_state import VENDOR_STATUSES
from voiceprint.redaction import redact
from voiceprint.vendor_limits import valid_job_id

if TYPE_CHECKING:
    from voiceprint.identify_options import IdentifyOptions

# An identification's output grows with its recording (24 h of busy speech: a few MB of segments). Parsing JSON
# takes about 5 times its size in memory (32 MiB of segments peaked 160 MiB above the baseline, measured), so a
# larger answer would only exhaust a 256 MB function.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


class PyannoteError(Exception):
    """Base class. Messages carry the API's own text, never the key."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(PyannoteError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class TransientError(PyannoteError):
    """5xx, timeouts, connection failures: worth retrying later."""


class AccountError(PyannoteError):
    """401/402: our key or subscription, not the object, is at fault; retry after an operator fixes it."""


class RequestRejected(PyannoteError):
    """400 and other 4xx: the request (the object) is at fault; retrying will not help."""

    def __init__(self, message: str, status: int, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, status)
        self.errors = errors or []


class JobNotFound(PyannoteError):
    """404 on GET /v1/jobs/{id}: unknown or expired job."""


class InvalidAnswer(PyannoteError):
    """A 200 whose body is not what the spec promises (or is larger than any genuine answer). Asking again will
    not help; after a POST the job may exist and be billed all the same."""


@frozen
class JobCreated:
    job_id: str
    status: str
    warning: str | None = None
    rate_remaining: int | None = None  # X-RateLimit-Remaining: what the vendor's window has left (rate_allowance)
    rate_limit: int | None = None  # X-RateLimit-Limit: the vendor's limit that count is out of


@frozen
class Job:
    job_id: str
    status: str
    output: dict[str, Any] | None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _count(headers: Mapping[str, str], name: str) -> int | None:
    """A rate-limit header's count (X-RateLimit-Remaining, X-RateLimit-Limit), None if absent or not a count."""
    raw = headers.get(name)
    return int(raw) if raw is not None and raw.strip().isdigit() and len(raw) < 10 else None


def _shown(value: Any) -> str:
    """A value from an answer, safe to log: its type, and if text, a short cleaned head of it."""
    if isinstance(value, str):
        return repr(redact(value, 80))
    return type(value).__name__


def _message(payload: Any, fallback: str) -> str:
    """The API's own message, with URLs' query strings (our presigned URL) and X-Amz-* parameters removed."""
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return redact(str(payload["message"]), 500)
    return fallback


class PyannoteClient:
    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        *,
        timeout_seconds: float = 8.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        pool: urllib3.PoolManager | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._api_key = api_key  # a callable so the secret is fetched lazily and rotations are seen
        self._deadline = timeout_seconds  # the whole request, answer included
        self._max_answer = max_answer_bytes
        self._clock = clock
        self._timeout = urllib3.Timeout(connect=min(3.0, timeout_seconds), read=timeout_seconds)
        self._pool = pool or urllib3.PoolManager(
            retries=Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.2, raise_on_status=False),
            maxsize=4,
        )

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any, Mapping[str, str]]:
        headers = {"Authorization": f"Bearer {self._api_key()}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        deadline = self._clock() + self._deadline
        try:
            resp = self._pool.request(
                method, self._base + path, body=data, headers=headers, timeout=self._timeout, preload_content=False
            )
            try:
                raw = self._read(resp, deadline, f"{method} {path}")
            except BaseException:
                resp.close()  # a connection with an unread remainder must not serve the next request
                raise
            finally:
                resp.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            # The exception text may contain the URL but never headers, so the key cannot leak from here.
            raise TransientError(f"{method} {path}: {type(exc).__name__}") from None
        try:
            payload = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            payload = None
        return resp.status, payload, resp.headers

    def _read(self, resp: urllib3.BaseHTTPResponse, deadline: float, what: str) -> bytes:
        """The answer's body, within the request's deadline and the size cap (chunks as they arrive: a read
        timeout alone restarts with every byte of a trickled body)."""
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self._max_answer:
            raise InvalidAnswer(f"{what} -> {resp.status}: answer of {declared} bytes is over the cap", resp.status)
        body = bytearray()
        while True:
            if self._clock() > deadline:
                raise TransientError(f"{what}: no whole answer within {self._deadline:g} s", resp.status)
            chunk = resp.read1(_CHUNK)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > self._max_answer:
                raise InvalidAnswer(f"{what} -> {resp.status}: answer over {self._max_answer} bytes", resp.status)

    def _raise_for(self, method: str, path: str, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        what = f"{method} {path} -> {status}"
        if status == 429:
            raise RateLimited(f"{what}: {_message(payload, 'rate limited')}", _retry_after(headers))
        if status >= 500:
            raise TransientError(f"{what}: {_message(payload, 'server error')}", status)
        if status in (401, 402, 403):
            raise AccountError(f"{what}: {_message(payload, 'API key or subscription refused')}", status)
        if status == 404:
            raise JobNotFound(f"{what}: not found", status)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        raise RequestRejected(f"{what}: {_message(payload, 'request rejected')}", status, errors)

    def submit_voiceprint(self, url: str, *, webhook: str | None, model: str | None) -> JobCreated:
        return self._submit("/v1/voiceprint", {"url": url}, webhook=webhook, model=model)

    def submit_identify(
        self,
        url: str,
        *,
        voiceprints: list[dict[str, str]],
        webhook: str | None,
        model: str | None,
        options: IdentifyOptions,
        status_only_webhook: bool = False,
    ) -> JobCreated:
        """`voiceprints`: 1 to 50 of {"label", "voiceprint"}; `options`: the speakers' count, the matching options
        and turn-level confidence (the API's defaults where not set; identify_options)."""
        body: dict[str, Any] = {"url": url, "voiceprints": voiceprints, **options.body()}
        if status_only_webhook:
            body["webhookStatusOnly"] = True
        return self._submit("/v1/identify", body, webhook=webhook, model=model)

    def _submit(self, path: str, body: dict[str, Any], *, webhook: str | None, model: str | None) -> JobCreated:
        if model:
            body["model"] = model
        if webhook:
            body["webhook"] = webhook
        status, payload, headers = self._request("POST", path, body)
        if status != 200:
            self._raise_for("POST", path, status, payload, headers)
        # A 200 means a job was created, and billed: an answer outside the spec is not retried (that would pay
        # again) but raised as InvalidAnswer, which fails the record.
        job_id = payload.get("jobId") if isinstance(payload, dict) else None
        if not valid_job_id(job_id):
            raise InvalidAnswer(f"POST {path} -> 200 without a valid jobId ({_shown(job_id)})", status)
        vendor_status = payload.get("status")
        warning = payload.get("warning")
        return JobCreated(
            job_id,
            vendor_status if vendor_status in VENDOR_STATUSES else "created",
            redact(warning) if isinstance(warning, str) and warning else None,
            _count(headers, "X-RateLimit-Remaining"),
            _count(headers, "X-RateLimit-Limit"),
        )

    def get_job(self, job_id: str) -> Job:
        path = f"/v1/jobs/{quote(job_id, safe='')}"
        status, payload, headers = self._request("GET", path)
        if status != 200:
            self._raise_for("GET", path, status, payload, headers)
        if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
            raise InvalidAnswer(f"GET {path} -> 200 without a job status", status)
        if payload.get("jobId") != job_id:
            # Another job's answer must never land on this job's record.
            raise InvalidAnswer(f"GET {path} -> 200 for another job ({_shown(payload.get('jobId'))})", status)
        output = payload.get("output")
        if output is not None and not isinstance(output, dict):
            raise InvalidAnswer(f"GET {path} -> 200 with an output that is not an object", status)
        # An unknown status is passed on as it is: job_state treats it as still running.
        return Job(job_id, redact(payload["status"], 40), output)

    def test_key(self) -> bool:
        status, _, _ = self._request("GET", "/v1/test")
        return status == 200
