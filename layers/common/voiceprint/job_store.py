"""DynamoDB persistence of object records: one item per uploaded object version.

Item: pk = "OBJ#<sha256(bucket/key)[:40]>", sk = "VER#<versionId | seq:<sequencer>>".
GSI "byJobId" (jobId) answers "which object is job X"; sparse GSI "byPending" (pendingShard, pendingSince) lists
jobs still waiting for a result, for the reconciler; sparse GSI "byGroup" (voiceprintGroup, label) holds the
voiceprints of each group, for identification and for listing by label. TTL attribute: expiresAt (epoch seconds).

Every write is conditional, so the state machine in job_state holds even under duplicate and concurrent
deliveries: a claim can be taken once per object version, results are only written for the record's own jobId,
and terminal records never change again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from voiceprint.aws_errors import ConditionFailed, conditional_failures
from voiceprint.job_state import TERMINAL, FailureCode, Kind, Outcome, Status
from voiceprint.object_ref import ObjectRef, partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ser = TypeSerializer()
_de = TypeDeserializer()

PENDING_SHARD = "PENDING"
EARLY_BOUND = "boundRef"  # marks an early result that arrived through a ref bound to this record
GSI_BY_JOB = "byJobId"
GSI_BY_PENDING = "byPending"
GSI_BY_GROUP = "byGroup"
GSI_BY_LABEL = "byLabel"
# An object's records are at most 400 KB each; 100 pages of 1 MB is far beyond any object's history.
MAX_VERSION_PAGES = 100


def group_key(group: str) -> str:
    """The byGroup partition of a group: index keys cannot be empty strings, and the top-level group is ""."""
    return f"g#{group}"


def _to_ddb(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items()}


def _from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _still_open() -> tuple[str, dict[str, str]]:
    """The condition "not terminal" on the status (named #st), with its values: terminal records never change."""
    values = {f":t{i}": s.value for i, s in enumerate(sorted(TERMINAL))}
    return f"NOT (#st IN ({', '.join(values)}))", values


class ApplyResult(StrEnum):
    APPLIED = "applied"  # the record moved to the outcome
    DUPLICATE = "duplicate"  # already terminal, or the same result again: nothing changed
    EARLY = "early"  # the record has no jobId yet: the result is kept on it until submit records the job
    SUPERSEDED = "superseded"  # the record belongs to another job of the same object
    UNKNOWN = "unknown"  # no such record (never ours, or expired)


@dataclass(frozen=True)
class Claim:
    token: str
    attempt: int  # claims taken on this object version, this one included
    failures: int = 0  # transient failures so far (5xx, timeouts, 401/402): the dead-letter budget
    throttles: int = 0  # 429s so far: they do not spend the budget, they only spread retries further
    # Results of earlier submissions whose answer we never got (timeout, crash) but whose webhook came.
    early: dict[str, Outcome] = field(default_factory=dict)
    charged: bool = False  # the budget was charged for this object version (budget_store): never twice


class LostClaim(Exception):
    """Another invocation took the claim over (ours outlived its lease)."""


class ClaimHeld(Exception):
    """Another invocation holds the claim until `lease_until` (epoch seconds): it may still be working, or it
    may have crashed, and only the end of its lease tells which."""

    def __init__(self, lease_until: int) -> None:
        super().__init__(f"claimed until {lease_until}")
        self.lease_until = lease_until


class JobStore:
    def __init__(self, client: DynamoDBClient, table_name: str, *, retention_days: int) -> None:
        self._ddb = client
        self._table = table_name
        self._retention = retention_days * 86400

    # -- low level -----------------------------------------------------------------------------------------
    def _update(
        self,
        keys: Mapping[str, str],
        *,
        set_: Mapping[str, Any],
        remove: tuple[str, ...] = (),
        add: Mapping[str, Any] | None = None,
        condition: str | None = None,
        cond_values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        return_new: bool = False,
        old_on_conflict: bool = False,
    ) -> dict[str, Any] | None:
        attr_names: dict[str, str] = dict(names or {})
        values: dict[str, Any] = {}
        parts: list[str] = []
        sets = []
        for i, (name, value) in enumerate(set_.items()):
            attr_names[f"#s{i}"] = name
            if isinstance(value, tuple) and value[0] == "if_not_exists":
                values[f":s{i}"] = value[1]
                sets.append(f"#s{i} = if_not_exists(#s{i}, :s{i})")
            elif isinstance(value, tuple) and value[0] == "copy_of":  # another attribute's value, or a default
                attr_names[f"#c{i}"] = value[1]
                values[f":s{i}"] = value[2]
                sets.append(f"#s{i} = if_not_exists(#c{i}, :s{i})")
            else:
                values[f":s{i}"] = value
                sets.append(f"#s{i} = :s{i}")
        parts.append("SET " + ", ".join(sets))
        if remove:
            for i, name in enumerate(remove):
                attr_names[f"#r{i}"] = name
            parts.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove))))
        if add:
            for i, (name, value) in enumerate(add.items()):
                attr_names[f"#a{i}"] = name
                values[f":a{i}"] = value
            parts.append("ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(add))))
        values.update(cond_values or {})
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": _to_ddb(keys),
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": attr_names,
            "ExpressionAttributeValues": _to_ddb(values),
            "ReturnValues": "ALL_NEW" if return_new else "NONE",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
            if old_on_conflict:  # the conflicting item comes back with the error, without a second read
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        resp = self._update_item(kwargs)
        return _from_ddb(resp["Attributes"]) if return_new else None

    def _update_item(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The one place this adapter writes: a failed condition becomes ConditionFailed, with the item that
        failed it when the call asked for it (ReturnValuesOnConditionCheckFailure)."""
        with conditional_failures(_from_ddb):
            return dict(self._ddb.update_item(**kwargs))

    def _ttl(self, now: float) -> int:
        return int(now) + self._retention

    # -- submit side ---------------------------------------------------------------------------------------
    def claim(
        self, ref: ObjectRef, *, now: float, lease_seconds: int, kind: Kind = Kind.VOICEPRINT, group: str = ""
    ) -> Claim | None:
        """Take the right to submit this object version; None if it is past submission (submitted or done).

        Raises ClaimHeld while another invocation's lease runs: the caller must come back after it rather than
        drop its message, or a crash of that invocation would leave the object with no message to retry it.
        """
        token = uuid.uuid4().hex
        try:
            item = self._update(
                ref.record_keys,
                set_={
                    "status": Status.SUBMITTING.value,
                    "claimToken": token,
                    "leaseUntil": int(now) + lease_seconds,
                    "bucket": ref.bucket,
                    "objectKey": ref.key,
                    "version": ref.version,
                    "versionId": ref.version_id,
                    "etag": ref.etag,
                    "size": ref.size,
                    "kind": kind.value,
                    "group": group,
                    "groupKey": group_key(group),
                    "early": ("if_not_exists", {}),
                    "createdAt": ("if_not_exists", int(now)),
                    "updatedAt": int(now),
                    "expiresAt": self._ttl(now),
                },
                add={"attempts": 1},
                condition=(
                    "attribute_not_exists(pk) OR #st IN (:retrying, :dead) OR (#st = :submitting AND leaseUntil < :now)"
                ),
                cond_values={
                    ":retrying": Status.RETRYING.value,
                    ":dead": Status.DEAD_LETTER.value,
                    ":submitting": Status.SUBMITTING.value,
                    ":now": int(now),
                },
                names={"#st": "status"},
                return_new=True,
                old_on_conflict=True,
            )
        except ConditionFailed as failed:
            held = failed.item
            if held.get("status") == Status.SUBMITTING.value and "leaseUntil" in held:
                raise ClaimHeld(int(held["leaseUntil"])) from None
            return None
        if item is None:  # ReturnValues=ALL_NEW always returns the item; this only narrows the type
            raise RuntimeError("UpdateItem returned no attributes")
        return Claim(
            token=token,
            attempt=int(item.get("attempts", 1)),
            failures=int(item.get("failures", 0)),
            throttles=int(item.get("throttles", 0)),
            charged="budgetDay" in item,
            # Only results that came through a webhook URL bound to this record (webhook_ref) may be adopted.
            early={
                job_id: Outcome.from_item(o)
                for job_id, o in (item.get("early") or {}).items()
                if isinstance(o, Mapping) and o.get(EARLY_BOUND) is True
            },
        )

    def _release(
        self,
        ref: ObjectRef,
        claim: Claim,
        set_: Mapping[str, Any],
        remove: tuple[str, ...],
        add: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self._update(
                ref.record_keys,
                set_=set_,
                remove=("leaseUntil", "claimToken", *remove),
                add=add,
                condition="claimToken = :tok",
                cond_values={":tok": claim.token},
            )
        except ConditionFailed:
            raise LostClaim(ref.uri) from None

    def mark_retrying(
        self, ref: ObjectRef, claim: Claim, *, reason: str, now: float, throttled: bool, dead_letter: bool
    ) -> None:
        status = Status.DEAD_LETTER if dead_letter else Status.RETRYING
        counter = "throttles" if throttled else "failures"
        self._release(
            ref, claim, {"status": status.value, "lastError": reason, "updatedAt": int(now)}, (), add={counter: 1}
        )

    def mark_failed(
        self,
        ref: ObjectRef,
        claim: Claim,
        *,
        code: FailureCode,
        reason: str,
        now: float,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self._release(
            ref,
            claim,
            {
                **(details or {}),
                "status": Status.FAILED.value,
                "failureCode": code.value,
                "reason": reason,
                "completedAt": int(now),
                "updatedAt": int(now),
                "expiresAt": self._ttl(now),
            },
            ("early",),
        )

    def record_submitted(
        self,
        ref: ObjectRef,
        claim: Claim,
        *,
        job_id: str,
        vendor_status: str,
        warning: str | None,
        now: float,
        details: Mapping[str, Any] | None = None,
    ) -> Outcome | None:
        """Record the job (and `details`: a voiceprint's label, an identification's candidates); return a result
        that a webhook delivered before this write, if there was one."""
        fields: dict[str, Any] = {
            **(details or {}),
            "status": Status.SUBMITTED.value,
            "jobId": job_id,
            "vendorStatus": vendor_status,
            "submittedAt": int(now),
            "updatedAt": int(now),
            "pendingShard": PENDING_SHARD,
            "pendingSince": int(now),
        }
        if warning:
            fields["warning"] = warning
        try:
            item = self._update(
                ref.record_keys,
                set_=fields,
                remove=("leaseUntil", "claimToken", "lastError"),
                condition="claimToken = :tok",
                cond_values={":tok": claim.token},
                return_new=True,
            )
        except ConditionFailed:
            raise LostClaim(ref.uri) from None
        early = (item or {}).get("early", {}).get(job_id)
        return Outcome.from_item(early) if early else None

    # -- result side ---------------------------------------------------------------------------------------
    def apply_outcome(
        self, keys: Mapping[str, str], job_id: str, outcome: Outcome, *, now: float, allow_early: bool = False
    ) -> ApplyResult:
        """Move the record of `job_id` to `outcome`; terminal records never change again. With `allow_early` (the
        webhook's ref was bound to this record), a result for a record without a jobId yet is kept on it."""
        not_terminal, terminal_values = _still_open()
        if outcome.terminal:
            fields: dict[str, Any] = {
                "status": outcome.status.value,
                "vendorStatus": outcome.vendor_status,
                "completedAt": int(now),
                "updatedAt": int(now),
                "expiresAt": self._ttl(now),
            }
            for name, value in (
                ("voiceprint", outcome.voiceprint),
                ("failureCode", outcome.failure_code.value if outcome.failure_code else None),
                ("reason", outcome.reason),
                ("warning", outcome.warning),
                ("result", outcome.result),
                ("resultLocation", outcome.result_location),
                ("matches", outcome.matches),
            ):
                if value is not None:
                    fields[name] = value
            if outcome.voiceprint is not None:
                # Into the byGroup index, where identification finds it.
                fields["voiceprintGroup"] = ("copy_of", "groupKey", group_key(""))
            remove: tuple[str, ...] = ("pendingShard", "pendingSince", "early")
        else:
            # Still running: move it to the back of the reconciler's queue.
            fields = {"vendorStatus": outcome.vendor_status, "updatedAt": int(now), "pendingSince": int(now)}
            remove = ()
        condition = f"jobId = :jid AND {not_terminal}"
        cond_values: dict[str, Any] = {":jid": job_id, **terminal_values}
        if outcome.kind is not None:
            # A genuine result of one kind never lands on a record of the other (records from before kinds
            # existed are voiceprints).
            legacy = " OR attribute_not_exists(kind)" if outcome.kind is Kind.VOICEPRINT else ""
            condition += f" AND (kind = :kind{legacy})"
            cond_values[":kind"] = outcome.kind.value
        try:
            self._update(
                keys,
                set_=fields,
                remove=remove,
                condition=condition,
                cond_values=cond_values,
                names={"#st": "status"},
            )
            return ApplyResult.APPLIED
        except ConditionFailed:
            pass
        if outcome.terminal and allow_early:
            # The webhook beat the submit handler's write of the jobId: keep the result on the record.
            try:
                self._update_item(
                    {
                        "TableName": self._table,
                        "Key": _to_ddb(keys),
                        "UpdateExpression": "SET early.#jid = if_not_exists(early.#jid, :o), updatedAt = :now",
                        "ConditionExpression": "attribute_exists(early) AND attribute_not_exists(jobId)",
                        "ExpressionAttributeNames": {"#jid": job_id},
                        "ExpressionAttributeValues": _to_ddb(
                            {":o": {**outcome.to_item(), EARLY_BOUND: True}, ":now": int(now)}
                        ),
                    }
                )
                return ApplyResult.EARLY
            except ConditionFailed:
                pass
        current = self.get(keys)
        if current is None:
            return ApplyResult.UNKNOWN
        if current.get("jobId") != job_id:
            return ApplyResult.SUPERSEDED
        return ApplyResult.DUPLICATE

    def record_poll_error(self, keys: Mapping[str, str], job_id: str, *, reason: str, now: float) -> int | None:
        """Count an answer about `job_id` that could not be settled and move the record to the back of the poll
        queue; returns the count so far, None if the record is no longer this job's or is already settled."""
        not_terminal, terminal_values = _still_open()
        try:
            item = self._update(
                keys,
                set_={"lastError": reason, "pendingSince": int(now), "updatedAt": int(now)},
                add={"pollErrors": 1},
                condition=f"jobId = :jid AND {not_terminal}",
                cond_values={":jid": job_id, **terminal_values},
                names={"#st": "status"},
                return_new=True,
            )
        except ConditionFailed:
            return None
        return int((item or {}).get("pollErrors", 1))

    def delete(self, keys: Mapping[str, str]) -> dict[str, Any] | None:
        """Remove a record (its source object was deleted); returns what it held, None if there was none."""
        resp = self._ddb.delete_item(TableName=self._table, Key=_to_ddb(keys), ReturnValues="ALL_OLD")
        return _from_ddb(resp["Attributes"]) if resp.get("Attributes") else None

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, keys: Mapping[str, str]) -> dict[str, Any] | None:
        resp = self._ddb.get_item(TableName=self._table, Key=_to_ddb(keys), ConsistentRead=True)
        return _from_ddb(resp["Item"]) if "Item" in resp else None

    def find_by_job(self, job_id: str) -> dict[str, Any] | None:
        resp = self._ddb.query(
            TableName=self._table,
            IndexName=GSI_BY_JOB,
            KeyConditionExpression="jobId = :j",
            ExpressionAttributeValues=_to_ddb({":j": job_id}),
            Limit=1,
        )
        items = resp.get("Items", [])
        return _from_ddb(items[0]) if items else None

    def list_object_versions(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """Every version's record of an object, all pages (a query answers at most 1 MB)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _to_ddb({":pk": partition_key(bucket, key)}),
        }
        for _ in range(MAX_VERSION_PAGES):
            resp = self._ddb.query(**kwargs)
            items += [_from_ddb(i) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        raise RuntimeError(f"more than {MAX_VERSION_PAGES} MB of records for one object")

    def voiceprints_in_group(self, group: str) -> list[dict[str, Any]]:
        """Every stored voiceprint of a group (label, voiceprint, completedAt, object), all pages, by label."""
        items, start = self.voiceprints_page(group, label=None, limit=None, start=None)
        while start:
            page, start = self.voiceprints_page(group, label=None, limit=None, start=start)
            items += page
        return items

    def voiceprints_page(
        self, group: str | None, *, label: str | None, limit: int | None, start: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of voiceprints (at most `limit`, else what DynamoDB returns in one answer), with the key to
        continue from: a group's by label (of one label, if given), or with `group` None, one label's across every
        group."""
        if group is None:
            if label is None:
                raise ValueError("a group, a label, or both")
            index, condition, values = GSI_BY_LABEL, "label = :l", {":l": label}
        else:
            index, condition, values = GSI_BY_GROUP, "voiceprintGroup = :g", {":g": group_key(group)}
            if label is not None:
                condition, values = condition + " AND label = :l", {**values, ":l": label}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": _to_ddb(values),
        }
        if limit is not None:
            kwargs["Limit"] = limit
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._ddb.query(**kwargs)
        return [_from_ddb(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def changed_page(
        self, since: float, until: float, start: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a scan for the records last changed in [since, until] (an operator's replay: no index)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "updatedAt BETWEEN :a AND :b",
            "ExpressionAttributeValues": _to_ddb({":a": int(since), ":b": int(until)}),
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._ddb.scan(**kwargs)
        return [_from_ddb(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def pending_before(self, cutoff: float, limit: int) -> list[dict[str, Any]]:
        """Records waiting for a job result since before `cutoff`, oldest first (one page)."""
        return self.pending_page(cutoff, limit, None)[0]

    def pending_page(
        self, cutoff: float, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the records waiting since before `cutoff`, oldest first, and where the next page starts."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI_BY_PENDING,
            "KeyConditionExpression": "pendingShard = :p AND pendingSince < :c",
            "ExpressionAttributeValues": _to_ddb({":p": PENDING_SHARD, ":c": int(cutoff)}),
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._ddb.query(**kwargs)
        return [_from_ddb(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")
