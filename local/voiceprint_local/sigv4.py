"""Verification of SigV4 query-string (presigned) S3 URLs, which moto does not check.

The emulator fetches audio the way pyannoteAI does, through the presigned URL; checking the signature and the
expiry here is what makes a tampered or expired URL fail locally as it would against S3.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit


class PresignError(Exception):
    pass


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify_presigned_get(url: str, *, secret_key: str, now: float) -> None:
    """Raise PresignError unless `url` is a valid, unexpired SigV4 presigned GET signed with `secret_key`."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(params)
    if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise PresignError("not a SigV4 presigned URL")
    try:
        amz_date = query["X-Amz-Date"]
        expires = int(query["X-Amz-Expires"])
        credential = query["X-Amz-Credential"]
        signed_headers = query["X-Amz-SignedHeaders"]
        signature = query["X-Amz-Signature"]
    except (KeyError, ValueError):
        raise PresignError("presigned URL is missing SigV4 parameters") from None
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    if not 1 <= expires <= 604800:
        raise PresignError("X-Amz-Expires out of range")
    if now > signed_at + expires:
        raise PresignError("presigned URL expired")
    if now < signed_at - 900:
        raise PresignError("presigned URL from the future")
    _access_key, date, region, service, terminator = credential.split("/")
    if terminator != "aws4_request" or not amz_date.startswith(date):
        raise PresignError("malformed credential scope")
    if signed_headers != "host":
        raise PresignError("unexpected signed headers")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params) if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            "GET",
            quote(parts.path or "/", safe="/-_.~%"),
            canonical_query,
            f"host:{parts.netloc}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise PresignError("signature does not match")
