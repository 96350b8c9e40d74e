"""Which permissions each function's role grants that nothing exercises: a workload that walks the pipeline's paths
on the local stack (IAM enforced), then every (action, resource) an Allow grants, set against the calls that were
checked. Each one left over is removed from template.yaml or justified in JUSTIFIED.

    python -m voiceprint_local.iam_report     writes docs/IAM.md (about a minute)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from voiceprint_local import template
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.iam_policy import Statement, allowed
from voiceprint_local.stack import FUNCTIONS, LocalStack, StackOptions, running, wait_for

PAGE = template.ROOT / "docs" / "IAM.md"
# (function, action) granted but not exercised by the workload, and why it stays.
_MANAGED = (
    "AWS managed policy SAM attaches (AWSLambdaBasicExecutionRole / AWSXrayWriteOnlyAccess): Lambda's logs and tracing"
)
JUSTIFIED: dict[tuple[str, str], str] = {
    **{
        (function, action): _MANAGED
        for function in ("webhook", "reconciler", "read")
        for action in (
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        )
    },
    ("submit", "logs:CreateLogStream"): "Lambda writes the function's logs with its role (no boto3 call of ours)",
    ("submit", "logs:PutLogEvents"): "Lambda writes the function's logs with its role",
    ("submit", "xray:PutTraceSegments"): "Lambda's active tracing (Tracing: Active) sends segments with the role",
    ("submit", "xray:PutTelemetryRecords"): "Lambda's active tracing",
    ("events", "logs:CreateLogStream"): "Lambda writes the function's logs with its role",
    ("events", "logs:PutLogEvents"): "Lambda writes the function's logs with its role",
    ("events", "xray:PutTraceSegments"): "Lambda's active tracing",
    ("events", "xray:PutTelemetryRecords"): "Lambda's active tracing",
    ("reconciler", "s3:DeleteObject"): "settlement.settle removes the output it placed when the record did not take "
    "it (deleted or settled with another output meanwhile); not staged here",
    ("webhook", "s3:DeleteObject"): "settlement.settle removes the output it placed when the record did not take it "
    "(deleted or settled with another output meanwhile); not staged here",
}


def granted(policy: Iterable[Statement]) -> set[tuple[str, str]]:
    return {(a, r) for s in policy if s.effect == "Allow" for a in s.actions for r in s.resources}


def unexercised(
    roles: Mapping[str, tuple[str, tuple[Statement, ...]]], checked: set[tuple[str, str, str]]
) -> dict[str, list[tuple[str, str]]]:
    """Per function, each granted (action, resource pattern) that no checked call of that function matched."""
    found: dict[str, list[tuple[str, str]]] = {}
    for function, (_, policy) in roles.items():
        calls = [(a, r) for f, a, r in checked if f == function]
        left = [
            (action, resource)
            for action, resource in sorted(granted(policy))
            if not any(allowed((Statement("Allow", (action,), (resource,), False),), a, r) for a, r in calls)
        ]
        if left:
            found[function] = left
    return found


def workload(stack: LocalStack) -> None:
    """The pipeline's paths, each once: voiceprints and identifications (outputs to the results bucket), a webhook
    delivered twice, a retry after a 5xx, lost webhooks adopted by the reconciler, a forged queue message
    dead-lettered, the results API's routes, and both deletions."""
    assert stack.emulator is not None
    config = stack.emulator.config
    stack.upload("voiceprints/iam/alice.wav", wav_bytes(2.0, "alice"))
    stack.upload("voiceprints/iam/bob.wav", wav_bytes(2.0, "bob"))
    _settled(stack, 2)
    config.duplicate_webhook_rate = 1.0  # the second delivery finds the record settled
    stack.upload("identify/iam/call.wav", wav_bytes(2.0, "alice"))
    _settled(stack, 3)
    config.duplicate_webhook_rate = 0.0
    config.error_rate = 1.0  # the next submit meets a 5xx and is deferred
    stack.upload("voiceprints/iam/carol.wav", wav_bytes(2.0, "carol"))
    assert wait_for(lambda: _deferred(stack), timeout=30)  # 5xx until the submit defers its message
    config.error_rate = 0.0
    config.drop_webhook_rate = 1.0  # their webhooks are lost: the reconciler adopts the results
    stack.upload("identify/iam/lost-call.wav", wav_bytes(2.0, "bob"))
    _settled(stack, 5, timeout=90)
    config.drop_webhook_rate = 0.0
    stack.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"Records": "forged"}))
    assert wait_for(lambda: bool(stack.dead_letters()), timeout=30)
    _replayed_webhook(stack)
    _read_api(stack)
    s3 = stack.client("s3")
    s3.delete_object(Bucket=stack.bucket, Key="voiceprints/iam/bob.wav")
    versions = s3.list_object_versions(Bucket=stack.bucket, Prefix="identify/iam/call.wav")["Versions"]
    s3.delete_object(Bucket=stack.bucket, Key="identify/iam/call.wav", VersionId=versions[0]["VersionId"])
    assert wait_for(lambda: len(stack.terminal_records()) == 3, timeout=30)
    assert wait_for(lambda: stack.invocations["events"] > 0, timeout=10)


