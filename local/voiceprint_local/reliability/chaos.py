"""The chaos run: a seeded fault matrix over N uploads, attacks included, and its verdict: nothing lost, every
failure with a reason, double billing only where the API forces it, forgeries change nothing, no secret logged."""

from __future__ import annotations

import io
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from voiceprint_cli import __main__ as cli
from voiceprint_local import hostile
from voiceprint_local.audio_samples import silent_wav, wav_bytes
from voiceprint_local.emulator import Emulator
from voiceprint_local.reliability import observe
from voiceprint_local.reliability.capture import captured_output, say
from voiceprint_local.stack import Faults, LocalStack, StackOptions, wait_for

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
CHAOS_FAULTS = {
    "duplicate_delivery_rate": 0.05,
    "crash_after_submit_rate": 0.02,
    "dynamodb_throttle_rate": 0.02,
    "expired_message_rate": 0.02,  # per receive of an object's notification: gone, as past the queue's retention
}
# `voiceprint sweep --older-than SWEEP_AGE`, every SWEEP_EVERY seconds of the run, as an operator's schedule would:
# it finds the objects whose message expired (no record, or one left unfinished since) and enqueues them again.
SWEEP_EVERY, SWEEP_AGE = 20.0, 60
# Seconds instead of minutes, so that leases expire, the reconciler polls and backoffs end within the run.
CHAOS_ENV = {
    "RECONCILE_AFTER_SECONDS": "5",
    "CLAIM_LEASE_SECONDS": "6",
    "HTTP_TIMEOUT_SECONDS": "1",
    "RETRY_BASE_SECONDS": "1",
    "RETRY_MAX_DELAY_SECONDS": "15",
    "SUBMITS_PER_WINDOW": "10",  # the emulator's limit and window (CHAOS_EMULATOR)
    "RATE_WINDOW_SECONDS": "2",
    "JOB_READS_PER_WINDOW": "10",
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
    sweeps: int = 0
    swept: int = 0  # objects the sweeps enqueued again
    hostile_answers: dict[str, int] = field(default_factory=dict)  # vendor answers outside the spec, by kind
    regressions: int = 0
    log_lines: int = 0
    secret_leaks: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    announcements: observe.Announcements = field(default_factory=observe.Announcements)

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
            and (self.swept > 0 or not self.injected.get("expired_message"))
            and self.regressions == 0
            and self.log_lines > 0
            and not any(self.secret_leaks.values())
        )


def chaos_files(uploads: int, seed: int) -> tuple[list[tuple[str, bytes]], dict[str, list[str]]]:
    """The uploads, in order, and what each key's object versions must end as ("ok" = voiceprint or job_failed)."""
    rng = random.Random(seed)
    clips = list(observe.clips().values())
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
    files, expected = chaos_files(uploads, seed)
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
        secrets = observe.secrets_of(stack)
        say(f"chaos: {len(files)} uploads ({result.objects} object versions), seed {seed} ...")
        started = time.monotonic()
        settled = threading.Event()
        sweeper = threading.Thread(target=_sweep_until, args=(stack, settled, result), name="sweeper")
        sweeper.start()
        try:
            forged, replayed = _upload_under_attack(stack, stack.emulator, files, expected, seed, result)
            result.settled = _wait_settled(stack, expected, timeout, started, result.objects)
        finally:
            settled.set()
            sweeper.join(timeout=120)
        first = {(r["objectKey"], r["sk"]): r.get("status") for r in observe.statuses(stack)}
        # Late duplicates and vendor retries still arrive: a terminal record must not move any more.
        threading.Event().wait(5.0)
        result.seconds = time.monotonic() - started
        rows = observe.statuses(stack)
        result.regressions = sum(
            1
            for r in rows
            if first.get((r["objectKey"], r["sk"])) in ("succeeded", "failed")
            and r.get("status") != first[(r["objectKey"], r["sk"])]
        )
        _score_outcomes(result, rows, expected, observe.dead_letters(stack))
        _score_billing(result, rows, stack, stack.emulator)
        _score_attacks(result, rows, stack.emulator, forged, replayed)
        _count_faults(result, stack, stack.emulator)
        result.announcements = observe.announcements(stack)
        result.errors = list(stack.errors[:20])
    result.log_lines, result.secret_leaks = observe.leaks(log_file, secrets, "\n".join(result.errors))
    return result


