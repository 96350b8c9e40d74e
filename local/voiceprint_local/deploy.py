"""template.yaml deployed the way `sam deploy` deploys it, on the moto server: translated by AWS SAM's translator
(`sam_translate`, run in the tools venv; cached by the template's hash), then created as a CloudFormation stack.
Names, ARNs and the roles come from the stack's resources and outputs.

moto's CloudFormation creates the buckets, the queues, the table (stream and indexes), the IAM roles and their
policies, the functions, the layer, the event source mappings and the event bus. What it leaves out is listed in
NOT_CREATED with what stands in for it, and the properties it ignores on what it does create (IGNORED) are applied
here from the same translated template, resolved as CloudFormation would (`cfn_intrinsics`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import re
import secrets
import string
import subprocess
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceprint_local import template
from voiceprint_local.cfn_intrinsics import Resolver, Unresolved

STACK_NAME = "voiceprint-local"
ARTIFACTS_BUCKET = "voiceprint-artifacts"  # where sam_translate's CodeUri/ContentUri point, as `sam package` writes
TOOLS_PYTHON = template.ROOT / ".venv-tools" / "bin" / "python"
TRANSLATOR = template.ROOT / "local" / "voiceprint_local" / "sam_translate.py"
CACHE_DIR = template.ROOT / ".cache"
ACCOUNT = "123456789012"  # moto's
REGION = "eu-west-1"  # the local stack's

# Resource types moto's CloudFormation skips, and what stands in for each on the local stack.
NOT_CREATED = {
    "AWS::ApiGatewayV2::Api": "apigw.LocalHttpApi: the webhook route and the IAM-authorised results routes",
    "AWS::ApiGatewayV2::Stage": "apigw.LocalHttpApi (no throttling)",
    "AWS::Scheduler::Schedule": "event_sources.Schedule invokes the reconciler",
    "AWS::CloudWatch::Alarm": "not emulated: no metrics backend (cfn-lint and the template tests check them)",
    "AWS::SQS::QueuePolicy": "not emulated: moto does not evaluate resource policies",
    "AWS::S3::BucketPolicy": "not emulated: moto does not evaluate resource policies",
    "AWS::Lambda::EventInvokeConfig": "not emulated: the events function is only invoked by its stream mapping",
}
# Resource types moto's CloudFormation has no model for, which the local stack gives one (generated_secrets).
ADDED_MODELS = {"AWS::SecretsManager::Secret": "its value generated as GenerateSecretString asks; Ref gives the ARN"}
# Properties moto's CloudFormation ignores on resources it creates; applied here.
IGNORED = {
    "AWS::S3::Bucket": ("VersioningConfiguration", "NotificationConfiguration"),
    "AWS::DynamoDB::Table": ("TimeToLiveSpecification",),
    "AWS::IAM::Role": ("ManagedPolicyArns",),
}


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class Deployment:
    """What the stack made: logical id -> physical id (Ref), the outputs, and the parameters it was given."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]
    physical: Mapping[str, str]
    outputs: Mapping[str, str]
    function_env: Mapping[str, Mapping[str, str]]  # logical id -> its environment, as deployed

    def name(self, logical_id: str) -> str:
        return self.physical[logical_id]


