from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator

import pytest

from voiceprint.webhook_signature import Rejection, SignatureError, sign, verify

SECRET = "whsec_current"
OLD = "whsec_previous"
BODY = b'{"jobId":"j-1","status":"succeeded","output":{"voiceprint":"abc"}}'
NOW = 1_764_000_000


def _verify(
    signature: str | None, *, ts: str | None = str(NOW), body: bytes = BODY, secrets=(SECRET,), now=NOW, tol=900
):
    verify(secrets=secrets, timestamp=ts, signature=signature, body=body, now=now, tolerance_seconds=tol)


def test_documented_signed_text_is_v0_timestamp_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + BODY, hashlib.sha256)
    assert sign(SECRET, str(NOW), BODY) == expected.hexdigest()
    assert sign(SECRET, str(NOW), BODY, "base64") == base64.b64encode(expected.digest()).decode()


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_accepts_hex_and_base64(encoding: str) -> None:
    _verify(sign(SECRET, str(NOW), BODY, encoding))


def test_accepts_uppercase_hex_and_whitespace() -> None:
    _verify("  " + sign(SECRET, str(NOW), BODY).upper() + "\n")


@pytest.mark.parametrize(
    ("mutate", "rejection"),
    [
        (lambda s: s[:-2] + ("00" if s[-2:] != "00" else "11"), Rejection.MISMATCH),  # one byte flipped
        (lambda s: sign("wrong-secret", str(NOW), BODY), Rejection.MISMATCH),
        (lambda s: "zz" * 32, Rejection.MALFORMED),
        (lambda s: "abc", Rejection.MALFORMED),
        (lambda s: base64.b64encode(b"short").decode(), Rejection.MALFORMED),
    ],
)
def test_forged_or_malformed_signatures_are_refused(mutate, rejection: Rejection) -> None:
    with pytest.raises(SignatureError) as err:
        _verify(mutate(sign(SECRET, str(NOW), BODY)))
    assert err.value.rejection is rejection


def test_body_is_compared_byte_for_byte() -> None:
    sig = sign(SECRET, str(NOW), BODY)
    reformatted = BODY.replace(b",", b", ")  # same JSON, different bytes
    with pytest.raises(SignatureError, match="signature_mismatch"):
        _verify(sig, body=reformatted)


def test_signature_binds_the_timestamp() -> None:
    sig = sign(SECRET, str(NOW), BODY)
    with pytest.raises(SignatureError, match="signature_mismatch"):
        _verify(sig, ts=str(NOW - 1))


@pytest.mark.parametrize(("headers"), [(None, "sig"), (str(NOW), None), ("", "sig"), (str(NOW), "")])
def test_missing_headers(headers) -> None:
    ts, sig = headers
    with pytest.raises(SignatureError) as err:
        _verify(sig, ts=ts)
    assert err.value.rejection is Rejection.MISSING


@pytest.mark.parametrize("ts", ["abc", "-5", "1.5", "9" * 20])
def test_malformed_timestamp(ts: str) -> None:
    with pytest.raises(SignatureError) as err:
        _verify("00" * 32, ts=ts)
    assert err.value.rejection is Rejection.MALFORMED


def test_stale_and_future_timestamps_are_refused_even_when_signed() -> None:
    old = str(NOW - 901)
    with pytest.raises(SignatureError, match="stale"):
        _verify(sign(SECRET, old, BODY), ts=old)
    future = str(NOW + 61)
    with pytest.raises(SignatureError, match="stale"):
        _verify(sign(SECRET, future, BODY), ts=future)


def test_window_accepts_the_vendors_last_retry() -> None:
    # Retries come immediately, after 1 min and after 5 min; if they keep the first timestamp, ~6 min old.
    ts = str(NOW - 6 * 60 - 30)
    _verify(sign(SECRET, ts, BODY), ts=ts)


def test_previous_secret_is_accepted_during_rotation() -> None:
    _verify(sign(OLD, str(NOW), BODY), secrets=(SECRET, OLD))
    with pytest.raises(SignatureError, match="mismatch"):
        _verify(sign(OLD, str(NOW), BODY), secrets=(SECRET,))


def test_previous_secret_is_only_fetched_when_current_fails() -> None:
    fetched: list[str] = []

    def secrets() -> Iterator[str]:
        fetched.append("current")
        yield SECRET
        fetched.append("previous")
        yield OLD

    _verify(sign(SECRET, str(NOW), BODY), secrets=secrets())
    assert fetched == ["current"]


def test_error_message_holds_no_secret_or_signature() -> None:
    sig = sign("attacker", str(NOW), BODY)
    with pytest.raises(SignatureError) as err:
        _verify(sig)
    assert SECRET not in str(err.value)
    assert sig not in str(err.value)
