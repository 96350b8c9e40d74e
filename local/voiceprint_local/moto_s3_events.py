"""S3's notifications as AWS sends them, where moto's differ (the local stack applies these with moto_patches):

- S3 notifications carry the `versionId` of the version written and a `sequencer`, as AWS's do (structure 2.1);
  moto sends neither, which made local object identity the ETag (identical re-uploads looked like one version).
- S3 notifies `ObjectRemoved:DeleteMarkerCreated` when a plain DELETE leaves a delete marker; moto sends nothing.
- S3's events on EventBridge (a bucket with EventBridge notifications on, as ExistingBucketName needs) have AWS's
  detail: `etag`, the API as `reason` (PutObject, DeleteObject, ...) and a `deletion-type` for deletions; moto
  writes `eTag`, the event's name as reason and no deletion-type.
"""

from __future__ import annotations

import copy
import functools
import itertools
import time
from types import SimpleNamespace
from typing import Any

_sequencer = itertools.count(int(time.time() * 1000) << 16)
# moto's event name -> (EventBridge's reason, its deletion-type)
_EVENTBRIDGE = {
    "s3:ObjectCreated:Put": ("PutObject", None),
    "s3:ObjectCreated:Post": ("POST Object", None),
    "s3:ObjectCreated:Copy": ("CopyObject", None),
    "s3:ObjectCreated:CompleteMultipartUpload": ("CompleteMultipartUpload", None),
    "s3:ObjectRemoved:Delete": ("DeleteObject", "Permanently Deleted"),
    "s3:ObjectRemoved:DeleteMarkerCreated": ("DeleteObject", "Delete Marker Created"),
}


def apply() -> None:
    s3_notifications_with_versions()
    s3_delete_marker_events()
    s3_eventbridge_events()


def s3_notifications_with_versions() -> None:
    from moto.s3 import notifications

    original = getattr(notifications._get_s3_event, "__wrapped__", notifications._get_s3_event)

    @functools.wraps(original)
    def event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        body: dict[str, Any] = original(event_name, bucket, key, notification_id)
        obj = body["Records"][0]["s3"]["object"]
        version_id = getattr(key, "version_id", None)
        if version_id and version_id != "null" and getattr(bucket, "is_versioned", False):
            obj["versionId"] = version_id
        obj["sequencer"] = f"{next(_sequencer):016X}"
        return body

    notifications._get_s3_event = event


def s3_delete_marker_events() -> None:
    """The notification for a delete marker names the key and the marker's own version id, as S3's does."""
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    original = getattr(S3Backend.delete_object, "__wrapped__", S3Backend.delete_object)

    @functools.wraps(original)
    def delete_object(self: Any, bucket_name: str, key_name: str, version_id: str | None = None, **kw: Any) -> Any:
        bucket = self.get_bucket(bucket_name)
        current = bucket.keys.get(key_name) if bucket.is_versioned and version_id is None else None
        versions = bucket.keys.getlist(key_name, []) if bucket.is_versioned and version_id is not None else []
        target = next((k for k in versions if str(k.version_id) == str(version_id)), None)
        deleted, meta = original(self, bucket_name, key_name, version_id, **kw)
        # S3 notifies every permanent delete of a version; moto only the delete of a key's last version.
        if target is not None and bucket.keys.getlist(key_name, []) and type(target).__name__ == "FakeKey":
            notifications.send_event(
                self.account_id, notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT, bucket, target
            )
        if current is not None and meta.get("delete-marker") == "true":
            marker = SimpleNamespace(
                name=current.name, size=0, etag=current.etag, version_id=meta.get("version-id") or None
            )
            notifications.send_event(
                self.account_id,
                notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                bucket,
                marker,
            )
        return deleted, meta

    S3Backend.delete_object = delete_object  # type: ignore[method-assign,assignment]


def s3_eventbridge_events() -> None:
    from moto.s3 import notifications

    original = getattr(notifications._send_event_bridge_message, "__wrapped__", None)
    if original is not None:
        return

    def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        if event_name not in _EVENTBRIDGE:
            return  # only what the stack's rule forwards is modelled here
        from moto.events.models import events_backends
        from moto.events.utils import _BASE_EVENT_MESSAGE

        reason, deletion = _EVENTBRIDGE[event_name]
        version_id = getattr(key, "version_id", None)
        obj: dict[str, Any] = {"key": key.name, "sequencer": f"{next(_sequencer):016X}"}
        if deletion is None:
            obj.update(size=key.size, etag=str(key.etag).strip('"'))
        if version_id and version_id != "null" and bucket.is_versioned:
            obj["version-id"] = str(version_id)
        event = copy.deepcopy(_BASE_EVENT_MESSAGE)
        event.update(
            {
                "detail-type": "Object Deleted" if deletion else "Object Created",
                "source": "aws.s3",
                "account": account_id,
                "time": time.time(),  # moto's own form: its delivery writes it as AWS does
                "region": bucket.region_name,
                "resources": [bucket.arn],
                "detail": {
                    "version": "0",
                    "bucket": {"name": bucket.name},
                    "object": obj,
                    "request-id": "LOCAL0000000000",
                    "requester": account_id,
                    "source-ip-address": "127.0.0.1",
                    "reason": reason,
                    **({"deletion-type": deletion} if deletion else {}),
                },
            }
        )
        for bus in events_backends[account_id][bucket.region_name].event_buses.values():
            for rule in list(bus.rules.values()):
                rule.send_to_targets(event, transform_input=False)

    send.__wrapped__ = notifications._send_event_bridge_message  # type: ignore[attr-defined]
    notifications._send_event_bridge_message = send
