"""Verification of SigV4 query-string (presigned) S3 URLs, which moto does not check, and of SigV4-signed requests
to the local HTTP API's IAM-authorised routes.

The emulator fetches audio the way pyannoteAI does, through the presigned URL; checking the signature and the
expiry here is what makes a tampered or expired URL fail locally as it would against S3.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit


class PresignError(Exception):
    pass


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params))


def _signature(secret_key: str, amz_date: str, scope: str, canonical_request: str) -> str:
    """SigV4's string to sign over a canonical request, signed with the key derived for `scope`."""
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


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
    canonical_request = "\n".join(
        [
            "GET",
            quote(parts.path or "/", safe="/-_.~%"),
            _canonical_query([(k, v) for k, v in params if k != "X-Amz-Signature"]),
            f"host:{parts.netloc}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    expected = _signature(secret_key, amz_date, f"{date}/{region}/{service}/aws4_request", canonical_request)
    if not hmac.compare_digest(expected, signature):
        raise PresignError("signature does not match")


class AuthError(Exception):
    pass


AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def verify_signed_request(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    secret_key: str,
    service: str,
    now: float,
    max_skew: float = 900,
) -> str:
    """Check a SigV4 Authorization header as API Gateway's IAM authorizer does (for the local stack's own
    credentials); returns the access key id. `headers` are lower-cased."""
    match = AUTH_HEADER.match(headers.get("authorization", ""))
    if not match:
        raise AuthError("missing or malformed SigV4 Authorization header")
    access_key, date, region, signed_service, terminator = match["credential"].split("/")
    amz_date = headers.get("x-amz-date", "")
    if terminator != "aws4_request" or signed_service != service or not amz_date.startswith(date):
        raise AuthError("credential scope does not match")
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    if abs(now - signed_at) > max_skew:
        raise AuthError("request time too skewed")
    names = match["signed"].split(";")
    if "host" not in names or any(n not in headers for n in names):
        raise AuthError("signed headers missing")
    parts = urlsplit(raw_path)
    params = parse_qsl(parts.query, keep_blank_values=True)
    canonical_headers = "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names)
    canonical_request = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/-_.~"),
            _canonical_query(params),
            canonical_headers,
            match["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    expected = _signature(secret_key, amz_date, f"{date}/{region}/{service}/aws4_request", canonical_request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthError("signature does not match")
    return access_key
