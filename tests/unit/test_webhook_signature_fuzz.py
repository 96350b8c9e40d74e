"""Property: without the secret, nothing an attacker can send verifies."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from voiceprint.webhook_signature import SignatureError, sign, verify

SECRET = "whsec_fuzz_secret"
NOW = 1_764_000_000

signatures = st.one_of(
    st.text(max_size=120),
    st.binary(min_size=32, max_size=32).map(lambda b: b.hex()),
    st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
)
timestamps = st.one_of(st.none(), st.text(max_size=15), st.integers(NOW - 2000, NOW + 2000).map(str))


@settings(max_examples=400, deadline=None)
@given(body=st.binary(max_size=2048), timestamp=timestamps, signature=st.one_of(st.none(), signatures))
def test_random_requests_never_verify(body: bytes, timestamp: str | None, signature: str | None) -> None:
    try:
        verify(secrets=[SECRET], timestamp=timestamp, signature=signature, body=body, now=NOW, tolerance_seconds=900)
    except SignatureError:
        return
    raise AssertionError("an unsigned request verified")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048), other=st.text(min_size=1, max_size=40))
def test_signatures_with_another_secret_never_verify(body: bytes, other: str) -> None:
    if other == SECRET:
        return
    ts = str(NOW)
    for encoding in ("hex", "base64"):
        try:
            verify(
                secrets=[SECRET],
                timestamp=ts,
                signature=sign(other, ts, body, encoding),
                body=body,
                now=NOW,
                tolerance_seconds=900,
            )
        except SignatureError:
            continue
        raise AssertionError("a signature made with another secret verified")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048))
def test_genuine_signatures_always_verify(body: bytes) -> None:
    ts = str(NOW)
    for encoding in ("hex", "base64"):
        verify(
            secrets=[SECRET],
            timestamp=ts,
            signature=sign(SECRET, ts, body, encoding),
            body=body,
            now=NOW,
            tolerance_seconds=900,
        )
