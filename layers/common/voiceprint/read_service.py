"""The results API's answers: a record by jobId, every version of an object, a group's voiceprints (optionally
one label), shaped into a public view that leaves the bookkeeping (claims, leases, early results) out; and a
group's per-label health (label_health)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voiceprint.vendor_limits import MAX_JOB_ID_LENGTH

if TYPE_CHECKING:
    from voiceprint.ports import LabelHealthKeeper, RecordReader, ResultKeeper
    from voiceprint.record import Record

RESULT_URL_SECONDS = 300
MAX_PAGE = 100
MAX_KEY_BYTES = 1024  # S3's limit
MAX_BUCKET_CHARS = 63
# A cursor is a LastEvaluatedKey we issued: these attributes only, each a string or number DynamoDB accepts as a key.
CURSOR_ATTRIBUTES = frozenset({"pk", "sk", "voiceprintGroup", "label"})
MAX_CURSOR_VALUE_BYTES = 1024
MAX_HEALTH_PAGES = 100  # a group's voiceprints read for its health: 100 pages of 1 MB of keys and labels


class BadRequest(ValueError):
    pass


class NotFound(LookupError):
    pass


class ReadService:
    def __init__(
        self,
        records: RecordReader,
        results: ResultKeeper,
        *,
        default_bucket: str,
        health: LabelHealthKeeper | None = None,
    ) -> None:
        self._records = records  # reads only: this service never writes
        self._results = results  # only identifications kept in S3 need it (a presigned URL to the output)
        self._bucket = default_bucket
        self._health = health

    def health(self, group: str) -> dict[str, Any]:
        """Each label with a voiceprint in the group: how many it has and when the newest was made, and when
        identifications last compared against it and recognised it, with its best confidence."""
        if self._health is None:
            raise NotFound("no health here")
        enrolled: dict[str, list[int]] = {}
        start: Mapping[str, Any] | None = None
        for _ in range(MAX_HEALTH_PAGES):
            page, start = self._records.voiceprints_page(group, label=None, limit=None, start=start)
            for record in page:
                enrolled.setdefault(record.label or "", []).append(record.completed_at or 0)
            if not start:
                break
        seen = self._health.labels(group)
        labels = []
        for label in sorted(enrolled):
            entry = seen.get(label)
            figures = entry.public() if entry else {"lastUsed": None, "lastMatched": None, "bestScore": None}
            labels.append(
                {
                    "label": label,
                    "voiceprints": len(enrolled[label]),
                    "enrolledAt": max(enrolled[label]) or None,
                    **{k: v for k, v in figures.items() if k != "label"},
                    "neverMatched": not (entry and entry.last_matched),
                }
            )
        return {"group": group, "labels": labels}

    def view(self, record: Record, *, with_voiceprint: bool = False, with_result: bool = True) -> dict[str, Any]:
        out = record.public()
        if with_voiceprint and record.voiceprint:
            out["voiceprint"] = record.voiceprint
        if record.matches:
            out["matches"] = record.matches_list()
        if record.reviews:
            out["reviews"] = record.reviews_map()
        if not with_result:
            out["hasResult"] = record.has_result
            return out
        if record.result:
            out["result"] = json.loads(record.result)
        url = (
            self._results.presigned_url(record.result_location, RESULT_URL_SECONDS) if record.result_location else None
        )
        if url:
            out["resultUrl"] = url
        return out

    def job(self, job_id: str, *, with_voiceprint: bool = False) -> dict[str, Any]:
        if len(job_id) > MAX_JOB_ID_LENGTH:
            raise BadRequest("not a jobId")
        found = self._records.find_by_job(job_id) if job_id else None
        record = self._records.get(found.keys) if found else None  # the index holds the keys only
        if record is None:
            raise NotFound(f"no job {job_id}")
        return self.view(record, with_voiceprint=with_voiceprint)

    def object_versions(
        self, key: str, bucket: str | None = None, *, with_voiceprint: bool = False, with_result: bool = False
    ) -> list[dict[str, Any]]:
        """Every record of an object key, newest first; identification outputs only when asked (a list view)."""
        if not key:
            raise BadRequest("the query parameter 'key' is required")
        if len(key.encode()) > MAX_KEY_BYTES or len((bucket or "").encode()) > MAX_BUCKET_CHARS:
            raise BadRequest("not an S3 object key")
        records = self._records.list_object_versions(bucket or self._bucket, key)
        if not records:
            raise NotFound("no record for this object")
        records.sort(key=lambda r: r.created_at or 0, reverse=True)
        return [self.view(r, with_voiceprint=with_voiceprint, with_result=with_result) for r in records]

    def voiceprints(
        self, *, group: str | None, label: str | None, limit: int, cursor: str | None, with_voiceprint: bool
    ) -> dict[str, Any]:
        """A group's voiceprints (`group` "" is the top level), or with `group` None one label's in every group."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be within 1..{MAX_PAGE}")
        if group is None and label is None:
            raise BadRequest("give a group, a label, or both")
        if group is None and with_voiceprint:
            # The label index does not carry the voiceprint: fetch one record per item rather than project 20 KB.
            raise BadRequest("voiceprint=true needs a group")
        start = _decode_cursor(cursor) if cursor else None
        records, last = self._records.voiceprints_page(group, label=label, limit=limit, start=start)
        page = [self.view(r, with_voiceprint=with_voiceprint) for r in records]
        return {"items": page, "next": _encode_cursor(last) if last else None}


def _encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _cursor_value_ok(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    [(kind, text)] = value.items()
    return kind in ("S", "N") and isinstance(text, str) and 0 < len(text.encode()) <= MAX_CURSOR_VALUE_BYTES


def _decode_cursor(cursor: str) -> dict[str, Any]:
    """The `next` of an earlier page, checked: anything else would reach DynamoDB as ExclusiveStartKey and come
    back as a 500."""
    if len(cursor) > 4 * MAX_CURSOR_VALUE_BYTES:
        raise BadRequest("malformed cursor")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("malformed cursor") from None
    if (
        not isinstance(value, dict)
        or not value
        or not set(value) <= CURSOR_ATTRIBUTES
        or not all(_cursor_value_ok(v) for v in value.values())
    ):
        raise BadRequest("malformed cursor")
    return value
