"""The floor for the webhook function: raw boto3, verify the HMAC, one conditional write. No size checks, no
timestamp window, no logs or metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 4}, parameter_validation=False
)
ddb = boto3.client("dynamodb", config=_CONFIG)
secrets = boto3.client("secretsmanager", config=_CONFIG)
TABLE = os.environ["TABLE_NAME"]
_secret: bytes | None = None


def _key() -> bytes:
    global _secret
    if _secret is None:
        _secret = secrets.get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ID"])["SecretString"].encode()
    return _secret


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers, body = event["headers"], event["body"].encode()
    signed = b"v0:" + headers["x-request-timestamp"].encode() + b":" + body
    expected = hmac.new(_key(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-signature", "")):
        return {"statusCode": 401, "body": ""}
    payload = json.loads(body)
    key_hash, version = event["queryStringParameters"]["ref"].split(".", 1)
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"OBJ#{key_hash}"}, "sk": {"S": f"VER#{version}"}},
        UpdateExpression="SET #s = :s, voiceprint = :v, completedAt = :t",
        ConditionExpression="jobId = :j",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": {"S": payload["status"]},
            ":v": {"S": payload["output"]["voiceprint"]},
            ":j": {"S": payload["jobId"]},
            ":t": {"N": str(int(time.time()))},
        },
    )
    return {"statusCode": 200, "body": "{}"}
