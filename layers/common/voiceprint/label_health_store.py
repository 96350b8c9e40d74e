"""The per-label health items (label_health): one per group, pk "HEALTH", sk the group's key (record_queries.
group_key), with `labels` (a map by label), `version` (for the optimistic rewrite) and `updatedAt`. No TTL and no
`objectKey`: its entries age out as it is rewritten (label_health.merged), and erasure removes a person's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voiceprint import label_health
from voiceprint.aws_errors import ConditionFailed, conditional_failures
from voiceprint.ddb_update import Update, from_ddb, to_ddb
from voiceprint.record_queries import group_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from voiceprint.record import Record

PK = "HEALTH"
# Concurrent settlements of one group's identifications rewrite its item in turn: this many tries each.
REWRITE_ATTEMPTS = 5


class LabelHealthStore:
    def __init__(self, client: DynamoDBClient, table_name: str, *, keep_days: int) -> None:
        self._ddb, self._table, self._keep = client, table_name, keep_days * 86400

    def _key(self, group: str) -> dict[str, str]:
        return {"pk": PK, "sk": group_key(group)}

    def _read(self, group: str) -> tuple[dict[str, Any], int]:
        resp = self._ddb.get_item(TableName=self._table, Key=to_ddb(self._key(group)), ConsistentRead=True)
        item = from_ddb(resp.get("Item") or {})
        return dict(item.get("labels") or {}), int(item.get("version") or 0)

    def labels(self, group: str) -> dict[str, label_health.LabelHealth]:
        entries, _ = self._read(group)
        return {label: label_health.of(label, entry) for label, entry in entries.items()}

    def observe(self, record: Record, now: float) -> None:
        """Add one settled identification to its group's item (a conditional rewrite, retried on a conflict)."""
        group = record.group or ""
        for _ in range(REWRITE_ATTEMPTS):
            entries, version = self._read(group)
            new = label_health.merged(entries, record, now=now, keep_seconds=self._keep)
            if self._rewrite(group, new, version, now):
                return
        raise RuntimeError(f"the health item of group {group!r} kept changing under {REWRITE_ATTEMPTS} rewrites")

    def _rewrite(self, group: str, entries: Mapping[str, Any], version: int, now: float) -> bool:
        update = (
            Update(self._key(group))
            .set_all({"labels": dict(entries), "version": version + 1, "updatedAt": int(now)})
            .when(
                "attribute_not_exists(pk)" if version == 0 else "#v = :v",
                {} if version == 0 else {":v": version},
                {} if version == 0 else {"#v": "version"},
            )
        )
        try:
            with conditional_failures(from_ddb):
                self._ddb.update_item(**update.request(self._table))
        except ConditionFailed:
            return False
        return True

    def forget(self, label: str, group: str | None) -> int:
        """Remove a label's entries (in one group, or with None in every group's item); how many were removed."""
        groups = [group] if group is not None else self._groups()
        removed = 0
        for name in groups:
            update = (
                Update(self._key(name))
                .remove_in_map("labels", label)
                .when("attribute_exists(#l.#e)", None, {"#l": "labels", "#e": label})
            )
            try:
                with conditional_failures(from_ddb):
                    self._ddb.update_item(**update.request(self._table))
            except ConditionFailed:
                continue
            removed += 1
        return removed

    def _groups(self) -> list[str]:
        """Every group with a health item, all pages."""
        groups: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": to_ddb({":p": PK}),
            "ProjectionExpression": "sk",
        }
        while True:
            resp = self._ddb.query(**kwargs)
            groups += [str(from_ddb(i)["sk"]).removeprefix("g#") for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return groups
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
