"""A pyannoteAI API emulator on loopback, following contracts/pyannote/openapi.json and API_NOTES.md.

It checks the Bearer key, validates request bodies against the spec, fetches audio through the presigned URL it
is given (verifying the SigV4 signature and expiry, which moto does not), enforces the 30 s / 100 MiB limits,
computes a toy voiceprint and sends a signed webhook with the documented retry schedule. Knobs for tests: rate
limits (429 + Retry-After + X-RateLimit-*), latency, failure rate, dropped/duplicated/status-only webhooks,
scripted answers, and an injectable clock.
"""

from __future__ import annotations

import json
import math
import random
import threading
import uuid
from collections import deque
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from voiceprint.webhook_signature import sign
from voiceprint_local import emulator_work as work
from voiceprint_local import openapi_spec
from voiceprint_local.clock import Clock, SystemClock
from voiceprint_local.emulator_http import handler_for
from voiceprint_local.emulator_types import (
    GROUPS,
    HOSTILE_ANSWERS,
    MAX_SECONDS,
    Delivery,
    EmulatorConfig,
    Job,
    RawAnswer,
    Stats,
    hostile_answer,
    iso,
    url_identity,
)
from voiceprint_local.sigv4 import PresignError, verify_presigned_get


class Emulator:
    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None, wall_clock: Clock | None = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.wall = wall_clock or SystemClock()  # signs webhooks: the vendor's clock is a real one
        self.jobs: dict[str, Job] = {}
        self.media: dict[str, bytes] = {}
        self.stats = Stats()
        self._deliveries: list[Delivery] = []
        self._scripted: dict[str, deque[tuple[int, dict[str, Any] | RawAnswer | None, dict[str, str]]]] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        self._answered: set[str] = set()  # jobs asked about at least once (hostile answers come first or never)
        self._lock = threading.RLock()
        self._rng = random.Random(config.seed)
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._http = requests.Session()

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, *, background: bool = True) -> Emulator:
        """Serve HTTP; with `background`, a worker also calls tick() every 10 ms. Tests that drive a manual
        clock pass background=False and call tick() themselves, so nothing happens behind their back."""
        self._server = ThreadingHTTPServer((host, port), handler_for(self))
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator-http", daemon=True
            )
        ]
        if background:
            self._threads.append(threading.Thread(target=self._work_loop, name="emulator-worker", daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=10)
        self._http.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- test knobs ----------------------------------------------------------------------------------------
    def script(self, path: str, *answers: tuple[int, dict[str, Any] | RawAnswer | None, dict[str, str]]) -> None:
        """Answer the next requests to `path` with these (status, body, headers) before behaving normally."""
        with self._lock:
            self._scripted.setdefault(path, deque()).extend(answers)

    def complete_job(self, job_id: str, status: str, output: dict[str, Any] | None, *, webhook: bool = True) -> None:
        with self._lock:
            job = self.jobs[job_id]
            self._finish(job, status, output, webhook=webhook)

    def job_snapshot(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        """Every job as (id, status, a copy of its output), read under the lock: for the chaos run's attacks."""
        with self._lock:
            return [(j.id, j.status, dict(j.output) if j.output else None) for j in self.jobs.values()]

    # -- for the HTTP side (emulator_http) ---------------------------------------------------------------------
    def count_answer(self, status: int) -> None:
        with self._lock:
            self.stats.answers[status] += 1

    def count_trickled(self, sent: int) -> None:
        with self._lock:
            self.stats.trickled_bytes += sent

    def stopping(self, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the emulator stops (a trickled answer then ends)."""
        return self._stop.wait(seconds)

    # -- request handling ----------------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        with self._lock:
            self.stats.requests[f"{method} {path if not path.startswith('/v1/jobs/') else '/v1/jobs/{id}'}"] += 1
        if self.config.latency_seconds:
            self._stop.wait(self.config.latency_seconds)
        if method == "PUT" and path.startswith("/media-upload/"):
            return self._media_put(path[len("/media-upload/") :], body)
        if headers.get("authorization") != f"Bearer {self.config.api_key}":
            return 401, {"requestId": str(uuid.uuid4()), "message": "Invalid API key"}, {}
        group = GROUPS.get(path, "read")
        limited = self._rate_limit(group)
        if limited[0] == 429:
            return limited
        rl_headers = limited[2]
        scripted = self._next_scripted(path)
        if scripted is not None:
            return scripted[0], scripted[1], {**rl_headers, **scripted[2]}
        if self.config.error_rate and self._chance(self.config.error_rate):
            with self._lock:
                self.stats.injected_errors += 1
            return 503, {"requestId": str(uuid.uuid4()), "message": "Service Unavailable (injected)"}, rl_headers
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, {"message": "Invalid JSON", "errors": [{"field": "body", "message": "not JSON"}]}, rl_headers
        status, answer = self._route(method, path, parts.query, payload)
        if status == 200 and group == "submit" and self.config.timeout_rate and self._chance(self.config.timeout_rate):
            # The job exists and is billed, but the client gives up before the answer: its retry bills again.
            with self._lock:
                self.stats.injected_timeouts += 1
                self.stats.timeouts_by_url[url_identity(str((payload or {}).get("url", "")))] += 1
            self._stop.wait(self.config.stall_seconds)
        return status, answer, rl_headers

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return self._rng.random() < rate

    def _next_scripted(self, path: str) -> tuple[int, dict[str, Any] | RawAnswer | None, dict[str, str]] | None:
        with self._lock:
            queue = self._scripted.get(path)
            return queue.popleft() if queue else None

    def _rate_limit(self, group: str) -> tuple[int, Any, dict[str, str]]:
        limits = self.config.rate_limits
        if not limits or group not in limits:
            return 200, None, {}
        limit = limits[group]
        now = self.clock.now()
        size = self.config.rate_window_seconds
        window = int(now // size)
        with self._lock:
            current, used = self._windows.get(group, (window, 0))
            if current != window:
                current, used = window, 0
            reset = math.ceil((window + 1) * size)
            if used >= limit:
                retry_after = max(1, math.ceil(reset - now))
                headers = {
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(reset)),
                    "Retry-After": str(retry_after),
                }
                self.stats.limited_per_window[(group, window)] += 1
                return 429, {"requestId": str(uuid.uuid4()), "message": "Too many requests"}, headers
            self._windows[group] = (current, used + 1)
            self.stats.passed_per_window[(group, window)] += 1
            return 200, None, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(limit - used - 1)}

    def _route(self, method: str, path: str, query: str, payload: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/v1/test":
            return 200, {"status": "OK", "message": "Test connection successful"}
        if method == "POST" and path == "/v1/voiceprint":
            return self._create("voiceprint", "VoiceprintRequest", payload)
        if method == "POST" and path == "/v1/identify":
            return self._create("identify", "IdentifyRequest", payload)
        if method == "GET" and path.startswith("/v1/jobs/"):
            return self._get_job(path[len("/v1/jobs/") :])
        if method == "GET" and path == "/v2/jobs":
            return self._list_jobs(parse_qs(query))
        if method == "POST" and path == "/v1/media/input":
            return self._media_input(payload)
        return 404, {"requestId": str(uuid.uuid4()), "message": f"no route {method} {path}"}

    @staticmethod
    def _invalid(schema: str, payload: Any) -> tuple[int, Any] | None:
        problems = openapi_spec.errors(schema, payload)
        if not problems:
            return None
        errors = [{"field": p.split(":", 1)[0], "message": p.split(":", 1)[1].strip()} for p in problems]
        return 400, {"message": "Invalid request", "errors": errors}

    def _create(self, kind: str, schema: str, payload: Any) -> tuple[int, Any]:
        invalid = self._invalid(schema, payload)
        if invalid:
            return invalid
        now = self.clock.now()
        status_only = bool(payload.get("webhookStatusOnly", False))
        if self.config.status_only is not None:
            status_only = self.config.status_only
        elif self.config.status_only_rate and self._chance(self.config.status_only_rate):
            status_only = True
        job = Job(
            id=str(uuid.uuid4()),
            kind=kind,
            url=payload["url"],
            webhook=payload.get("webhook"),
            status_only=status_only,
            created_at=now,
            updated_at=now,
            request=payload,
            due_at=now + self.config.processing_seconds,
        )
        with self._lock:
            self.jobs[job.id] = job
            self.stats.submissions_by_url[url_identity(job.url)] += 1
        return 200, {"jobId": job.id, "status": job.status}

    def job_answer(self, job: Job) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "jobId": job.id,
            "status": job.status,
            "createdAt": iso(job.created_at),
            "updatedAt": iso(job.updated_at),
        }
        if job.output is not None:
            answer["output"] = job.output
        return answer

    def _get_job(self, job_id: str) -> tuple[int, Any]:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return 404, {"requestId": str(uuid.uuid4()), "message": "Job not found"}
            hostile = self._hostile_answer(job)
            return 200, hostile if hostile is not None else self.job_answer(job)

    def _hostile_answer(self, job: Job) -> dict[str, Any] | RawAnswer | None:
        """Called with the lock held: the first answer about a chosen job is one of HOSTILE_ANSWERS."""
        if not self.config.hostile_answer_rate or job.id in self._answered:
            return None
        self._answered.add(job.id)
        if self._rng.random() >= self.config.hostile_answer_rate:
            return None
        kind = HOSTILE_ANSWERS[sum(self.stats.hostile_answers.values()) % len(HOSTILE_ANSWERS)]
        self.stats.hostile_answers[kind] += 1
        return hostile_answer(kind, self.job_answer(job))

    def _list_jobs(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            limit = int(float(query.get("limit", ["10"])[0]))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return 400, {"message": "Invalid request", "errors": [{"field": "limit", "message": "1..100"}]}
        status = query.get("status", [None])[0]
        cursor = query.get("cursor", [None])[0]
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: (j.created_at, j.id), reverse=True)
        if status:
            jobs = [j for j in jobs if j.status == status]
        if cursor:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(cursor) + 1 :] if cursor in ids else []
        page = jobs[:limit]
        items = [{"id": j.id, "status": j.status, "createdAt": iso(j.created_at)} for j in page]
        next_cursor = page[-1].id if len(jobs) > limit else None
        return 200, {"items": items, "nextCursor": next_cursor}

    def _media_input(self, payload: Any) -> tuple[int, Any]:
        invalid = self._invalid("GetMediaUploadUrl", payload)
        if invalid:
            return invalid
        key = payload["url"][len("media://") :]
        return 201, {"url": f"{self.url}/media-upload/{quote(key)}"}

    def _media_put(self, key: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.media[key] = body
        return 200, None, {}

    # -- processing ----------------------------------------------------------------------------------------
    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - a worker must not die silently
                print(f"emulator worker error: {type(exc).__name__}: {exc}")
            self._stop.wait(0.01)

    def tick(self) -> None:
        """Do whatever is due at the emulated now: finish jobs, send webhooks."""
        now = self.clock.now()
        with self._lock:
            due_jobs = [j for j in self.jobs.values() if j.status == "created" and j.due_at <= now]
            for job in due_jobs:
                job.status = "running"
        for job in due_jobs:
            status, output = self._process(job)
            with self._lock:
                self._finish(job, status, output, webhook=True)
        with self._lock:
            due = [d for d in self._deliveries if d.due_at <= now]
            self._deliveries = [d for d in self._deliveries if d.due_at > now]
        for delivery in due:
            self._deliver(delivery)

    def _finish(self, job: Job, status: str, output: dict[str, Any] | None, *, webhook: bool) -> None:
        job.status, job.output, job.updated_at = status, output, self.clock.now()
        if not (webhook and job.webhook):
            return
        if self._rng.random() < self.config.drop_webhook_rate:
            self.stats.webhooks_dropped += 1
            return
        self._deliveries.append(Delivery(job.id, job.updated_at))
        if self._rng.random() < self.config.duplicate_webhook_rate:
            self._deliveries.append(Delivery(job.id, job.updated_at, duplicate=True))

    def _load(self, url: str) -> bytes:
        if url.startswith("media://"):
            with self._lock:
                data = self.media.get(url[len("media://") :])
            if data is None:
                raise LookupError("media not found")
            return data
        if self.config.presign_secret_key:
            verify_presigned_get(url, secret_key=self.config.presign_secret_key, now=self.wall.now())
        resp = self._http.get(url, timeout=10, stream=True)
        try:
            if resp.status_code != 200:
                raise LookupError(f"HTTP {resp.status_code}")
            data = resp.raw.read(self.config.max_audio_bytes + 1, decode_content=True)
        finally:
            resp.close()
        return bytes(data)

    def _process(self, job: Job) -> tuple[str, dict[str, Any] | None]:
        try:
            audio = self._load(job.url)
        except (PresignError, LookupError, requests.RequestException):
            return "failed", {"error": "Could not load audio"}
        if len(audio) > self.config.max_audio_bytes:
            return "failed", {"error": f"File too large (max {self.config.max_audio_bytes} bytes)"}
        length = work.audio_seconds(audio)
        if not length:
            return "failed", {"error": "Could not load audio"}
        if job.kind == "voiceprint" and length > MAX_SECONDS:
            return "failed", {"error": f"Audio too long ({length:.1f} s, max 30 s)"}
        if self._rng.random() < self.config.failure_rate:
            return "failed", {"error": "Internal processing error"}
        voiceprint = work.voiceprint_of(audio, self.config.embedding)
        if job.kind == "voiceprint":
            return "succeeded", {"voiceprint": voiceprint}
        return "succeeded", work.identify(job.request, voiceprint, length)

    def _deliver(self, delivery: Delivery) -> None:
        with self._lock:
            job = self.jobs[delivery.job_id]
            payload: dict[str, Any] = {"jobId": job.id, "status": job.status}
            if not job.status_only and job.output is not None:
                payload["output"] = job.output
            target = job.webhook
        assert target is not None
        body = json.dumps(payload).encode()
        timestamp = str(int(self.wall.now()))
        headers = {
            "Content-Type": "application/json",
            "X-Request-Timestamp": timestamp,
            "X-Signature": sign(self.config.webhook_secret, timestamp, body, self.config.signature_encoding),
        }
        if delivery.attempt:
            headers["x-retry-num"] = str(delivery.attempt)
            headers["x-retry-reason"] = delivery.reason
        try:
            resp = self._http.post(target, data=body, headers=headers, timeout=10)
            ok, reason = 200 <= resp.status_code < 300, f"status {resp.status_code}"
        except requests.RequestException as exc:
            ok, reason = False, type(exc).__name__
        with self._lock:
            self.stats.webhooks_sent += 1
            if ok:
                return
            self.stats.webhooks_failed += 1
            if delivery.attempt < len(self.config.retry_schedule):
                due = self.clock.now() + self.config.retry_schedule[delivery.attempt]
                self._deliveries.append(Delivery(job.id, due, delivery.attempt + 1, reason))
