"""AWS and pyannoteAI calls per successful job, on the local stack: botocore event hooks on the session the
handlers' clients are made from (attributed to the function running on that thread), the emulator's own request
counts for the API, and the stack's invocation counts for Lambda."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3

from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.reliability.capture import captured_output
from voiceprint_local.reliability.pacing import touches_rate_counter
from voiceprint_local.stack import LocalStack, StackOptions, wait_for

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
RATE_COUNTER = "dynamodb (rate counter)"  # the shared rate counter's calls (voiceprint/rate_token_store.py), apart


@dataclass
class CallCounts:
    jobs: int  # successful jobs
    seconds: float
    calls: Counter[tuple[str, str, str]]  # (function, service, operation) -> API calls
    attempts: Counter[tuple[str, str, str]]  # HTTP attempts, retries included (what AWS bills)
    presigns: Counter[str]  # function -> presigned URLs made (local signing, no request)
    api: Counter[str]  # emulator: "METHOD path" -> requests
    invocations: dict[str, int]
    webhooks_sent: int
    result_item_bytes: int  # a succeeded record, as DynamoDB sizes items (what write units are billed on)

    def per_job(self, counter: Counter[Any], *keys: Any) -> float:
        return sum(counter[k] for k in keys) / self.jobs

    def by(self, predicate: Any) -> int:
        return sum(n for key, n in self.calls.items() if predicate(*key))


def item_bytes(value: Any, name: str = "") -> int:
    """DynamoDB's item size rule: attribute names plus values (strings in UTF-8, numbers ~1 byte per 2 digits,
    maps and lists 3 bytes + their elements)."""
    size = len(name.encode())
    if isinstance(value, dict):
        return size + 3 + sum(item_bytes(v, k) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return size + 3 + sum(item_bytes(v) for v in value)
    if isinstance(value, str):
        return size + len(value.encode())
    if isinstance(value, bool) or value is None:
        return size + 1
    return size + len(str(value)) // 2 + 1


class _Hooks:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.attempts: Counter[tuple[str, str, str]] = Counter()
        self.params: Counter[tuple[str, str, str]] = Counter()

    def _key(self, event_name: str, kwargs: dict[str, Any]) -> tuple[str, str, str]:
        _, service, operation = event_name.split(".", 2)
        if service == "dynamodb" and touches_rate_counter(kwargs):
            service = RATE_COUNTER
        return (self.stack.current_function() or "-", service, operation)

    def on_call(self, event_name: str, **kwargs: Any) -> None:
        with self.lock:
            self.calls[self._key(event_name, kwargs)] += 1

    def on_send(self, event_name: str, **kwargs: Any) -> None:
        with self.lock:
            self.attempts[self._key(event_name, kwargs)] += 1

    def on_params(self, event_name: str, **kwargs: Any) -> None:
        # Fired for API calls and presigns alike; a presign is one with no `before-call` to match.
        with self.lock:
            self.params[self._key(event_name, kwargs)] += 1


def count(uploads: int, *, timeout: float) -> CallCounts:
    # Hooks on the default session before the stack makes the handlers' clients (clients copy its events).
    stack = LocalStack(StackOptions(log_level="WARNING", metrics=False, reconcile_every_seconds=5.0))
    hooks = _Hooks(stack)
    events = boto3._get_default_session().events
    registered = (
        ("before-call", hooks.on_call),
        ("before-send", hooks.on_send),
        ("provide-client-params", hooks.on_params),
    )
    for name, handler in registered:
        events.register(name, handler, unique_id=f"bench-{name}")
    try:
        # The handlers log at WARNING here, but a stack earlier in the process may have set their level: keep any
        # log lines off the terminal either way.
        with captured_output() as log_file, stack:
            log_file.unlink()  # nobody reads these lines; the open descriptor still takes them
            audio = {i: wav_bytes(2.0 + (i % 5) * 0.5, ("alice", "bob", "carol")[i % 3], seed=i) for i in range(10)}
            started = time.monotonic()
            for i in range(uploads):
                stack.upload(f"voiceprints/bench-{i:05d}.wav", audio[i % 10])
            wait_for(lambda: len(stack.terminal_records()) >= uploads, timeout=timeout, interval=0.5)
            seconds = time.monotonic() - started
            records = stack.terminal_records()
            jobs = sum(1 for r in records.values() if r["status"] == "succeeded")
            if jobs != uploads:
                raise RuntimeError(f"only {jobs} of {uploads} uploads got a voiceprint: {stack.errors[:3]}")
            assert stack.emulator is not None
            # The reconciler has nothing to do when webhooks arrive; one more tick shows it stays quiet.
            wait_for(lambda: False, timeout=6.0, interval=0.5)
            presigns: Counter[str] = Counter()
            for (function, service, operation), n in hooks.params.items():
                extra = n - hooks.calls[(function, service, operation)]
                if extra > 0:
                    presigns[function] += extra
            return CallCounts(
                jobs=jobs,
                seconds=seconds,
                calls=Counter(hooks.calls),
                attempts=Counter(hooks.attempts),
                presigns=presigns,
                api=Counter(stack.emulator.stats.requests),
                invocations=dict(stack.invocations),
                webhooks_sent=stack.emulator.stats.webhooks_sent,
                result_item_bytes=max(item_bytes(r) for r in records.values()),
            )
    finally:
        for name, _handler in registered:
            events.unregister(name, unique_id=f"bench-{name}")
