"""Reliability runs over the local stack, and the report they write (docs/RELIABILITY.md).

burst  N uploads at once against the API's 100 submits per minute, on an accelerated clock (the minute is
       shortened `scale` times, and so are our backoff delays): every upload must end with a voiceprint, no object
       submitted twice, and 429s bounded (a few per rate-limit window, not a storm per message).
chaos  a seeded random fault matrix over N uploads (API 429/5xx/timeouts, failed jobs, dropped, duplicated and
       status-only webhooks, duplicate S3/SQS deliveries, DynamoDB throttling and conditional conflicts, a
       crash between the API call and the jobId write, bad files, new versions of a key, forged and stale
       webhooks): nothing lost, every failure with a reason, double billing only where the API's lack of an
       idempotency key forces it, forged webhooks change nothing, secrets absent from everything logged.

python -m voiceprint_local.reliability [--burst-uploads 10000] [--chaos-uploads 1000] [--seed 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import random
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, unquote_plus, urlsplit

from voiceprint import change_events
from voiceprint_local import hostile
from voiceprint_local.audio_samples import silent_wav, wav_bytes
from voiceprint_local.stack import BUCKET, Faults, LocalStack, StackOptions, wait_for

warnings.filterwarnings("ignore", message="No application metrics to publish")

API_RATE_PER_MINUTE = 100  # API_NOTES.md: 100 submits per minute


# -- shared helpers ------------------------------------------------------------------------------------------
def _clips() -> dict[str, bytes]:
    """A few valid clips, reused under many keys (each key is its own object; identical bytes are fine)."""
    return {name: wav_bytes(0.5, name, sample_rate=8000) for name in ("alice", "bob", "carol")}


def _upload_all(stack: LocalStack, files: list[tuple[str, bytes]], workers: int = 8) -> None:
    s3 = stack.client("s3")  # boto3 clients are thread-safe
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1]), files))


STATUS_ATTRIBUTES = ("objectKey", "sk", "status", "failureCode", "reason", "throttles", "failures", "jobId")


def _statuses(stack: LocalStack) -> list[dict[str, Any]]:
    """The attributes the verdicts need, of every record (a projected scan: the table holds thousands)."""
    return stack.records(STATUS_ATTRIBUTES)


@dataclass
class Announcements:
    """How the terminal records were announced on EventBridge: each once is the goal, at least once the contract."""

    expected: int = 0
    missing: int = 0
    duplicates: int = 0  # allowed (consumers dedupe on eventId), counted
    unexpected: int = 0

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.unexpected == 0


def _announcements(stack: LocalStack, timeout: float = 120.0) -> Announcements:
    """Wait (bounded) until every terminal record's Ready/Failed event has been published, then compare."""
    rows = stack.records(("pk", "sk", "kind", "status"))
    expected = {change_events.event_id(r["pk"], r["sk"], t): t for r in rows if (t := change_events.detail_type_of(r))}
    seen: Counter[str] = Counter()

    def caught_up() -> bool:
        seen.update(
            e["detail"].get("eventId", "")
            for e in stack.published_events()
            if not str(e.get("detail-type", "")).endswith("Deleted")
        )
        return set(expected) <= set(seen)

    wait_for(caught_up, timeout, 1.0)
    return Announcements(
        expected=len(expected),
        missing=len(set(expected) - set(seen)),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        unexpected=len(set(seen) - set(expected)),
    )


