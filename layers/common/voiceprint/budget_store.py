"""The spending budget, kept in the jobs table beside the records it limits: per group and day, jobs and audio
seconds; for the whole stack and day, audio seconds; and for identification, a marker per identical request
(same group, content and candidates) that lives for the deduplication window.

A charge is one transaction with the record's claim: the counters move only if every limit holds and the claim is
still ours, and the record notes the charge, so a retried submission (a 5xx, a timeout) is never charged twice.

Items: pk "BUDGET#g#<group>" / "BUDGET#stack", sk "DAY#<yyyy-mm-dd>" (UTC); pk "DEDUP#<sha256>", sk "DEDUP". None has
the attributes of an index (jobId, pendingShard, voiceprintGroup, label), and each expires by TTL (expiresAt).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from voiceprint.aws_errors import error_code
from voiceprint.ddb_update import from_ddb, to_ddb
from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_DAYS_KEPT = 3  # a day's counters outlive the day (the TTL deletes within about 48 h anyway)
RECORD_PREFIXES = ("BUDGET#", "DEDUP#")  # items of this module, never object records


@frozen
class Limits:
    """0 means no limit."""

    group_daily_jobs: int
    group_daily_audio_seconds: int
    stack_daily_audio_seconds: int


class Charge(StrEnum):
    CHARGED = "charged"
    GROUP_QUOTA = "group_quota"
    STACK_QUOTA = "stack_quota"
    DUPLICATE = "duplicate"
    LOST_CLAIM = "lost_claim"


@frozen
class ChargeResult:
    charge: Charge
    duplicate_of: Mapping[str, Any] | None = None  # the original request's object (bucket, key, versionId)


def day_of(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


class BudgetStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def charge(
        self,
        record_keys: Mapping[str, str],
        claim_token: str,
        *,
        group: str,
        audio_seconds: int,
        limits: Limits,
        now: float,
        dedup_key: str | None = None,
        dedup_seconds: int = 0,
        original: Mapping[str, Any] | None = None,
    ) -> ChargeResult:
        day = day_of(now)
        expires = int(now) + COUNTER_DAYS_KEPT * 86400
        if limits.group_daily_audio_seconds and audio_seconds > limits.group_daily_audio_seconds:
            return ChargeResult(Charge.GROUP_QUOTA)
        if limits.stack_daily_audio_seconds and audio_seconds > limits.stack_daily_audio_seconds:
            return ChargeResult(Charge.STACK_QUOTA)
        items: list[tuple[Charge, dict[str, Any]]] = [
            (
                Charge.LOST_CLAIM,
                self._update(
                    record_keys,
                    "SET budgetDay = :day, audioSeconds = :s",
                    "claimToken = :tok",
                    {":day": day, ":s": audio_seconds, ":tok": claim_token},
                ),
            )
        ]
        group_room = self._room(limits.group_daily_jobs, limits.group_daily_audio_seconds, audio_seconds)
        items.append(
            (
                Charge.GROUP_QUOTA,
                self._update(
                    {"pk": f"BUDGET#g#{group}", "sk": f"DAY#{day}"},
                    "ADD jobs :one, audioSeconds :s SET expiresAt = :exp",
                    group_room[0],
                    {":one": 1, ":s": audio_seconds, ":exp": expires, **group_room[1]},
                ),
            )
        )
        stack_room = self._room(0, limits.stack_daily_audio_seconds, audio_seconds)
        items.append(
            (
                Charge.STACK_QUOTA,
                self._update(
                    {"pk": "BUDGET#stack", "sk": f"DAY#{day}"},
                    "ADD jobs :one, audioSeconds :s SET expiresAt = :exp",
                    stack_room[0],
                    {":one": 1, ":s": audio_seconds, ":exp": expires, **stack_room[1]},
                ),
            )
        )
        if dedup_key and dedup_seconds:
            items.append(
                (
                    Charge.DUPLICATE,
                    self._update(
                        {"pk": f"DEDUP#{dedup_key}", "sk": "DEDUP"},
                        "SET original = :o, expiresAt = :exp",
                        "attribute_not_exists(pk) OR expiresAt < :now",
                        {":o": dict(original or {}), ":exp": int(now) + dedup_seconds, ":now": int(now)},
                        old_on_conflict=True,
                    ),
                )
            )
        try:
            self._ddb.transact_write_items(TransactItems=[{"Update": op} for _, op in items])  # type: ignore[typeddict-item]
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            response: dict[str, Any] = dict(exc.response)
            reasons = response.get("CancellationReasons") or []
            for (what, _), reason in zip(items, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    held = from_ddb(reason.get("Item") or {})
                    return ChargeResult(what, held.get("original") if what is Charge.DUPLICATE else None)
            raise  # cancelled for another reason (a conflict with a concurrent transaction): retried by the caller
        return ChargeResult(Charge.CHARGED)

    @staticmethod
    def _room(max_jobs: int, max_seconds: int, seconds: int) -> tuple[str | None, dict[str, Any]]:
        """The condition that the counters have room for one more job of `seconds`."""
        parts, values = [], {}
        if max_jobs:
            parts.append("(attribute_not_exists(jobs) OR jobs < :maxJobs)")
            values[":maxJobs"] = max_jobs
        if max_seconds:
            parts.append("(attribute_not_exists(audioSeconds) OR audioSeconds <= :room)")
            values[":room"] = max_seconds - seconds
        return (" AND ".join(parts) or None), values

    def _update(
        self,
        keys: Mapping[str, str],
        expression: str,
        condition: str | None,
        values: Mapping[str, Any],
        *,
        old_on_conflict: bool = False,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_ddb(keys),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": to_ddb(values),
        }
        if condition:
            op["ConditionExpression"] = condition
        if old_on_conflict:
            op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return op

    def usage(self, group: str | None, now: float) -> dict[str, int]:
        """Today's counters of a group (None: the stack's), for the read API and the tests."""
        pk = "BUDGET#stack" if group is None else f"BUDGET#g#{group}"
        resp = self._ddb.get_item(
            TableName=self._table, Key=to_ddb({"pk": pk, "sk": f"DAY#{day_of(now)}"}), ConsistentRead=True
        )
        item = from_ddb(resp.get("Item", {}))
        return {"jobs": int(item.get("jobs", 0)), "audioSeconds": int(item.get("audioSeconds", 0))}