def translated(path: Path = template.TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml (or another SAM template) as CloudFormation, from AWS SAM's translator; cached under .cache/ by
    the template's hash."""
    source = path.read_bytes() + TRANSLATOR.read_bytes()
    cached = CACHE_DIR / f"translated-{hashlib.sha256(source).hexdigest()[:20]}.json"
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    if not TOOLS_PYTHON.exists():
        raise DeployError(
            f"{TOOLS_PYTHON} not found: the template is translated by AWS SAM's translator in the tools venv, which "
            "scripts/run-local.sh and scripts/test.sh make"
        )
    env = dict(os.environ, AWS_DEFAULT_REGION=REGION)
    out = subprocess.run(  # noqa: S603 - our own script in our own venv
        [str(TOOLS_PYTHON), str(TRANSLATOR), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise DeployError(f"sam_translate failed:\n{out.stderr[-3000:]}")
    CACHE_DIR.mkdir(exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(out.stdout)
    partial.replace(cached)  # atomic: parallel runs never read half a file
    return dict(json.loads(out.stdout))


def deploy(
    client: Callable[[str], Any],
    parameters: Mapping[str, str],
    *,
    template_path: Path = template.TEMPLATE_PATH,
) -> Deployment:
    """Create the stack on moto. `parameters`: the stack's parameter values (the rest take their defaults), with the
    two secrets they name already made, as the README asks of a user before `sam deploy`."""
    cfn_template = translated(template_path)
    pollers_are_local()
    stable_names()
    event_bus_ref()
    generated_secrets()
    skipped = not_created(cfn_template)
    if skipped - NOT_CREATED.keys():
        raise DeployError(
            f"moto's CloudFormation does not create {sorted(skipped - NOT_CREATED.keys())}, and the "
            "local stack has no stand-in for it: add one, and a line to NOT_CREATED"
        )
    _upload_code(client("s3"), cfn_template)
    cfn = client("cloudformation")
    _quiet_about(skipped)
    cfn.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(cfn_template),
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"stack {STACK_NAME}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    summaries = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if r["PhysicalResourceId"]}
    values = {**_parameter_defaults(cfn_template), **{k: str(v) for k, v in parameters.items()}}
    resolver = _resolver(client, cfn_template, values, physical)
    for logical_id, resource in cfn_template["Resources"].items():
        if resource["Type"] in IGNORED and logical_id in physical:
            props = resolver.value(
                {k: v for k, v in resource.get("Properties", {}).items() if k in IGNORED[resource["Type"]]}
            )
            _apply_ignored(client, resource["Type"], physical[logical_id], props)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Deployment(
        cfn_template, values, physical, outputs, _function_env(client("lambda"), cfn_template, physical, resolver)
    )


class _KnownSkips(logging.Filter):
    """Drops moto's warning for a resource type NOT_CREATED already accounts for (it repeats on every read)."""

    def __init__(self, types: set[str]) -> None:
        super().__init__()
        self.types = types

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("No Moto CloudFormation support for ") and message.rsplit(" ", 1)[-1] in self.types
        )


def _quiet_about(types: set[str]) -> None:
    moto_logger = logging.getLogger("moto")
    known = next((f for f in moto_logger.filters if isinstance(f, _KnownSkips)), None)
    if known is None:
        moto_logger.addFilter(_KnownSkips(set(types)))
    else:
        known.types |= types
    for kind in types:
        warnings.filterwarnings("ignore", message=f"Tried to parse {re.escape(kind)} but", category=UserWarning)


def not_created(cfn_template: Mapping[str, Any]) -> set[str]:
    """The translated template's resource types that moto's CloudFormation skips."""
    from moto.cloudformation.parsing import get_model_map

    types = {r["Type"] for r in cfn_template["Resources"].values()}
    return {t for t in types if t not in get_model_map() and t not in ADDED_MODELS}


def _parameter_defaults(cfn_template: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v["Default"]) for k, v in cfn_template["Parameters"].items() if "Default" in v}


def _resolver(
    client: Callable[[str], Any],
    cfn_template: Mapping[str, Any],
    values: Mapping[str, str],
    physical: Mapping[str, str],
) -> Resolver:
    def attribute(logical_id: str, name: str) -> str:
        kind = cfn_template["Resources"][logical_id]["Type"]
        if kind == "AWS::SQS::Queue" and name == "Arn":
            url = physical[logical_id]
            return str(
                client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            )
        raise Unresolved(f"Fn::GetAtt {logical_id}.{name}")

    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK_NAME,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::Partition": "aws",
    }
    return Resolver(cfn_template, values, physical, pseudo=pseudo, attribute=attribute)


def _upload_code(s3: Any, cfn_template: Mapping[str, Any]) -> None:
    """The objects the translated template's code locations name. The local stack runs the handlers itself (from
    source), so moto's functions only need their code to exist."""
    placeholder = io.BytesIO()
    with zipfile.ZipFile(placeholder, "w") as archive:
        archive.writestr("README.txt", "The local stack runs this function's handler itself.\n")
    region = s3.meta.region_name
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    for logical_id, resource in cfn_template["Resources"].items():
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"{logical_id}.zip", Body=placeholder.getvalue())


