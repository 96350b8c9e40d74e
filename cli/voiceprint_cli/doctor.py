"""`voiceprint doctor`: is a deployed stack ready to work? Each check has its own exit code; the command exits with
the code of the first check that failed (0 when none did), and prints every check.

    10  a secret the stack reads does not exist (the API key, the webhook secret, the generated ref key)
    11  pyannoteAI does not accept the API key (GET /v1/test)
    12  the webhook route does not answer as it should (a signed test request accepted, an unsigned one refused)
    13  a dead-letter queue holds messages (the input queue's depth is printed either way)
    14  an alarm is in ALARM
    15  the reconciler's schedule is not enabled
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceprint_cli.deployed import Deployed

SECRETS, API_KEY, WEBHOOK, QUEUES, ALARMS, SCHEDULE = 10, 11, 12, 13, 14, 15


@dataclass(frozen=True)
class Check:
    name: str
    code: int
    ok: bool | None  # None: does not apply to this stack (said in `detail`)
    detail: str


def run(stack: Deployed, *, webhook_url: str | None = None, http: Any = None) -> list[Check]:
    """Every check, in the order of their codes. `webhook_url` overrides the WebhookUrl output (the local stack's
    HTTP API is not CloudFormation's); `http` is a requests-like session."""
    import requests

    session = http or requests.Session()
    checks: list[Callable[[], Check]] = [
        lambda: _secrets(stack),
        lambda: _api_key(stack, session),
        lambda: _webhook(stack, session, webhook_url or stack.outputs.get("WebhookUrl", "")),
        lambda: _queues(stack),
        lambda: alarms_check(stack),
        lambda: schedule_check(stack),
    ]
    return [check() for check in checks]


def exit_code(checks: list[Check]) -> int:
    return next((c.code for c in checks if c.ok is False), 0)


def _secret_ids(stack: Deployed) -> dict[str, str]:
    ids = {
        "API key": stack.parameters.get("ApiKeySecretName", ""),
        "webhook secret": stack.parameters.get("WebhookSecretName", ""),
    }
    for arn in stack.of_type("AWS::SecretsManager::Secret").values():
        ids["webhook ref key"] = arn
    return ids


def _secrets(stack: Deployed) -> Check:
    from botocore.exceptions import ClientError

    sm = stack.client("secretsmanager")
    missing = []
    for what, secret_id in _secret_ids(stack).items():
        try:
            sm.describe_secret(SecretId=secret_id)
        except ClientError as exc:
            missing.append(f"{what} ({secret_id}): {exc.response['Error'].get('Code')}")
    if missing:
        return Check("secrets", SECRETS, False, "; ".join(missing))
    return Check("secrets", SECRETS, True, ", ".join(_secret_ids(stack)))


def _value(stack: Deployed, secret_id: str) -> str:
    return str(stack.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def _api_key(stack: Deployed, http: Any) -> Check:
    url = stack.parameters.get("PyannoteApiUrl") or "https://api.pyannote.ai"
    try:
        key = _value(stack, stack.parameters["ApiKeySecretName"])
        resp = http.get(f"{url}/v1/test", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the answer is this check's outcome
        return Check("pyannoteAI API key", API_KEY, False, f"{type(exc).__name__}: {exc}")
    if resp.status_code != 200:
        return Check("pyannoteAI API key", API_KEY, False, f"GET {url}/v1/test answered {resp.status_code}")
    return Check("pyannoteAI API key", API_KEY, True, f"GET {url}/v1/test answered 200")


def _webhook(stack: Deployed, http: Any, url: str) -> Check:
    from voiceprint.webhook_signature import sign

    if not url:
        return Check("webhook route", WEBHOOK, False, "no WebhookUrl output")
    # A result for a job this stack never made: a working route verifies the signature, then ignores it (202).
    body = json.dumps({"jobId": f"doctor-{uuid.uuid4()}", "status": "succeeded", "output": {}}).encode()
    ts = str(int(time.time()))
    try:
        secret = _value(stack, stack.parameters["WebhookSecretName"])
        signed = http.post(url, data=body, headers={"X-Request-Timestamp": ts, "X-Signature": sign(secret, ts, body)})
        unsigned = http.post(url, data=body, headers={"X-Request-Timestamp": ts}, timeout=10)
    except Exception as exc:  # noqa: BLE001
        return Check("webhook route", WEBHOOK, False, f"{type(exc).__name__}: {exc}")
    if signed.status_code != 202 or unsigned.status_code != 401:
        detail = f"signed test answered {signed.status_code} (want 202), unsigned {unsigned.status_code} (want 401)"
        return Check("webhook route", WEBHOOK, False, detail)
    return Check("webhook route", WEBHOOK, True, "a signed test request accepted (202), an unsigned one refused (401)")


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _queues(stack: Deployed) -> Check:
    sqs = stack.client("sqs")
    input_depth = _depth(sqs, stack.outputs["InputQueueUrl"])
    dead = {"dead-letter queue": stack.outputs["DeadLetterQueueUrl"]}
    if "EventsDeadLetterQueue" in stack.physical:
        dead["events dead-letter queue"] = stack.physical["EventsDeadLetterQueue"]
    depths = {name: _depth(sqs, url) for name, url in dead.items()}
    detail = f"input queue {input_depth}; " + ", ".join(f"{name} {depth}" for name, depth in depths.items())
    if any(depths.values()):
        return Check("queues", QUEUES, False, detail + " (see the README's Redrive section)")
    return Check("queues", QUEUES, True, detail)


def alarms_check(stack: Deployed) -> Check:
    names = list(stack.of_type("AWS::CloudWatch::Alarm").values())
    if not names:
        return Check("alarms", ALARMS, None, "the stack has no alarms (the local stack does not create them)")
    found = stack.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    firing = [a["AlarmName"] for a in found if a["StateValue"] == "ALARM"]
    if firing:
        return Check("alarms", ALARMS, False, "in ALARM: " + ", ".join(firing))
    return Check("alarms", ALARMS, True, f"{len(found)} alarms, none in ALARM")


def schedule_check(stack: Deployed) -> Check:
    schedules = list(stack.of_type("AWS::Scheduler::Schedule").values())
    if not schedules:
        return Check(
            "reconciler schedule", SCHEDULE, None, "not a CloudFormation resource here (the local stack runs it)"
        )
    scheduler = stack.client("scheduler")
    states = {name: scheduler.get_schedule(Name=name.split("|")[-1])["State"] for name in schedules}
    if any(state != "ENABLED" for state in states.values()):
        return Check("reconciler schedule", SCHEDULE, False, f"{states}")
    return Check("reconciler schedule", SCHEDULE, True, "enabled")
