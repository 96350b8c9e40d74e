"""Where an identification's output lives: on the record while it is small, else in the results bucket (same
retention, by lifecycle rule) with the record pointing at it. Voiceprints always stay on the record (at most
20,000 characters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from voiceprint import frozen
from voiceprint.job_state import Outcome

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ResultStore:
    def __init__(self, s3: Callable[[], S3Client], bucket: str, *, inline_max_bytes: int) -> None:
        self._s3 = s3  # a factory: most invocations never write a result to S3, and a client costs cold start
        self._bucket = bucket
        self._inline_max = inline_max_bytes

    def place(self, job_id: str, outcome: Outcome) -> Outcome:
        """The outcome as it will be recorded: a large result replaced by its S3 location. Rewriting the same key
        on a repeated webhook is harmless (same job, same output)."""
        if outcome.result is None or len(outcome.result.encode()) <= self._inline_max or not self._bucket:
            return outcome
        key = f"identifications/{quote(job_id, safe='')}.json"
        self._s3().put_object(
            Bucket=self._bucket,
            Key=key,
            Body=outcome.result.encode(),
            ContentType="application/json",
            # No ServerSideEncryption here: the bucket's default applies (AES256, or the stack's KMS key).
        )
        return frozen.replace(outcome, result=None, result_location=f"s3://{self._bucket}/{key}")

    def delete(self, location: str) -> None:
        """Remove a result placed by `place` (its record is being deleted with its source)."""
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if bucket == self._bucket and key.startswith("identifications/"):
            self._s3().delete_object(Bucket=bucket, Key=key)

    def presigned_url(self, location: str, expires_seconds: int) -> str | None:
        """A short-lived GET URL for a result placed by `place`; None for a location outside this store."""
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if bucket != self._bucket or not key.startswith("identifications/"):
            return None
        return self._s3().generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
        )
