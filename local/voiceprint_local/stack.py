"""The whole pipeline on one machine: moto server, the pyannoteAI emulator, a local HTTP API and the unchanged
handlers from functions/, fed by SQS as Lambda's event source mapping would feed them.

Every arrow is real HTTP on 127.0.0.1 except the last hop into a handler, which is a function call with a
real-shaped event (as Lambda's own invoke is). Resources are made from template.yaml.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import random
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import requests
from boto3.dynamodb.types import TypeDeserializer

from voiceprint import change_events
from voiceprint.job_state import TERMINAL
from voiceprint_local import moto_patches, sigv4, template
from voiceprint_local.apigw import LocalHttpApi
from voiceprint_local.clock import Clock
from voiceprint_local.emulator import Emulator, EmulatorConfig
from voiceprint_local.lambda_context import LocalLambdaContext

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ACCESS_KEY = "local"
SECRET_KEY = "local-secret-key"  # noqa: S105 - a fake for moto; the emulator checks presigned URLs with it
BUCKET = "voiceprint-input-local"
RESULTS_BUCKET = "voiceprint-results-local"
TABLE = "voiceprint-jobs-local"
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
EVENTS_QUEUE = "voiceprint-events-local"
EVENT_BUS = "voiceprint-local-voiceprints"  # a rule on the bus delivers every event here, to be looked at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Faults:
    """Faults the stack injects around the handlers (the emulator's own knobs cover the API side)."""

    seed: int = 0
    duplicate_delivery_rate: float = 0.0  # S3/SQS at-least-once: a notification delivered twice
    crash_after_submit_rate: float = 0.0  # the submit invocation dies between the API call and the jobId write
    dynamodb_throttle_rate: float = 0.0  # the handlers' DynamoDB calls answered ProvisionedThroughputExceeded


class SimulatedCrash(BaseException):
    """An injected crash of an invocation (timeout, out of memory): a BaseException, so that no `except Exception`
    in the handlers runs, as none would in a process that dies."""


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
        self.handlers: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in FUNCTIONS}
        self.invocations: dict[str, int] = dict.fromkeys(FUNCTIONS, 0)
        self.errors: list[str] = []
        self.injected: Counter[str] = Counter()
        self.crashed_keys: Counter[str] = Counter()  # object keys whose submit crashed after the API call
        self.observed: Counter[str] = Counter()  # what the handlers' DynamoDB calls met (conditional conflicts)
        self._rng = random.Random(self.options.faults.seed)
        self._rng_lock = threading.Lock()
        self._unhooks: list[Callable[[], None]] = []
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
        self._create_resources()
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
        self._install_faults()
        self._load_handlers()
        self._wrap_handlers()
        self._spawn("sqs-dispatcher", self._dispatch_loop)
        self._spawn("reconciler-schedule", self._schedule_loop)
        self._spawn("stream-dispatcher", self._stream_loop)

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
        for unhook in self._unhooks:
            unhook()
        self._unhooks.clear()
        for name in FUNCTIONS:
            sys.modules.pop(f"functions.{name}.app", None)
        # The handlers' boto3 clients hold keep-alive connections that keep moto's request threads waiting;
        # dropping them (clients are reference cycles, hence the collect) closes those sockets.
        self.handlers.clear()
        gc.collect()
        self._restore_env()

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

    def _create_resources(self) -> None:
        params = template.parameter_defaults()
        sqs, s3, ddb, sm = self.client("sqs"), self.client("s3"), self.client("dynamodb"), self.client("secretsmanager")
        self.dlq_url = sqs.create_queue(QueueName="voiceprint-dlq-local")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = template.queue_properties("InputQueue")
        visibility = self.options.queue_visibility_seconds or queue["VisibilityTimeout"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": params["MaxReceiveCount"]}
        self.queue_url = sqs.create_queue(
            QueueName="voiceprint-input-local",
            Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket=RESULTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": self._notifications(params)}
        )
        ddb.create_table(TableName=TABLE, **template.table_definition())
        self.stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        events = self.client("events")
        self.events_queue_url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
        events_queue_arn = sqs.get_queue_attributes(QueueUrl=self.events_queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # The stack's own bus, as the template makes by default (EventBusName ""), with a rule that copies every
        # event to a queue the stack can read.
        events.create_event_bus(Name=EVENT_BUS)
        events.put_rule(
            Name="voiceprint-events-local",
            EventBusName=EVENT_BUS,
            EventPattern=json.dumps({"source": [change_events.SOURCE]}),
        )
        events.put_targets(
            Rule="voiceprint-events-local", EventBusName=EVENT_BUS, Targets=[{"Id": "queue", "Arn": events_queue_arn}]
        )
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"AttributeName": template.ttl_attribute(), "Enabled": True}
        )
        sm.create_secret(Name="voiceprint/pyannote-api-key", SecretString=self.api_key)
        sm.create_secret(Name="voiceprint/pyannote-webhook-secret", SecretString=self.webhook_secret)
        sm.create_secret(Name="voiceprint/webhook-ref-key", SecretString=self.ref_key)

    def _notifications(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The template's S3 -> SQS notifications: one per prefix (voiceprints, identification)."""
        env = self.options.env
        suffix = env.get("KEY_SUFFIX", params["KeySuffix"])
        configs = []
        for variable, parameter in (("VOICEPRINT_PREFIX", "VoiceprintPrefix"), ("IDENTIFY_PREFIX", "IdentifyPrefix")):
            prefix = env.get(variable, params[parameter])
            if not prefix:
                continue
            rules = [{"Name": "prefix", "Value": prefix}] + ([{"Name": "suffix", "Value": suffix}] if suffix else [])
            for event in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"):
                configs.append(
                    {"QueueArn": self.queue_arn, "Events": [event], "Filter": {"Key": {"FilterRules": rules}}}
                )
        return configs

    def function_env(self) -> dict[str, str]:
        """The functions' environment as template.yaml declares it, resolved against this stack."""
        assert self.emulator is not None
        refs = {
            "JobsTable": TABLE,
            "ApiKeySecretName": "voiceprint/pyannote-api-key",
            "WebhookSecretName": "voiceprint/pyannote-webhook-secret",
            "PyannoteApiUrl": self.emulator.url,
            "LogLevel": self.options.log_level,
            "DeadLetterQueue": self.dlq_url,
            "ResultsBucket": RESULTS_BUCKET,
            "InputBucket": BUCKET,
            "WebhookRefKeySecret": "voiceprint/webhook-ref-key",
        }
        env: dict[str, str] = {}
        for logical_id in FUNCTIONS.values():
            overrides = {"WEBHOOK_URL": self.webhook_url, "EVENT_BUS_NAME": EVENT_BUS}
            env.update(template.resolved_environment(logical_id, refs, overrides))
        if not self.options.metrics:
            env["POWERTOOLS_METRICS_DISABLED"] = "true"
        env.update(self.options.env)
        return env

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

    # -- fault injection ---------------------------------------------------------------------------------------
    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    def _install_faults(self) -> None:
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
        rate = self.options.faults.dynamodb_throttle_rate
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
            if not self._chance(rate):
                return None
            self.injected["dynamodb_throttled"] += 1
            headers = HTTPHeaders()
            headers["Content-Type"] = "application/x-amz-json-1.0"
            headers["x-amzn-RequestId"] = "injected"
            return AWSResponse(request.url, 400, headers, MockRawResponse(body))

        events.register("before-send.dynamodb", throttle, unique_id="voiceprint-local-throttle")
        self._unhooks.append(lambda: events.unregister("before-send.dynamodb", unique_id="voiceprint-local-throttle"))

    def _wrap_handlers(self) -> None:
        """Counts the submissions that adopted an earlier job's result instead of submitting again; and, when asked,
        a crash between pyannoteAI's answer and our jobId write: the job exists (and is billed) but we do not know
        it. The message comes back after its visibility timeout and the expired claim is taken over."""
        service = self.handlers["submit"].service
        adopt = service._adopt

        def counted_adopt(*args: Any, **kwargs: Any) -> Any:
            outcome = adopt(*args, **kwargs)
            if outcome:
                self.observed["adopted_instead_of_resubmitted"] += 1
            return outcome

        service._adopt = counted_adopt
        rate = self.options.faults.crash_after_submit_rate
        if rate <= 0:
            return
        store = service._store
        record_submitted = store.record_submitted

        def crash_first(ref: Any, *args: Any, **kwargs: Any) -> Any:
            if self._chance(rate):
                self.injected["crash_after_submit"] += 1
                self.crashed_keys[ref.key] += 1
                raise SimulatedCrash("injected crash between the API call and the jobId write")
            return record_submitted(ref, *args, **kwargs)

        store.record_submitted = crash_first

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

    def _dispatch_loop(self) -> None:
        """Lambda's SQS event source mapping: receive a batch, invoke, delete what succeeded."""
        sqs = self.client("sqs")
        batch_size = int(template.parameter_defaults()["SubmitBatchSize"])
        submit = self._invoker("submit")
        while not self._stop.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=batch_size,
                    WaitTimeSeconds=self.options.poll_wait_seconds,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                messages = resp.get("Messages", [])
                if not messages:
                    continue
                self._duplicate_some(sqs, messages)
                event = {"Records": [self._sqs_record(m) for m in messages]}
                try:
                    result = submit(event, LocalLambdaContext(function_name="submit"))
                    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                except SimulatedCrash:  # an injected crash: the whole batch comes back, as after a timeout
                    failed = {m["MessageId"] for m in messages}
                except Exception as exc:  # noqa: BLE001 - a crashed invocation: every message comes back
                    self.errors.append(f"submit crashed: {type(exc).__name__}: {exc}")
                    failed = {m["MessageId"] for m in messages}
                done = [m for m in messages if m["MessageId"] not in failed]
                if done:
                    sqs.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                    )
            except Exception as exc:  # noqa: BLE001 - keep polling, as the event source mapping does
                if not self._stop.is_set():
                    self.errors.append(f"dispatcher: {type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)

    def _duplicate_some(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            first = m.get("Attributes", {}).get("ApproximateReceiveCount") == "1"
            if first and self._chance(self.options.faults.duplicate_delivery_rate):
                self.injected["duplicate_delivery"] += 1
                sqs.send_message(QueueUrl=self.queue_url, MessageBody=m["Body"])

    def _sqs_record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def _schedule_loop(self) -> None:
        """EventBridge Scheduler: the reconciler every `reconcile_every_seconds`."""
        event = json.loads((template.ROOT / "events" / "reconciler_schedule.json").read_text())
        reconcile = self._invoker("reconciler")
        while not self._stop.wait(self.options.reconcile_every_seconds):
            try:
                reconcile(event, LocalLambdaContext(function_name="reconciler", timeout_seconds=120))
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                self.errors.append(f"reconciler: {type(exc).__name__}: {exc}")

    def current_function(self) -> str | None:
        """The function whose handler this thread is running, if any."""
        return getattr(self._current, "name", None)

    def _stream_loop(self) -> None:
        """Lambda's DynamoDB stream event source: batches of up to 10, the template's filter criteria, retries
        from the first failed record; a batch still failing after its retries is recorded as an error (in AWS it
        goes to the on-failure destination)."""
        streams = self.client("dynamodbstreams")
        source = template.event_source("EventsFunction", "DynamoDB")
        patterns = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]
        batch_size, retries = int(source["BatchSize"]), int(source["MaximumRetryAttempts"])
        invoke = self._invoker("events")
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while not self._stop.is_set():
            try:
                resp = streams.get_records(ShardIterator=iterator, Limit=batch_size)
            except Exception as exc:  # noqa: BLE001 - keep polling, as the event source mapping does
                if not self._stop.is_set():
                    self.errors.append(f"stream: {type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)
                continue
            iterator = resp["NextShardIterator"]
            records = [
                {**r, "eventSourceARN": self.stream_arn}
                for r in resp.get("Records", [])
                if any(_matches(p, r) for p in patterns)
            ]
            if not resp.get("Records"):
                self._stop.wait(0.1)
            for attempt in range(retries + 1):
                if not records:
                    break
                try:
                    result = invoke({"Records": records}, LocalLambdaContext(function_name="events"))
                    failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
                except Exception as exc:  # noqa: BLE001 - a crashed invocation: the whole batch again
                    self.errors.append(f"events crashed: {type(exc).__name__}: {exc}")
                    failed = [records[0]["dynamodb"]["SequenceNumber"]]
                if not failed:
                    break
                first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
                records = records[first:]
                if attempt == retries:
                    self.errors.append(f"events: {len(records)} stream records not published after {retries} retries")
                self._stop.wait(min(2.0, 0.05 * 2**attempt))

    def published_events(self) -> list[dict[str, Any]]:
        """Every event published on the bus so far (drained from the observing queue: each is returned once)."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        for _ in range(1000):  # bounded
            resp = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10)
            messages = resp.get("Messages", [])
            if not messages:
                return found
            found += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(
                QueueUrl=self.events_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return found

    # -- helpers for the CLI and tests ---------------------------------------------------------------------
    def upload(self, key: str, data: bytes) -> None:
        self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)

    def records(self, attributes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every object record (a paginated scan; the budget's counters and markers left out), or only these
        attributes of each (cheaper over thousands)."""
        ddb, de = self.client("dynamodb"), TypeDeserializer()
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "FilterExpression": "begins_with(pk, :obj)",
            "ExpressionAttributeValues": {":obj": {"S": "OBJ#"}},
        }
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            kwargs.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        while True:
            page = ddb.scan(**kwargs)
            items += [{k: de.deserialize(v) for k, v in i.items()} for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def terminal_records(self) -> dict[str, dict[str, Any]]:
        return {r["objectKey"]: r for r in self.records() if r.get("status") in TERMINAL}

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the DLQ, with its attributes (received with visibility 0, so nothing is hidden)."""
        sqs = self.client("sqs")
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(200):  # bounded: the DLQ is small or empty
            resp = sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
            )
            fresh = {m["MessageId"]: m for m in resp.get("Messages", []) if m["MessageId"] not in seen}
            if not fresh:
                break
            seen.update(fresh)
        return list(seen.values())


def _matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge/Lambda filter patterns the template uses: nested objects, lists of exact values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


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
