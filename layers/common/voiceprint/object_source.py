"""The input bucket, as the services see it: what S3 says an object version is, its bytes by range, a presigned
GET for pyannoteAI, and whether a version or key still exists. The only module of the submit path that calls S3.

What S3 answers is the truth about an object, never what a queue message claims: the version a GET actually read
(its VersionId, ETag and total size) is the object's identity, and a deletion is confirmed before records go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from voiceprint.aws_errors import error_code, is_not_found
from voiceprint.frozen import field, frozen

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FIRST_BLOCK_BYTES = 64 * 1024


class ObjectGone(Exception):
    """The object (or the version asked for) no longer exists."""


@frozen
class ObjectRead:
    """One ranged GET's answer: the bytes, and the version S3 served them from."""

    data: bytes
    version_id: str | None  # None on an unversioned bucket
    etag: str | None
    size: int  # the whole object's size, from Content-Range
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*, lower-case names


def _total_size(resp: Any) -> int:
    content_range = str(resp.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(resp.get("ContentLength") or 0)


class ObjectSource:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    @staticmethod
    def _params(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        return params

    def read(self, bucket: str, key: str, version_id: str | None, start: int, end: int) -> ObjectRead:
        """Bytes start..end (inclusive) of the version (the current one when `version_id` is None)."""
        try:
            resp = self._s3.get_object(**self._params(bucket, key, version_id), Range=f"bytes={start}-{end}")
        except ClientError as exc:
            if is_not_found(exc):
                raise ObjectGone(key) from None
            if error_code(exc) == "InvalidRange":  # an empty object has no byte 0: ask for its head instead
                return self._empty(bucket, key, version_id)
            raise
        return ObjectRead(
            data=resp["Body"].read(),
            version_id=resp.get("VersionId") or None,
            etag=(resp.get("ETag") or "").strip('"') or None,
            size=_total_size(resp),
            metadata={k.lower(): v for k, v in (resp.get("Metadata") or {}).items()},
        )

    def _empty(self, bucket: str, key: str, version_id: str | None) -> ObjectRead:
        try:
            head = self._s3.head_object(**self._params(bucket, key, version_id))
        except ClientError as exc:
            if is_not_found(exc):
                raise ObjectGone(key) from None
            raise
        return ObjectRead(
            data=b"",
            version_id=head.get("VersionId") or None,
            etag=(head.get("ETag") or "").strip('"') or None,
            size=int(head.get("ContentLength") or 0),
            metadata={k.lower(): v for k, v in (head.get("Metadata") or {}).items()},
        )

    def exists(self, bucket: str, key: str, version_id: str | None = None) -> bool:
        """Whether the version (or, without one, the key's current version) is still there. A delete marker is
        not an object: S3 answers 404 for the key, 405 for the marker's own version id."""
        try:
            self._s3.head_object(**self._params(bucket, key, version_id))
        except ClientError as exc:
            if is_not_found(exc) or error_code(exc) in ("405", "MethodNotAllowed"):
                return False
            raise
        return True

    def presign_get(self, bucket: str, key: str, version_id: str | None, expires_seconds: int) -> str:
        # SigV4 comes from the client's config (signature_version="s3v4"), set where the client is created.
        return self._s3.generate_presigned_url(
            "get_object", Params=self._params(bucket, key, version_id), ExpiresIn=expires_seconds
        )
