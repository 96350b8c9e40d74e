"""The shared counter behind rate_allowance: one item per vendor endpoint in the jobs table, holding the current
window and the tokens given out in it.

Item: pk "RATE#<endpoint>", sk "RATE", attributes `window` (its index: seconds since the epoch // its length) and
`used`. One item per endpoint, rewritten in place when a window starts: no TTL, so no stream record of its
expiry, and no attribute of an index or of the events stream's filter (status).

A take is one conditional write in the common case: add the block if the window is the item's and has room for it
(rate_allowance.room_for: a full block only while every container could still take one). When that fails, the
item's old state (returned with the failure) says why: a newer window starts here with a second write; a fuller
window gives a smaller block with another; a spent window, or an older window than the item's (a container whose
clock lags), gives nothing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from voiceprint.aws_errors import ConditionFailed, conditional_failures
from voiceprint.ddb_update import from_ddb, to_ddb
from voiceprint.rate_allowance import Grant, block_size, room_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "RATE#"
_ATTEMPTS = 4  # each failed write learns the item's state; more than this means a race lost over and over


class RateTokenStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def take(self, endpoint: str, window: int, want: int, limit: int, sharers: int = 1) -> Grant:
        want = block_size(want, limit, 0, sharers)
        for _ in range(_ATTEMPTS):
            try:
                used = self._add(endpoint, window, want, room_for(want, limit, sharers))
                return Grant(want, used)
            except ConditionFailed as failed:
                held_window = int(failed.item.get("window", -1))
                held_used = int(failed.item.get("used", 0))
            if held_window > window:
                return Grant(0, limit)  # our clock lags the item's: this window is over elsewhere
            if held_window < window:
                try:
                    self._start(endpoint, window, want)
                    return Grant(want, want)
                except ConditionFailed:
                    continue  # another container started it first: add to it
            if held_used >= limit:
                return Grant(0, held_used)
            want = block_size(want, limit, held_used, sharers)
        return Grant(0, limit)

    def spend(self, endpoint: str, window: int, used: int) -> None:
        """Raise the window's count to at least `used` (starting the window if it is newer than the item's)."""
        with contextlib.suppress(ConditionFailed):  # already at least that high, or a newer window: nothing to raise
            self._set(endpoint, window, used, "attribute_not_exists(pk) OR #w < :w OR (#w = :w AND used < :u)")

    def used(self, endpoint: str, window: int) -> int:
        """The window's count (0 if the item holds another window): for the tests and the reliability run."""
        resp = self._ddb.get_item(TableName=self._table, Key=to_ddb(self._key(endpoint)), ConsistentRead=True)
        item = from_ddb(resp.get("Item", {}))
        return int(item.get("used", 0)) if int(item.get("window", -1)) == window else 0

    def _add(self, endpoint: str, window: int, want: int, room: int) -> int:
        with conditional_failures(from_ddb):
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=to_ddb(self._key(endpoint)),
                UpdateExpression="ADD used :k",
                ConditionExpression="#w = :w AND used <= :room",
                ExpressionAttributeNames={"#w": "window"},
                ExpressionAttributeValues=to_ddb({":w": window, ":k": want, ":room": room}),
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return int(from_ddb(resp.get("Attributes", {})).get("used", 0))

    def _start(self, endpoint: str, window: int, want: int) -> None:
        self._set(endpoint, window, want, "attribute_not_exists(pk) OR #w < :w")

    def _set(self, endpoint: str, window: int, used: int, condition: str) -> None:
        """Rewrite the item as `window` with `used` tokens given out, if `condition` holds."""
        with conditional_failures(from_ddb):
            self._ddb.update_item(
                TableName=self._table,
                Key=to_ddb(self._key(endpoint)),
                UpdateExpression="SET #w = :w, used = :u",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#w": "window"},
                ExpressionAttributeValues=to_ddb({":w": window, ":u": used}),
            )

    @staticmethod
    def _key(endpoint: str) -> dict[str, Any]:
        return {"pk": f"{PREFIX}{endpoint}", "sk": "RATE"}
