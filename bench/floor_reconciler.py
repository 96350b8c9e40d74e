"""The floor for the reconciler's cold start: boto3 and the clients it needs (it is not measured warm)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 4}, parameter_validation=False
)
ddb = boto3.client("dynamodb", config=_CONFIG)
secrets = boto3.client("secretsmanager", config=_CONFIG)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}
