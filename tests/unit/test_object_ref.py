from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import pytest

from voiceprint.object_ref import ObjectRef, keys_from_webhook_ref, record_keys


def _record(key: str, **obj: Any) -> dict[str, Any]:
    return {"s3": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key, safe="/"), "size": 10, **obj}}}


@pytest.mark.parametrize(
    "key",
    ["plain.wav", "with space.wav", "a+b=c&d.wav", "ünïcödé/日本語.mp3", "folder/sub folder/x (1).wav", "%41.wav"],
)
def test_keys_are_decoded_like_s3_encodes_them(key: str) -> None:
    assert ObjectRef.from_s3_record(_record(key, versionId="v1")).key == key


def test_version_identity_prefers_version_id_then_sequencer() -> None:
    assert ObjectRef.from_s3_record(_record("k", versionId="v1", sequencer="s")).version == "v1"
    assert ObjectRef.from_s3_record(_record("k", sequencer="0055AED6")).version == "seq:0055AED6"
    assert ObjectRef.from_s3_record(_record("k", eTag="e")).version == "etag:e"


def test_token_round_trips_to_the_record_keys() -> None:
    ref = ObjectRef.from_s3_record(_record("dir/ü x.wav", versionId="3/L4kq+tJ.lc_p"))
    assert (
        keys_from_webhook_ref(ref.webhook_ref) == record_keys("b", "dir/ü x.wav", "3/L4kq+tJ.lc_p") == ref.record_keys
    )


@pytest.mark.parametrize("token", ["", "abc", "z" * 40 + ".v", "0" * 39 + ".v", "0" * 40 + "."])
def test_malformed_tokens_resolve_to_nothing(token: str) -> None:
    assert keys_from_webhook_ref(token) is None


def test_different_keys_and_buckets_never_share_a_record() -> None:
    assert record_keys("b", "k1", "v") != record_keys("b", "k2", "v")
    assert record_keys("b1", "k", "v") != record_keys("b2", "k", "v")
