"""`voiceprint enrol` and `voiceprint identify`: upload a file where the stack picks it up, as a user would with
any S3 client, so the pipeline (not the CLI) decides what happens to it."""

from __future__ import annotations

from pathlib import Path

from voiceprint_cli.deployed import Deployed

DEFAULT_PREFIXES = {"VoiceprintPrefix": "voiceprints/", "IdentifyPrefix": "identify/"}


def key_for(prefix: str, group: str | None, file: Path, label: str | None = None) -> str:
    """Where the file goes: the prefix, the group's folder, the file's name. A label S3 metadata cannot carry
    (metadata is ASCII) names the object instead, keeping the file's extension."""
    folder = f"{group.strip('/')}/" if group and group.strip("/") else ""
    name = file.name if label is None or label.isascii() else f"{label}{file.suffix}"
    return f"{prefix}{folder}{name}"


def upload(
    stack: Deployed,
    kind: str,
    file: Path,
    *,
    group: str | None,
    label: str | None = None,
    consent: str | None = None,
) -> tuple[str, str | None]:
    """Upload `file` as a voiceprint sample (kind "VoiceprintPrefix") or a recording to identify
    ("IdentifyPrefix"); returns its key and version id. An ASCII label travels as x-amz-meta-label, the speaker's
    consent reference as x-amz-meta-consent."""
    prefix = stack.parameters.get(kind) or DEFAULT_PREFIXES[kind]
    key = key_for(prefix, group, file, label)
    metadata = {"label": label} if label is not None and label.isascii() else {}
    if consent is not None:
        metadata["consent"] = consent
    extra = {"Metadata": metadata} if metadata else {}
    bucket = stack.outputs["InputBucketName"]
    put = stack.client("s3").put_object(Bucket=bucket, Key=key, Body=file.read_bytes(), **extra)
    return key, put.get("VersionId")
