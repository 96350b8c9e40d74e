"""The opt-out list (issue 15): labels whose enrolment is refused, for every group or for one, in the jobs table.

Items: pk "OPTOUT", sk "<group>\\0<label>" (group "*" for every group; the label NFC-normalised), with `optGroup`,
`optLabel`, `reason` and `addedAt`. No TTL, no index attribute, no `objectKey` or `status`: consumers that scan
the table skip them, and the events stream's filter never sees them. One partition, read with one Query per
enrolment and per identification; written by the operator's CLI only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PK = "OPTOUT"
EVERY_GROUP = "*"


@frozen
class OptOut:
    label: str
    group: str  # EVERY_GROUP, or a group's folder ("team-a/")
    reason: str
    added_at: int


class OptOutList:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb, self._table = client, table_name

    def labels(self, group: str) -> frozenset[str]:
        """The labels opted out in `group`: theirs and every group's."""
        return frozenset(o.label for o in self.entries() if o.group in (EVERY_GROUP, group))

    def entries(self) -> list[OptOut]:
        found: list[OptOut] = []
        params: dict[str, object] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PK}},
            "ConsistentRead": True,  # an opt-out added a moment ago already counts
        }
        while True:
            page = self._ddb.query(**params)  # type: ignore[arg-type]
            found += [
                OptOut(
                    label=i["optLabel"]["S"],
                    group=i["optGroup"]["S"],
                    reason=i.get("reason", {}).get("S", ""),
                    added_at=int(i.get("addedAt", {}).get("N", "0")),
                )
                for i in page.get("Items", [])
            ]
            if "LastEvaluatedKey" not in page:
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def add(self, entry: OptOut) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": PK},
                "sk": {"S": _sk(entry.group, entry.label)},
                "optLabel": {"S": entry.label},
                "optGroup": {"S": entry.group},
                "reason": {"S": entry.reason},
                "addedAt": {"N": str(entry.added_at)},
            },
        )

    def remove(self, label: str, group: str) -> bool:
        """False when it was not on the list."""
        answer = self._ddb.delete_item(
            TableName=self._table, Key={"pk": {"S": PK}, "sk": {"S": _sk(group, label)}}, ReturnValues="ALL_OLD"
        )
        return bool(answer.get("Attributes"))


def _sk(group: str, label: str) -> str:
    return f"{group}\0{label}"
