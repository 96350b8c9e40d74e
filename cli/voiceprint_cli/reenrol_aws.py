"""The adapters `voiceprint reenrol` runs on: the sources in S3 (the newest version, a copy onto itself) and the
voiceprints in the table, by group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from voiceprint.aws_errors import is_not_found
from voiceprint.record_queries import RecordQueries


class S3Sources:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        # The newest version's HeadObject, kept for the copy that follows it (the same version: reenrolment copies
        # only a source whose newest version is the record's).
        self._heads: dict[tuple[str, str, str], dict[str, Any]] = {}

    def newest_version(self, bucket: str, key: str) -> str | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None  # gone, or its newest version is a delete marker
            raise
        version = str(head.get("VersionId") or "null")
        self._heads = {(bucket, key, version): head}
        return version

    def copy_forward(self, bucket: str, key: str, version_id: str | None) -> str | None:
        source = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        head = self._heads.pop((bucket, key, version_id or "null"), None) or self._s3.head_object(**source)
        # REPLACE with the same metadata and one more entry: S3 copies an object onto itself only with a change.
        copied = self._s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE",
            Metadata={**head.get("Metadata", {}), "reenrol-of": version_id or "null"},
            ContentType=head.get("ContentType", "binary/octet-stream"),
        )
        version = copied.get("VersionId")
        return str(version) if version else None


def voiceprints(ddb: Any, table: str, group: str | None) -> Iterator[Any]:
    """A group's voiceprints (with their models), or every group's: the groups from a scan of byGroup."""
    queries = RecordQueries(ddb, table)
    if group is not None:
        yield from queries.voiceprints_in_group(group)
        return
    pages = ddb.get_paginator("scan").paginate(
        TableName=table, IndexName="byGroup", ProjectionExpression="#g", ExpressionAttributeNames={"#g": "group"}
    )
    groups = {i.get("group", {}).get("S", "") for page in pages for i in page.get("Items", [])}
    for name in sorted(groups):
        yield from queries.voiceprints_in_group(name)
