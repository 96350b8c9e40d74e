"""Removal notifications: a deleted object takes its records (voiceprint or identification) and its stored
result with it, once S3 confirms the deletion. A forged or stale removal changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from voiceprint.disposition import Disposition
from voiceprint.object_ref import record_keys

if TYPE_CHECKING:
    from voiceprint.ports import ObjectReader, RecordWriter, ResultKeeper
    from voiceprint.s3_notifications import Notification

logger = Logger(child=True)
metrics = Metrics()


class RemovalService:
    def __init__(self, *, store: RecordWriter, objects: ObjectReader, results: ResultKeeper) -> None:
        self._store = store
        self._objects = objects
        self._results = results

    def forget_object(self, note: Notification) -> Disposition:
        """The source is gone, so its voiceprint (biometric data) or identification goes too. A deleted version
        takes its own record; a delete marker (a plain delete on the versioned bucket) takes every record of the
        key, since the object is gone for its owner even while old versions wait for their lifecycle expiry.
        Nothing goes unless S3 confirms it: a forged or stale removal changes nothing."""
        logger.append_keys(object_key=note.key, bucket=note.bucket)
        version_delete = note.version_deleted
        if self._objects.exists(note.bucket, note.key, note.version_id if version_delete else None):
            logger.warning("removal notification for an object that still exists; nothing deleted")
            metrics.add_metric(name="RemovalsNotConfirmed", unit=MetricUnit.Count, value=1)
            return Disposition.NOT_DELETED
        if version_delete and note.version_id is not None:
            records = [record_keys(note.bucket, note.key, note.version_id)]
        else:
            records = [r.keys for r in self._store.list_object_versions(note.bucket, note.key)]
        deleted = 0
        for keys in records:
            old = self._store.delete(keys)
            if old is None:
                continue
            deleted += 1
            if old.result_location:
                self._results.delete(old.result_location)
        logger.info("records deleted with their source", extra={"deleted": deleted, "event": note.event_name})
        metrics.add_metric(name="RecordsDeleted", unit=MetricUnit.Count, value=deleted)
        return Disposition.DELETED
