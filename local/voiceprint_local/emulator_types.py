"""The emulator's vocabulary: its configuration (the knobs tests and runs turn), a job, a webhook delivery, a raw
(hostile) answer, the counts it keeps, and the API's limits."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

MAX_SECONDS = 30.0
MAX_BYTES = 100 * 1024 * 1024
RETRY_SCHEDULE = (0.0, 60.0, 300.0)  # "up to 3 retries: immediately, after 1 min, after 5 min"
GROUPS = {"/v1/voiceprint": "submit", "/v1/identify": "submit", "/v1/diarize": "submit", "/v1/media/input": "media"}


@dataclass
class EmulatorConfig:
    api_key: str
    webhook_secret: str
    presign_secret_key: str | None = None  # when set, presigned S3 URLs are verified like S3 would
    signature_encoding: str = "hex"
    rate_limits: dict[str, int] | None = None  # e.g. {"submit": 100, "media": 100, "read": 300} per window
    rate_window_seconds: float = 60.0  # the API's window is a minute; tests shorten it
    processing_seconds: float = 0.5  # emulated time from creation to result
    latency_seconds: float = 0.0  # real delay added to every answer
    failure_rate: float = 0.0  # share of jobs that fail for no reason of the audio's
    drop_webhook_rate: float = 0.0  # share of jobs whose webhook is never sent
    duplicate_webhook_rate: float = 0.0  # share of jobs whose webhook is sent twice
    status_only: bool | None = None  # force webhookStatusOnly on every job
    status_only_rate: float = 0.0  # share of jobs whose webhook is status-only anyway
    error_rate: float = 0.0  # share of API requests answered 5xx (nothing created)
    timeout_rate: float = 0.0  # share of submits that create the job, then answer too late for the client
    stall_seconds: float = 10.0  # how late a "timeout" answers
    seed: int = 0
    retry_schedule: tuple[float, ...] = RETRY_SCHEDULE
    embedding: str = "toy"  # "resemblyzer": real speaker embeddings (the optional [embeddings] extra)
    max_audio_bytes: int = MAX_BYTES  # the API's 100 MiB; tests lower it instead of moving 100 MiB around
    # Share of jobs whose first GET /v1/jobs/{id} is answered outside the spec (HOSTILE_ANSWERS, in turn); later
    # answers for the job are genuine.
    hostile_answer_rate: float = 0.0


# What a misbehaving vendor may answer to GET /v1/jobs/{id}: a status the spec does not list, an output with the
# wrong types, a body announced larger than any genuine answer, and a body trickled a byte at a time.
HOSTILE_ANSWERS = ("unknown_status", "malformed_output", "oversized", "slow")


@dataclass
class Job:
    id: str
    kind: str
    url: str
    webhook: str | None
    status_only: bool
    created_at: float
    request: dict[str, Any]
    status: str = "created"
    updated_at: float = 0.0
    output: dict[str, Any] | None = None
    due_at: float = 0.0


@dataclass
class Delivery:
    job_id: str
    due_at: float
    attempt: int = 0  # 0 = first try, then x-retry-num 1..3
    reason: str = ""
    duplicate: bool = False


@dataclass(frozen=True)
class RawAnswer:
    """A hostile answer, sent as given: any bytes (not necessarily JSON), optionally a few bytes at a time with a
    pause between (a trickled body), each pause interrupted when the emulator stops."""

    body: bytes
    trickle_bytes: int = 0  # 0: all at once
    trickle_seconds: float = 0.0
    declared_length: int | None = None  # a Content-Length other than the body's (the connection is closed after)


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    answers: Counter[int] = field(default_factory=Counter)
    submissions_by_url: Counter[str] = field(default_factory=Counter)
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    webhooks_dropped: int = 0
    injected_errors: int = 0
    injected_timeouts: int = 0
    timeouts_by_url: Counter[str] = field(default_factory=Counter)  # which objects' answers were lost
    trickled_bytes: int = 0  # of trickled raw answers, sent before the client gave up (or the end)
    hostile_answers: Counter[str] = field(default_factory=Counter)
    # Per rate-limit group and window index: requests let through and answered 429 (the reliability run's pacing).
    passed_per_window: Counter[tuple[str, int]] = field(default_factory=Counter)
    limited_per_window: Counter[tuple[str, int]] = field(default_factory=Counter)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def url_identity(url: str) -> str:
    """The object a (presigned) URL points at, without its signature: for double-billing counts."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}?{parts.query.split('&X-Amz-', 1)[0]}" if parts.query else url


def hostile_answer(kind: str, genuine: dict[str, Any]) -> dict[str, Any] | RawAnswer:
    """One of HOSTILE_ANSWERS in place of the genuine answer about a job."""
    if kind == "unknown_status":
        return {**genuine, "status": "queued"}
    if kind == "malformed_output":
        return {**genuine, "status": "succeeded", "output": {"voiceprint": 42, "identification": "everyone"}}
    body = json.dumps(genuine).encode()
    if kind == "oversized":
        return RawAnswer(body, declared_length=1 << 40)
    return RawAnswer(body, trickle_bytes=1, trickle_seconds=0.5)
