"""A deployed stack as the CLI's commands see it: its outputs, parameters and resources from CloudFormation, and
clients made with the caller's credentials (or the local stack's, on its endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCAL_ENDPOINT = "http://127.0.0.1:4566"  # `scripts/run-local.sh serve`: moto, with the stack's CloudFormation


@dataclass(frozen=True)
class Deployed:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    physical: dict[str, str]  # logical id -> physical id
    types: dict[str, str]  # logical id -> resource type
    session: Any
    endpoint: str | None

    def client(self, service: str) -> Any:
        if service == "s3":  # presigned links signed with SigV4, as the functions' are (SigV2 is legacy)
            from botocore.config import Config

            return self.session.client(service, endpoint_url=self.endpoint, config=Config(signature_version="s3v4"))
        return self.session.client(service, endpoint_url=self.endpoint)

    def of_type(self, kind: str) -> dict[str, str]:
        return {k: self.physical[k] for k, t in self.types.items() if t == kind and k in self.physical}


def connect(stack: str | None, *, local: bool, region: str | None, endpoint: str | None = None) -> Deployed:
    """The stack named `stack` (or the local stack), described once."""
    import boto3

    if local:
        from voiceprint_local.deploy import STACK_NAME
        from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY

        session = boto3.Session(region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        stack, endpoint = stack or STACK_NAME, endpoint or LOCAL_ENDPOINT
    else:
        session = boto3.Session(region_name=region)
    if not stack:
        raise SystemExit("say which stack: --stack NAME, or --local")
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    summaries: list[dict[str, Any]] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        summaries += page["StackResourceSummaries"]
    return Deployed(
        name=stack,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        physical={r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if r.get("PhysicalResourceId")},
        types={r["LogicalResourceId"]: r["ResourceType"] for r in summaries},
        session=session,
        endpoint=endpoint,
    )
