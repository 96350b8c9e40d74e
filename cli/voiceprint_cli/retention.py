"""`voiceprint retention`: give the voiceprints made before an update the stack's VoiceprintRetentionDays.

A record's TTL is written when it is settled, so voiceprints made before VoiceprintRetentionDays existed (or before
it changed) keep the TTL they were given: RetentionDays after they were made. This command rewrites it for every
voiceprint: none with 0 (kept as long as its source object), else its completion plus the days. Idempotent: a
record already right is left as it is (a conditional write that fails).

With `--check-sources`, it also looks for voiceprints whose source is gone (a removal notification lost or
expired from the queue, which would leave a voiceprint kept "as long as its source" for ever): the version deleted,
or the key deleted (a delete marker), as the submit function's removal judges it. Their records are deleted as that
removal would have deleted them (`Voiceprint Deleted`, `deletedBecause: source_deleted`). One HeadObject or two per
voiceprint, with your credentials (`s3:GetObjectVersion`, and `s3:ListBucket` so that S3 answers 404, not 403)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from voiceprint.frozen import frozen

BATCH_PAGE = 500


@frozen
class Kept:
    """A voiceprint record: its keys and when it was made (epoch seconds)."""

    pk: str
    sk: str
    completed_at: int
    bucket: str = ""
    key: str = ""
    version_id: str | None = None


class VoiceprintRecords(Protocol):
    def pages(self) -> Iterator[Sequence[Kept]]: ...

    def set_expiry(self, record: Kept, expires_at: int | None) -> bool:
        """Give the record this TTL (None: none); False when it already had it."""
        ...

    def delete(self, record: Kept) -> bool:
        """Delete the record; False when it was gone already."""
        ...


class Sources(Protocol):
    def gone(self, bucket: str, key: str, version_id: str | None) -> bool:
        """Whether the source is gone for its owner: the version deleted, or the key behind a delete marker."""
        ...


@dataclass
class Report:
    voiceprints: int = 0
    changed: int = 0
    days: int = 0
    dry_run: bool = False
    sources_checked: bool = False
    orphans: int = 0  # voiceprints whose source is gone (in a dry run: found, else deleted)

    def line(self) -> str:
        kept = "as long as their source objects" if not self.days else f"{self.days} days after they were made"
        orphans = ""
        if self.sources_checked:
            done = "found" if self.dry_run else "deleted"
            orphans = f"; {self.orphans} whose source is gone {done}"
        if self.dry_run:
            return f"{self.voiceprints} voiceprints to keep {kept}{orphans} (dry run: nothing changed)"
        return f"{self.voiceprints} voiceprints kept {kept}: {self.changed} given that TTL, the rest had it{orphans}"


def apply(records: VoiceprintRecords, days: int, *, dry_run: bool = False, sources: Sources | None = None) -> Report:
    report = Report(days=days, dry_run=dry_run, sources_checked=sources is not None)
    for page in records.pages():
        for record in page:
            report.voiceprints += 1
            if sources is not None and sources.gone(record.bucket, record.key, record.version_id):
                report.orphans += 1
                if not dry_run:
                    records.delete(record)
                continue
            expires_at = record.completed_at + days * 86400 if days else None
            if not dry_run and records.set_expiry(record, expires_at):
                report.changed += 1
    return report


class TableVoiceprints:
    """The voiceprints of the jobs table, from its byGroup index (only succeeded voiceprints are in it)."""

    def __init__(self, ddb: Any, table: str, *, sleep: Any = time.sleep) -> None:
        self._ddb, self._table, self._sleep = ddb, table, sleep

    def pages(self) -> Iterator[Sequence[Kept]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byGroup",
            "ProjectionExpression": "pk, sk, completedAt, #b, objectKey, versionId",
            "ExpressionAttributeNames": {"#b": "bucket"},  # a reserved word
            "Limit": BATCH_PAGE,
        }
        for page in self._ddb.get_paginator("scan").paginate(**params):
            yield [
                Kept(
                    i["pk"]["S"],
                    i["sk"]["S"],
                    int(i.get("completedAt", {}).get("N", "0")),
                    i.get("bucket", {}).get("S", ""),
                    i.get("objectKey", {}).get("S", ""),
                    i.get("versionId", {}).get("S"),
                )
                for i in page.get("Items", [])
            ]

    def set_expiry(self, record: Kept, expires_at: int | None) -> bool:
        key = {"pk": {"S": record.pk}, "sk": {"S": record.sk}}
        exists = "attribute_exists(pk)"  # a record deleted meanwhile is not written back
        if expires_at is None:
            update: dict[str, Any] = {
                "UpdateExpression": "REMOVE expiresAt",
                "ConditionExpression": f"{exists} AND attribute_exists(expiresAt)",
            }
        else:
            update = {
                "UpdateExpression": "SET expiresAt = :e",
                "ConditionExpression": f"{exists} AND (attribute_not_exists(expiresAt) OR expiresAt <> :e)",
                "ExpressionAttributeValues": {":e": {"N": str(expires_at)}},
            }
        try:
            self._ddb.update_item(TableName=self._table, Key=key, **update)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete(self, record: Kept) -> bool:
        key = {"pk": {"S": record.pk}, "sk": {"S": record.sk}}
        try:
            self._ddb.delete_item(TableName=self._table, Key=key, ConditionExpression="attribute_exists(pk)")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True


class BucketSources:
    """The sources as the submit function's removal judges them (voiceprint.object_source.ObjectSource.exists)."""

    def __init__(self, s3: Any) -> None:
        from voiceprint.object_source import ObjectSource

        self._objects = ObjectSource(s3)

    def gone(self, bucket: str, key: str, version_id: str | None) -> bool:
        if version_id and not self._objects.exists(bucket, key, version_id):
            return True
        return not self._objects.exists(bucket, key)
