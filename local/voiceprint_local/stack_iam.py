"""The local stack's IAM: each function's role as CloudFormation made it, read back from moto's IAM, and the
check AWS makes when it creates an event source mapping (the role must allow what Lambda's poller does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from voiceprint_local import iam_policy, provisioning
from voiceprint_local.deploy import ACCOUNT, REGION


def secret_arn_lookup(client: Callable[[str], Any]) -> Callable[[str], str]:
    """SecretId (name or ARN) -> the secret's ARN, which IAM authorises GetSecretValue on; each name looked up once."""
    sm = client("secretsmanager")
    known: dict[str, str] = {}

    def secret_arn(secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        if secret_id not in known:
            known[secret_id] = str(sm.describe_secret(SecretId=secret_id)["ARN"])
        return known[secret_id]

    return secret_arn


def secret_arns(client: Callable[[str], Any], env: Mapping[str, str]) -> dict[str, str]:
    """The ARN of every secret the functions' environment names."""
    lookup = secret_arn_lookup(client)
    return {v: lookup(v) for k, v in env.items() if k.endswith("_SECRET_ID") and v}


def enforcer(
    client: Callable[[str], Any],
    resources: provisioning.Resources,
    functions: Mapping[str, str],
    mappings: Mapping[str, Mapping[str, Any]],
    *,
    current: Callable[[], str | None],
) -> iam_policy.Enforcer:
    """An Enforcer for these functions; raises PermissionError, as AWS refuses the mapping, when a function's role
    cannot do what Lambda's poller does for its event source mapping (`mappings`: function -> its mapping)."""
    roles = provisioning.function_roles(client, resources, functions)
    where = iam_policy.Where(REGION, ACCOUNT, secret_arn=secret_arn_lookup(client))
    found = iam_policy.Enforcer(roles, where, current)
    for function, mapping in mappings.items():
        on_failure = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        for action, resource in iam_policy.poller_permissions(mapping["EventSourceArn"], on_failure):
            if not found.permits(function, action, resource):
                raise PermissionError(
                    f"the {function} function's event source mapping: its role {roles[function][0]} is not "
                    f"authorized to perform: {action} on resource: {resource}"
                )
    return found
