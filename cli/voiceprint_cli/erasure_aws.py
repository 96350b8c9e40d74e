"""The erasure's adapters: the jobs table (a filtered scan, a marked delete, a redaction), the input bucket's
versions, the results bucket's outputs, and the event bus."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from voiceprint.change_events import SOURCE
from voiceprint_cli.erasure import Found, redact_json

_FROM, _TO = TypeDeserializer(), TypeSerializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _FROM.deserialize(v) for k, v in item.items()}


class TableRecords:
    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb, self._table = ddb, table

    def mentioning(self, label: str) -> Iterator[Found]:
        params: dict[str, Any] = {
            "TableName": self._table,
            # `contains` on a string is a substring match: erase() keeps only exact mentions.
            "FilterExpression": "label = :l OR contains(candidates, :l) OR contains(matches, :l) OR contains(#r, :l) "
            "OR contains(reviews, :l)",
            "ExpressionAttributeNames": {"#r": "result"},
            "ExpressionAttributeValues": {":l": {"S": label}},
        }
        for page in self._ddb.get_paginator("scan").paginate(**params):
            for raw in page.get("Items", []):
                item = _plain(raw)
                if "objectKey" not in item:
                    continue  # the budget's and the rate limit's items are nobody's records
                yield Found(
                    pk=item["pk"],
                    sk=item["sk"],
                    bucket=str(item.get("bucket", "")),
                    key=str(item["objectKey"]),
                    version_id=item.get("versionId"),
                    kind=str(item.get("kind", "voiceprint")),
                    status=str(item.get("status", "")),
                    group=str(item.get("group", "")),
                    label=item.get("label"),
                    job_id=item.get("jobId"),
                    completed_at=int(item["completedAt"]) if "completedAt" in item else None,
                    candidates=tuple(str(c) for c in item.get("candidates") or ()),
                    matches=item.get("matches"),
                    result=item.get("result"),
                    reviews=item.get("reviews"),
                    result_location=item.get("resultLocation"),
                    consent_ref=item.get("consentRef"),
                    created_at=int(item["createdAt"]) if "createdAt" in item else None,
                    failure_code=item.get("failureCode"),
                )

    def erase(self, found: Found, now: float) -> None:
        key = {"pk": {"S": found.pk}, "sk": {"S": found.sk}}
        try:
            # The mark is in the stream's REMOVE image: the `... Deleted` event says `erased`.
            self._ddb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET erasedAt = :t",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"N": str(int(now))}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return  # already gone
        self._ddb.delete_item(TableName=self._table, Key=key)

    def redact(
        self,
        found: Found,
        candidates: Sequence[str],
        matches: str | None,
        result: str | None,
        reviews: str | None = None,
    ) -> None:
        values: dict[str, Any] = {":c": _TO.serialize(list(candidates))}
        sets = ["candidates = :c"]
        if matches is not None:
            sets.append("matches = :m")
            values[":m"] = {"S": matches}
        if result is not None:
            sets.append("#r = :r")
            values[":r"] = {"S": result}
        if reviews is not None:
            sets.append("reviews = :v")
            values[":v"] = {"S": reviews}
        # Deleted meanwhile (its source removed): nothing left to redact.
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": found.pk}, "sk": {"S": found.sk}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": {"#r": "result"}} if result is not None else {}),
            )


class BucketVersions:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def delete_versions(self, bucket: str, key: str) -> list[str]:
        deleted = []
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": key}
        while True:
            page = self._s3.list_object_versions(**params)
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if entry["Key"] != key:
                    continue  # the prefix also lists longer keys
                self._s3.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
                deleted.append(entry["VersionId"])
            if not page.get("IsTruncated"):
                return deleted
            params["KeyMarker"] = page["NextKeyMarker"]
            if page.get("NextVersionIdMarker"):
                params["VersionIdMarker"] = page["NextVersionIdMarker"]


class ResultObjects:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def redact(self, location: str, label: str) -> bool:
        bucket, _, key = location.removeprefix("s3://").partition("/")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except self._s3.exceptions.NoSuchKey:
            return False
        redacted, changed = redact_json(body, label)
        if changed and redacted is not None:
            self._s3.put_object(Bucket=bucket, Key=key, Body=redacted.encode(), ContentType="application/json")
        return changed


class BusAnnouncer:
    def __init__(self, events: Any, bus: str) -> None:
        self._events, self._bus = events, bus

    def announce(self, receipt: dict[str, Any]) -> None:
        self.publish("Person Erased", receipt)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}
        entry["EventBusName"] = self._bus
        answer = self._events.put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"the bus refused the {detail_type} event: {answer['Entries'][0].get('ErrorCode')}")


def health(ddb: Any, table: str) -> Any:
    """The groups' per-label health items (voiceprint.label_health_store), for forgetting a label (no ageing)."""
    from voiceprint.label_health_store import LabelHealthStore

    return LabelHealthStore(ddb, table, keep_days=0)
