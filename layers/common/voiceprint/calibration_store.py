"""Each group's calibrated matching threshold (`voiceprint calibrate --group G --store`), in the jobs table.

Items: pk "CALIBRATION", sk "g#<group>" (a key may not be empty: "g#" is the top level), with `threshold`
(0-100), `precision` and `recall` at it, `reviewed` (the decisions it was measured on) and `calibratedAt`. No TTL
and no index attribute, like the opt-out list: consumers that scan the table skip them. Read with one GetItem per
identification submitted (the group's threshold replaces the stack's IdentifyThreshold); written by the
operator's CLI only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from voiceprint.ddb_update import from_ddb, to_ddb
from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PK = "CALIBRATION"


def _keys(group: str) -> dict[str, str]:
    return {"pk": PK, "sk": f"g#{group}"}


@frozen
class Calibration:
    group: str
    threshold: int
    precision: float | None
    recall: float | None
    reviewed: int
    calibrated_at: int


class CalibrationStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb, self._table = client, table_name

    def threshold(self, group: str) -> int | None:
        found = self.get(group)
        return found.threshold if found is not None else None

    def get(self, group: str) -> Calibration | None:
        resp = self._ddb.get_item(TableName=self._table, Key=to_ddb(_keys(group)))
        if "Item" not in resp:
            return None
        item = from_ddb(resp["Item"])
        return Calibration(
            group=group,
            threshold=int(item["threshold"]),
            precision=float(item["precision"]) if item.get("precision") is not None else None,
            recall=float(item["recall"]) if item.get("recall") is not None else None,
            reviewed=int(item.get("reviewed", 0)),
            calibrated_at=int(item.get("calibratedAt", 0)),
        )

    def put(self, calibration: Calibration) -> None:
        item: dict[str, Any] = {
            **_keys(calibration.group),
            "threshold": calibration.threshold,
            "reviewed": calibration.reviewed,
            "calibratedAt": calibration.calibrated_at,
        }
        for name, value in (("precision", calibration.precision), ("recall", calibration.recall)):
            if value is not None:
                item[name] = Decimal(str(round(value, 4)))  # DynamoDB's numbers are Decimals, not floats
        self._ddb.put_item(TableName=self._table, Item=to_ddb(item))

    def remove(self, group: str) -> bool:
        resp = self._ddb.delete_item(TableName=self._table, Key=to_ddb(_keys(group)), ReturnValues="ALL_OLD")
        return "Attributes" in resp
