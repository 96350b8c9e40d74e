"""Identity of one uploaded object version, and the opaque reference to it carried in the webhook URL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from voiceprint.frozen import frozen

_REF = re.compile(r"^([0-9a-f]{40})\.(.{1,1100})$", re.DOTALL)


def key_hash(bucket: str, key: str) -> str:
    """Fixed-length partition key for an object key (S3 keys go up to 1,024 bytes)."""
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:40]


# The object records' key schema (template.yaml writes it above JobsTable), built here and nowhere else.
RECORD_PK_PREFIX = "OBJ#"
RECORD_SK_PREFIX = "VER#"


def partition_key(bucket: str, key: str) -> str:
    """The records of every version of one object share it."""
    return f"{RECORD_PK_PREFIX}{key_hash(bucket, key)}"


def record_keys(bucket: str, key: str, version: str) -> dict[str, str]:
    return {"pk": partition_key(bucket, key), "sk": f"{RECORD_SK_PREFIX}{version}"}


@frozen
class ObjectRef:
    bucket: str
    key: str
    size: int
    # versionId on a versioned bucket; otherwise the event's sequencer, which is the same for redeliveries of
    # one upload and different for a new upload of the same key.
    version: str
    version_id: str | None
    etag: str | None

    @classmethod
    def from_s3_record(cls, record: Mapping[str, Any]) -> ObjectRef:
        s3 = record["s3"]
        obj = s3["object"]
        version_id = obj.get("versionId") or None
        sequencer = obj.get("sequencer") or ""
        etag = obj.get("eTag") or None
        version = version_id or (f"seq:{sequencer}" if sequencer else f"etag:{etag}")
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),  # S3 event keys are URL-encoded, spaces as '+'
            size=int(obj.get("size", 0)),
            version=version,
            version_id=version_id,
            etag=etag,
        )

    @classmethod
    def identified(cls, bucket: str, key: str, *, version_id: str | None, etag: str | None, size: int) -> ObjectRef:
        """The object as S3 answered for it: its versionId (the bucket is versioned), else its ETag. Never what
        a queue message claims: a forged message cannot make an unchanged object look new."""
        return cls(
            bucket=bucket,
            key=key,
            size=size,
            version=version_id or f"etag:{etag}",
            version_id=version_id,
            etag=etag,
        )

    @property
    def record_keys(self) -> dict[str, str]:
        """The record's pk/sk (not the S3 key: that is `key`)."""
        return record_keys(self.bucket, self.key, self.version)

    @property
    def webhook_ref(self) -> str:
        """Opaque reference for the webhook URL: enough to find the record, nothing that authorises a write."""
        return f"{key_hash(self.bucket, self.key)}.{self.version}"

    @property
    def uri(self) -> str:
        """s3://bucket/key, for logs (a "label" is a speaker's name)."""
        return f"s3://{self.bucket}/{self.key}"


def keys_from_webhook_ref(ref: str) -> dict[str, str] | None:
    match = _REF.match(ref or "")
    if not match:
        return None
    return {"pk": f"{RECORD_PK_PREFIX}{match.group(1)}", "sk": f"{RECORD_SK_PREFIX}{match.group(2)}"}