def _apply_ignored(client: Callable[[str], Any], kind: str, name: str, props: Mapping[str, Any]) -> None:
    if kind == "AWS::IAM::Role":
        for arn in props.get("ManagedPolicyArns", []):
            client("iam").attach_role_policy(RoleName=name, PolicyArn=arn)
        return
    if kind == "AWS::DynamoDB::Table" and "TimeToLiveSpecification" in props:
        client("dynamodb").update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        return
    s3 = client("s3")
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queues:
        configs = [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                "Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}},
            }
            for q in queues
        ]
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": configs}
        )


def _function_env(
    lam: Any, cfn_template: Mapping[str, Any], physical: Mapping[str, str], resolver: Resolver
) -> dict[str, dict[str, str]]:
    """Each function's environment as moto's Lambda holds it; the variables it dropped (they name resources it did
    not create: the generated secret, the event bus) resolved from the template the same way."""
    found: dict[str, dict[str, str]] = {}
    for logical_id, resource in cfn_template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        config = lam.get_function_configuration(FunctionName=physical[logical_id])
        deployed = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        declared = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in declared.items():
            if name not in deployed or "${" in deployed[name] or "moto." in deployed[name]:
                try:
                    deployed[name] = str(resolver.value(value))
                except LookupError:
                    deployed.pop(name, None)  # e.g. WEBHOOK_URL: the HTTP API is emulated, the stack sets it
        found[logical_id] = deployed
    return found


def pollers_are_local() -> None:
    """moto delivers to a function's event source mapping inline, in the writer's request (and runs the function
    in Docker); Lambda polls. The mappings stay (the local stack reads their settings) without moto's delivery:
    the stack's own pollers (event_sources) stand in for Lambda's. Idempotent."""
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_event_source_mapping
    if hasattr(original, "__wrapped__"):
        return

    @functools.wraps(original)
    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        esm = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
            table.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def stable_names() -> None:
    """CloudFormation names what the template leaves unnamed `<stack>-<logical id>-<random>`; moto does the same.
    Locally the random part is LOCAL, so the README's commands can name the bucket and the table. The code never
    relies on it: names come from the stack. Idempotent."""
    from moto.cloudformation import parsing

    original = parsing.generate_resource_name
    if hasattr(original, "__wrapped__"):
        return

    @functools.wraps(original)
    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        if stack_name != STACK_NAME:
            return original(resource_type, stack_name, logical_id)
        name = f"{stack_name}-{logical_id}-LOCAL"
        return name.lower() if resource_type == "AWS::S3::Bucket" else name

    parsing.generate_resource_name = generate_resource_name


def event_bus_ref() -> None:
    """Ref of an AWS::Events::EventBus gives its name; moto's gives the Python object (so the EventBusName output
    and the stack's resource list were wrong). Idempotent."""
    from moto.events.models import EventBus

    if not hasattr(EventBus, "physical_resource_id"):
        EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def generated_secrets() -> None:
    """AWS::SecretsManager::Secret, which moto's CloudFormation skips: made in moto's Secrets Manager, with a value
    generated as its GenerateSecretString asks (length, no punctuation), so that Ref (its ARN) resolves in the
    policies and the environment that name it, as in AWS. Idempotent."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    if "AWS::SecretsManager::Secret" in parsing.get_model_map():
        return

    class GeneratedSecret(CloudFormationModel):
        def __init__(self, arn: str) -> None:
            self.arn = arn

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> GeneratedSecret:
            from moto.secretsmanager.models import secretsmanager_backends

            props = cloudformation_json.get("Properties", {})
            value = props.get("SecretString") or _generated(props.get("GenerateSecretString", {}))
            made = secretsmanager_backends[account_id][region_name].create_secret(
                name=props.get("Name", resource_name),
                secret_string=value,
                secret_binary=None,
                description=props.get("Description"),
                tags=None,
                kms_key_id=props.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
            return cls(json.loads(made)["ARN"])

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _generated(spec: Mapping[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
