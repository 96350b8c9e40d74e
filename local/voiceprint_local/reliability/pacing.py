"""The pacing run (issue 14): a burst drained by 1, 2 or 4 submit containers through the one rate budget they share,
against a limit the local stack can sustain, so that the windows it takes measure the pacing and not the stack.

Per run: the windows from the first submission to the last against the ideal (uploads / limit, rounded up), the
requests the emulator let through and answered 429 in each window, and the rate counter's writes per job (counted
with a botocore hook on the handlers' session, as the bench counts calls). The uploads start at a window's first
second, so that the first window is a whole one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from voiceprint_local.reliability import observe
from voiceprint_local.reliability.capture import captured_output, say
from voiceprint_local.stack import LocalStack, StackOptions, wait_for

# What the local stack sustains with room to spare (about 2.7 uploads a second, docs/BENCHMARKS.md): 20 submits
# per 12 s window is 1.7 a second, so the stack's own speed does not stretch the drain; and 20 a window leaves the
# blocks of tokens room to be blocks (at 100 a minute, the API's, they are 5).
LIMIT = 20
WINDOW_SECONDS = 12
TARGET_RATIO = 1.05  # issue 14: at most 1.05 x the ideal windows
MAX_429_SHARE = 0.01  # and 429s under 1 % of submits
RATE_WRITES = {"UpdateItem", "PutItem"}


def touches_rate_counter(kwargs: dict[str, Any]) -> bool:
    """Whether a DynamoDB call is on the rate counter's item (pk "RATE#..."), from whichever form a botocore hook
    sees: the API parameters, the serialized request, or the prepared HTTP request."""
    params = kwargs.get("params")
    if isinstance(params, dict):
        key = params.get("Key")
        if isinstance(key, dict):
            return str(key.get("pk", {}).get("S", "")).startswith("RATE#")
        body = params.get("body")
    else:
        body = getattr(kwargs.get("request"), "body", None)
    return isinstance(body, bytes) and b'"RATE#' in body


@dataclass
class PacingResult:
    containers: int
    uploads: int
    limit: int = LIMIT
    window_seconds: int = WINDOW_SECONDS
    seconds: float = 0.0
    succeeded: int = 0
    submits: int = 0  # POSTs the limit let through
    answers_429: int = 0
    windows: int = 0  # from the first submission's window to the last's, both counted
    ideal_windows: int = 0
    rate_writes: int = 0
    # Per window, from the first: [submits, 429s]; and the backlog (uploads not yet submitted) at its end.
    per_window: list[tuple[int, int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.windows / self.ideal_windows if self.ideal_windows else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.succeeded == self.uploads
            and self.ratio <= TARGET_RATIO
            and self.answers_429 <= MAX_429_SHARE * max(1, self.submits)
            and not self.errors
        )


def run_pacing(containers: int, uploads: int, *, seed: int, timeout: float) -> PacingResult:
    result = PacingResult(containers=containers, uploads=uploads, ideal_windows=math.ceil(uploads / LIMIT))
    options = StackOptions(
        emulator={
            "rate_limits": {"submit": LIMIT},
            "rate_window_seconds": float(WINDOW_SECONDS),
            "processing_seconds": 0.2,
            "seed": seed,
        },
        env={
            "SUBMITS_PER_WINDOW": str(LIMIT),
            "RATE_WINDOW_SECONDS": str(WINDOW_SECONDS),
            "SUBMIT_CONTAINERS": str(containers),
            "RETRY_BASE_SECONDS": "1",
            "RETRY_MAX_DELAY_SECONDS": str(WINDOW_SECONDS * 3),
            "GROUP_DAILY_JOBS": "0",
        },
        submit_containers=containers,
        log_level="WARNING",
        metrics=False,
    )
    writes = Counter[str]()
    lock = threading.Lock()

    def on_call(event_name: str, **kwargs: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if event_name.startswith("before-call.dynamodb.") and operation in RATE_WRITES and touches_rate_counter(kwargs):
            with lock:
                writes["rate"] += 1

    events = boto3._get_default_session().events
    events.register("before-call", on_call, unique_id="pacing-rate-writes")
    clips = list(observe.clips().values())
    files = [(f"voiceprints/pacing/{i:05d}.wav", clips[i % len(clips)]) for i in range(uploads)]
    try:
        with captured_output(), LocalStack(options) as stack:
            assert stack.emulator is not None
            stats = stack.emulator.stats
            start = (time.time() // WINDOW_SECONDS + 1) * WINDOW_SECONDS
            wait_for(lambda: time.time() >= start, WINDOW_SECONDS + 1, 0.05)  # a window's first second
            say(f"pacing: {containers} container(s), {uploads} uploads, {LIMIT} submits per {WINDOW_SECONDS} s")
            began = time.monotonic()
            observe.upload_all(stack, files)

            def succeeded() -> int:
                return sum(1 for r in observe.statuses(stack) if r.get("status") == "succeeded")

            wait_for(lambda: succeeded() >= uploads, timeout, 2.0)
            result.seconds = time.monotonic() - began
            result.succeeded = succeeded()
            passed = {w: n for (g, w), n in stats.passed_per_window.items() if g == "submit"}
            limited = {w: n for (g, w), n in stats.limited_per_window.items() if g == "submit"}
            result.submits, result.answers_429 = sum(passed.values()), sum(limited.values())
            if passed:
                first, last = min(passed), max(passed)
                result.windows = last - first + 1
                left = uploads
                for w in range(first, last + 1):
                    left -= passed.get(w, 0)
                    result.per_window.append((passed.get(w, 0), limited.get(w, 0), left))
            result.errors = list(stack.errors[:20])
    finally:
        events.unregister("before-call", unique_id="pacing-rate-writes")
    result.rate_writes = writes["rate"]
    verdict = "PASS" if result.ok else "FAIL"
    say(f"pacing {containers}: {verdict} {result.windows}/{result.ideal_windows} windows, {result.answers_429} x 429")
    return result
