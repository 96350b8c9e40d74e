"""S3 for `voiceprint review`: an identification's output where the record points to it, and a recording's audio
read by byte range (the header, then only the segments asked for)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from voiceprint_cli.wav_clips import HEADER_BYTES

_GONE = ("NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "InvalidRange", "416")


class SourceGone(Exception):
    """The recording (or its output) is no longer in its bucket: deleted, expired or erased."""


def _get(s3: Any, **params: Any) -> bytes:
    try:
        return bytes(s3.get_object(**params)["Body"].read())
    except ClientError as exc:  # the one place this adapter maps S3's errors
        if exc.response.get("Error", {}).get("Code") in _GONE:
            raise SourceGone(f"s3://{params['Bucket']}/{params['Key']}") from exc
        raise


class ReviewSources:
    def __init__(self, s3: Any, results_bucket: str) -> None:
        self._s3, self._results_bucket = s3, results_bucket

    def output(self, location: str) -> dict[str, Any]:
        """An identification's output placed in the results bucket (result_store.ResultStore.place)."""
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if bucket != self._results_bucket or not key.startswith("identifications/"):
            raise SourceGone(f"{location} is not this stack's results bucket")
        return dict(json.loads(_get(self._s3, Bucket=bucket, Key=key)))

    def read(self, bucket: str, key: str, version_id: str | None, first: int, last: int) -> bytes:
        """Bytes `first`..`last` (inclusive) of one version of a recording."""
        version = {"VersionId": version_id} if version_id else {}
        return _get(self._s3, Bucket=bucket, Key=key, Range=f"bytes={first}-{last}", **version)

    def header(self, bucket: str, key: str, version_id: str | None) -> bytes:
        return self.read(bucket, key, version_id, 0, HEADER_BYTES - 1)
