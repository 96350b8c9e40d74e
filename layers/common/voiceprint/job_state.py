"""The job state machine: which statuses exist, which are terminal, and what a pyannoteAI job means for us."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from voiceprint.frozen import frozen
from voiceprint.redaction import redact
from voiceprint.review import QUEUED, ReviewBand, best_candidate


class Kind(StrEnum):
    """What an uploaded object is for, decided by its key prefix."""

    VOICEPRINT = "voiceprint"  # one speaker's sample -> POST /v1/voiceprint
    IDENTIFY = "identify"  # a recording -> POST /v1/identify against the stored voiceprints of its group


class Status(StrEnum):
    """Status of one uploaded object version (our record, not the vendor's job)."""

    SUBMITTING = "submitting"  # claimed by a submit invocation (lease), no API call answered yet
    RETRYING = "retrying"  # a transient error; the SQS message comes back later
    DEAD_LETTER = "dead_letter"  # out of attempts: the message is in the DLQ; redrive retries it
    SUBMITTED = "submitted"  # pyannoteAI accepted the job; waiting for the webhook (or the poller)
    SUCCEEDED = "succeeded"
    FAILED = "failed"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED})
# A claim may be taken over from these (plus an expired SUBMITTING lease).
RECLAIMABLE = frozenset({Status.RETRYING, Status.DEAD_LETTER})

# pyannoteAI job statuses (openapi.json JobStatus).
VENDOR_TERMINAL = frozenset({"succeeded", "failed", "canceled"})
VENDOR_STATUSES = frozenset({"pending", "created", "running"}) | VENDOR_TERMINAL


class FailureCode(StrEnum):
    EMPTY = "empty_object"
    TOO_LARGE = "too_large"
    TOO_LONG = "too_long"
    NOT_AUDIO = "not_audio"
    OBJECT_GONE = "object_gone"
    API_REJECTED = "api_rejected"
    JOB_FAILED = "job_failed"
    JOB_CANCELED = "job_canceled"
    NO_OUTPUT = "no_output"
    LOST = "lost"
    INVALID_LABEL = "invalid_label"
    NO_VOICEPRINTS = "no_voiceprints"
    TOO_MANY_VOICEPRINTS = "too_many_voiceprints"
    INVALID_KEY = "invalid_key"  # '.', '..' or empty path segments: no URL can name the object as it is
    HEADER_MISMATCH = "header_mismatch"  # the header's duration contradicts the object's size
    QUOTA_EXCEEDED = "quota_exceeded"  # the group's or the stack's daily budget is spent: refused unpaid
    DUPLICATE_REQUEST = "duplicate_request"  # the same identification was requested within the dedup window
    VENDOR_INVALID = "vendor_invalid"  # pyannoteAI's answers for the job were outside its spec, again and again
    NO_CONSENT = "no_consent"  # an enrolment without a usable consent reference while RequireConsent is on
    OPTED_OUT = "opted_out"  # an enrolment of a label on the opt-out list (voiceprint optout add)
    INVALID_OPTIONS = "invalid_options"  # an identification's x-amz-meta options are outside the spec
    UNKNOWN_CANDIDATES = "unknown_candidates"  # x-amz-meta-candidates names labels the group has no voiceprint of


@frozen
class Outcome:
    """What a vendor job status (plus output) means for our record."""

    vendor_status: str
    status: Status  # SUCCEEDED, FAILED, or SUBMITTED while the job is still running
    voiceprint: str | None = None
    failure_code: FailureCode | None = None
    reason: str | None = None
    warning: str | None = None
    result: str | None = None  # an identification's output (JSON text) while it is small enough to keep inline
    result_location: str | None = None  # s3://bucket/key of an identification's output kept in S3
    matches: str | None = None  # an identification's speaker -> label summary (JSON), small, always on the record
    queued_for_review: bool = False  # a speaker's best score is in the ReviewBand: the record joins the review queue

    @property
    def kind(self) -> Kind | None:
        """Which kind of job produced a success (the vendor's job answer does not say; its output's shape does)."""
        if self.voiceprint is not None:
            return Kind.VOICEPRINT
        if self.result is not None or self.result_location is not None:
            return Kind.IDENTIFY
        return None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_item(self) -> dict[str, Any]:
        """A plain dict, for keeping an early webhook on the record until its jobId is known."""
        item: dict[str, Any] = {"vendorStatus": self.vendor_status, "status": self.status.value}
        for name, value in (
            ("voiceprint", self.voiceprint),
            ("failureCode", self.failure_code.value if self.failure_code else None),
            ("reason", self.reason),
            ("warning", self.warning),
            ("result", self.result),
            ("resultLocation", self.result_location),
            ("matches", self.matches),
            ("reviewQueue", QUEUED if self.queued_for_review else None),
        ):
            if value is not None:
                item[name] = value
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Outcome:
        code = item.get("failureCode")
        return cls(
            vendor_status=str(item["vendorStatus"]),
            status=Status(item["status"]),
            voiceprint=item.get("voiceprint"),
            failure_code=FailureCode(code) if code else None,
            reason=item.get("reason"),
            warning=item.get("warning"),
            result=item.get("result"),
            result_location=item.get("resultLocation"),
            matches=item.get("matches"),
            queued_for_review=item.get("reviewQueue") == QUEUED,
        )


