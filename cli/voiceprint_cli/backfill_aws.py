"""The backfill's adapters: the bucket's listing (ListObjectVersions, or an S3 Inventory report), the table's
records (BatchGetItem of their keys only), the input queue (SendMessageBatch) and the resume state (a JSON file)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from voiceprint.object_ref import record_keys
from voiceprint_cli.backfill import Listed, Report, StoredObject

PAGE = 1000
BATCH_GET = 100  # BatchGetItem's maximum
ATTEMPTS = 8
EVENT_NAME = "ObjectCreated:Backfill"  # an ObjectCreated event to the submit function; its origin in the logs


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _stored(key: str, version: str | None, size: Any, etag: Any, modified: Any, position: str) -> StoredObject:
    return StoredObject(
        key=key,
        version_id=None if version in (None, "", "null") else version,
        size=int(size or 0),
        etag=str(etag or "").strip('"'),
        last_modified=_epoch(modified),
        position=position,
    )


class VersionsListing:
    """ListObjectVersions: the newest version of each key (a delete marker as newest: the key is gone). With
    `every_version` (the sweep), every version of a key that is not gone: each version is an object of its own to
    the pipeline, and an older version's message can expire as well as the newest's."""

    def __init__(self, s3: Any, bucket: str, *, page_size: int = PAGE, every_version: bool = False) -> None:
        self._s3, self._bucket, self._page_size, self._every = s3, bucket, page_size, every_version

    def pages(self, prefix: str, resume_after: str | None) -> Iterator[Listed]:
        params: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": self._page_size}
        if resume_after:
            params["KeyMarker"] = resume_after  # without a VersionIdMarker: the listing starts after this key
        gone: set[str] = set()  # keys whose newest entry is a delete marker (it comes first, maybe a page earlier)
        while True:
            page = self._s3.list_object_versions(**params)
            gone.update(m["Key"] for m in page.get("DeleteMarkers", []) if m.get("IsLatest"))
            chosen = [
                _stored(v["Key"], v.get("VersionId"), v.get("Size"), v.get("ETag"), v["LastModified"], v["Key"])
                for v in page.get("Versions", [])
                if v.get("IsLatest") or (self._every and v["Key"] not in gone)
            ]
            keys = [v["Key"] for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            # The rest of a key's versions may come on the next page; a backfill wants its newest only, so resuming
            # after the page's last key loses nothing (the sweep, which wants them all, keeps no resume state).
            yield Listed(chosen, max(keys) if keys else resume_after)
            if not page.get("IsTruncated"):
                return
            params["KeyMarker"], params["VersionIdMarker"] = page["NextKeyMarker"], page.get("NextVersionIdMarker")
            if not params["VersionIdMarker"]:
                del params["VersionIdMarker"]


class InventoryListing:
    """An S3 Inventory report in CSV (manifest.json and its gzipped files): for buckets too large to list. Keys in
    the report are URL-encoded; with versions included, only IsLatest rows that are not delete markers count."""

    def __init__(self, s3: Any, manifest_uri: str, *, page_size: int = PAGE) -> None:
        bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
        if not manifest_uri.startswith("s3://") or not key.endswith("manifest.json"):
            raise ValueError(f"not an S3 Inventory manifest: {manifest_uri!r} (s3://bucket/.../manifest.json)")
        self._s3, self._page_size = s3, page_size
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if manifest.get("fileFormat", "CSV") != "CSV":
            raise ValueError(f"inventory format {manifest.get('fileFormat')!r}: only CSV is read")
        self.bucket = manifest["sourceBucket"]
        self._report_bucket = manifest.get("destinationBucket", "").removeprefix("arn:aws:s3:::") or bucket
        self._columns = [c.strip() for c in manifest["fileSchema"].split(",")]
        self._files = [f["key"] for f in manifest["files"]]

    def pages(self, prefix: str, resume_after: str | None) -> Iterator[Listed]:
        start_file, start_row = (int(n) for n in (resume_after or "0:-1").split(":"))
        for index in range(start_file, len(self._files)):
            body = self._s3.get_object(Bucket=self._report_bucket, Key=self._files[index])["Body"].read()
            rows = csv.reader(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(body)), encoding="utf-8"))
            page: list[StoredObject] = []
            position = f"{index}:{start_row if index == start_file else -1}"
            for number, row in enumerate(rows):
                if index == start_file and number <= start_row:
                    continue
                position = f"{index}:{number}"
                found = dict(zip(self._columns, row, strict=False))
                key = unquote_plus(found.get("Key", ""))
                latest = found.get("IsLatest", "true").lower() == "true"
                if key.startswith(prefix) and latest and found.get("IsDeleteMarker", "false").lower() != "true":
                    page.append(
                        _stored(
                            key,
                            found.get("VersionId"),
                            found.get("Size"),
                            found.get("ETag"),
                            found.get("LastModifiedDate") or "1970-01-01T00:00:00Z",
                            position,
                        )
                    )
                if len(page) >= self._page_size:
                    yield Listed(page, position)
                    page = []
            yield Listed(page, f"{index + 1}:-1")  # this file is done: a resume starts with the next


class TableRecords:
    """Which objects have a record: BatchGetItem of the record keys, projecting the key, status and last change."""

    def __init__(self, ddb: Any, table: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ddb, self._table, self._sleep = ddb, table, sleep

    def missing(
        self, bucket: str, objects: Sequence[StoredObject], stale_before: float | None = None
    ) -> list[StoredObject]:
        keys = {self._sk(bucket, o): o for o in objects}
        found: set[tuple[str, str]] = set()
        items = list(keys)
        for start in range(0, len(items), BATCH_GET):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in items[start : start + BATCH_GET]],
                    "ProjectionExpression": "pk, sk, #s, updatedAt, leaseUntil",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            for attempt in range(ATTEMPTS):
                answer = self._ddb.batch_get_item(RequestItems=request)
                found |= {
                    (i["pk"]["S"], i["sk"]["S"])
                    for i in answer.get("Responses", {}).get(self._table, [])
                    if not _stale(i, stale_before)
                }
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError("DynamoDB left keys unprocessed after retries: run again (it resumes)")
        return [o for k, o in keys.items() if k not in found]

    @staticmethod
    def _sk(bucket: str, obj: StoredObject) -> tuple[str, str]:
        # The submit function records an object by its versionId, or by its ETag in an unversioned bucket.
        keys = record_keys(bucket, obj.key, obj.version_id or f"etag:{obj.etag}")
        return keys["pk"], keys["sk"]


def _stale(item: dict[str, Any], stale_before: float | None) -> bool:
    """A record left unfinished since `stale_before`, its message expired or lost, so the object needs a message
    again (the claim keeps it from paying twice):
    - `retrying`: its message comes back sooner than that (SQS delays at most 12 h);
    - `submitting` with its lease over by then: the invocation that claimed it died (the message then comes back
      after the lease, to adopt or resubmit, unless it expired meanwhile: found by the chaos run's expiries)."""
    status = item.get("status", {}).get("S")
    if stale_before is None or status not in ("retrying", "submitting"):
        return False
    if status == "submitting" and float(item.get("leaseUntil", {}).get("N", "0")) >= stale_before:
        return False
    return float(item.get("updatedAt", {}).get("N", "0")) < stale_before


def notification(bucket: str, obj: StoredObject, region: str, now: float) -> dict[str, Any]:
    """An S3 event notification for one object, as S3 writes them (the key URL-encoded)."""
    stored: dict[str, Any] = {"key": quote_plus(obj.key, safe="/"), "size": obj.size, "eTag": obj.etag}
    if obj.version_id:
        stored["versionId"] = obj.version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": EVENT_NAME,
                "userIdentity": {"principalId": "voiceprint-backfill"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": stored,
                },
            }
        ]
    }