def _deferred(stack: LocalStack) -> bool:
    return stack.iam is not None and any(action == "sqs:ChangeMessageVisibility" for _, action, _ in stack.iam.checked)


def _settled(stack: LocalStack, count: int, timeout: float = 60) -> None:
    assert wait_for(lambda: len(stack.terminal_records()) == count, timeout=timeout), stack.errors


def _replayed_webhook(stack: LocalStack) -> None:
    """A genuine, signed result sent again without the URL's ref: the webhook finds its record by jobId."""
    import requests

    from voiceprint.webhook_signature import sign

    assert stack.emulator is not None
    job_id, _, output = next(job for job in stack.emulator.job_snapshot() if job[2] is not None)
    body = json.dumps({"jobId": job_id, "status": "succeeded", "output": output}).encode()
    ts = str(int(time.time()))
    headers = {"X-Request-Timestamp": ts, "X-Signature": sign(stack.webhook_secret, ts, body)}
    requests.post(stack.webhook_url, data=body, headers=headers, timeout=10).raise_for_status()


def _read_api(stack: LocalStack) -> None:
    from botocore.credentials import Credentials

    from voiceprint_cli.api import ResultsApi
    from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY

    assert stack.api is not None
    api = ResultsApi.connect(stack.api.url, credentials=Credentials(ACCESS_KEY, SECRET_KEY), region=REGION, local=True)
    record = stack.terminal_records()["voiceprints/iam/alice.wav"]
    api.job(str(record["jobId"]))
    api.object_versions("voiceprints/iam/alice.wav")
    api.object_versions("identify/iam/call.wav", result=True)  # presigns the output's URL (resultUrl)
    api.voiceprints("iam/")
    api.voiceprints(None, "alice")


def options() -> StackOptions:
    env = {"INLINE_RESULT_MAX_BYTES": "0", "RECONCILE_AFTER_SECONDS": "1", "RETRY_BASE_SECONDS": "1"}
    return StackOptions(reconcile_every_seconds=0.5, log_level="CRITICAL", metrics=False, env=env)


def render(left: Mapping[str, list[tuple[str, str]]]) -> str:
    lines = [
        "# IAM: what each function's role grants that the workload does not exercise",
        "",
        "Generated by `python -m voiceprint_local.iam_report` (PYTHONPATH as `scripts/run-local.sh` sets it), from "
        "the local stack made from `template.yaml`, IAM enforced: the workload in `iam_report.workload` walks "
        "voiceprints, an identification whose output goes to the results bucket, a retry after a 5xx, a lost "
        "webhook adopted by the reconciler, a forged queue message dead-lettered, both deletions and the results "
        "API. Every permission granted and not exercised is listed with why it stays; "
        "`tests/e2e/test_iam_enforced.py` fails when this list and the workload disagree.",
        "",
        "The webhook, reconciler and read functions' roles are SAM's: besides their policies they carry the AWS "
        "managed policies AWSLambdaBasicExecutionRole and AWSXrayWriteOnlyAccess (logs and X-Ray only), listed "
        "here as granted. Resource names are the local stack's.",
        "",
        "| function | action | resource (as granted) | why it stays |",
        "| --- | --- | --- | --- |",
    ]
    for function in FUNCTIONS:
        for action, resource in left.get(function, []):
            why = JUSTIFIED.get((function, action), "**not justified: remove it from template.yaml**")
            lines.append(f"| {function} | `{action}` | `{resource}` | {why} |")
    return "\n".join(lines) + "\n"


def measure() -> dict[str, list[tuple[str, str]]]:
    with running(options()) as stack:
        workload(stack)
        assert stack.iam is not None
        assert stack.iam.denied == [], stack.iam.denied
        roles = {name: stack.iam.role(name) for name in FUNCTIONS}
        return unexercised(roles, stack.iam.checked)


def main() -> int:
    left = measure()
    Path(PAGE).write_text(render(left))
    missing = [(f, a) for f, pairs in left.items() for a, _ in pairs if (f, a) not in JUSTIFIED]
    print(f"wrote {PAGE}; {sum(len(v) for v in left.values())} unexercised, {len(missing)} not justified")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
