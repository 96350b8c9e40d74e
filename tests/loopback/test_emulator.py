"""The pyannoteAI emulator: its answers validate against openapi.json, and its knobs do what they say."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from voiceprint.webhook_signature import verify
from voiceprint_local import openapi_spec, voiceprints
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.clock import ManualClock
from voiceprint_local.emulator import Emulator
from voiceprint_local.emulator_types import EmulatorConfig

KEY = "emu-key"
SECRET = "emu-webhook-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Receiver:
    """A webhook receiver on loopback that answers with scripted status codes and records what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.got.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    e = Emulator(EmulatorConfig(api_key=KEY, webhook_secret=SECRET, processing_seconds=5), clock=clock)
    e.start(background=False)
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    try:
        yield r
    finally:
        r.stop()


def _media_job(emu: Emulator, audio: bytes, path: str = "/v1/voiceprint", **body: Any) -> str:
    media = f"media://tests/{len(emu.media)}.wav"
    upload = requests.post(f"{emu.url}/v1/media/input", json={"url": media}, headers=AUTH, timeout=5)
    assert upload.status_code == 201
    openapi_spec.validate("MediaResponse", upload.json())
    assert requests.put(upload.json()["url"], data=audio, timeout=5).status_code == 200
    resp = requests.post(f"{emu.url}{path}", json={"url": media, **body}, headers=AUTH, timeout=5)
    assert resp.status_code == 200, resp.text
    openapi_spec.validate("JobCreated", resp.json())
    return str(resp.json()["jobId"])


def _enrolled(
    emu: Emulator, clock: ManualClock, voices: Mapping[str, str], *, seconds: float = 2.0, seed: int = 0
) -> list[dict[str, Any]]:
    """Voiceprints made by the emulator of each `voices` label's synthetic voice, as an identify request lists them."""
    jobs = {label: _media_job(emu, wav_bytes(seconds, voice, seed=seed)) for label, voice in voices.items()}
    clock.advance(5)
    emu.tick()
    return [{"label": label, "voiceprint": emu.jobs[job].output["voiceprint"]} for label, job in jobs.items()]  # type: ignore[index]


def _identified(emu: Emulator, clock: ManualClock, audio: bytes, **body: Any) -> dict[str, Any]:
    """An identify job run to its end on the emulated clock: its GET /v1/jobs answer, checked against the spec."""
    job_id = _media_job(emu, audio, "/v1/identify", **body)
    clock.advance(5)
    emu.tick()
    answer: dict[str, Any] = requests.get(f"{emu.url}/v1/jobs/{job_id}", headers=AUTH, timeout=5).json()
    openapi_spec.validate("IdentifyJob", answer)
    return answer


