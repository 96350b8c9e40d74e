"""The local stack's AWS resources: template.yaml deployed as CloudFormation on moto (`deploy`), after the two
secrets a user makes before `sam deploy`; plus what only the local stack has, a rule on the event bus that copies
every event to a queue the stack can read. Names, ARNs and the functions' environment come from the stack."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceprint import change_events
from voiceprint_local import deploy, iam_policy, template

EVENTS_QUEUE = "voiceprint-events-local"  # a rule on the bus delivers every event here, to be looked at
SECRET_NAMES = {  # the secrets a user creates before deploying, named by the ApiKeySecretName/WebhookSecretName
    "api_key": "voiceprint/pyannote-api-key",
    "webhook_secret": "voiceprint/pyannote-webhook-secret",
}


@dataclass(frozen=True)
class Resources:
    """What was made, by the names and ARNs the functions, the event sources and the tests need."""

    deployment: deploy.Deployment
    bucket: str
    results_bucket: str
    table: str
    event_bus: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    stream_arn: str
    events_queue_url: str


def parameters_for(env: Mapping[str, str]) -> dict[str, str]:
    """Stack parameters for the function variables in `env` that the template takes from a parameter (e.g.
    IDENTIFY_THRESHOLD <- IdentifyThreshold): the local stack sets them as a deploy would, so every function and
    the bucket's notifications agree."""
    params = template.load()["Parameters"]
    found: dict[str, str] = {}
    for logical_id in template.functions():
        for name, value in template.function_environment(logical_id).items():
            if name in env and isinstance(value, dict) and value.get("Ref") in params:
                found[value["Ref"]] = env[name]
    return found


EXISTING_BUCKET = "voiceprint-local-existing-audio"


def existing_bucket(client: Callable[[str], Any]) -> str:
    """A bucket of the user's own, as the README asks it to be before the stack is deployed with it: versioned,
    with its EventBridge notifications on."""
    s3 = client("s3")
    s3.create_bucket(Bucket=EXISTING_BUCKET, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    s3.put_bucket_versioning(Bucket=EXISTING_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=EXISTING_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    return EXISTING_BUCKET


def create(
    client: Callable[[str], Any],
    *,
    secrets: Mapping[str, str],
    parameters: Mapping[str, str],
    queue_visibility_seconds: int | None,
    template_path: Path = template.TEMPLATE_PATH,
) -> Resources:
    """`client(service)` makes a boto3 client on moto; `secrets` holds the values of SECRET_NAMES' keys;
    `parameters` are the stack's parameter overrides."""
    sm, sqs, events = client("secretsmanager"), client("sqs"), client("events")
    for key, name in SECRET_NAMES.items():
        sm.create_secret(Name=name, SecretString=secrets[key])
    given = {"ApiKeySecretName": SECRET_NAMES["api_key"], "WebhookSecretName": SECRET_NAMES["webhook_secret"]}
    made = deploy.deploy(client, {**given, **parameters}, template_path=template_path)
    queue_url = made.outputs["InputQueueUrl"]
    if queue_visibility_seconds is not None:  # the chaos run's shorter lease, so redeliveries come sooner
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(queue_visibility_seconds)})
    table = made.outputs["JobsTableName"]
    stream_arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    bus = made.name("VoiceprintEventBus")
    events_queue_url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    events.put_rule(Name=EVENTS_QUEUE, EventBusName=bus, EventPattern=json.dumps({"source": [change_events.SOURCE]}))
    events.put_targets(
        Rule=EVENTS_QUEUE, EventBusName=bus, Targets=[{"Id": "queue", "Arn": _queue_arn(sqs, events_queue_url)}]
    )
    return Resources(
        deployment=made,
        bucket=made.outputs["InputBucketName"],
        results_bucket=made.outputs["ResultsBucketName"],
        table=table,
        event_bus=bus,
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dlq_url=made.outputs["DeadLetterQueueUrl"],
        stream_arn=stream_arn,
        events_queue_url=events_queue_url,
    )


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def function_env(
    resources: Resources,
    functions: Mapping[str, str],
    *,
    webhook_url: str,
    metrics: bool,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The functions' environment as the stack deployed it. The HTTP API is emulated, so the webhook URL is the
    local API's; `extra` is set over it (variables the template does not take from a parameter)."""
    env: dict[str, str] = {}
    for logical_id in functions.values():
        env.update(function_env_of(resources, logical_id, webhook_url=webhook_url, metrics=metrics, extra=extra))
    return env


def function_env_of(
    resources: Resources, logical_id: str, *, webhook_url: str, metrics: bool, extra: Mapping[str, str]
) -> dict[str, str]:
    """One function's environment (see function_env)."""
    env = {**resources.deployment.function_env[logical_id], "WEBHOOK_URL": webhook_url}
    if not metrics:
        env["POWERTOOLS_METRICS_DISABLED"] = "true"
    return {**env, **extra}


def function_roles(
    client: Callable[[str], Any], resources: Resources, functions: Mapping[str, str]
) -> dict[str, tuple[str, tuple[iam_policy.Statement, ...]]]:
    """Each function's role as CloudFormation made it, with the statements of its inline and attached policies."""
    lam, iam = client("lambda"), client("iam")
    roles: dict[str, tuple[str, tuple[iam_policy.Statement, ...]]] = {}
    for name, logical_id in functions.items():
        role_arn = lam.get_function_configuration(FunctionName=resources.deployment.name(logical_id))["Role"]
        role = role_arn.rsplit("/", 1)[1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            documents.append(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        roles[name] = (role_arn, iam_policy.statements(documents))
    return roles


def event_source_mappings(
    client: Callable[[str], Any], resources: Resources, functions: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Each function's event source mapping as CloudFormation made it (function name -> the mapping)."""
    lam = client("lambda")
    by_arn = {
        lam.get_function(FunctionName=resources.deployment.name(logical_id))["Configuration"]["FunctionArn"]: name
        for name, logical_id in functions.items()
    }
    return {by_arn[m["FunctionArn"]]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