class InputQueue:
    def __init__(
        self, sqs: Any, url: str, region: str, *, clock: Callable[[], float] = time.time, sleep: Any = time.sleep
    ) -> None:
        self._sqs, self._url, self._region, self._clock, self._sleep = sqs, url, region, clock, sleep

    def backlog(self) -> int:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        found = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=names)["Attributes"]
        return sum(int(found.get(n, 0)) for n in names)

    def retention_seconds(self) -> int:
        names = ["MessageRetentionPeriod"]
        return int(self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=names)["Attributes"][names[0]])

    def send(self, bucket: str, objects: Sequence[StoredObject]) -> None:
        now = self._clock()
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(notification(bucket, o, self._region, now))}
            for i, o in enumerate(objects)
        ]
        for attempt in range(ATTEMPTS):
            failed = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
            if not failed:
                return
            again = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in again]
            self._sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"SQS refused {len(entries)} messages after retries: run again (it resumes)")


class FileState:
    """The resume state: per prefix, where the listing stopped, in a JSON file written atomically."""

    def __init__(self, path: Path | None, identity: dict[str, Any]) -> None:
        self.path, self._identity = path, identity
        self._data: dict[str, Any] = {"identity": identity, "prefixes": {}}
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            if saved.get("identity") == identity:
                self._data = saved

    @property
    def resumed(self) -> bool:
        return bool(self._data["prefixes"])

    def position(self, prefix: str) -> str | None:
        position = self._data["prefixes"].get(prefix, {}).get("position")
        return str(position) if position is not None else None

    def finished(self, prefix: str) -> bool:
        return bool(self._data["prefixes"].get(prefix, {}).get("finished"))

    def save(self, prefix: str, position: str | None, *, finished: bool, report: Report) -> None:
        self._data["prefixes"][prefix] = {"position": position, "finished": finished}
        self._data["lastRun"] = {"listed": report.listed, "enqueued": report.enqueued}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(self._data, indent=1))
        os.replace(scratch, self.path)
