"""The ports: what the services need of the outside, as small Protocols. The adapters (job_store, object_source,
result_store, budget_store, rate_token_store, label_health_store, pyannote_client, secret_source) implement them
against AWS and pyannoteAI; the tests' in-memory fakes (tests/fakes.py) implement them too, and one contract suite
(tests/contract/) runs against both.

Imported for type checking only: no service pays for these classes at cold start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from voiceprint.budget_store import ChargeResult, Limits
    from voiceprint.identify_options import IdentifyOptions
    from voiceprint.job_state import FailureCode, Kind, Outcome
    from voiceprint.job_store import ApplyResult, Claim
    from voiceprint.label_health import LabelHealth
    from voiceprint.object_ref import ObjectRef
    from voiceprint.object_source import ObjectRead
    from voiceprint.pyannote_client import Job, JobCreated
    from voiceprint.rate_allowance import Grant
    from voiceprint.record import Record
    from voiceprint.record_queries import Page


class OptOuts(Protocol):
    """The opt-out list, read (opt_out_list.OptOutList)."""

    def labels(self, group: str) -> frozenset[str]: ...


class GroupThresholds(Protocol):
    """Each group's calibrated matching threshold, read (calibration_store.CalibrationStore)."""

    def threshold(self, group: str) -> int | None: ...


class RecordReader(Protocol):
    """The records, read (record_queries.RecordQueries)."""

    def get(self, keys: Mapping[str, str]) -> Record | None: ...
    def find_by_job(self, job_id: str) -> Record | None: ...
    def list_object_versions(self, bucket: str, key: str) -> list[Record]: ...
    def voiceprints_in_group(self, group: str) -> list[Record]: ...
    def voiceprints_page(
        self, group: str | None, *, label: str | None, limit: int | None, start: Mapping[str, Any] | None
    ) -> Page: ...
    def pending_page(self, cutoff: float, limit: int, start: Mapping[str, Any] | None) -> Page: ...


class RecordWriter(RecordReader, Protocol):
    """The records, read and written under the state machine's conditions (job_store.JobStore)."""

    def claim(
        self, ref: ObjectRef, *, now: float, lease_seconds: int, kind: Kind = ..., group: str = ...
    ) -> Claim | None: ...
    def mark_retrying(
        self, ref: ObjectRef, claim: Claim, *, reason: str, now: float, throttled: bool, dead_letter: bool
    ) -> None: ...
    def mark_failed(
        self,
        ref: ObjectRef,
        claim: Claim,
        *,
        code: FailureCode,
        reason: str,
        now: float,
        details: Mapping[str, Any] | None = None,
    ) -> None: ...
    def record_submitted(
        self,
        ref: ObjectRef,
        claim: Claim,
        *,
        job_id: str,
        vendor_status: str,
        warning: str | None,
        now: float,
        details: Mapping[str, Any] | None = None,
    ) -> Outcome | None: ...
    def apply_outcome(
        self, keys: Mapping[str, str], job_id: str, outcome: Outcome, *, now: float, allow_early: bool = False
    ) -> ApplyResult: ...
    def record_poll_error(self, keys: Mapping[str, str], job_id: str, *, reason: str, now: float) -> int | None: ...
    def delete(self, keys: Mapping[str, str]) -> Record | None: ...


class ObjectReader(Protocol):
    """The input bucket's objects (object_source.ObjectSource)."""

    def read(self, bucket: str, key: str, version_id: str | None, start: int, end: int) -> ObjectRead: ...
    def exists(self, bucket: str, key: str, version_id: str | None = None) -> bool: ...
    def presign_get(self, bucket: str, key: str, version_id: str | None, expires_seconds: int) -> str: ...


class ResultKeeper(Protocol):
    """Identification outputs too large for a record (result_store.ResultStore)."""

    def place(self, job_id: str, outcome: Outcome) -> Outcome: ...
    def delete(self, location: str) -> None: ...
    def presigned_url(self, location: str, expires_seconds: int) -> str | None: ...


class Vendor(Protocol):
    """pyannoteAI's API (pyannote_client.PyannoteClient)."""

    def submit_voiceprint(self, url: str, *, webhook: str | None, model: str | None) -> JobCreated: ...
    def submit_identify(
        self,
        url: str,
        *,
        voiceprints: list[dict[str, str]],
        webhook: str | None,
        model: str | None,
        options: IdentifyOptions,
        status_only_webhook: bool = ...,
    ) -> JobCreated: ...
    def get_job(self, job_id: str) -> Job: ...


class Budget(Protocol):
    """The day counters and dedup markers a submission is charged against (budget_store.BudgetStore)."""

    def charge(
        self,
        record_keys: Mapping[str, str],
        claim_token: str,
        *,
        group: str,
        audio_seconds: int,
        limits: Limits,
        now: float,
        dedup_key: str | None = None,
        dedup_seconds: int = 0,
        original: Mapping[str, Any] | None = None,
    ) -> ChargeResult: ...


class RateTokens(Protocol):
    """The shared counter of a vendor endpoint's requests per window (rate_token_store.RateTokenStore)."""

    def take(self, endpoint: str, window: int, want: int, limit: int, sharers: int = ...) -> Grant: ...
    def spend(self, endpoint: str, window: int, used: int) -> None: ...


class LabelHealthKeeper(Protocol):
    """Per-label health, one item per group (label_health_store.LabelHealthStore)."""

    def observe(self, record: Record, now: float) -> None: ...
    def labels(self, group: str) -> dict[str, LabelHealth]: ...


class Secret(Protocol):
    """A secret with its previous version, for rotation (secret_source.SecretSource)."""

    def current(self) -> str: ...
    def candidates(self, *, include_previous: bool) -> Iterator[str]: ...
