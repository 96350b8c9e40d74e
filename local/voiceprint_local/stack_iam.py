"""The local stack's IAM: each function's role as CloudFormation made it, read back from moto's IAM, and the
check AWS makes when it creates an event source mapping (the role must allow what Lambda's poller does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from voiceprint_local import iam_policy, provisioning

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def secret_arns(client: Callable[[str], Any], env: Mapping[str, str]) -> dict[str, str]:
    """The ARN of every secret the functions' environment names (IAM authorises GetSecretValue on the ARN)."""
    sm = client("secretsmanager")
    ids = {v for k, v in env.items() if k.endswith("_SECRET_ID") and v}
    return {i: i if i.startswith("arn:") else str(sm.describe_secret(SecretId=i)["ARN"]) for i in ids}


def enforcer(
    client: Callable[[str], Any],
    resources: provisioning.Resources,
    functions: Mapping[str, str],
    *,
    current: Callable[[], str | None],
) -> iam_policy.Enforcer:
    """An Enforcer for these functions; raises PermissionError, as AWS refuses the mapping, when a function's role
    cannot do what Lambda's poller does for its event source mapping."""
    sm = client("secretsmanager")
    known: dict[str, str] = {}

    def secret_arn(secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        if secret_id not in known:
            known[secret_id] = str(sm.describe_secret(SecretId=secret_id)["ARN"])
        return known[secret_id]

    roles = provisioning.function_roles(client, resources, functions)
    found = iam_policy.Enforcer(roles, iam_policy.Where(REGION, ACCOUNT, secret_arn=secret_arn), current)
    for function, mapping in provisioning.event_source_mappings(client, resources, functions).items():
        on_failure = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        for action, resource in iam_policy.poller_permissions(mapping["EventSourceArn"], on_failure):
            if not found.permits(function, action, resource):
                raise PermissionError(
                    f"the {function} function's event source mapping: its role {roles[function][0]} is not "
                    f"authorized to perform: {action} on resource: {resource}"
                )
    return found
