"""The object record, typed: the table's item for one object version, as every reader sees it.

The attribute names are written here once (`ATTRIBUTES`), with the public view the results API and the events
give of them; template.yaml describes the same layout above JobsTable, and job_store writes it. A record read
through an index carries only that index's projection: every attribute but the keys may be absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from voiceprint.frozen import field, frozen
from voiceprint.job_state import TERMINAL, Kind, Outcome, Status

EARLY_BOUND = "boundRef"  # marks an early result that arrived through a ref bound to this record

# (field of Record, attribute of the item, name in the public view or None when the view leaves it out).
# Bookkeeping (claims, leases, index keys, early results) never leaves the table.
ATTRIBUTES: tuple[tuple[str, str, str | None], ...] = (
    ("bucket", "bucket", "bucket"),
    ("object_key", "objectKey", "key"),
    ("version_id", "versionId", "versionId"),
    ("kind", "kind", "kind"),
    ("status", "status", "status"),
    ("label", "label", "label"),
    ("consent_ref", "consentRef", "consentRef"),
    ("model", "model", "model"),
    ("group", "group", "group"),
    ("job_id", "jobId", "jobId"),
    ("vendor_status", "vendorStatus", "vendorStatus"),
    ("failure_code", "failureCode", "failureCode"),
    ("reason", "reason", "reason"),
    ("last_error", "lastError", "lastError"),
    ("warning", "warning", "warning"),
    ("attempts", "attempts", "attempts"),
    ("candidates", "candidates", "candidates"),
    ("threshold", "threshold", "threshold"),  # an identification's matching threshold (identify_options)
    ("created_at", "createdAt", "createdAt"),
    ("submitted_at", "submittedAt", "submittedAt"),
    ("completed_at", "completedAt", "completedAt"),
    ("expires_at", "expiresAt", "expiresAt"),
    ("version", "version", None),
    ("etag", "etag", None),
    ("size", "size", None),
    ("voiceprint", "voiceprint", None),  # only when asked for: biometric data
    ("result", "result", None),  # JSON text: the view parses it
    ("result_location", "resultLocation", None),  # the view gives a presigned URL instead
    ("matches", "matches", None),  # JSON text: the view parses it
    ("failures", "failures", None),
    ("throttles", "throttles", None),
    ("poll_errors", "pollErrors", None),
    ("updated_at", "updatedAt", None),
    ("pending_since", "pendingSince", None),
    ("claim_token", "claimToken", None),
    ("lease_until", "leaseUntil", None),
    ("budget_day", "budgetDay", None),
    ("erased_at", "erasedAt", None),  # set just before an erasure deletes the record (voiceprint erase)
    ("review_queue", "reviewQueue", "review"),  # "pending" while a speaker waits for a decision (review.py)
    ("reviews", "reviews", None),  # JSON text, speaker -> decision: the view parses it
)
_INTS = frozenset(
    {
        "size",
        "attempts",
        "failures",
        "throttles",
        "poll_errors",
        "created_at",
        "submitted_at",
        "completed_at",
        "expires_at",
        "updated_at",
        "pending_since",
        "lease_until",
        "erased_at",
        "threshold",
    }
)


@frozen
class Record:
    """One object version's record. Counters read 0 and the rest None when the item (or the index) lacks them."""

    pk: str
    sk: str
    status: Status | None = None
    kind: Kind | None = None  # None on records from before kinds existed (voiceprints) and on index projections
    bucket: str | None = None
    object_key: str | None = None  # the S3 key (the record's own keys are pk/sk)
    version: str | None = None
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    group: str | None = None
    label: str | None = None  # a voiceprint's speaker
    consent_ref: str | None = None  # the speaker's consent (x-amz-meta-consent), when given
    model: str | None = None  # the pyannoteAI model asked for (None: from before it was recorded; model_lineage)
    job_id: str | None = None
    vendor_status: str | None = None
    voiceprint: str | None = field(default=None, repr=False)
    result: str | None = field(default=None, repr=False)
    result_location: str | None = None
    matches: str | None = field(default=None, repr=False)
    candidates: tuple[str, ...] | None = None  # an identification's compared labels
    threshold: int | None = None  # the matching threshold it was submitted with (the group's, or the stack's)
    failure_code: str | None = None
    reason: str | None = None
    last_error: str | None = None
    warning: str | None = None
    attempts: int | None = None
    failures: int | None = None
    throttles: int | None = None
    poll_errors: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    submitted_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    pending_since: int | None = None
    claim_token: str | None = field(default=None, repr=False)
    lease_until: int | None = None
    budget_day: str | None = None  # the budget was charged for this version (budget_store): never twice
    erased_at: int | None = None  # an erasure by person is deleting this record
    review_queue: str | None = None  # review.QUEUED while waiting for a decision: the byReview index holds it
    reviews: str | None = field(default=None, repr=False)  # JSON text: speaker -> review.SpeakerDecision.to_item()
    # Results that came before the jobId was recorded, by jobId; `early_bound` names those whose webhook came
    # through a URL bound to this record (webhook_ref), the only ones that may be adopted.
    early: Mapping[str, Outcome] = field(default_factory=dict, repr=False)
    early_bound: frozenset[str] = frozenset()

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Record:
        """From a deserialised item (DynamoDB numbers are Decimals: integers here, all of them)."""
        values: dict[str, Any] = {}
        for name, attribute, _ in ATTRIBUTES:
            value = item.get(attribute)
            if value is None:
                continue
            values[name] = int(value) if name in _INTS else value
        if "status" in values:
            values["status"] = Status(values["status"])
        if "kind" in values:
            values["kind"] = Kind(values["kind"])
        if "candidates" in values:
            values["candidates"] = tuple(str(c) for c in values["candidates"])
        early = item.get("early") or {}
        if early:
            values["early"] = {job: Outcome.from_item(o) for job, o in early.items() if isinstance(o, Mapping)}
            values["early_bound"] = frozenset(
                job for job, o in early.items() if isinstance(o, Mapping) and o.get(EARLY_BOUND) is True
            )
        return cls(pk=str(item["pk"]), sk=str(item["sk"]), **values)

    @property
    def keys(self) -> dict[str, str]:
        """The record's table keys (not the S3 key: that is `object_key`)."""
        return {"pk": self.pk, "sk": self.sk}

    @property
    def kind_or_default(self) -> Kind:
        return self.kind or Kind.VOICEPRINT  # records from before kinds existed are voiceprints

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def has_result(self) -> bool:
        return bool(self.result or self.result_location)

    def bound_early(self) -> dict[str, Outcome]:
        """The early results that may be adopted (they came through this record's bound webhook URL)."""
        return {job: outcome for job, outcome in self.early.items() if job in self.early_bound}

    def public(self) -> dict[str, Any]:
        """The record's public fields under their public names (no voiceprint, result or bookkeeping)."""
        out: dict[str, Any] = {}
        for name, _, public in ATTRIBUTES:
            value = getattr(self, name)
            if public is None or value is None:
                continue
            out[public] = list(value) if name == "candidates" else value
        return out

    def matches_list(self) -> list[Any]:
        """An identification's speaker -> label summary, parsed (empty when there is none)."""
        return json.loads(self.matches) if self.matches else []

    def reviews_map(self) -> dict[str, Any]:
        """The review decisions made so far, by speaker (empty when none)."""
        return dict(json.loads(self.reviews)) if self.reviews else {}
