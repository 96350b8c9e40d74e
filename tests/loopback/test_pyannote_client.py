"""The client against the emulator over loopback HTTP: what we send validates against openapi.json, and every
answer class maps to the right error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from voiceprint.identify_options import IdentifyOptions
from voiceprint.pyannote_client import (
    AccountError,
    InvalidAnswer,
    JobNotFound,
    PyannoteClient,
    RateLimited,
    RequestRejected,
    TransientError,
)
from voiceprint_local import openapi_spec
from voiceprint_local.emulator import Emulator
from voiceprint_local.emulator_types import EmulatorConfig, RawAnswer

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
        options=IdentifyOptions(num_speakers=None, min_speakers=1, max_speakers=3, threshold=40, exclusive=False),
        status_only_webhook=True,
    )
    assert captured == [
        {
            "url": "https://b/x.wav",
            "voiceprints": prints,
            "minSpeakers": 1,
            "maxSpeakers": 3,
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
        # A 200 created (and billed) a job: an answer we cannot record is never retried, which would pay again.
        ((200, {"status": "created"}, {}), InvalidAnswer, 200),
        ((200, {"jobId": "j" * 201, "status": "created"}, {}), InvalidAnswer, 200),  # past any index key
        ((200, {"jobId": "../../admin", "status": "created"}, {}), InvalidAnswer, 200),
        ((200, {"jobId": 12345, "status": "created"}, {}), InvalidAnswer, 200),
        ((200, RawAnswer(b"<html>ok</html>"), {}), InvalidAnswer, 200),
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


def test_a_created_jobs_warning_is_cleaned_and_capped(emu: Emulator, client: PyannoteClient) -> None:
    warning = "see https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=secret " + "w" * 420_000
    emu.script("/v1/voiceprint", (200, {"jobId": "3c8a89a5-dcc6", "status": "created", "warning": warning}, {}))
    job = client.submit_voiceprint("https://x", webhook=None, model=None)
    assert job.job_id == "3c8a89a5-dcc6"
    assert job.warning is not None
    assert len(job.warning) <= 1000
    assert "secret" not in job.warning


def test_an_unknown_status_of_a_created_job_reads_as_created(emu: Emulator, client: PyannoteClient) -> None:
    emu.script("/v1/voiceprint", (200, {"jobId": "j-1", "status": "queued"}, {}))
    assert client.submit_voiceprint("https://x", webhook=None, model=None).status == "created"


def test_the_answer_for_another_job_is_refused(emu: Emulator, client: PyannoteClient) -> None:
    emu.script("/v1/jobs/job-a", (200, {"jobId": "job-b", "status": "succeeded", "output": {"voiceprint": "B"}}, {}))
    with pytest.raises(InvalidAnswer, match="another job"):
        client.get_job("job-a")


@pytest.mark.parametrize(
    "answer",
    [{"jobId": "job-a"}, {"jobId": "job-a", "status": 3}, {"jobId": "job-a", "status": "succeeded", "output": [1]}],
)
def test_a_job_answer_outside_the_spec_is_refused(emu: Emulator, client: PyannoteClient, answer) -> None:
    emu.script("/v1/jobs/job-a", (200, answer, {}))
    with pytest.raises(InvalidAnswer):
        client.get_job("job-a")


def test_an_unknown_job_status_is_passed_on(emu: Emulator, client: PyannoteClient) -> None:
    emu.script("/v1/jobs/job-a", (200, {"jobId": "job-a", "status": "queued"}, {}))
    assert client.get_job("job-a").status == "queued"


def test_an_answer_over_the_size_cap_is_not_read(emu: Emulator) -> None:
    client = PyannoteClient(emu.url, lambda: KEY, timeout_seconds=2, max_answer_bytes=1000)
    big = {"jobId": "job-a", "status": "succeeded", "output": {"voiceprint": "v" * 5000}}
    emu.script("/v1/jobs/job-a", (200, big, {}), (200, {"jobId": "job-a", "status": "running"}, {}))
    with pytest.raises(InvalidAnswer, match="over the cap"):
        client.get_job("job-a")
    assert client.get_job("job-a").status == "running"  # the refused answer's connection served nothing more


def test_a_trickled_answer_ends_at_the_requests_deadline(emu: Emulator) -> None:
    """One byte every 0.2 s never trips a per-read timeout; the whole request's deadline (1 s) ends it."""
    client = PyannoteClient(emu.url, lambda: KEY, timeout_seconds=1)
    body = json.dumps({"jobId": "job-a", "status": "running", "pad": "p" * 200}).encode()
    emu.script("/v1/jobs/job-a", (200, RawAnswer(body, trickle_bytes=1, trickle_seconds=0.2), {}))
    with pytest.raises(TransientError, match="no whole answer within 1 s"):
        client.get_job("job-a")
    assert 0 < emu.stats.trickled_bytes < len(body)
