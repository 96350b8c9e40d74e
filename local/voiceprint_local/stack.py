"""The whole pipeline on one machine: moto server, the pyannoteAI emulator, a local HTTP API and the unchanged
handlers from functions/, fed by SQS as Lambda's event source mapping would feed them.

Every arrow is real HTTP on 127.0.0.1 except the last hop into a handler, which is a function call with a
real-shaped event (as Lambda's own invoke is). Resources are made from template.yaml (`provisioning`); what
Lambda's service does around the functions is in `event_sources`, the faults the chaos run injects in
`fault_injection`.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, cast

import boto3
import requests

from voiceprint.job_state import TERMINAL
from voiceprint_local import moto_patches, provisioning, sigv4, stack_reads
from voiceprint_local.apigw import LocalHttpApi
from voiceprint_local.clock import Clock
from voiceprint_local.emulator import Emulator
from voiceprint_local.emulator_types import EmulatorConfig
from voiceprint_local.event_sources import Schedule, SqsEventSource, StreamEventSource
from voiceprint_local.fault_injection import FaultInjector, Faults
from voiceprint_local.provisioning import BUCKET, EVENT_BUS, REGION, RESULTS_BUCKET, TABLE

__all__ = [
    "ACCESS_KEY",
    "BUCKET",
    "EVENT_BUS",
    "REGION",
    "RESULTS_BUCKET",
    "SECRET_KEY",
    "TABLE",
    "Faults",
    "LocalStack",
    "StackOptions",
    "free_port",
    "running",
    "wait_for",
]

ACCOUNT = "123456789012"
ACCESS_KEY = "local"
SECRET_KEY = "local-secret-key"  # noqa: S105 - a fake for moto; the emulator checks presigned URLs with it
WEBHOOK_PATH = "/webhooks/pyannote"
FUNCTIONS = {
    "submit": "SubmitFunction",
    "webhook": "WebhookFunction",
    "reconciler": "ReconcilerFunction",
    "events": "EventsFunction",
    "read": "ReadFunction",
}
READ_ROUTES = frozenset(
    {"GET /jobs/{jobId}", "GET /objects", "GET /voiceprints", "GET /groups/{group}/voiceprints"}
)  # IAM-authorised, as in AWS


class SubmitHandler(Protocol):
    """What the stack uses of functions/submit/app.py beyond its entry point: the service it runs, and the factory
    that builds it with injected collaborators (every handler module also has `lambda_handler` and `logger`)."""

    service: Any

    def build_service(self, *, store: Any = None, on_adopted: Callable[[Any, str], None] | None = None) -> Any: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackOptions:
    moto_port: int = 0
    api_port: int = 0
    emulator_port: int = 0
    emulator: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig overrides
    clock: Clock | None = None  # the emulator's (rate-limit windows, processing, webhook retries)
    reconcile_every_seconds: float = 5.0
    env: dict[str, str] = field(default_factory=dict)  # extra function environment (e.g. RECONCILE_AFTER_SECONDS)
    poll_wait_seconds: int = 1
    log_level: str = "INFO"
    metrics: bool = True
    queue_visibility_seconds: int | None = None  # default: the template's
    faults: Faults = field(default_factory=Faults)
    run_functions: bool = True  # False: resources, emulator and HTTP API only (the bench runs handlers itself)


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.api_key = "local-" + secrets.token_hex(16)
        self.webhook_secret = "whsec_" + secrets.token_hex(24)
        self.ref_key = secrets.token_hex(32)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_env: dict[str, str | None] = {}
        self._moto: Any = None
        self.emulator: Emulator | None = None
        self.api: LocalHttpApi | None = None
        self.resources: provisioning.Resources | None = None
        self.handlers: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in FUNCTIONS}
        self.invocations: dict[str, int] = dict.fromkeys(FUNCTIONS, 0)
        self.errors: list[str] = []
        self.faults = FaultInjector(self.options.faults)
        # What was injected and what the handlers met, for the chaos run.
        self.injected, self.crashed_keys, self.observed = (
            self.faults.injected,
            self.faults.crashed_keys,
            self.faults.observed,
        )
        self._current = threading.local()  # which function this thread is running (the bench attributes calls)
        # The stack's own clients come from a session of their own: faults injected into the handlers' clients
        # (the default session) never touch what the stack uses to observe them.
        self._session: boto3.session.Session | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer

        moto_patches.apply()

        # werkzeug logs request lines, and those carry presigned URLs: credentials stay out of the console.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        opts = self.options
        port = opts.moto_port or free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        self.aws_url = f"http://127.0.0.1:{port}"
        # moto's backends live in this process, not in the server: start from an empty account every time.
        requests.post(f"{self.aws_url}/moto-api/reset", timeout=10).raise_for_status()
        self._set_env(self.aws_env())
        self._session = boto3.session.Session()
        self.resources = provisioning.create(
            self.client,
            secrets={"api_key": self.api_key, "webhook_secret": self.webhook_secret, "ref_key": self.ref_key},
            env=opts.env,
            queue_visibility_seconds=opts.queue_visibility_seconds,
        )
        config = EmulatorConfig(api_key=self.api_key, webhook_secret=self.webhook_secret, presign_secret_key=SECRET_KEY)
        for key, value in opts.emulator.items():
            setattr(config, key, value)
        self.emulator = Emulator(config, clock=opts.clock).start(port=opts.emulator_port)
        read = ("read", self._invoker("read"))
        self.api = LocalHttpApi(
            {f"POST {WEBHOOK_PATH}": ("webhook", self._invoker("webhook")), **dict.fromkeys(READ_ROUTES, read)},
            iam_routes=READ_ROUTES,
            authorizer=self._authorize,
        )
        self.api.start(port=opts.api_port)
        self.webhook_url = self.api.url + WEBHOOK_PATH
        if not opts.run_functions:
            return
        self.faults.install()
        self._load_handlers()
        res = self.resources
        dispatcher = SqsEventSource(
            self.client("sqs"),
            queue_url=res.queue_url,
            queue_arn=res.queue_arn,
            region=REGION,
            invoke=self._invoker("submit"),
            wait_seconds=opts.poll_wait_seconds,
            faults=self.faults,
            errors=self.errors,
            stop=self._stop,
        )
        self._spawn("sqs-dispatcher", dispatcher.run)
        schedule = Schedule(
            self._invoker("reconciler"), every_seconds=opts.reconcile_every_seconds, errors=self.errors, stop=self._stop
        )
        self._spawn("reconciler-schedule", schedule.run)
        streams = self.client("dynamodbstreams")
        stream = StreamEventSource(
            streams, stream_arn=res.stream_arn, invoke=self._invoker("events"), errors=self.errors, stop=self._stop
        )
        self._spawn("stream-dispatcher", stream.run)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        if self.api is not None:
            self.api.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.faults.uninstall()
        for name in FUNCTIONS:
            sys.modules.pop(f"functions.{name}.app", None)
        # The handlers' boto3 clients hold keep-alive connections that keep moto's request threads waiting;
        # dropping them (clients are reference cycles, hence the collect) closes those sockets.
        self.handlers.clear()
        gc.collect()
        self._restore_env()

    # What the tests and the CLI address: the resources' URLs and ARNs.
    @property
    def queue_url(self) -> str:
        return self._made().queue_url

    @property
    def queue_arn(self) -> str:
        return self._made().queue_arn

    @property
    def dlq_url(self) -> str:
        return self._made().dlq_url

    @property
    def stream_arn(self) -> str:
        return self._made().stream_arn

    @property
    def events_queue_url(self) -> str:
        return self._made().events_queue_url

    def _made(self) -> provisioning.Resources:
        if self.resources is None:
            raise RuntimeError("the stack is not started")
        return self.resources

    @staticmethod
    def _authorize(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> str:
        """API Gateway's IAM authorizer, for the one identity the local stack has (its moto credentials)."""
        caller = sigv4.verify_signed_request(
            method, raw_path, headers, body, secret_key=SECRET_KEY, service="execute-api", now=time.time()
        )
        if caller != ACCESS_KEY:
            raise sigv4.AuthError("unknown access key")
        return caller

    def aws_env(self) -> dict[str, str | None]:
        """Credentials and endpoint that point any boto3 client (a handler's too) at this stack's moto."""
        return {
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_SESSION_TOKEN": None,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_PROFILE": None,
        }

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _set_env(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    # -- resources, from template.yaml ---------------------------------------------------------------------
    def client(self, service: str) -> Any:
        session = self._session or boto3.session.Session()
        return session.client(service, endpoint_url=self.aws_url, region_name=REGION)  # type: ignore[call-overload]

    def function_env(self) -> dict[str, str]:
        """The functions' environment as template.yaml declares it, resolved against this stack."""
        assert self.emulator is not None
        opts = self.options
        return provisioning.function_env(
            self._made(),
            FUNCTIONS,
            api_url=self.emulator.url,
            webhook_url=self.webhook_url,
            log_level=opts.log_level,
            metrics=opts.metrics,
            extra=opts.env,
        )

    def _load_handlers(self) -> None:
        from voiceprint.settings import get_settings

        self._set_env(self.function_env())
        get_settings.cache_clear()
        for name in FUNCTIONS:
            sys.modules.pop(f"functions.{name}.app", None)
            self.handlers[name] = importlib.import_module(f"functions.{name}.app")
            # Powertools keeps the level of a logger it already configured (an earlier stack in this process),
            # where Lambda starts each function in a fresh process: apply this stack's level explicitly.
            self.handlers[name].logger.setLevel(self.options.log_level)
        # The submit function's declared seam (build_service): the same service, with the chaos run's observer
        # and, when asked, a store that crashes between pyannoteAI's answer and our jobId write.
        submit = cast("SubmitHandler", self.handlers["submit"])
        submit.service = submit.build_service(
            store=self.faults.submit_store(get_settings()), on_adopted=self.faults.count_adopted
        )

    # -- event sources -------------------------------------------------------------------------------------
    def _invoker(self, name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with self._locks[name]:  # one container per function: invocations never overlap
                self.invocations[name] += 1
                self._current.name = name
                try:
                    return dict(self.handlers[name].lambda_handler(event, context))
                finally:
                    self._current.name = None
                    if not self.options.metrics:
                        # Disabled metrics still pile up in Powertools' shared set and print every 100 values.
                        metrics = getattr(self.handlers[name], "metrics", None)  # the read function has none
                        if metrics is not None:
                            metrics.clear_metrics()

        return invoke

    def current_function(self) -> str | None:
        """The function whose handler this thread is running, if any."""
        return getattr(self._current, "name", None)

    def published_events(self) -> list[dict[str, Any]]:
        """Every event published on the bus so far (drained from the observing queue: each is returned once)."""
        return stack_reads.published_events(self.client("sqs"), self.events_queue_url)

    # -- helpers for the CLI and tests ---------------------------------------------------------------------
    def upload(self, key: str, data: bytes) -> None:
        self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)

    def records(self, attributes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every object record (the budget's counters and markers left out), or only these attributes of each."""
        return stack_reads.records(self.client("dynamodb"), TABLE, attributes)

    def terminal_records(self) -> dict[str, dict[str, Any]]:
        return {r["objectKey"]: r for r in self.records() if r.get("status") in TERMINAL}

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the DLQ, with its attributes."""
        return stack_reads.dead_letters(self.client("sqs"), self.dlq_url)


@contextmanager
def running(options: StackOptions | None = None) -> Iterator[LocalStack]:
    stack = LocalStack(options).start()
    try:
        yield stack
    finally:
        stack.stop()


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    interval: float = 0.1,
    *,
    progress: Callable[[], None] | None = None,
    progress_every: float = 15.0,
) -> bool:
    """Bounded polling on real time (the stack's parts run on their own threads); `progress` is called every
    `progress_every` seconds meanwhile, for long runs."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    reported = time.monotonic()
    while time.monotonic() < deadline:
        if predicate():
            return True
        if progress is not None and time.monotonic() - reported >= progress_every:
            progress()
            reported = time.monotonic()
        pause.wait(interval)
    return predicate()
