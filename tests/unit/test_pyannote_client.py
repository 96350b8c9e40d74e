"""The client against the emulator over loopback HTTP: what we send validates against openapi.json, and every
answer class maps to the right error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from voiceprint.pyannote_client import (
    AccountError,
    JobNotFound,
    PyannoteClient,
    RateLimited,
    RequestRejected,
    TransientError,
)
from voiceprint_local import openapi_spec
from voiceprint_local.emulator import Emulator, EmulatorConfig

KEY = "client-test-key"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(EmulatorConfig(api_key=KEY, webhook_secret="s")).start(background=False)
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def client(emu: Emulator) -> PyannoteClient:
    return PyannoteClient(emu.url, lambda: KEY, timeout_seconds=2)


@pytest.fixture
def captured(emu: Emulator) -> list[dict]:
    """The JSON bodies the emulator receives, in order."""
    bodies: list[dict] = []
    original = emu.handle

    def spy(method, path, headers, body):
        bodies.append(json.loads(body))
        return original(method, path, headers, body)

    emu.handle = spy  # type: ignore[method-assign]
    return bodies


def test_submit_body_validates_against_the_spec(emu: Emulator, client: PyannoteClient, captured: list[dict]) -> None:
    job = client.submit_voiceprint(
        "https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=x", webhook="https://h/w?ref=1", model="precision-2"
    )
    assert job.status == "created"
    assert captured == [
        {
            "url": "https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=x",
            "model": "precision-2",
            "webhook": "https://h/w?ref=1",
        }
    ]
    openapi_spec.validate("VoiceprintRequest", captured[0])
    assert emu.jobs[job.job_id].kind == "voiceprint"


def test_identify_body_validates_against_the_spec(emu: Emulator, client: PyannoteClient, captured: list[dict]) -> None:
    prints = [{"label": "Alice", "voiceprint": "v1"}, {"label": "Bob Smith", "voiceprint": "v2"}]
    job = client.submit_identify(
        "https://b/x.wav",
        voiceprints=prints,
        webhook="https://h/w",
        model="precision-2",
        threshold=40,
        exclusive=False,
        status_only_webhook=True,
    )
    assert captured == [
        {
            "url": "https://b/x.wav",
            "voiceprints": prints,
            "matching": {"threshold": 40, "exclusive": False},
            "webhookStatusOnly": True,
            "model": "precision-2",
            "webhook": "https://h/w",
        }
    ]
    openapi_spec.validate("IdentifyRequest", captured[0])
    assert emu.jobs[job.job_id].kind == "identify"


def test_get_job_and_test_key(emu: Emulator, client: PyannoteClient) -> None:
    job = client.submit_voiceprint("https://x/a.wav", webhook=None, model=None)
    emu.complete_job(job.job_id, "succeeded", {"voiceprint": "vp"}, webhook=False)
    fetched = client.get_job(job.job_id)
    assert (fetched.status, fetched.output) == ("succeeded", {"voiceprint": "vp"})
    assert client.test_key()


def test_wrong_key_is_an_account_error(emu: Emulator) -> None:
    with pytest.raises(AccountError) as err:
        PyannoteClient(emu.url, lambda: "wrong").submit_voiceprint("https://x", webhook=None, model=None)
    assert err.value.status == 401
    assert "wrong" not in str(err.value)


@pytest.mark.parametrize(
    ("answer", "error", "status"),
    [
        (
            (400, {"message": "Invalid request", "errors": [{"field": "url", "message": "bad"}]}, {}),
            RequestRejected,
            400,
        ),
        ((402, {"requestId": "r", "message": "Subscription is required"}, {}), AccountError, 402),
        ((500, {"message": "oops"}, {}), TransientError, 500),
        ((503, None, {}), TransientError, 503),
        ((200, {"status": "created"}, {}), TransientError, 200),  # no jobId: cannot be recorded
    ],
)
def test_error_answers(emu: Emulator, client: PyannoteClient, answer, error, status: int) -> None:
    emu.script("/v1/voiceprint", answer)
    with pytest.raises(error) as err:
        client.submit_voiceprint("https://x", webhook=None, model=None)
    assert err.value.status == status
    assert KEY not in str(err.value)


def test_validation_errors_are_kept(emu: Emulator, client: PyannoteClient) -> None:
    emu.script(
        "/v1/voiceprint", (400, {"message": "Invalid request", "errors": [{"field": "url", "message": "bad"}]}, {})
    )
    with pytest.raises(RequestRejected) as err:
        client.submit_voiceprint("https://x", webhook=None, model=None)
    assert err.value.errors == [{"field": "url", "message": "bad"}]


def test_rate_limit_carries_retry_after(emu: Emulator, client: PyannoteClient) -> None:
    emu.script("/v1/voiceprint", (429, {"requestId": "r", "message": "Too many requests"}, {"Retry-After": "42"}))
    with pytest.raises(RateLimited) as err:
        client.submit_voiceprint("https://x", webhook=None, model=None)
    assert err.value.retry_after == 42


def test_unknown_job(client: PyannoteClient) -> None:
    with pytest.raises(JobNotFound):
        client.get_job("no-such-job")


def test_job_id_cannot_escape_the_path(emu: Emulator, client: PyannoteClient) -> None:
    with pytest.raises(JobNotFound):
        client.get_job("../v1/test")
    assert emu.stats.requests["GET /v1/jobs/{id}"] == 1


def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientError):
        PyannoteClient(f"http://127.0.0.1:{port}", lambda: KEY, timeout_seconds=1).get_job("x")


def test_read_timeout_is_transient_and_not_retried(emu: Emulator) -> None:
    emu.config.latency_seconds = 1.5
    client = PyannoteClient(emu.url, lambda: KEY, timeout_seconds=0.5)
    with pytest.raises(TransientError):
        client.submit_voiceprint("https://x", webhook=None, model=None)
    emu.config.latency_seconds = 0
    # A timed-out POST may have created a job: it must not be sent again from here (no idempotency key).
    assert emu.stats.requests["POST /v1/voiceprint"] == 1
