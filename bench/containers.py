"""Cold start, warm CPU and peak RSS: every function and its floor, each in fresh processes (one per simulated
container), interleaved so drift on the machine hits both alike. moto and the emulator run in this process."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bench.stats import Spread
from voiceprint import webhook_ref, webhook_signature
from voiceprint.job_store import JobStore
from voiceprint.object_ref import ObjectRef
from voiceprint_local import lambda_artifacts, template
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack

ROOT = template.ROOT
# (ours, floor, warm?): the floor of each function is a raw-boto3 module making the same clients.
FUNCTIONS = {
    "submit": ("functions.submit.app", "bench.floor_submit", True),
    "webhook": ("functions.webhook.app", "bench.floor_webhook", True),
    "reconciler": ("functions.reconciler.app", "bench.floor_reconciler", False),
    "events": ("functions.events.app", "bench.floor_events", False),
    "read": ("functions.read.app", "bench.floor_read", False),
}


@dataclass
class Measured:
    init_ms: list[float] = field(default_factory=list)
    first_cpu_ms: list[float] = field(default_factory=list)  # first invocation: secret fetch, new connections
    warm_cpu_ms: list[float] = field(default_factory=list)
    warm_wall_ms: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    def add(self, result: Mapping[str, Any]) -> None:
        self.init_ms.append(result["init_ms"])
        self.peak_rss_mb.append(result["peak_rss_mb"])
        if result["cpu_ms"]:
            self.first_cpu_ms.append(result["cpu_ms"][0])
            self.warm_cpu_ms += result["cpu_ms"][1:]
            self.warm_wall_ms += result["wall_ms"][1:]


@dataclass
class ContainerResults:
    processes: int
    invocations: int
    ours: dict[str, Measured]
    floor: dict[str, Measured]

    def spread(self, side: str, function: str, metric: str) -> Spread:
        measured = (self.ours if side == "ours" else self.floor)[function]
        return Spread.of(getattr(measured, metric))


def _sqs_event(stack: LocalStack, key: str, size: int, version_id: str, etag: str) -> dict[str, Any]:
    """The events/ sample (what S3 -> SQS -> Lambda delivers) for one object version."""
    sample = json.loads((ROOT / "events" / "s3_put_via_sqs.json").read_text())
    record = copy.deepcopy(sample["Records"][0])
    body = json.loads(record["body"])
    s3 = body["Records"][0]["s3"]
    s3["bucket"].update(name=stack.bucket, arn=f"arn:aws:s3:::{stack.bucket}")
    s3["object"].update(key=quote_plus(key, safe="/"), size=size, versionId=version_id, eTag=etag)
    record.update(body=json.dumps(body), messageId=str(uuid.uuid4()), eventSourceARN=stack.queue_arn)
    return {"Records": [record]}


def submit_events(stack: LocalStack, count: int, tag: str) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    audio = wav_bytes(3.0, "alice")
    events = []
    for i in range(count):
        key = f"voiceprints/bench/{tag}/{i}.wav"
        put = s3.put_object(Bucket=stack.bucket, Key=key, Body=audio)
        events.append(_sqs_event(stack, key, len(audio), put["VersionId"], put["ETag"].strip('"')))
    return events


def webhook_events(stack: LocalStack, count: int, tag: str) -> list[dict[str, Any]]:
    """Records in `submitted` (written as the submit function writes them) and the signed webhooks that end them."""
    store = JobStore(stack.client("dynamodb"), stack.table, retention_days=30)
    sample = json.loads((ROOT / "events" / "webhook_succeeded.json").read_text())
    voiceprint = json.loads(sample["body"])["output"]["voiceprint"]
    events = []
    for i in range(count):
        now = time.time()
        ref = ObjectRef(stack.bucket, f"voiceprints/bench/{tag}/{i}.wav", 1000, f"v-{tag}-{i}", None, None)
        claim = store.claim(ref, now=now, lease_seconds=120)
        assert claim is not None
        job_id = str(uuid.uuid4())
        store.record_submitted(ref, claim, job_id=job_id, vendor_status="pending", warning=None, now=now)
        body = json.dumps({"jobId": job_id, "status": "succeeded", "output": {"voiceprint": voiceprint}})
        timestamp = str(int(now))
        event = copy.deepcopy(sample)
        event["headers"].update(
            {
                "content-length": str(len(body)),
                "x-request-timestamp": timestamp,
                "x-signature": webhook_signature.sign(stack.webhook_secret, timestamp, body.encode()),
            }
        )
        # The URL the submit function hands pyannoteAI: the ref and its MAC under the stack's ref key.
        sig = webhook_ref.mac(stack.ref_key, ref.webhook_ref)
        event["rawQueryString"] = f"ref={quote_plus(ref.webhook_ref)}&sig={sig}"
        event["queryStringParameters"] = {"ref": ref.webhook_ref, "sig": sig}
        event["body"] = body
        events.append(event)
    return events


def _child(module: str, events: list[dict[str, Any]], env: Mapping[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        spec, out = Path(tmp, "spec.json"), Path(tmp, "out.json")
        spec.write_text(json.dumps({"module": module, "events": events, "out": str(out)}))
        # Logs and metrics (EMF) are printed as in Lambda, and cost their CPU, but nobody reads them here.
        subprocess.run(
            [sys.executable, "-m", "bench.child", str(spec)],
            env=dict(env),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
        return dict(json.loads(out.read_text()))


def _check_answers(what: str, answers: list[Any]) -> None:
    """Only successful invocations count: a figure for an error path would flatter the handler."""
    for answer in answers:
        ok = answer.get("batchItemFailures") == [] if "batchItemFailures" in answer else answer.get("statusCode") == 200
        if not ok or (answer.get("body") and json.loads(answer["body"]).get("result") not in (None, "applied")):
            raise RuntimeError(f"{what}: an invocation did not succeed: {answer}")


def _check_submitted(stack: LocalStack, events: list[dict[str, Any]]) -> None:
    """Every object the submit runs measured was really submitted (not filtered or refused, which cost nothing)."""
    store = JobStore(stack.client("dynamodb"), stack.table, retention_days=30)
    for event in events:
        ref = ObjectRef.from_s3_record(json.loads(event["Records"][0]["body"])["Records"][0])
        record = store.get(ref.record_keys)
        if not record or record.status != "submitted":
            raise RuntimeError(f"ours submit: {ref.key} was not submitted: {record and record.status}")


def measure(stack: LocalStack, *, processes: int, invocations: int) -> ContainerResults:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update({k: v for k, v in stack.aws_env().items() if v is not None})
    env.update(stack.function_env())
    # The shared rate budget (100 a minute by default) would run out within a window of back-to-back invocations,
    # and a message without a token goes back to the queue: each submit measured must be a paid one.
    env["SUBMITS_PER_WINDOW"] = "100000"
    # What Lambda puts on the path: the function's code and the layer; not local/, not the tests.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])
    env.update(lambda_artifacts.EXECUTION_ENV)  # each process is a container: init as Lambda runs it
    ours = {name: Measured() for name in FUNCTIONS}
    floor = {name: Measured() for name in FUNCTIONS}
    for run in range(processes):
        for name, (module, floor_module, warm) in FUNCTIONS.items():
            for side, target, results in (("ours", module, ours), ("floor", floor_module, floor)):
                events: list[dict[str, Any]] = []
                if warm:
                    make = submit_events if name == "submit" else webhook_events
                    events = make(stack, invocations, f"{name}-{side}-{run}")
                result = _child(target, events, env)
                _check_answers(f"{side} {name}", result["answers"])
                if side == "ours" and name == "submit":
                    _check_submitted(stack, events)
                results[name].add(result)
    return ContainerResults(processes, invocations, ours, floor)
