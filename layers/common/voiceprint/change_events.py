"""Events for downstream pipelines, derived from the table's change stream (an outbox: whatever writes a terminal
record, the event follows from the write itself, so a crash between the two cannot lose it).

Published on EventBridge with source "voiceprint-pipeline" and one of these detail-types:

    Voiceprint Ready         Voiceprint Failed         Voiceprint Deleted
    Identification Ready     Identification Failed     Identification Deleted
    Identification Needs Review (with its Ready: a speaker's best score is in the ReviewBand)
    Identification Reviewed (a person's decisions on it: voiceprint review)

The detail (schemaVersion 1) names the object and the job; it never carries a voiceprint (biometric data stays
in the table, behind the IAM-authorised read API). See README "Events" for the schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from voiceprint.ddb_update import from_ddb
from voiceprint.job_state import TERMINAL, Kind, Status
from voiceprint.record import Record
from voiceprint.review import QUEUED, best_of

SOURCE = "voiceprint-pipeline"
SCHEMA_VERSION = 1
# A detail larger than this loses its matches first (their count stays), then everything but the record's identity
# (the results API has the rest). Four such events fill a PutEvents request (256 KB): the publisher batches by bytes.
MAX_DETAIL_BYTES = 64 * 1024
IDENTITY = ("schemaVersion", "kind", "status", "bucket", "key", "versionId", "jobId", "group", "eventId")
# TTL deletions are made by DynamoDB itself and say so in the stream record.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"

# object_ref.RECORD_PK_PREFIX, repeated so that the events function imports one module fewer at cold start;
# tests/unit/test_change_events.py holds the two equal.
RECORD_PK_PREFIX = "OBJ#"
_NAMES = {Kind.VOICEPRINT: "Voiceprint", Kind.IDENTIFY: "Identification"}
NEEDS_REVIEW, REVIEWED = "Needs Review", "Reviewed"


def _image(record: Mapping[str, Any], name: str) -> Record | None:
    image = (record.get("dynamodb") or {}).get(name)
    return Record.from_item(from_ddb(image)) if image else None


def detail_of(record: Record) -> dict[str, Any]:
    """The event's detail: the record's identity and outcome, never its voiceprint."""
    kind = record.kind_or_default
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "kind": kind.value,
        "status": record.status.value if record.status else None,
        "bucket": record.bucket,
        "key": record.object_key,
        "versionId": record.version_id,
        "jobId": record.job_id,
        "group": record.group if record.group is not None else "",
        "completedAt": record.completed_at,
    }
    if kind is Kind.VOICEPRINT:
        detail["label"] = record.label
        if record.consent_ref:
            detail["consentRef"] = record.consent_ref
    if record.status is Status.FAILED:
        detail.update(failureCode=record.failure_code, reason=record.reason)
    if kind is Kind.IDENTIFY and record.status is Status.SUCCEEDED:
        detail["candidates"] = list(record.candidates or [])
        detail["matches"] = record.matches_list()
        detail["resultLocation"] = record.result_location
        detail["resultInline"] = record.result is not None
    return detail


def events_for(record: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(detail-type, detail) for each event a stream record is news of, each detail with its eventId: a record
    becoming terminal (once: a terminal record's outcome never changes again), with "Needs Review" when it joins the
    review queue; review decisions made on a terminal record; or a record removed (its source was deleted, it
    expired, or its person was erased)."""
    name = record.get("eventName")
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    pk, sk = str((keys.get("pk") or {}).get("S", "")), str((keys.get("sk") or {}).get("S", ""))
    if not pk.startswith(RECORD_PK_PREFIX):
        return []  # the budget's counters and markers share the table; they are nobody's news
    new, old = _image(record, "NewImage"), _image(record, "OldImage")
    found: list[tuple[str, dict[str, Any], str]] = []  # (detail-type, detail, what makes this change unique)
    if name in ("INSERT", "MODIFY") and new is not None:
        detail_type = detail_type_of(new)
        if detail_type is not None and (old is None or not old.terminal):
            found.append((detail_type, detail_of(new), ""))
            if new.review_queue == QUEUED:
                found.append((f"{_NAMES[Kind.IDENTIFY]} {NEEDS_REVIEW}", review_detail(new), ""))
        elif detail_type is not None and old is not None and _decisions(new) != _decisions(old):
            digest = hashlib.sha256(str(new.reviews).encode()).hexdigest()
            found.append((f"{_NAMES[Kind.IDENTIFY]} {REVIEWED}", review_detail(new), digest))
    elif name == "REMOVE" and old is not None:
        detail = detail_of(old)
        expired = (record.get("userIdentity") or {}).get("principalId") == TTL_PRINCIPAL
        detail["deletedBecause"] = "erased" if old.erased_at else "expired" if expired else "source_deleted"
        found.append((f"{_NAMES[old.kind_or_default]} Deleted", detail, ""))
    return [
        (detail_type, {**detail, "eventId": event_id(pk, sk, detail_type + (f"|{unique}" if unique else ""))})
        for detail_type, detail, unique in found
    ]


def _decisions(record: Record) -> dict[str, tuple[Any, Any]]:
    """Who decided what when, per speaker: an erasure's redaction of a label is not a new decision."""
    return {speaker: (d.get("decision"), d.get("at")) for speaker, d in record.reviews_map().items()}


def review_detail(record: Record) -> dict[str, Any]:
    """An identification's review state: its identity, the speakers waiting (with their best candidate and score),
    and the decisions made so far."""
    matches = record.matches_list()
    return {
        **{name: value for name, value in detail_of(record).items() if name in IDENTITY or name == "completedAt"},
        "review": record.review_queue or "done",
        "speakers": [
            {"speaker": m.get("speaker"), "best": best, "bestConfidence": score, "match": m.get("match")}
            for m in matches
            if m.get("review")
            for best, score in [best_of(m)]
        ],
        "reviews": record.reviews_map(),
    }


def event_id(pk: str, sk: str, detail_type: str) -> str:
    """The same for every delivery of one change: consumers dedupe on it (delivery is at least once)."""
    return hashlib.sha256(f"{pk}|{sk}|{detail_type}".encode()).hexdigest()[:32]


def detail_type_of(record: Record) -> str | None:
    """The Ready/Failed detail-type a terminal record is announced with."""
    if record.status not in TERMINAL:
        return None
    return f"{_NAMES[record.kind_or_default]} {'Ready' if record.status is Status.SUCCEEDED else 'Failed'}"


def stub_of(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The record's identity alone, marked `truncated`: read the rest from the results API."""
    return {**{name: detail.get(name) for name in IDENTITY if name in detail}, "truncated": True}


def _text(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, separators=(",", ":"), ensure_ascii=False)


def capped(detail: Mapping[str, Any]) -> str:
    """The detail as published: whole if small enough, else without its matches, else its stub."""
    text = _text(detail)
    if len(text.encode()) <= MAX_DETAIL_BYTES:
        return text
    if "matches" in detail:
        lighter = {**detail, "matches": [], "matchesOmitted": len(detail["matches"]), "truncated": True}
        text = _text(lighter)
        if len(text.encode()) <= MAX_DETAIL_BYTES:
            return text
    return _text(stub_of(detail))


def entry(detail_type: str, detail: Mapping[str, Any], bus_name: str) -> dict[str, Any]:
    """A PutEvents entry; `resources` carries the object's ARN so rules can match on it."""
    resources = [f"arn:aws:s3:::{detail['bucket']}/{detail['key']}"] if detail.get("bucket") else []
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": capped(detail),
        "EventBusName": bus_name,
        "Resources": resources,
    }
