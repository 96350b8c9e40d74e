"""Shared fixtures: moto resources built from template.yaml, the emulator as the loopback pyannoteAI API, and the
real handlers from functions/, imported fresh for each test."""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from voiceprint_local import moto_patches, template

# In Lambda these exist before any import; Powertools names child loggers (the layer modules') from them at import.
for _name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
    os.environ.setdefault(_name, str(template.global_environment()[_name]))

from voiceprint.settings import get_settings  # noqa: E402 - after the environment above
from voiceprint_local.emulator import Emulator  # noqa: E402
from voiceprint_local.emulator_types import EmulatorConfig  # noqa: E402
from voiceprint_local.lambda_context import LocalLambdaContext  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REGION: Final = "eu-west-1"
API_KEY = "test-api-key-7f3a9c1e5b"
WEBHOOK_SECRET = "whsec_test_current_9d2b7e"
REF_KEY = "refkey_test_5c1e8a0f3b9d2e7a"
BUCKET = "voiceprint-input-test"
RESULTS_BUCKET = "voiceprint-results-test"
WEBHOOK_URL = "https://hooks.example.test/webhooks/pyannote"


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


@dataclass
class Aws:
    s3: Any
    ddb: Any
    sqs: Any
    secrets: Any
    table: str
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    api_key_secret: str
    webhook_secret: str
    ref_key_secret: str

    def put(self, key: str, data: bytes) -> tuple[str, int]:
        resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return resp["VersionId"], len(data)

    def items(self) -> list[dict[str, Any]]:
        """The object records (the budget's counters and markers, which share the table, left out)."""
        return [i for i in self.all_items() if str(i["pk"]).startswith("OBJ#")]

    def all_items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
        raw = self.ddb.scan(TableName=self.table)["Items"]
        return [{k: de.deserialize(v) for k, v in item.items()} for item in raw]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[Aws]:
    moto_patches.aws_limits()  # what AWS refuses (400 KB items, 256 KB PutEvents, ...) is refused here too
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket=RESULTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        ddb.create_table(TableName="jobs", **template.table_definition())
        dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = template.queue_properties("InputQueue")
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": template.parameter_defaults()["MaxReceiveCount"]}
        queue_url = sqs.create_queue(
            QueueName="input",
            Attributes={"VisibilityTimeout": str(queue["VisibilityTimeout"]), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sm.create_secret(Name="pyannote/api-key", SecretString=API_KEY)
        sm.create_secret(Name="pyannote/webhook-secret", SecretString=WEBHOOK_SECRET)
        sm.create_secret(Name="voiceprint/webhook-ref-key", SecretString=REF_KEY)
        yield Aws(
            s3,
            ddb,
            sqs,
            sm,
            "jobs",
            BUCKET,
            queue_url,
            queue_arn,
            dlq_url,
            "pyannote/api-key",
            "pyannote/webhook-secret",
            "voiceprint/webhook-ref-key",
        )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # No background worker: jobs never finish on their own and no webhook leaves; tests decide what happens.
    emu = Emulator(EmulatorConfig(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)).start(background=False)
    try:
        yield emu
    finally:
        emu.stop()


def function_env(aws: Aws, api_url: str, function: str, **overrides: str) -> dict[str, str]:
    refs = {
        "JobsTable": aws.table,
        "ApiKeySecretName": aws.api_key_secret,
        "WebhookSecretName": aws.webhook_secret,
        "PyannoteApiUrl": api_url,
        "DeadLetterQueue": aws.dlq_url,
        "InputQueue": aws.queue_url,
        "ResultsBucket": RESULTS_BUCKET,
        "InputBucket": aws.bucket,
        "WebhookRefKeySecret": aws.ref_key_secret,
    }
    # These tests name objects without a folder ("ok.wav"): with no voiceprint prefix, every key outside the
    # identify prefix is a voiceprint sample. The prefixes themselves are tested with their defaults.
    # EVENT_BUS_NAME: the template's !If (a bus of the stack's own, by default); these tests observe the default bus.
    defaults = {"WEBHOOK_URL": WEBHOOK_URL, "VOICEPRINT_PREFIX": "", "EVENT_BUS_NAME": "default"}
    return template.resolved_environment(function, refs, {**defaults, **overrides})


HANDLERS = {
    "submit": "SubmitFunction",
    "webhook": "WebhookFunction",
    "reconciler": "ReconcilerFunction",
    "events": "EventsFunction",
    "read": "ReadFunction",
}


@pytest.fixture
def load_handler(aws: Aws, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Import functions/<name>/app.py with the environment the template gives that function."""

    def _load(name: str, **overrides: str) -> ModuleType:
        for var, value in function_env(aws, emulator.url, HANDLERS[name], **overrides).items():
            monkeypatch.setenv(var, value)
        get_settings.cache_clear()
        sys.modules.pop(f"functions.{name}.app", None)
        return importlib.import_module(f"functions.{name}.app")

    yield _load
    get_settings.cache_clear()
    for name in HANDLERS:
        sys.modules.pop(f"functions.{name}.app", None)


def context(name: str = "test") -> LocalLambdaContext:
    return LocalLambdaContext(function_name=name)


def s3_sqs_event(
    aws: Aws, key: str, size: int, version_id: str | None, *, receive_count: int = 1, records: int = 1
) -> dict[str, Any]:
    """The events/ sample with this object in it (key URL-encoded as S3 does), as `records` SQS messages."""
    sample = load_event("s3_put_via_sqs.json")
    out = []
    for i in range(records):
        rec = copy.deepcopy(sample["Records"][0])
        body = json.loads(rec["body"])
        obj = body["Records"][0]["s3"]["object"]
        body["Records"][0]["s3"]["bucket"].update(name=aws.bucket, arn=f"arn:aws:s3:::{aws.bucket}")
        obj.update(key=quote_plus(key, safe="/"), size=size)
        if version_id is None:
            obj.pop("versionId", None)
        else:
            obj["versionId"] = version_id
        rec["body"] = json.dumps(body)
        rec["messageId"] = f"msg-{i}"
        rec["receiptHandle"] = f"rh-{i}"
        rec["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        rec["eventSourceARN"] = aws.queue_arn
        out.append(rec)
    return {"Records": out}


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the handlers log (Powertools JSON, as CloudWatch gets it) plus stdout (EMF metrics)."""
    import io
    import logging

    from aws_lambda_powertools import Logger

    # Powertools treats the first handler as its own: make sure it exists before ours is added second.
    Logger(service="voiceprint-pipeline")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("voiceprint-pipeline")
    handler.setFormatter(logger.handlers[0].formatter)
    logger.addHandler(handler)
    # Powertools sets levels once per process (children at first import); the local stack may have quietened them.
    # Only existing loggers: materialising a logging.PlaceHolder would orphan Powertools' child loggers.
    loggers = [logger] + [
        lg
        for name, lg in logging.root.manager.loggerDict.items()
        if name.startswith("voiceprint-pipeline.") and isinstance(lg, logging.Logger)
    ]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)

    def read() -> str:
        out = capsys.readouterr()
        return buffer.getvalue() + out.out + out.err

    try:
        yield read
    finally:
        logger.removeHandler(handler)
        for lg, lvl in levels:
            lg.setLevel(lvl)
