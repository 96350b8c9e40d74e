"""The calibration's reads: a group's succeeded identifications, from a filtered scan of the jobs table (an
operator's occasional command: no index is kept for it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from voiceprint.ddb_update import from_ddb
from voiceprint.record import Record

_READ = ("pk", "sk", "objectKey", "jobId", "matches", "reviews", "completedAt", "threshold", "candidates")


class GroupIdentifications:
    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb, self._table = ddb, table

    def records(self, group: str) -> Iterator[Record]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "kind = :k AND #st = :ok AND #g = :g AND attribute_exists(matches)",
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(_READ))),
            "ExpressionAttributeNames": {"#st": "status", "#g": "group", **{f"#a{i}": a for i, a in enumerate(_READ)}},
            "ExpressionAttributeValues": {":k": {"S": "identify"}, ":ok": {"S": "succeeded"}, ":g": {"S": group}},
        }
        for page in self._ddb.get_paginator("scan").paginate(**params):
            for item in page.get("Items", []):
                yield Record.from_item(from_ddb(item))