# The parts of an identification's output we keep (openapi.json IdentificationJobOutput).
IDENTIFICATION_FIELDS = ("diarization", "exclusiveDiarization", "identification", "voiceprints", "confidence")
# Voiceprint.voiceprint: at most 20,000 characters (openapi.json); a longer one could never be sent back to identify.
MAX_VOICEPRINT_CHARS = 20_000
# The matches summary stays on the record (DynamoDB items stop at 400 KB): this many speakers at most.
MAX_MATCHES = 200
_MAX_NAME = 100  # speaker and label names in the summary (labels are at most 100 characters)


class InvalidOutput(ValueError):
    """A job output whose shape is not the spec's (wrong types): not stored, and not to be guessed at."""


def _check_identification(output: Mapping[str, Any]) -> None:
    for name in ("identification", "diarization", "exclusiveDiarization", "voiceprints"):
        value = output.get(name)
        if value is None and name != "identification":
            continue
        if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
            raise InvalidOutput(f"output.{name} is not a list of objects")
    for entry in output.get("voiceprints") or []:
        match, confidence = entry.get("match"), entry.get("confidence")
        if not isinstance(entry.get("speaker"), str) or not (match is None or isinstance(match, str)):
            raise InvalidOutput("output.voiceprints[]: speaker and match must be strings")
        if confidence is not None and not (
            isinstance(confidence, Mapping)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in confidence.values())
        ):
            raise InvalidOutput("output.voiceprints[].confidence must map labels to numbers")


def _has_result(output: Mapping[str, Any] | None) -> bool:
    if not output:
        return False
    if isinstance(output.get("voiceprint"), str) and output["voiceprint"]:
        return True
    return isinstance(output.get("identification"), list)


def _matches(output: Mapping[str, Any], band: ReviewBand | None) -> list[dict[str, Any]]:
    """Who was recognised: per diarization speaker, the matched label (or null) and its confidence; the candidate
    with the best score and that score when it is not the match (review.best_of); and `review` when that score is
    in the review band."""
    found = []
    for entry in (output.get("voiceprints") or [])[:MAX_MATCHES]:
        match = entry.get("match") or None
        scores = entry.get("confidence") or {}
        best, best_score = best_candidate(scores)
        summary = {
            "speaker": str(entry["speaker"])[:_MAX_NAME],
            "match": match and match[:_MAX_NAME],
            "confidence": scores.get(match) if match else None,
        }
        if best is not None and best != match:  # only then: the summary must stay small (events carry it)
            summary.update(best=best[:_MAX_NAME], bestConfidence=best_score)
        if band is not None and band.holds(best_score):
            summary["review"] = True
        found.append(summary)
    return found


def needs_output_fetch(vendor_status: str, output: Mapping[str, Any] | None) -> bool:
    """A status-only webhook (no output), or a success without its voiceprint or identification: fetch the job."""
    if vendor_status == "succeeded":
        return not _has_result(output)
    return vendor_status == "failed" and output is None


def outcome_from_job(
    vendor_status: str, output: Mapping[str, Any] | None, review_band: ReviewBand | None = None
) -> Outcome:
    """Map a vendor job (status + output) onto our record's state. A status the spec does not list means the job
    is still running (the vendor may add one); an output with the wrong types raises InvalidOutput. With a review
    band, an identification with a speaker's best score in it is queued for review (voiceprint.review)."""
    if vendor_status not in VENDOR_STATUSES:
        return Outcome(redact(vendor_status, 40), Status.SUBMITTED)
    output = output or {}
    warning = redact(output["warning"]) if isinstance(output.get("warning"), str) else None
    if vendor_status == "succeeded":
        voiceprint = output.get("voiceprint")
        if voiceprint is not None and not (isinstance(voiceprint, str) and len(voiceprint) <= MAX_VOICEPRINT_CHARS):
            raise InvalidOutput("output.voiceprint is not a string of at most 20,000 characters")
        if voiceprint:
            return Outcome(vendor_status, Status.SUCCEEDED, voiceprint=voiceprint, warning=warning)
        if "identification" in output:
            _check_identification(output)
            kept = {name: output[name] for name in IDENTIFICATION_FIELDS if name in output}
            result = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)
            matches = _matches(output, review_band)
            return Outcome(
                vendor_status,
                Status.SUCCEEDED,
                result=result,
                matches=json.dumps(matches, separators=(",", ":"), ensure_ascii=False),
                warning=warning,
                queued_for_review=any(m.get("review") for m in matches),
            )
        return Outcome(
            vendor_status,
            Status.FAILED,
            failure_code=FailureCode.NO_OUTPUT,
            reason="job succeeded but its output is no longer available (outputs are kept 24 h)",
            warning=warning,
        )
    if vendor_status == "failed":
        error = output.get("error")
        reason = f"pyannoteAI job failed: {redact(str(error))}" if error else "pyannoteAI job failed (no error given)"
        return Outcome(
            vendor_status, Status.FAILED, failure_code=FailureCode.JOB_FAILED, reason=reason, warning=warning
        )
    if vendor_status == "canceled":
        return Outcome(
            vendor_status, Status.FAILED, failure_code=FailureCode.JOB_CANCELED, reason="pyannoteAI job was canceled"
        )
    return Outcome(vendor_status, Status.SUBMITTED)