def _dead_letters(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message in the DLQ as the object keys it names and the reason the function gave."""
    letters = []
    for m in stack.dead_letters():
        try:
            records = json.loads(m["Body"]).get("Records", [])
        except (ValueError, AttributeError):  # a poison message: no object behind it
            records = []
        reason = m.get("MessageAttributes", {}).get("reason", {}).get("StringValue", "")
        letters.append({"keys": [unquote_plus(r["s3"]["object"]["key"]) for r in records], "reason": reason})
    return letters


def _secrets(stack: LocalStack) -> dict[str, str]:
    """What must never appear in anything logged: the two secrets, and presigned URLs' signatures."""
    return {
        "api key": stack.api_key,
        "webhook secret": stack.webhook_secret,
        "webhook ref key": stack.ref_key,
        "presigned URL signatures": "X-Amz-Signature=",
    }


def _leaks(log_file: Path, secrets: dict[str, str], extra: str = "") -> tuple[int, dict[str, int]]:
    """Lines captured, and how often each secret appears in them (the file is removed: it may hold a leak)."""
    text = log_file.read_text(errors="replace") + extra
    log_file.unlink()
    return text.count("\n"), {name: text.count(value) for name, value in secrets.items()}


def _object_of_url(url: str) -> str:
    """The object key of a presigned URL (path style: /bucket/key)."""
    return unquote(urlsplit(url).path).split("/", 2)[-1]


def _object_of(url_identity: str) -> str:
    """The object key in an emulator submissions_by_url entry (host/bucket/key?versionId=...)."""
    path = urlsplit("http://" + url_identity).path
    return unquote(path.split("/", 2)[2]) if path.count("/") >= 2 else path


@contextlib.contextmanager
def captured_output() -> Iterator[Path]:
    """Everything logged or printed for the duration goes to a file: file descriptors 1 and 2, sys.stdout and
    sys.stderr, and every logging StreamHandler, whichever stream it was given when it was made (Powertools keeps
    the one it saw first). The report's progress goes to the terminal meanwhile, through `say`."""
    global _console
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally
        "w", prefix="voiceprint-logs-", suffix=".txt", delete=False, buffering=1, errors="replace"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    _console = open(os.dup(sys.stdout.fileno()) if _has_fd(sys.stdout) else os.dup(1), "w", buffering=1)  # noqa: SIM115
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    handlers = [h for h in _stream_handlers() if not isinstance(h, logging.FileHandler)]
    saved_handler_streams = [(h, h.stream) for h in handlers]
    try:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        sys.stdout = sys.stderr = handle
        for h in handlers:
            _swap_stream(h, handle)
        yield Path(handle.name)
    finally:
        handle.flush()
        sys.stdout, sys.stderr = saved_streams
        for h, stream in saved_handler_streams:
            _swap_stream(h, stream)
        for h in _stream_handlers():  # made during the capture: give them the real stdout back
            if h.stream is handle:
                _swap_stream(h, sys.stdout)
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        os.close(saved_fds[0])
        os.close(saved_fds[1])
        handle.close()
        _console.close()
        _console = None


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    # Not setStream(): it flushes the old stream, which may be closed (a finished test's capture, say).
    with handler.lock or contextlib.nullcontext():
        handler.stream = stream


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    return [h for lg in loggers for h in lg.handlers if isinstance(h, logging.StreamHandler)]


_console: TextIO | None = None


def say(message: str) -> None:
    print(message, file=_console or sys.stdout, flush=True)


# -- burst -----------------------------------------------------------------------------------------------------
@dataclass
class BurstResult:
    uploads: int
    scale: float
    window_seconds: float
    limit: int = API_RATE_PER_MINUTE
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    jobs_created: int = 0
    objects_submitted_twice: int = 0
    answers_429: int = 0
    windows: int = 0
    max_throttles_per_object: int = 0
    objects_throttled: int = 0
    dead_lettered: int = 0
    submit_invocations: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    secret_leaks: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    announcements: Announcements = field(default_factory=Announcements)

    @property
    def ok(self) -> bool:
        return (
            self.announcements.ok
            and self.settled
            and self.statuses.get("succeeded", 0) == self.uploads
            and self.jobs_created == self.uploads
            and self.objects_submitted_twice == 0
            and self.dead_lettered == 0
            and self.lost == 0
            and self.answers_429 <= 3 * max(1, self.windows)  # bounded: a few per window, never one per message
            and not any(self.secret_leaks.values())
        )


def run_burst(
    uploads: int, *, scale: float, seed: int, timeout: float, limit: int = API_RATE_PER_MINUTE
) -> BurstResult:
    """`limit` submits per window of 60/`scale` seconds (the API's is 100 per 60 s)."""
    window = 60.0 / scale
    result = BurstResult(uploads=uploads, scale=scale, window_seconds=window, limit=limit)
    options = StackOptions(
        emulator={
            "rate_limits": {"submit": limit},
            "rate_window_seconds": window,
            "processing_seconds": 0.2,
            "retry_schedule": tuple(s / scale for s in (0.0, 60.0, 300.0)),
            "seed": seed,
        },
        # Our backoff runs on the same accelerated time: base 10 s and cap 900 s, shortened `scale` times.
        env={
            "RETRY_BASE_SECONDS": str(max(1, round(10 / scale))),
            "RETRY_MAX_DELAY_SECONDS": str(max(1, round(900 / scale))),
            # The burst measures the pipeline, not the budget: its uploads share one group, and the full run's
            # 10,000 are more than the default daily quota of a group.
            "GROUP_DAILY_JOBS": "0",
        },
        log_level="WARNING",
        metrics=False,
        faults=Faults(seed=seed),
    )
    clips = list(_clips().values())
    files = [(f"voiceprints/burst/{i:05d}.wav", clips[i % len(clips)]) for i in range(uploads)]
    with captured_output() as log_file, LocalStack(options) as stack:
        assert stack.emulator is not None
        emulator = stack.emulator
        secrets = _secrets(stack)
        say(f"burst: uploading {uploads} files (API limit {limit}/window of {window:.1f} s) ...")
        started = time.monotonic()
        _upload_all(stack, files)
        say(f"burst: uploaded in {time.monotonic() - started:.0f} s")

        def terminal() -> int:
            return sum(1 for r in _statuses(stack) if r.get("status") in ("succeeded", "failed"))

        def progress() -> None:
            say(
                f"burst: {terminal()}/{uploads} terminal after {time.monotonic() - started:.0f} s, "
                f"{emulator.stats.answers[429]} answers 429"
            )

        result.settled = wait_for(lambda: terminal() >= uploads, timeout, 10.0, progress=progress)
        result.seconds = time.monotonic() - started
        rows = _statuses(stack)
        result.statuses = dict(Counter(str(r.get("status")) for r in rows))
        per_object = Counter({_object_of(u): n for u, n in emulator.stats.submissions_by_url.items()})
        result.jobs_created = sum(per_object.values())
        result.objects_submitted_twice = sum(1 for n in per_object.values() if n > 1)
        result.answers_429 = emulator.stats.answers[429]
        result.windows = max(1, int(result.seconds / window) + 1)
        throttles = [int(r.get("throttles", 0)) for r in rows]
        result.max_throttles_per_object = max(throttles, default=0)
        result.objects_throttled = sum(1 for t in throttles if t)
        result.dead_lettered = len(_dead_letters(stack))
        result.submit_invocations = stack.invocations["submit"]
        done = {str(r["objectKey"]) for r in rows if r.get("status") in ("succeeded", "failed")}
        result.lost = sum(1 for key, _ in files if key not in done) - result.dead_lettered
        result.announcements = _announcements(stack)
        result.errors = list(stack.errors[:20])
    _, result.secret_leaks = _leaks(log_file, secrets)
    return result


# -- chaos -----------------------------------------------------------------------------------------------------
CHAOS_EMULATOR = {
    "rate_limits": {"submit": 10, "read": 10},  # per 2 s: below what the stack can do, so 429s happen
    "rate_window_seconds": 2.0,
    "processing_seconds": 0.3,
    "failure_rate": 0.03,
    "drop_webhook_rate": 0.05,
    "duplicate_webhook_rate": 0.05,
    "status_only_rate": 0.05,
    "error_rate": 0.03,
    "timeout_rate": 0.02,
    "stall_seconds": 1.5,
    "retry_schedule": (0.0, 1.0, 3.0),
    # The vendor misbehaves too: a share of jobs' first answer to GET /v1/jobs/{id} is outside the spec (an unknown
    # status, a malformed output, an oversized or a trickled body); what follows is genuine.
    "hostile_answer_rate": 0.3,
}
CHAOS_FAULTS = {"duplicate_delivery_rate": 0.05, "crash_after_submit_rate": 0.02, "dynamodb_throttle_rate": 0.02}
# Seconds instead of minutes, so that leases expire, the reconciler polls and backoffs end within the run.
CHAOS_ENV = {
    "RECONCILE_AFTER_SECONDS": "5",
    "CLAIM_LEASE_SECONDS": "6",
    "HTTP_TIMEOUT_SECONDS": "1",
    "RETRY_BASE_SECONDS": "1",
    "RETRY_MAX_DELAY_SECONDS": "15",
}
CHAOS_QUEUE_VISIBILITY = 8
# Shares of the uploads that are bad input, and what each must end as.
BAD_INPUT = {"too_long": 0.04, "not_audio": 0.03, "empty_object": 0.02}
NEW_VERSION_RATE = 0.02  # a key uploaded again with other content: a second object version
FORGED_WEBHOOKS = 200
CROSS_REPLAYS = 100  # genuine results replayed at other records' refs
FORGED_QUEUE_MESSAGES = 50  # forged S3 notifications on the input queue


@dataclass
class ChaosResult:
    uploads: int
    objects: int
    seed: int
    emulator_config: dict[str, Any] = field(default_factory=dict)
    fault_config: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    settled: bool = False
    statuses: dict[str, int] = field(default_factory=dict)
    failure_codes: dict[str, int] = field(default_factory=dict)
    failures_without_reason: int = 0
    wrong_outcomes: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    observed: dict[str, int] = field(default_factory=dict)
    jobs_created: int = 0
    extra_jobs: int = 0
    extra_jobs_forced: int = 0
    extra_jobs_unexplained: list[str] = field(default_factory=list)
    adopted_instead_of_resubmitted: int = 0
    forged_sent: int = 0
    forged_answers: dict[str, int] = field(default_factory=dict)
    forged_writes: int = 0
    replays_sent: int = 0
    replay_answers: dict[str, int] = field(default_factory=dict)
    crossed_records: list[str] = field(default_factory=list)  # a record holding another object's job
    queue_forgeries: dict[str, int] = field(default_factory=dict)
    poison_dead_lettered: int = 0  # forged messages that were not S3 notifications, dead-lettered with a reason
    hostile_answers: dict[str, int] = field(default_factory=dict)  # vendor answers outside the spec, by kind
    regressions: int = 0
    log_lines: int = 0
    secret_leaks: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    announcements: Announcements = field(default_factory=Announcements)

    @property
    def ok(self) -> bool:
        return (
            self.announcements.ok
            and self.settled
            and not self.lost
            and not self.wrong_outcomes
            and self.failures_without_reason == 0
            and not self.extra_jobs_unexplained
            and self.forged_writes == 0
            and set(self.forged_answers) <= {"400", "401"}
            and not self.crossed_records
            and self.poison_dead_lettered == self.queue_forgeries.get("poison", 0)
            and self.regressions == 0
            and self.log_lines > 0
            and not any(self.secret_leaks.values())
        )


def _chaos_files(uploads: int, seed: int) -> tuple[list[tuple[str, bytes]], dict[str, list[str]]]:
    """The uploads, in order, and what each key's object versions must end as ("ok" = voiceprint or job_failed)."""
    rng = random.Random(seed)
    clips = list(_clips().values())
    bad = {"too_long": silent_wav(31.0), "not_audio": b"This is not audio.\n" * 40, "empty_object": b""}
    files: list[tuple[str, bytes]] = []
    expected: dict[str, list[str]] = {}
    for i in range(uploads):
        if expected and rng.random() < NEW_VERSION_RATE:
            key = rng.choice([k for k, v in expected.items() if v == ["ok"]] or list(expected))
            data = clips[(i + 1) % len(clips)] + b""  # another clip: another ETag, another version
            if any(d == data for k, d in files if k == key):
                data = wav_bytes(0.5, "alice", sample_rate=8000, seed=i)
            files.append((key, data))
            expected[key].append("ok")
            continue
        roll, kind = rng.random(), "ok"
        for code, share in BAD_INPUT.items():
            if roll < share:
                kind = code
                break
            roll -= share
        # Spaces, '+', unicode: as users name files.
        key = f"voiceprints/chaos/{i:05d} {'bad' if kind != 'ok' else 'clip'}+ü.wav"
        files.append((key, bad[kind] if kind != "ok" else clips[i % len(clips)]))
        expected[key] = [kind]
    return files, expected


def run_chaos(
    uploads: int,
    *,
    seed: int,
    timeout: float,
    emulator_rates: dict[str, Any] | None = None,
    fault_rates: dict[str, float] | None = None,
) -> ChaosResult:
    """The fault matrix of CHAOS_EMULATOR and CHAOS_FAULTS, with `emulator_rates` / `fault_rates` overriding."""
    files, expected = _chaos_files(uploads, seed)
    result = ChaosResult(uploads=len(files), objects=sum(len(v) for v in expected.values()), seed=seed)
    result.emulator_config = {**CHAOS_EMULATOR, **(emulator_rates or {})}
    result.fault_config = {**CHAOS_FAULTS, **(fault_rates or {})}
    options = StackOptions(
        emulator={**result.emulator_config, "seed": seed},
        faults=Faults(seed=seed, **result.fault_config),
        env=CHAOS_ENV,
        queue_visibility_seconds=CHAOS_QUEUE_VISIBILITY,
        reconcile_every_seconds=1.0,
        log_level="INFO",  # everything the handlers log is captured and searched for secrets
        metrics=True,
    )
    with captured_output() as log_file, LocalStack(options) as stack:
        assert stack.emulator is not None
        emulator = stack.emulator
        secrets = _secrets(stack)
        say(f"chaos: {len(files)} uploads ({result.objects} object versions), seed {seed} ...")
        started = time.monotonic()
        # Half now, half while forged webhooks arrive (a key's versions may land in any order: each is its own).
        _upload_all(stack, files[: len(files) // 2])
        forged: Counter[str] = Counter()
        replayed: Counter[str] = Counter()
        wait_for(lambda: len(emulator.jobs) >= 10, 60, 0.5)
        with emulator._lock:
            real_jobs = list(emulator.jobs)

        def attack() -> None:
            forged.update(hostile.forge_webhooks(stack, real_jobs, FORGED_WEBHOOKS, seed))
            with emulator._lock:
                done = [(j.id, dict(j.output)) for j in emulator.jobs.values() if j.status == "succeeded" and j.output]
            replayed.update(hostile.replay_across_records(stack, done, stack.records(), CROSS_REPLAYS, seed))

        forger = threading.Thread(target=attack, name="forger")
        forger.start()
        _upload_all(stack, files[len(files) // 2 :])
        forger.join(timeout=180)
        uploaded_ok = sorted({k for k, _ in files[: len(files) // 2] if expected[k][0] == "ok"})
        result.queue_forgeries = dict(hostile.forge_queue_messages(stack, uploaded_ok, FORGED_QUEUE_MESSAGES, seed))

        def settled_keys() -> Counter[str]:
            return Counter(str(r["objectKey"]) for r in _statuses(stack) if r.get("status") in ("succeeded", "failed"))

        def all_settled() -> bool:
            done = settled_keys()
            dlq = Counter(k for d in _dead_letters(stack) for k in d["keys"])
            return all(done[k] + dlq[k] >= len(v) for k, v in expected.items())

        def progress() -> None:
            done, elapsed = sum(settled_keys().values()), time.monotonic() - started
            say(f"chaos: {done}/{result.objects} terminal after {elapsed:.0f} s")

        result.settled = wait_for(all_settled, timeout, 3.0, progress=progress)
        first = {(r["objectKey"], r["sk"]): r.get("status") for r in _statuses(stack)}
        # Late duplicates and vendor retries still arrive: a terminal record must not move any more.
        threading.Event().wait(5.0)
        result.seconds = time.monotonic() - started
        rows = _statuses(stack)
        result.regressions = sum(
            1
            for r in rows
            if first.get((r["objectKey"], r["sk"])) in ("succeeded", "failed")
            and r.get("status") != first[(r["objectKey"], r["sk"])]
        )
        result.statuses = dict(Counter(str(r.get("status")) for r in rows))
        failed = [r for r in rows if r.get("status") == "failed"]
        result.failure_codes = dict(Counter(str(r.get("failureCode")) for r in failed))
        result.failures_without_reason = sum(1 for r in failed if not r.get("reason") or not r.get("failureCode"))
        result.forged_writes = sum(1 for r in rows if "FORGED" in str(r.get("reason", "")))
        letters = _dead_letters(stack)
        result.dead_lettered = [d for d in letters if d["keys"]]
        result.poison_dead_lettered = sum(1 for d in letters if not d["keys"] and "malformed" in d["reason"])
        dlq = Counter(k for d in result.dead_lettered for k in d["keys"])
        by_key: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_key.setdefault(str(r["objectKey"]), []).append(r)
        for key, kinds in expected.items():
            records = [r for r in by_key.get(key, []) if r.get("status") in ("succeeded", "failed")]
            if len(records) + dlq[key] < len(kinds):
                result.lost.append(key)
            refused_as = records[0].get("failureCode") if records else kinds[0]
            if kinds[0] != "ok" and len(kinds) == 1 and refused_as != kinds[0]:  # bad input: refused with its code
                result.wrong_outcomes.append(f"{key}: {records[0].get('failureCode')} instead of {kinds[0]}")
            for r in records:
                if r.get("status") == "failed" and kinds[0] == "ok" and r.get("failureCode") != "job_failed":
                    result.wrong_outcomes.append(f"{key}: {r.get('failureCode')} ({r.get('reason')})")
        per_object: Counter[str] = Counter()
        for url, n in emulator.stats.submissions_by_url.items():
            per_object[_object_of(url)] += n
        timed_out: Counter[str] = Counter()
        for url, n in emulator.stats.timeouts_by_url.items():
            timed_out[_object_of(url)] += n
        submitted_versions = Counter(str(r["objectKey"]) for r in rows if r.get("jobId"))
        result.jobs_created = sum(per_object.values())
        for key, n in per_object.items():
            extra = n - max(1, submitted_versions[key])
            if extra <= 0:
                continue
            result.extra_jobs += extra
            forced = min(extra, timed_out[key] + stack.crashed_keys[key])
            result.extra_jobs_forced += forced
            if extra > forced:
                result.extra_jobs_unexplained.append(key)
        result.injected = {
            **dict(stack.injected),
            "api_429": emulator.stats.answers[429],
            "api_5xx": emulator.stats.injected_errors,
            "api_timeouts": emulator.stats.injected_timeouts,
            "webhooks_dropped": emulator.stats.webhooks_dropped,
            "webhooks_failed_then_retried": emulator.stats.webhooks_failed,
            "jobs_failed_by_vendor": result.failure_codes.get("job_failed", 0),
        }
        result.observed = {
            **dict(stack.observed),
            "webhook_invocations": stack.invocations["webhook"],
            "submit_invocations": stack.invocations["submit"],
            "reconciler_invocations": stack.invocations["reconciler"],
            "job_polls": emulator.stats.requests["GET /v1/jobs/{id}"],
        }
        result.adopted_instead_of_resubmitted = stack.observed["adopted_instead_of_resubmitted"]
        result.forged_sent = sum(forged.values())
        result.forged_answers = dict(forged)
        result.hostile_answers = dict(emulator.stats.hostile_answers)
        result.replays_sent = sum(replayed.values())
        result.replay_answers = dict(replayed)
        job_object = {job_id: _object_of_url(job.url) for job_id, job in emulator.jobs.items()}
        result.crossed_records = [
            str(r["objectKey"])
            for r in rows
            if r.get("jobId") and job_object.get(str(r["jobId"]), str(r["objectKey"])) != str(r["objectKey"])
        ]
        result.announcements = _announcements(stack)
        result.errors = list(stack.errors[:20])
    result.log_lines, result.secret_leaks = _leaks(log_file, secrets, "\n".join(result.errors))
    return result


# -- report ----------------------------------------------------------------------------------------------------
def _table(rows: list[tuple[str, Any]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _announced(a: Announcements) -> str:
    return (
        f"{a.expected - a.missing:,}/{a.expected:,} ({a.duplicates} announced twice, "
        f"{a.unexpected} events for no terminal record)"
    )


def render(burst: BurstResult | None, chaos: ChaosResult | None, command: str) -> str:
    out = [
        "# Reliability",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs). "
        "Everything runs on this machine: moto server, the pyannoteAI emulator, the local HTTP API and the "
        "unchanged handlers, over HTTP on 127.0.0.1. Re-run the command to refresh this file.",
        "",
    ]
    if burst is not None:
        b = burst
        out += [
            f"## Burst: {b.uploads:,} uploads at once, {b.limit} submits per window — {'PASS' if b.ok else 'FAIL'}",
            "",
            f"The emulator enforces {b.limit} `POST /v1/voiceprint` per window and answers 429 with "
            f"`Retry-After` beyond it. The clock is accelerated {b.scale:g} times: a window lasts "
            f"{b.window_seconds:.1f} s instead of 60 s, and our backoff (base and cap) is shortened by the same "
            "factor through `RETRY_BASE_SECONDS` / `RETRY_MAX_DELAY_SECONDS`. One submit container, as with "
            "`SubmitMaxConcurrency: 1`.",
            "",
            _table(
                [
                    ("all terminal", b.settled),
                    ("records by status", b.statuses),
                    ("jobs created (POSTs that made a job)", f"{b.jobs_created:,}"),
                    ("objects submitted twice", b.objects_submitted_twice),
                    ("429 answers", f"{b.answers_429} over ~{b.windows} windows"),
                    ("objects that met a 429", b.objects_throttled),
                    ("most 429s met by one object", b.max_throttles_per_object),
                    ("dead-lettered", b.dead_lettered),
                    ("lost", b.lost),
                    ("submit invocations", f"{b.submit_invocations:,}"),
                    ("terminal records announced on EventBridge", _announced(b.announcements)),
                    ("secrets found in the captured logs", b.secret_leaks),
                    (
                        "duration",
                        f"{b.seconds:.0f} s ({b.uploads / max(b.seconds, 1e-9):.1f} voiceprints/s; "
                        f"the limit allows {b.limit / b.window_seconds:.1f}/s)",
                    ),
                    ("equivalent real time at 100/min", f"{b.uploads / API_RATE_PER_MINUTE:.0f} min minimum"),
                ]
            ),
            "",
            "Why 429s stay bounded: after a 429 the container stops calling the API until the window has passed "
            "(the rest of its batch goes back to the queue without a request), and a message returned while the "
            "API is paused comes back after `Retry-After` plus a jitter window that doubles with its receive "
            "count, so a backlog of many windows spreads out instead of returning every window. 429s spend no "
            "failure budget, so nothing healthy is dead-lettered by a burst.",
            "",
        ]
        if b.errors:
            out += ["Errors seen:", "", *(f"- `{e}`" for e in b.errors), ""]
    if chaos is not None:
        c = chaos
        env = ", ".join(f"`{k}={v}`" for k, v in CHAOS_ENV.items())
        out += [
            f"## Chaos: {c.uploads:,} uploads under a seeded fault matrix (seed {c.seed}) — "
            f"{'PASS' if c.ok else 'FAIL'}",
            "",
            "What was injected, at which rate (each draw seeded):",
            "",
            _table(
                [(f"emulator `{k}`", v) for k, v in c.emulator_config.items()]
                + [(f"stack `{k}`", v) for k, v in c.fault_config.items()]
                + [(f"bad input `{k}`", v) for k, v in BAD_INPUT.items()]
                + [
                    ("new version of an existing key", NEW_VERSION_RATE),
                    ("forged/stale webhooks", FORGED_WEBHOOKS),
                    ("genuine results replayed at other records", CROSS_REPLAYS),
                    ("forged queue messages (new upload, deletes, other bucket, poison)", FORGED_QUEUE_MESSAGES),
                ]
            ),
            "",
            f"Timings shortened so that every recovery path runs within the run: {env}, queue visibility "
            f"{CHAOS_QUEUE_VISIBILITY} s, reconciler every 1 s.",
            "",
            "What happened:",
            "",
            _table(
                [(f"injected: {k}", v) for k, v in sorted(c.injected.items())]
                + [(f"observed: {k}", v) for k, v in sorted(c.observed.items())]
            ),
            "",
            "Outcomes:",
            "",
            _table(
                [
                    ("object versions uploaded", c.objects),
                    ("all terminal or dead-lettered", c.settled),
                    ("records by status", c.statuses),
                    ("failures by code", c.failure_codes),
                    ("failures without a reason", c.failures_without_reason),
                    ("bad input with the wrong outcome", len(c.wrong_outcomes)),
                    ("lost (neither terminal nor in the DLQ)", len(c.lost)),
                    ("dead-lettered", len(c.dead_lettered)),
                    ("terminal records that changed afterwards", c.regressions),
                    ("jobs created at the API", c.jobs_created),
                    ("extra jobs (double billing)", c.extra_jobs),
                    (
                        "... forced: the answer was lost (timeout) or we crashed before recording it",
                        c.extra_jobs_forced,
                    ),
                    ("... unexplained", len(c.extra_jobs_unexplained)),
                    ("lost answers recovered without a new job (adopted webhook)", c.adopted_instead_of_resubmitted),
                    ("forged/stale webhooks sent", c.forged_sent),
                    ("their answers", c.forged_answers),
                    ("records they changed", c.forged_writes),
                    ("genuine results replayed at other records (no MAC, or a wrong one)", c.replays_sent),
                    ("their answers", c.replay_answers),
                    ("records holding another object's job", len(c.crossed_records)),
                    ("forged queue messages sent", c.queue_forgeries),
                    ("... poison dead-lettered with a reason", c.poison_dead_lettered),
                    ("vendor answers outside the spec (each a job's first GET)", c.hostile_answers),
                    ("terminal records announced on EventBridge", _announced(c.announcements)),
                    ("log lines captured", c.log_lines),
                    ("secrets found in them", c.secret_leaks),
                    ("duration", f"{c.seconds:.0f} s"),
                ]
            ),
            "",
            "Double billing: pyannoteAI has no idempotency key, so when a `POST /v1/voiceprint` creates a job and "
            "its answer never reaches us (client timeout) or we crash before writing the jobId, a retry creates a "
            "second job. The webhook URL carries our object reference, so when the first job's webhook arrives "
            "before the retry, the retry adopts that result instead of submitting again; only when the retry "
            "comes first (or that webhook is dropped) is a second job created. Every extra job above is matched "
            "to a timeout or crash injected for that very object.",
            "",
        ]
        for title, items in (
            ("Lost", c.lost),
            ("Wrong outcomes", c.wrong_outcomes),
            ("Unexplained extra jobs", c.extra_jobs_unexplained),
            ("Dead letters", [f"{d['keys']}: {d['reason']}" for d in c.dead_lettered]),
            ("Errors seen by the local stack (injected crashes included)", c.errors),
        ):
            if items:
                out += [f"{title}:", "", *(f"- `{i}`" for i in items[:20]), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voiceprint_local.reliability", description=__doc__)
    parser.add_argument("--burst-uploads", type=int, default=10_000, help="0 skips the burst")
    parser.add_argument("--scale", type=float, default=5.0, help="clock acceleration of the burst")
    parser.add_argument("--chaos-uploads", type=int, default=1_000, help="0 skips the chaos run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600.0, help="per run, seconds")
    parser.add_argument(
        "--out",
        type=Path,
        help="default: docs/RELIABILITY.md for the full runs; smaller runs write local-data/RELIABILITY-small.md, "
        "so the committed figures are never overwritten by a smaller run unless asked",
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    burst = (
        run_burst(args.burst_uploads, scale=args.scale, seed=args.seed, timeout=args.timeout)
        if (args.burst_uploads)
        else None
    )
    if burst is not None:
        say(f"burst: {'PASS' if burst.ok else 'FAIL'} {asdict(burst)}")
    chaos = run_chaos(args.chaos_uploads, seed=args.seed, timeout=args.timeout) if args.chaos_uploads else None
    if chaos is not None:
        say(f"chaos: {'PASS' if chaos.ok else 'FAIL'} in {chaos.seconds:.0f} s")
    command = "scripts/reliability.sh" + ("" if argv is None else " " + " ".join(argv))
    if args.out is None:
        full = (args.burst_uploads, args.chaos_uploads) == (10_000, 1_000)
        args.out = Path("docs/RELIABILITY.md") if full else Path("local-data/RELIABILITY-small.md")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(burst, chaos, command) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"burst": burst and asdict(burst), "chaos": chaos and asdict(chaos)}, indent=1))
    say(f"wrote {args.out}")
    return 0 if all(r is None or r.ok for r in (burst, chaos)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
