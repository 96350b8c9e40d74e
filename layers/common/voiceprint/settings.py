"""Typed configuration, read once per cold start from the environment declared in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from voiceprint.frozen import frozen
from voiceprint.review import BandError, ReviewBand


class SettingsError(ValueError):
    """A required environment variable is missing or malformed."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be within [{lo}, {hi}], got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _band(env: Mapping[str, str], name: str) -> ReviewBand | None:
    try:
        return ReviewBand.parse(env.get(name, ""))
    except BandError as exc:
        raise SettingsError(str(exc)) from exc


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


@frozen
class Settings:
    table_name: str
    api_base_url: str
    api_key_secret_id: str
    webhook_secret_id: str
    ref_key_secret_id: str
    webhook_url: str
    model: str
    presign_expiry_seconds: int
    retention_days: int
    voiceprint_retention_days: int  # 0: a voiceprint lives as long as its source object
    voiceprint_prefix: str
    identify_prefix: str
    key_suffix: str
    results_bucket: str
    inline_result_max_bytes: int
    identify_threshold: int
    identify_exclusive: bool
    review_band: ReviewBand | None
    event_bus_name: str
    input_bucket: str
    webhook_tolerance_seconds: int
    accept_previous_webhook_secret: bool
    max_webhook_body_bytes: int
    http_timeout_seconds: int
    max_receive_count: int
    max_submit_attempts: int
    claim_lease_seconds: int
    retry_base_seconds: int
    retry_max_delay_seconds: int
    dead_letter_queue_url: str
    input_queue_url: str
    require_consent: bool
    submits_per_window: int
    rate_window_seconds: int
    rate_block_tokens: int
    job_reads_per_window: int
    submit_containers: int
    reconcile_after_seconds: int
    lost_after_seconds: int
    reconcile_max_polls: int
    reconcile_time_budget_seconds: int
    secret_cache_seconds: int
    secret_refresh_seconds: int
    group_daily_jobs: int
    group_daily_audio_seconds: int
    stack_daily_audio_seconds: int
    identify_dedup_seconds: int

    def require(self, *fields: str) -> Settings:
        """Fail at cold start, not on the first request, when a function's required settings are empty."""
        missing = [name for name in fields if not getattr(self, name)]
        if missing:
            raise SettingsError(f"required settings are not configured: {', '.join(sorted(missing))}")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            api_base_url=env.get("PYANNOTE_API_URL", "https://api.pyannote.ai").rstrip("/"),
            api_key_secret_id=env.get("API_KEY_SECRET_ID", ""),
            webhook_secret_id=env.get("WEBHOOK_SECRET_ID", ""),
            ref_key_secret_id=env.get("REF_KEY_SECRET_ID", ""),
            webhook_url=env.get("WEBHOOK_URL", ""),
            model=env.get("PYANNOTE_MODEL", "precision-2"),
            # SigV4 allows 7 days; we keep URLs short-lived because they are bearer credentials.
            presign_expiry_seconds=_int(env, "PRESIGN_EXPIRY_SECONDS", 1800, 60, 43200),
            retention_days=_int(env, "RETENTION_DAYS", 30, 1, 3650),
            voiceprint_retention_days=_int(env, "VOICEPRINT_RETENTION_DAYS", 0, 0, 3650),
            voiceprint_prefix=env.get("VOICEPRINT_PREFIX", "voiceprints/"),
            identify_prefix=env.get("IDENTIFY_PREFIX", "identify/"),
            key_suffix=env.get("KEY_SUFFIX", ""),
            results_bucket=env.get("RESULTS_BUCKET", ""),
            # Identification outputs up to this size stay on the record; larger ones go to the results bucket
            # (a DynamoDB item is at most 400 KB, and every KB written is a write unit).
            inline_result_max_bytes=_int(env, "INLINE_RESULT_MAX_BYTES", 16 * 1024, 0, 300 * 1024),
            identify_threshold=_int(env, "IDENTIFY_THRESHOLD", 0, 0, 100),
            identify_exclusive=_bool(env, "IDENTIFY_EXCLUSIVE", True),
            # Identifications whose best score for a speaker falls in this band wait for a person (review.py).
            review_band=_band(env, "REVIEW_BAND"),
            event_bus_name=env.get("EVENT_BUS_NAME", "default"),
            input_bucket=env.get("INPUT_BUCKET", ""),
            # Vendor retries arrive up to ~6 min after the first try and may keep the original timestamp.
            webhook_tolerance_seconds=_int(env, "WEBHOOK_TOLERANCE_SECONDS", 900, 420, 3600),
            accept_previous_webhook_secret=_bool(env, "ACCEPT_PREVIOUS_WEBHOOK_SECRET", True),
            max_webhook_body_bytes=_int(env, "MAX_WEBHOOK_BODY_BYTES", 1024 * 1024, 1024, 6 * 1024 * 1024),
            http_timeout_seconds=_int(env, "HTTP_TIMEOUT_SECONDS", 8, 1, 60),
            # The queue's redrive count is a backstop for invocations that crash; transient API failures have
            # their own budget, and 429s spend neither (a burst must not dead-letter healthy uploads).
            max_receive_count=_int(env, "MAX_RECEIVE_COUNT", 50, 1, 1000),
            max_submit_attempts=_int(env, "MAX_SUBMIT_ATTEMPTS", 8, 1, 100),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
            # The queue a backlog waits in, and the rate that drains it (pyannoteAI: 100 submits a minute): a
            # message sent back for the rate limit returns by its place in the backlog (submit_service._paced).
            input_queue_url=env.get("INPUT_QUEUE_URL", ""),
            # Biometric data: with it on, an enrolment must name the speaker's consent (x-amz-meta-consent).
            require_consent=_bool(env, "REQUIRE_CONSENT", False),
            submits_per_window=_int(env, "SUBMITS_PER_WINDOW", 100, 1, 100_000),
            rate_window_seconds=_int(env, "RATE_WINDOW_SECONDS", 60, 1, 3600),
            # The window's tokens are shared through one counter in the table, taken a block per write; a block
            # shrinks to the room left divided among the containers, so few tokens are stranded at the window's end.
            rate_block_tokens=_int(env, "RATE_BLOCK_TOKENS", 5, 1, 1000),
            submit_containers=_int(env, "SUBMIT_CONTAINERS", 2, 1, 1000),
            # GET /v1/jobs/{id} has its own limit (300 a minute): the reconciler's polls and the webhook's fetches.
            job_reads_per_window=_int(env, "JOB_READS_PER_WINDOW", 300, 1, 100_000),
            # Outlives the function timeout and ends before the queue's visibility timeout: a crashed
            # invocation's object is retried when its message comes back, never while it still runs.
            claim_lease_seconds=_int(env, "CLAIM_LEASE_SECONDS", 120, 2, 43200),
            # Backoff of a returned message: full jitter below base * 2^(n-1), capped (SQS allows up to 12 h).
            retry_base_seconds=_int(env, "RETRY_BASE_SECONDS", 10, 1, 3600),
            retry_max_delay_seconds=_int(env, "RETRY_MAX_DELAY_SECONDS", 900, 1, 43200),
            # The template enforces >= 60 s; the local stack's tests use seconds.
            reconcile_after_seconds=_int(env, "RECONCILE_AFTER_SECONDS", 900, 1, 86400),
            lost_after_seconds=_int(env, "LOST_AFTER_SECONDS", 25 * 3600, 3600, 7 * 86400),
            # Job reads are limited to 300/min (API_NOTES.md); a run stays under it, leaving room for the webhook's
            # fetches of status-only identifications. A backlog larger than a run pages on in the next runs.
            reconcile_max_polls=_int(env, "RECONCILE_MAX_POLLS", 250, 1, 290),
            # Stop starting polls after this long: the function's timeout (120 s) must never cut a write short.
            reconcile_time_budget_seconds=_int(env, "RECONCILE_TIME_BUDGET_SECONDS", 90, 5, 840),
            secret_cache_seconds=_int(env, "SECRET_CACHE_SECONDS", 300, 0, 86400),
            # A webhook whose signature does not match may read the current secret again (a rotation), at most
            # once per this many seconds per container: forged requests cannot force paid reads.
            secret_refresh_seconds=_int(env, "SECRET_REFRESH_SECONDS", 60, 1, 3600),
            # The budget (budget_store): per group and UTC day, jobs and audio seconds; per stack and day, audio
            # seconds. 0: no limit. Counted with the claim, before anything is paid.
            group_daily_jobs=_int(env, "GROUP_DAILY_JOBS", 0, 0, 10_000_000),
            group_daily_audio_seconds=_int(env, "GROUP_DAILY_AUDIO_SECONDS", 0, 0, 1_000_000_000),
            stack_daily_audio_seconds=_int(env, "STACK_DAILY_AUDIO_SECONDS", 0, 0, 1_000_000_000),
            # An identification identical to one made within this window (same group, content and candidates)
            # is not submitted again; 0 turns the check off.
            identify_dedup_seconds=_int(env, "IDENTIFY_DEDUP_SECONDS", 3600, 0, 7 * 86400),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, parsed once per cold start."""
    return Settings.from_env()
