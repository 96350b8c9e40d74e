"""Faults the local stack injects around the unchanged handlers: duplicate deliveries, DynamoDB throttling, a
crash between pyannoteAI's answer and our jobId write; and the counts the chaos run scores (conditional-write
conflicts met, submissions that adopted an earlier job's result)."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from voiceprint import wiring
from voiceprint.job_state import Outcome
from voiceprint.job_store import JobStore
from voiceprint.object_ref import ObjectRef
from voiceprint.settings import Settings


@dataclass
class Faults:
    """Faults the stack injects around the handlers (the emulator's own knobs cover the API side)."""

    seed: int = 0
    duplicate_delivery_rate: float = 0.0  # S3/SQS at-least-once: a notification delivered twice
    crash_after_submit_rate: float = 0.0  # the submit invocation dies between the API call and the jobId write
    dynamodb_throttle_rate: float = 0.0  # the handlers' DynamoDB calls answered ProvisionedThroughputExceeded
    # An object's notification deleted on receipt, as SQS deletes a message past its retention: no trace, no DLQ
    # (only objects' creations: what a sweep can find again).
    expired_message_rate: float = 0.0


class SimulatedCrash(BaseException):
    """An injected crash of an invocation (timeout, out of memory): a BaseException, so that no `except Exception`
    in the handlers runs, as none would in a process that dies."""


class FaultInjector:
    """Draws the faults (seeded) and keeps what was injected and what the handlers met."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.injected: Counter[str] = Counter()
        self.crashed_keys: Counter[str] = Counter()  # object keys whose submit crashed after the API call
        self.expired_keys: Counter[str] = Counter()  # object keys whose message was expired
        self.observed: Counter[str] = Counter()  # what the handlers' DynamoDB calls met (conditional conflicts)
        self._rng = random.Random(faults.seed)
        self._rng_lock = threading.Lock()
        self._unhooks: list[Callable[[], None]] = []

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    def install(self) -> None:
        """Hooks on the default session, which the handlers' clients (created after this) copy: a count of the
        conditional-write conflicts they meet and, when asked, DynamoDB throttling (ProvisionedThroughputExceeded;
        botocore's own retries absorb most of it, as in AWS)."""
        events = boto3._get_default_session().events

        def observe(parsed: Any = None, **_: Any) -> None:
            code = (parsed or {}).get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                self.observed["dynamodb_conditional_conflicts"] += 1

        events.register("after-call.dynamodb", observe, unique_id="voiceprint-local-observe")
        self._unhooks.append(lambda: events.unregister("after-call.dynamodb", unique_id="voiceprint-local-observe"))
        rate = self.faults.dynamodb_throttle_rate
        if rate <= 0:
            return
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders
        from moto.core.botocore_stubber import MockRawResponse

        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "injected throttling",
            }
        ).encode()

        def throttle(request: Any, **_: Any) -> Any:
            if not self.chance(rate):
                return None
            self.injected["dynamodb_throttled"] += 1
            headers = HTTPHeaders()
            headers["Content-Type"] = "application/x-amz-json-1.0"
            headers["x-amzn-RequestId"] = "injected"
            return AWSResponse(request.url, 400, headers, MockRawResponse(body))

        events.register("before-send.dynamodb", throttle, unique_id="voiceprint-local-throttle")
        self._unhooks.append(lambda: events.unregister("before-send.dynamodb", unique_id="voiceprint-local-throttle"))

    def count_adopted(self, ref: ObjectRef, job_id: str) -> None:
        """SubmitService's on_adopted: a submission that adopted an earlier job's result instead of paying again."""
        self.observed["adopted_instead_of_resubmitted"] += 1

    def submit_store(self, settings: Settings) -> JobStore | None:
        """When asked, the submit function's store with a crash between pyannoteAI's answer and our jobId write:
        the job exists (and is billed) but we do not know it. The message comes back after its visibility timeout
        and the expired claim is taken over. None: the function's own store."""
        if self.faults.crash_after_submit_rate <= 0:
            return None
        return CrashingJobStore(
            wiring.dynamodb(), settings.table_name, retention_days=settings.retention_days, crash=self._maybe_crash
        )

    def _maybe_crash(self, ref: ObjectRef) -> None:
        if self.chance(self.faults.crash_after_submit_rate):
            self.injected["crash_after_submit"] += 1
            self.crashed_keys[ref.key] += 1
            raise SimulatedCrash("injected crash between the API call and the jobId write")

    def uninstall(self) -> None:
        for unhook in self._unhooks:
            unhook()
        self._unhooks.clear()


class CrashingJobStore(JobStore):
    """The job store, with `crash(ref)` called before each jobId write (it raises when the crash is due)."""

    def __init__(self, *args: Any, crash: Callable[[ObjectRef], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._crash = crash

    def record_submitted(self, ref: ObjectRef, *args: Any, **kwargs: Any) -> Outcome | None:
        self._crash(ref)
        return super().record_submitted(ref, *args, **kwargs)
