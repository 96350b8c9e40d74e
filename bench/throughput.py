"""Throughput of the local stack (uploads -> terminal records per second, the emulator's rate limit off), and
where the time goes: a sampling profiler that reads every thread's stack every few milliseconds (cProfile sees
one thread only, and the stack is a dozen threads)."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import FrameType

from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.reliability.capture import captured_output
from voiceprint_local.stack import LocalStack, StackOptions, wait_for

# Innermost frames that mean "this thread is waiting", not working.
IDLE = ("wait", "select", "poll", "accept", "recv_into", "recv", "readinto", "sleep", "_wait_for_tstate_lock")

# Where a frame's code lives -> the part of the system it belongs to (first match from the innermost frame out).
PARTS = (
    ("/functions/", "handlers (functions/ + layer)"),
    ("/layers/common/voiceprint/", "handlers (functions/ + layer)"),
    ("voiceprint_local/emulator", "pyannoteAI emulator"),
    ("voiceprint_local/embeddings", "pyannoteAI emulator"),
    ("voiceprint_local/apigw", "local HTTP API"),
    ("voiceprint_local/stack", "event source (SQS dispatcher)"),
    ("/moto/", "moto (AWS)"),
    ("/werkzeug/", "moto (AWS)"),
    ("/botocore/", "boto3/botocore clients"),
    ("/boto3/", "boto3/botocore clients"),
    ("/aws_lambda_powertools/", "Powertools"),
    ("/mutagen/", "mutagen"),
)


@dataclass
class Profile:
    samples: int
    busy: int
    by_part: Counter[str]  # busy samples by part (innermost frame that belongs to one)
    by_function: Counter[str]  # busy samples by innermost function


def _part(frame: FrameType | None) -> str:
    while frame is not None:
        filename = frame.f_code.co_filename
        for needle, part in PARTS:
            if needle in filename:
                return part
        frame = frame.f_back
    return "other (stdlib, http.server)"


class Sampler:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.profile = Profile(0, 0, Counter(), Counter())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                self.profile.samples += 1
                code = frame.f_code
                if code.co_name in IDLE:
                    continue
                self.profile.busy += 1
                self.profile.by_part[_part(frame)] += 1
                where = code.co_filename.rsplit("site-packages/", 1)[-1].rsplit("/lib/python3.12/", 1)[-1]
                self.profile.by_function[f"{where}:{code.co_name}"] += 1


@dataclass
class Throughput:
    uploads: int
    upload_seconds: float
    seconds: float  # from the first upload to the last terminal record
    per_second: float
    profile: Profile
    log_bytes: int  # everything the handlers logged (INFO logs and EMF metrics): CloudWatch Logs ingestion


def run(uploads: int, *, timeout: float) -> Throughput:
    audio = {i: wav_bytes(2.0 + (i % 5) * 0.5, ("alice", "bob", "carol")[i % 3], seed=i) for i in range(10)}
    # INFO logs and metrics on, as deployed; captured to a file so the terminal shows only progress.
    with (
        captured_output() as log_file,
        LocalStack(StackOptions(reconcile_every_seconds=30.0)) as stack,
        Sampler() as sampler,
    ):
        started = time.monotonic()
        for i in range(uploads):
            stack.upload(f"voiceprints/throughput-{i:05d}.wav", audio[i % 10])
        uploaded = time.monotonic() - started
        done = wait_for(lambda: len(stack.records(("status",))) >= uploads and _all_terminal(stack), timeout, 0.5)
        seconds = time.monotonic() - started
        if not done:
            raise RuntimeError(f"throughput run did not finish in {timeout} s")
        log_bytes = log_file.stat().st_size
    log_file.unlink()
    return Throughput(uploads, uploaded, seconds, uploads / seconds, sampler.profile, log_bytes)


def _all_terminal(stack: LocalStack) -> bool:
    return all(r.get("status") in ("succeeded", "failed") for r in stack.records(("status",)))