def _upload_under_attack(
    stack: LocalStack,
    emulator: Emulator,
    files: list[tuple[str, bytes]],
    expected: dict[str, list[str]],
    seed: int,
    result: ChaosResult,
) -> tuple[Counter[str], Counter[str]]:
    """Half the uploads now, half while forged webhooks and cross-record replays arrive (a key's versions may land
    in any order: each is its own), then forged queue messages. Returns the answers to the forgeries."""
    observe.upload_all(stack, files[: len(files) // 2])
    forged: Counter[str] = Counter()
    replayed: Counter[str] = Counter()
    wait_for(lambda: len(emulator.jobs) >= 10, 60, 0.5)
    real_jobs = [job_id for job_id, _, _ in emulator.job_snapshot()]

    def attack() -> None:
        forged.update(hostile.forge_webhooks(stack, real_jobs, FORGED_WEBHOOKS, seed))
        done = [
            (job_id, output) for job_id, status, output in emulator.job_snapshot() if status == "succeeded" and output
        ]
        replayed.update(hostile.replay_across_records(stack, done, stack.records(), CROSS_REPLAYS, seed))

    forger = threading.Thread(target=attack, name="forger")
    forger.start()
    observe.upload_all(stack, files[len(files) // 2 :])
    forger.join(timeout=180)
    uploaded_ok = sorted({k for k, _ in files[: len(files) // 2] if expected[k][0] == "ok"})
    result.queue_forgeries = dict(hostile.forge_queue_messages(stack, uploaded_ok, FORGED_QUEUE_MESSAGES, seed))
    return forged, replayed


def _sweep_until(stack: LocalStack, stop: threading.Event, result: ChaosResult) -> None:
    """`voiceprint sweep` on a schedule until `stop`, through the CLI as an operator runs it."""
    assert stack.api is not None
    args = ["--local", "--aws-endpoint", stack.aws_url, "--api", stack.api.url, "--json"]
    while not stop.wait(SWEEP_EVERY):
        out, err = io.StringIO(), io.StringIO()
        code = cli.main([*args, "sweep", "--older-than", str(SWEEP_AGE), "--max-backlog", "100000"], out=out, err=err)
        if code != 0:
            stack.errors.append(f"sweep exited {code}: {err.getvalue()[-300:]}")
            continue
        result.sweeps += 1
        result.swept += int(json.loads(out.getvalue())["enqueued"])


def _wait_settled(
    stack: LocalStack, expected: dict[str, list[str]], timeout: float, started: float, objects: int
) -> bool:
    """Until every object version is terminal or dead-lettered (bounded by `timeout`)."""

    def settled_keys() -> Counter[str]:
        return Counter(
            str(r["objectKey"]) for r in observe.statuses(stack) if r.get("status") in ("succeeded", "failed")
        )

    def all_settled() -> bool:
        done = settled_keys()
        dlq = Counter(k for d in observe.dead_letters(stack) for k in d["keys"])
        return all(done[k] + dlq[k] >= len(v) for k, v in expected.items())

    def progress() -> None:
        done, elapsed = sum(settled_keys().values()), time.monotonic() - started
        say(f"chaos: {done}/{objects} terminal after {elapsed:.0f} s")

    return wait_for(all_settled, timeout, 3.0, progress=progress)


def _score_outcomes(
    result: ChaosResult, rows: list[dict[str, Any]], expected: dict[str, list[str]], letters: list[dict[str, Any]]
) -> None:
    """Statuses, failure codes and reasons, what was lost, and whether bad input ended as its own refusal."""
    result.statuses = dict(Counter(str(r.get("status")) for r in rows))
    failed = [r for r in rows if r.get("status") == "failed"]
    result.failure_codes = dict(Counter(str(r.get("failureCode")) for r in failed))
    result.failures_without_reason = sum(1 for r in failed if not r.get("reason") or not r.get("failureCode"))
    result.forged_writes = sum(1 for r in rows if "FORGED" in str(r.get("reason", "")))
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


def _score_billing(result: ChaosResult, rows: list[dict[str, Any]], stack: LocalStack, emulator: Emulator) -> None:
    """Jobs created per object, and whether each extra one is explained by a timeout or crash injected for it."""
    per_object: Counter[str] = Counter()
    for url, n in emulator.stats.submissions_by_url.items():
        per_object[observe.object_of(url)] += n
    timed_out: Counter[str] = Counter()
    for url, n in emulator.stats.timeouts_by_url.items():
        timed_out[observe.object_of(url)] += n
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
    result.adopted_instead_of_resubmitted = stack.observed["adopted_instead_of_resubmitted"]


def _score_attacks(
    result: ChaosResult,
    rows: list[dict[str, Any]],
    emulator: Emulator,
    forged: Counter[str],
    replayed: Counter[str],
) -> None:
    """What the forged webhooks and replays were answered, and whether any record holds another object's job."""
    result.forged_sent = sum(forged.values())
    result.forged_answers = dict(forged)
    result.hostile_answers = dict(emulator.stats.hostile_answers)
    result.replays_sent = sum(replayed.values())
    result.replay_answers = dict(replayed)
    job_object = {job_id: observe.object_of_url(job.url) for job_id, job in emulator.jobs.items()}
    result.crossed_records = [
        str(r["objectKey"])
        for r in rows
        if r.get("jobId") and job_object.get(str(r["jobId"]), str(r["objectKey"])) != str(r["objectKey"])
    ]


def _count_faults(result: ChaosResult, stack: LocalStack, emulator: Emulator) -> None:
    """The faults injected and what the stack observed, for the report."""
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
