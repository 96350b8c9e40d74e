"""`voiceprint retention`: give the voiceprints made before an update the stack's VoiceprintRetentionDays.

A record's TTL is written when it is settled, so voiceprints made before VoiceprintRetentionDays existed (or before
it changed) keep the TTL they were given: RetentionDays after they were made. This command rewrites it for every
voiceprint: none with 0 (kept as long as its source object), else its completion plus the days. Idempotent: a
record already right is left as it is (a conditional write that fails)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from voiceprint.frozen import frozen

BATCH_PAGE = 500


@frozen
class Kept:
    """A voiceprint record: its keys and when it was made (epoch seconds)."""

    pk: str
    sk: str
    completed_at: int


class VoiceprintRecords(Protocol):
    def pages(self) -> Iterator[Sequence[Kept]]: ...

    def set_expiry(self, record: Kept, expires_at: int | None) -> bool:
        """Give the record this TTL (None: none); False when it already had it."""
        ...


@dataclass
class Report:
    voiceprints: int = 0
    changed: int = 0
    days: int = 0
    dry_run: bool = False

    def line(self) -> str:
        kept = "as long as their source objects" if not self.days else f"{self.days} days after they were made"
        if self.dry_run:
            return f"{self.voiceprints} voiceprints to keep {kept} (dry run: nothing changed)"
        return f"{self.voiceprints} voiceprints kept {kept}: {self.changed} given that TTL, the rest had it"


def apply(records: VoiceprintRecords, days: int, *, dry_run: bool = False) -> Report:
    report = Report(days=days, dry_run=dry_run)
    for page in records.pages():
        for record in page:
            report.voiceprints += 1
            expires_at = record.completed_at + days * 86400 if days else None
            if not dry_run and records.set_expiry(record, expires_at):
                report.changed += 1
    return report


class TableVoiceprints:
    """The voiceprints of the jobs table, from its byGroup index (only succeeded voiceprints are in it)."""

    def __init__(self, ddb: Any, table: str, *, sleep: Any = time.sleep) -> None:
        self._ddb, self._table, self._sleep = ddb, table, sleep

    def pages(self) -> Iterator[Sequence[Kept]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byGroup",
            "ProjectionExpression": "pk, sk, completedAt",
            "Limit": BATCH_PAGE,
        }
        while True:
            page = self._ddb.scan(**params)
            yield [
                Kept(i["pk"]["S"], i["sk"]["S"], int(i.get("completedAt", {}).get("N", "0")))
                for i in page.get("Items", [])
            ]
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def set_expiry(self, record: Kept, expires_at: int | None) -> bool:
        key = {"pk": {"S": record.pk}, "sk": {"S": record.sk}}
        exists = "attribute_exists(pk)"  # a record deleted meanwhile is not written back
        if expires_at is None:
            update: dict[str, Any] = {
                "UpdateExpression": "REMOVE expiresAt",
                "ConditionExpression": f"{exists} AND attribute_exists(expiresAt)",
            }
        else:
            update = {
                "UpdateExpression": "SET expiresAt = :e",
                "ConditionExpression": f"{exists} AND (attribute_not_exists(expiresAt) OR expiresAt <> :e)",
                "ExpressionAttributeValues": {":e": {"N": str(expires_at)}},
            }
        try:
            self._ddb.update_item(TableName=self._table, Key=key, **update)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
