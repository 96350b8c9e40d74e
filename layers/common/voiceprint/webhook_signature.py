"""Verification of pyannoteAI webhook signatures (API_NOTES.md, "Webhooks").

Signed text: b"v0:" + timestamp + b":" + raw_body, HMAC-SHA256 with the webhook secret. The vendor's prose says
the digest is base64 and its sample uses hex, so both encodings are accepted; comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum

# Clocks drift; a timestamp from slightly in the future is still plausible.
FUTURE_SKEW_SECONDS = 60


class Rejection(StrEnum):
    MISSING = "missing_signature_headers"
    MALFORMED = "malformed_signature_headers"
    STALE = "stale_timestamp"
    MISMATCH = "signature_mismatch"


class SignatureError(Exception):
    """The request is not a genuine, fresh webhook. The message never contains secret material."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.value)
        self.rejection = rejection


def sign(secret: str, timestamp: str, body: bytes, encoding: str = "hex") -> str:
    """The signature pyannoteAI would send; used by the emulator and tests."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def _decode_signature(signature: str) -> bytes:
    value = signature.strip()
    if value.startswith("v0="):  # tolerate a Slack-style version prefix
        value = value[3:]
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(Rejection.MALFORMED) from None
    if len(decoded) != hashlib.sha256().digest_size:
        raise SignatureError(Rejection.MALFORMED)
    return decoded


def verify(
    *,
    secrets: Iterable[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: int,
) -> None:
    """Raise SignatureError unless `signature` is a fresh HMAC of `body` under one of `secrets`.

    `secrets` is the current secret first, then the previous one while a rotation is under way; an iterable
    so that the previous secret is only fetched when the current one does not match.
    """
    if not timestamp or not signature:
        raise SignatureError(Rejection.MISSING)
    ts = timestamp.strip()
    # isascii(): str.isdigit() also accepts superscripts and other digits that int() refuses ("²").
    if not (ts.isascii() and ts.isdigit()) or len(ts) > 12:
        raise SignatureError(Rejection.MALFORMED)
    expected = _decode_signature(signature)
    age = now - int(ts)
    if age > tolerance_seconds or age < -FUTURE_SKEW_SECONDS:
        raise SignatureError(Rejection.STALE)
    message = b"v0:" + ts.encode() + b":" + body
    for secret in secrets:
        if not secret:
            continue
        actual = hmac.new(secret.encode(), message, hashlib.sha256).digest()
        if hmac.compare_digest(actual, expected):
            return
    raise SignatureError(Rejection.MISMATCH)
