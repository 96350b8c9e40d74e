"""The local stack's AWS resources, made on moto from what template.yaml declares: the input queue and its DLQ,
the buckets with their notifications, the table with its stream and TTL, the event bus with a rule that copies
every event to a queue the stack can read, and the three secrets; and the functions' environment resolved
against them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from voiceprint import change_events
from voiceprint_local import template

REGION = "eu-west-1"
BUCKET = "voiceprint-input-local"
RESULTS_BUCKET = "voiceprint-results-local"
TABLE = "voiceprint-jobs-local"
EVENTS_QUEUE = "voiceprint-events-local"
EVENT_BUS = "voiceprint-local-voiceprints"  # a rule on the bus delivers every event here, to be looked at
SECRET_NAMES = {
    "api_key": "voiceprint/pyannote-api-key",
    "webhook_secret": "voiceprint/pyannote-webhook-secret",
    "ref_key": "voiceprint/webhook-ref-key",
}


@dataclass(frozen=True)
class Resources:
    """What was made, by the names and ARNs the functions and the event sources need."""

    queue_url: str
    queue_arn: str
    dlq_url: str
    stream_arn: str
    events_queue_url: str


def create(
    client: Callable[[str], Any],
    *,
    secrets: Mapping[str, str],
    env: Mapping[str, str],
    queue_visibility_seconds: int | None,
) -> Resources:
    """`client(service)` makes a boto3 client on moto; `secrets` holds the values of SECRET_NAMES' keys; `env` is
    the stack's extra function environment (prefixes and suffix override the template's defaults)."""
    params = template.parameter_defaults()
    sqs, s3, ddb, sm, events = (client(s) for s in ("sqs", "s3", "dynamodb", "secretsmanager", "events"))
    dlq_url = sqs.create_queue(QueueName="voiceprint-dlq-local")["QueueUrl"]
    queue = template.queue_properties("InputQueue")
    redrive = {"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": params["MaxReceiveCount"]}
    queue_url = sqs.create_queue(
        QueueName="voiceprint-input-local",
        Attributes={
            "VisibilityTimeout": str(queue_visibility_seconds or queue["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=RESULTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": notifications(queue_arn, params, env)}
    )
    ddb.create_table(TableName=TABLE, **template.table_definition())
    ddb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"AttributeName": template.ttl_attribute(), "Enabled": True}
    )
    stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    # The stack's own bus, as the template makes by default (EventBusName ""), with a rule that copies every
    # event to a queue the stack can read.
    events_queue_url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    events.create_event_bus(Name=EVENT_BUS)
    events.put_rule(
        Name=EVENTS_QUEUE, EventBusName=EVENT_BUS, EventPattern=json.dumps({"source": [change_events.SOURCE]})
    )
    events.put_targets(
        Rule=EVENTS_QUEUE,
        EventBusName=EVENT_BUS,
        Targets=[{"Id": "queue", "Arn": _queue_arn(sqs, events_queue_url)}],
    )
    for key, name in SECRET_NAMES.items():
        sm.create_secret(Name=name, SecretString=secrets[key])
    return Resources(queue_url, queue_arn, dlq_url, stream_arn, events_queue_url)


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def notifications(queue_arn: str, params: Mapping[str, str], env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The template's S3 -> SQS notifications: one per prefix (voiceprints, identification) and event type."""
    suffix = env.get("KEY_SUFFIX", params["KeySuffix"])
    configs = []
    for variable, parameter in (("VOICEPRINT_PREFIX", "VoiceprintPrefix"), ("IDENTIFY_PREFIX", "IdentifyPrefix")):
        prefix = env.get(variable, params[parameter])
        if not prefix:
            continue
        rules = [{"Name": "prefix", "Value": prefix}] + ([{"Name": "suffix", "Value": suffix}] if suffix else [])
        for event in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"):
            configs.append({"QueueArn": queue_arn, "Events": [event], "Filter": {"Key": {"FilterRules": rules}}})
    return configs


def function_env(
    resources: Resources,
    functions: Mapping[str, str],
    *,
    api_url: str,
    webhook_url: str,
    log_level: str,
    metrics: bool,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The functions' environment as template.yaml declares it, resolved against these resources."""
    refs = {
        "JobsTable": TABLE,
        "ApiKeySecretName": SECRET_NAMES["api_key"],
        "WebhookSecretName": SECRET_NAMES["webhook_secret"],
        "PyannoteApiUrl": api_url,
        "LogLevel": log_level,
        "DeadLetterQueue": resources.dlq_url,
        "ResultsBucket": RESULTS_BUCKET,
        "InputBucket": BUCKET,
        "WebhookRefKeySecret": SECRET_NAMES["ref_key"],
    }
    env: dict[str, str] = {}
    for logical_id in functions.values():
        overrides = {"WEBHOOK_URL": webhook_url, "EVENT_BUS_NAME": EVENT_BUS}
        env.update(template.resolved_environment(logical_id, refs, overrides))
    if not metrics:
        env["POWERTOOLS_METRICS_DISABLED"] = "true"
    env.update(extra)
    return env
