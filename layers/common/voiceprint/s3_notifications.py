"""S3 event notifications as the input queue delivers them: parsed into typed values, or refused as malformed.

Two shapes arrive: S3's own notifications (the stack's bucket), and S3's events on EventBridge, which a rule
forwards from a bucket the stack does not own (ExistingBucketName). Both become the same Notification.

A message is a claim about S3, not a fact: the services check what it names against S3 itself (object_source)
before paying for or deleting anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from voiceprint.frozen import frozen

MAX_RECORDS = 100  # S3 sends one record per message; a message with hundreds is not S3's


class MalformedMessage(ValueError):
    """Not an S3 notification we can act on; retrying it will not help."""


@frozen
class Notification:
    event_name: str  # e.g. ObjectCreated:Put, ObjectRemoved:DeleteMarkerCreated
    bucket: str
    key: str
    size: int
    version_id: str | None

    @property
    def created(self) -> bool:
        return self.event_name.startswith("ObjectCreated")

    @property
    def removed(self) -> bool:
        # A lifecycle rule's expiry removes an object as a user's delete does (Delete / DeleteMarkerCreated).
        return self.event_name.startswith(("ObjectRemoved", "LifecycleExpiration"))

    @property
    def version_deleted(self) -> bool:
        """One version deleted for good (not a delete marker over the key)."""
        return self.removed and self.event_name.endswith(":Delete") and self.version_id is not None


def _located(section: Any, what: str, missing: str) -> tuple[Mapping[str, Any], str, str, int, Mapping[str, Any]]:
    """`section` (an S3 record's "s3", an EventBridge event's "detail": both lay out the bucket and object alike)
    with its bucket name, key, size and object; `what` names the message's part in a refusal."""
    if not isinstance(section, Mapping):
        raise MalformedMessage(missing)
    bucket, obj = section.get("bucket"), section.get("object")
    if not isinstance(bucket, Mapping) or not isinstance(obj, Mapping):
        raise MalformedMessage(f"{what} has no bucket or object")
    name, key = bucket.get("name"), obj.get("key")
    if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
        raise MalformedMessage(f"{what} has no bucket name or object key")
    try:
        size = int(obj.get("size") or 0)
    except (TypeError, ValueError):
        raise MalformedMessage(f"{what}'s object size is not a number") from None
    return section, name, key, size, obj


def _notification(record: Any) -> Notification:
    if not isinstance(record, Mapping):
        raise MalformedMessage("a record is not an object")
    _, name, key, size, obj = _located(record.get("s3"), "a record", "a record has no s3 section")
    version_id = obj.get("versionId")
    return Notification(
        event_name=str(record.get("eventName", "")),
        bucket=name,
        key=unquote_plus(key),  # S3 event keys are URL-encoded, spaces as '+'
        size=size,
        version_id=version_id if isinstance(version_id, str) and version_id else None,
    )


# EventBridge's deletion-type, as the notification's event name (removal_service tells a version's deletion from
# a delete marker by it).
_DELETIONS = {
    "Permanently Deleted": "ObjectRemoved:Delete",
    "Delete Marker Created": "ObjectRemoved:DeleteMarkerCreated",
}


def _from_eventbridge(event: Mapping[str, Any]) -> Notification:
    """S3's event on EventBridge (detail-type "Object Created" / "Object Deleted"). Its key is not URL-encoded."""
    detail, name, key, size, obj = _located(event.get("detail"), "an S3 event", "an S3 event without its detail")
    kind = event.get("detail-type")
    if kind == "Object Created":
        event_name = f"ObjectCreated:{str(detail.get('reason') or 'Put')[:40]}"
    elif kind == "Object Deleted":
        event_name = _DELETIONS.get(str(detail.get("deletion-type")), "ObjectRemoved:Unknown")
    else:
        event_name = f"Other:{str(kind)[:40]}"  # restores, tags, ACLs: nothing to do
    version_id = obj.get("version-id")
    return Notification(
        event_name=event_name,
        bucket=name,
        key=key,
        size=size,
        version_id=version_id if isinstance(version_id, str) and version_id and version_id != "null" else None,
    )


def parse(body: str) -> list[Notification] | None:
    """The notifications of one message; None for S3's test event (sent once when notifications are set up)."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedMessage("the message body is not JSON") from None
    if not isinstance(event, Mapping):
        raise MalformedMessage("the message body is not a JSON object")
    if event.get("Event") == "s3:TestEvent":
        return None
    if event.get("source") == "aws.s3" and "detail-type" in event:
        return [_from_eventbridge(event)]
    records = event.get("Records")
    if not isinstance(records, list) or not records or len(records) > MAX_RECORDS:
        raise MalformedMessage("the message has no S3 records")
    return [_notification(r) for r in records]