def test_test_endpoint_and_auth(emu: Emulator) -> None:
    ok = requests.get(f"{emu.url}/v1/test", headers=AUTH, timeout=5)
    assert ok.status_code == 200
    openapi_spec.validate("TestResponse", ok.json())
    bad = requests.get(f"{emu.url}/v1/test", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401
    openapi_spec.validate("ApiError", bad.json())


def test_invalid_bodies_get_the_specs_validation_error(emu: Emulator) -> None:
    for body in ({}, {"url": "x", "model": "precision-9"}, {"url": 5}):
        resp = requests.post(f"{emu.url}/v1/voiceprint", json=body, headers=AUTH, timeout=5)
        assert resp.status_code == 400
        openapi_spec.validate("ValidationErrorResponse", resp.json())


def test_job_lifecycle_on_the_clock(emu: Emulator, clock: ManualClock) -> None:
    job_id = _media_job(emu, wav_bytes(1.0, "alice"))
    emu.tick()
    pending = requests.get(f"{emu.url}/v1/jobs/{job_id}", headers=AUTH, timeout=5).json()
    assert pending["status"] == "created"
    openapi_spec.validate("VoiceprintJob", pending)
    clock.advance(5)
    emu.tick()
    done = requests.get(f"{emu.url}/v1/jobs/{job_id}", headers=AUTH, timeout=5).json()
    assert done["status"] == "succeeded"
    openapi_spec.validate("VoiceprintJob", done)
    assert done["output"]["voiceprint"].startswith(voiceprints.PREFIX)


def test_voiceprints_are_deterministic_and_speaker_specific(emu: Emulator, clock: ManualClock) -> None:
    ids = [_media_job(emu, wav_bytes(2.0, s, seed=i)) for i, s in enumerate(("alice", "alice", "bob"))]
    clock.advance(5)
    emu.tick()
    vps = [voiceprints.decode(emu.jobs[i].output["voiceprint"]) for i in ids]  # type: ignore[index]
    assert all(vps)
    same = voiceprints.similarity(vps[0], vps[1])  # type: ignore[arg-type]
    other = voiceprints.similarity(vps[0], vps[2])  # type: ignore[arg-type]
    assert same > 95 > other


def test_identify_answers_from_the_voiceprints(emu: Emulator, clock: ManualClock) -> None:
    prints = _enrolled(emu, clock, {"Alice": "alice", "Bob": "bob"})
    body = {"voiceprints": prints, "matching": {"threshold": 90}}
    openapi_spec.validate("IdentifyRequest", {"url": "media://tests/a.wav", **body})
    answer = _identified(emu, clock, wav_bytes(3.0, "bob", seed=7), **body)
    [ident] = answer["output"]["identification"]
    assert ident["match"] == "Bob"
    assert (
        answer["output"]["voiceprints"][0]["confidence"]["Bob"]
        > answer["output"]["voiceprints"][0]["confidence"]["Alice"]
    )
    assert "confidence" not in ident  # turn-level confidence only when asked for


def test_identify_gives_turn_level_confidence_when_asked(emu: Emulator, clock: ManualClock) -> None:
    body = {"voiceprints": _enrolled(emu, clock, {"Bob": "bob"}), "turnLevelConfidence": True}
    openapi_spec.validate("IdentifyRequest", {"url": "media://tests/a.wav", **body})
    answer = _identified(emu, clock, wav_bytes(3.0, "bob", seed=7), **body)
    for segment in answer["output"]["identification"] + answer["output"]["diarization"]:
        assert segment["confidence"] == {"SPEAKER_00": 100}


def test_identify_with_real_embeddings(emu: Emulator, clock: ManualClock) -> None:
    emu.config.embedding = "resemblyzer"
    speakers = ("alice", "bob", "carol")
    prints = _enrolled(emu, clock, {s.title(): s for s in speakers}, seconds=2.5, seed=20)
    assert all(p["voiceprint"].startswith(voiceprints.RESEMBLYZER_PREFIX) for p in prints)
    for speaker in speakers:
        answer = _identified(emu, clock, wav_bytes(3.0, speaker, seed=21), voiceprints=prints)
        assert answer["output"]["identification"][0]["match"] == speaker.title()


def test_limits_fail_the_job_with_output_error(emu: Emulator, clock: ManualClock) -> None:
    from voiceprint_local.audio_samples import silent_wav

    emu.config.max_audio_bytes = 100_000
    big_id = _media_job(emu, silent_wav(7))  # 112 kB at 8 kHz
    long_id = _media_job(emu, silent_wav(31))
    junk_id = _media_job(emu, b"not audio at all" * 10)
    missing = requests.post(f"{emu.url}/v1/voiceprint", json={"url": "media://nowhere.wav"}, headers=AUTH, timeout=5)
    clock.advance(5)
    emu.tick()
    assert emu.jobs[big_id].output == {"error": "File too large (max 100000 bytes)"}
    assert emu.jobs[long_id].output == {"error": "File too large (max 100000 bytes)"}
    emu.config.max_audio_bytes = 100 * 1024 * 1024
    long_id = _media_job(emu, silent_wav(31))
    clock.advance(5)
    emu.tick()
    assert emu.jobs[long_id].output == {"error": "Audio too long (31.0 s, max 30 s)"}
    assert emu.jobs[junk_id].output == {"error": "Could not load audio"}
    assert emu.jobs[missing.json()["jobId"]].output == {"error": "Could not load audio"}


def test_job_listing_pages_and_filters(emu: Emulator, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append(_media_job(emu, wav_bytes(0.5, "carol")))
        clock.advance(1)
    first = requests.get(f"{emu.url}/v2/jobs?limit=2", headers=AUTH, timeout=5).json()
    openapi_spec.validate("GetJobsResponseV2", first)
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    rest = requests.get(f"{emu.url}/v2/jobs?limit=100&cursor={first['nextCursor']}", headers=AUTH, timeout=5).json()
    assert [i["id"] for i in rest["items"]] == ids[::-1][2:]
    assert rest["nextCursor"] is None
    assert requests.get(f"{emu.url}/v2/jobs?limit=0", headers=AUTH, timeout=5).status_code == 400
    none = requests.get(f"{emu.url}/v2/jobs?status=failed", headers=AUTH, timeout=5).json()
    assert none == {"items": [], "nextCursor": None}


def test_rate_limit_headers_and_429(emu: Emulator, clock: ManualClock) -> None:
    emu.config.rate_limits = {"submit": 2, "read": 300}
    answers = [
        requests.post(f"{emu.url}/v1/voiceprint", json={"url": "https://x"}, headers=AUTH, timeout=5) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    limited = answers[2]
    openapi_spec.validate("ApiError", limited.json())
    window_end = (int(clock.now()) // 60 + 1) * 60
    assert limited.headers["X-RateLimit-Reset"] == str(window_end)
    assert int(limited.headers["Retry-After"]) == window_end - int(clock.now())
    # reads have their own budget
    assert requests.get(f"{emu.url}/v2/jobs", headers=AUTH, timeout=5).headers["X-RateLimit-Limit"] == "300"
    clock.advance(60)
    assert (
        requests.post(f"{emu.url}/v1/voiceprint", json={"url": "https://x"}, headers=AUTH, timeout=5).status_code == 200
    )


def test_webhook_is_signed_and_retried_on_the_documented_schedule(
    emu: Emulator, clock: ManualClock, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 502, 500]  # every try fails: first try + 3 retries, then it gives up
    job_id = _media_job(emu, wav_bytes(1.0, "alice"), webhook=receiver.url)
    clock.advance(5)
    emu.tick()  # finishes the job, schedules the first delivery
    emu.tick()  # first try
    emu.tick()  # retry 1: immediately
    assert len(receiver.received) == 2
    clock.advance(59)
    emu.tick()
    assert len(receiver.received) == 2
    clock.advance(1)
    emu.tick()  # retry 2: after 1 min
    clock.advance(300)
    emu.tick()  # retry 3: after 5 min
    clock.advance(3600)
    emu.tick()
    assert len(receiver.received) == 4
    headers = [h for h, _ in receiver.received]
    assert [h.get("x-retry-num") for h in headers] == [None, "1", "2", "3"]
    assert headers[1]["x-retry-reason"] == "status 500"
    for h, body in receiver.received:
        verify(
            secrets=[SECRET],
            timestamp=h["x-request-timestamp"],
            signature=h["x-signature"],
            body=body,
            now=float(h["x-request-timestamp"]),
            tolerance_seconds=900,
        )
        assert json.loads(body)["jobId"] == job_id
        assert json.loads(body)["output"]["voiceprint"].startswith(voiceprints.PREFIX)


def test_status_only_dropped_and_duplicated_webhooks(emu: Emulator, clock: ManualClock, receiver: Receiver) -> None:
    status_only = _media_job(emu, wav_bytes(1.0, "bob"), webhook=receiver.url, webhookStatusOnly=True)
    clock.advance(5)
    emu.tick()
    emu.tick()
    [(_, body)] = receiver.received
    assert json.loads(body) == {"jobId": status_only, "status": "succeeded"}

    emu.config.drop_webhook_rate = 1.0
    _media_job(emu, wav_bytes(1.0, "bob"), webhook=receiver.url)
    clock.advance(5)
    emu.tick()
    emu.tick()
    assert len(receiver.received) == 1
    assert emu.stats.webhooks_dropped == 1

    emu.config.drop_webhook_rate = 0.0
    emu.config.duplicate_webhook_rate = 1.0
    dup = _media_job(emu, wav_bytes(1.0, "bob"), webhook=receiver.url)
    clock.advance(5)
    emu.tick()
    emu.tick()
    assert [json.loads(b)["jobId"] for _, b in receiver.received[1:]] == [dup, dup]


def test_presigned_urls_are_checked_like_s3_would(clock: ManualClock) -> None:
    emu = Emulator(
        EmulatorConfig(api_key=KEY, webhook_secret=SECRET, presign_secret_key="s3-secret", processing_seconds=0),
        clock=clock,
    )
    emu.start(background=False)
    try:
        resp = requests.post(
            f"{emu.url}/v1/voiceprint",
            json={"url": "https://bucket.s3.amazonaws.com/a.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"},
            headers=AUTH,
            timeout=5,
        )
        emu.tick()
        assert emu.jobs[resp.json()["jobId"]].output == {"error": "Could not load audio"}
    finally:
        emu.stop()
