"""The floor for the submit function: raw boto3 and urllib3 doing the same work per object with nothing else:
one ranged read of the header, the opt-out list's Query (issue 15), one transaction that claims the record and
charges the group's and the stack's day counters (the budget every submit must pass since issue 18; a fixed
duration stands for the header's), presign, POST /v1/voiceprint, jobId write; and, per batch, one conditional write
that takes the batch's tokens of the shared rate budget (issue 14: every correct submit stays under the vendor's
limit across containers; a new window costs a second write). No validation of the header, no error handling, no
logs or metrics: what any implementation must at least spend."""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import unquote_plus

import boto3
import urllib3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 4}, parameter_validation=False
)
ddb = boto3.client("dynamodb", config=_CONFIG)
s3 = boto3.client("s3", config=_CONFIG.merge(Config(signature_version="s3v4")))
sqs = boto3.client("sqs", config=_CONFIG)
secrets = boto3.client("secretsmanager", config=_CONFIG)
http = urllib3.PoolManager()
TABLE = os.environ["TABLE_NAME"]
_api_key: str | None = None


def _key() -> str:
    global _api_key
    if _api_key is None:
        _api_key = secrets.get_secret_value(SecretId=os.environ["API_KEY_SECRET_ID"])["SecretString"]
    return _api_key


def _submit(record: dict[str, Any]) -> None:
    obj = json.loads(record["body"])["Records"][0]["s3"]
    bucket, key, version = obj["bucket"]["name"], unquote_plus(obj["object"]["key"]), obj["object"]["versionId"]
    item_key = {"pk": {"S": f"OBJ#{bucket}/{key}"}, "sk": {"S": f"VER#{version}"}}
    s3.get_object(Bucket=bucket, Key=key, VersionId=version, Range="bytes=0-65535")["Body"].read()
    # The opt-out list, which every enrolment must be checked against (issue 15).
    ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "OPTOUT"}},
        ConsistentRead=True,
    )
    day = time.strftime("%Y-%m-%d", time.gmtime())

    def counter(pk: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": pk}, "sk": {"S": f"DAY#{day}"}},
                "UpdateExpression": "ADD jobs :one, audioSeconds :s",
                "ConditionExpression": "attribute_not_exists(audioSeconds) OR audioSeconds <= :room",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":s": {"N": "10"}, ":room": {"N": "1000000000"}},
            }
        }

    claim = {
        "Update": {
            "TableName": TABLE,
            "Key": item_key,
            "UpdateExpression": "SET #s = :s",
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "submitting"}},
        }
    }
    ddb.transact_write_items(TransactItems=[claim, counter("BUDGET#g#"), counter("BUDGET#stack")])  # type: ignore[list-item]
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, "VersionId": version}, ExpiresIn=1800
    )
    answer = http.request(
        "POST",
        os.environ["PYANNOTE_API_URL"] + "/v1/voiceprint",
        body=json.dumps({"url": url, "webhook": os.environ["WEBHOOK_URL"]}),
        headers={"Authorization": f"Bearer {_key()}", "Content-Type": "application/json"},
    )
    job_id = json.loads(answer.data)["jobId"]
    ddb.update_item(
        TableName=TABLE,
        Key=item_key,
        UpdateExpression="SET #s = :s, jobId = :j, submittedAt = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "submitted"}, ":j": {"S": job_id}, ":t": {"N": str(int(time.time()))}},
    )


def _take_tokens(count: int) -> None:
    window = int(time.time() // 60)
    key = {"pk": {"S": "RATE#submit"}, "sk": {"S": "RATE"}}
    try:
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="ADD used :n",
            ConditionExpression="#w = :w AND used <= :room",
            ExpressionAttributeNames={"#w": "window"},
            ExpressionAttributeValues={":n": {"N": str(count)}, ":w": {"N": str(window)}, ":room": {"N": "1000000000"}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        ddb.put_item(TableName=TABLE, Item={**key, "window": {"N": str(window)}, "used": {"N": str(count)}})


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _take_tokens(max(3, len(event["Records"])))
    for record in event["Records"]:
        _submit(record)
    return {"batchItemFailures": []}
