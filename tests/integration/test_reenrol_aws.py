"""`voiceprint reenrol`'s S3 adapter on moto (cli/voiceprint_cli/reenrol_aws.py): which version is newest, and the
copy of a source onto itself that enrols it again."""

from __future__ import annotations

from typing import Any

from tests.conftest import Aws
from voiceprint_cli.reenrol_aws import S3Sources


def _count_heads(aws: Aws) -> list[str]:
    heads: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        heads.append(str(params.get("Key")))

    aws.s3.meta.events.register("provide-client-params.s3.HeadObject", seen)
    return heads


def test_the_newest_version_and_none_when_gone(aws: Aws) -> None:
    aws.put("voiceprints/a.wav", b"one")
    newest, _ = aws.put("voiceprints/a.wav", b"two")
    aws.put("voiceprints/b.wav", b"b")
    aws.s3.delete_object(Bucket=aws.bucket, Key="voiceprints/b.wav")  # its newest version is a delete marker
    sources = S3Sources(aws.s3)
    assert sources.newest_version(aws.bucket, "voiceprints/a.wav") == newest
    assert sources.newest_version(aws.bucket, "voiceprints/b.wav") is None
    assert sources.newest_version(aws.bucket, "voiceprints/never.wav") is None


def test_the_copy_keeps_audio_and_metadata_marks_its_origin_and_heads_the_source_once(aws: Aws) -> None:
    meta = {"label": "alice", "consent-ref": "c-1"}
    first = aws.s3.put_object(
        Bucket=aws.bucket, Key="voiceprints/a.wav", Body=b"audio", Metadata=meta, ContentType="audio/wav"
    )["VersionId"]
    heads = _count_heads(aws)
    sources = S3Sources(aws.s3)
    assert sources.newest_version(aws.bucket, "voiceprints/a.wav") == first
    copied = sources.copy_forward(aws.bucket, "voiceprints/a.wav", first)
    assert copied not in (None, first)
    assert heads == ["voiceprints/a.wav"]  # the copy reuses the newest version's head
    got = aws.s3.get_object(Bucket=aws.bucket, Key="voiceprints/a.wav")
    assert (got["VersionId"], got["Body"].read(), got["ContentType"]) == (copied, b"audio", "audio/wav")
    assert got["Metadata"] == {**meta, "reenrol-of": first}


def test_a_copy_of_another_version_than_the_one_headed_reads_its_own(aws: Aws) -> None:
    old = aws.s3.put_object(Bucket=aws.bucket, Key="voiceprints/a.wav", Body=b"old", Metadata={"label": "old"})
    aws.s3.put_object(Bucket=aws.bucket, Key="voiceprints/a.wav", Body=b"new", Metadata={"label": "new"})
    sources = S3Sources(aws.s3)
    sources.newest_version(aws.bucket, "voiceprints/a.wav")
    sources.copy_forward(aws.bucket, "voiceprints/a.wav", old["VersionId"])
    got = aws.s3.get_object(Bucket=aws.bucket, Key="voiceprints/a.wav")
    assert (got["Body"].read(), got["Metadata"]) == (b"old", {"label": "old", "reenrol-of": old["VersionId"]})
