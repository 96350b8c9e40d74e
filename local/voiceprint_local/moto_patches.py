"""Where moto behaves in ways AWS never would, the local stack makes it behave as AWS does. Each patch is
idempotent (every stack start applies them all) and keeps moto's original behind `__wrapped__`.

- DynamoDB: an UpdateItem on a new item first stores its keys, then applies the update; a reader in another thread
  could see that keys-only item, which DynamoDB never shows. One lock makes every write and read atomic.
- S3 notifications carry the `versionId` of the version written and a `sequencer`, as AWS's do (structure 2.1);
  moto sends neither, which made local object identity the ETag (identical re-uploads looked like one version).
- S3 notifies `ObjectRemoved:DeleteMarkerCreated` when a plain DELETE leaves a delete marker; moto sends nothing.
- SQS reads its clock through datetimes on every message check: same values from time.time(), much faster.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from types import SimpleNamespace
from typing import Any

# One lock for all of moto's DynamoDB: moto serves each request on its own thread.
DYNAMODB_LOCK = threading.RLock()
_DYNAMODB_CALLS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)
_sequencer = itertools.count(int(time.time() * 1000) << 16)


def apply() -> None:
    atomic_dynamodb()
    s3_notifications_with_versions()
    s3_delete_marker_events()
    speed_up_sqs_clock()


def atomic_dynamodb() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_CALLS:
        method = getattr(DynamoDBBackend, name, None)
        if method is None:
            continue
        original = getattr(method, "__wrapped__", method)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with DYNAMODB_LOCK:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


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


def speed_up_sqs_clock() -> None:
    """moto's SQS model checks every message of a queue on each call (visibility, delay, attribute counts), and
    each check builds datetimes to read the clock: a 10,000-message queue made every call take tens of
    milliseconds and the stack crawl (0.5 messages/s). Same values from time.time(), about 25 times faster."""
    import moto.sqs.models as sqs_models

    namespace = vars(sqs_models)  # the module's globals, which its functions read at call time
    original = getattr(namespace["unix_time"], "__wrapped__", namespace["unix_time"])

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(original(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    unix_time.__wrapped__ = original  # type: ignore[attr-defined]
    namespace["unix_time"] = unix_time
    namespace["unix_time_millis"] = unix_time_millis
