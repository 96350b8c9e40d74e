"""Writing object records (one item per uploaded object version): the claim, the job, the result, the removal.
Reads, and the key layout's indexes, are record_queries'; the item's attributes are record's.

Item: pk = "OBJ#<sha256(bucket/key)[:40]>", sk = "VER#<versionId | etag:<etag>>" (object_ref builds them).
TTL attribute: expiresAt (epoch seconds).

Every write is conditional, so the state machine in job_state holds even under duplicate and concurrent
deliveries: a claim can be taken once per object version, results are only written for the record's own jobId,
and terminal records never change again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from voiceprint.aws_errors import ConditionFailed, conditional_failures
from voiceprint.ddb_update import Update, from_ddb, to_ddb
from voiceprint.frozen import field, frozen
from voiceprint.job_state import RECLAIMABLE, TERMINAL, FailureCode, Kind, Outcome, Status
from voiceprint.object_ref import ObjectRef
from voiceprint.record import EARLY_BOUND, Record
from voiceprint.record_queries import PENDING_SHARD, RecordQueries, group_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _status_in(statuses: frozenset[Status], tag: str) -> tuple[str, dict[str, str]]:
    """The condition "the status (named #st) is one of these", with its values named :<tag>0, :<tag>1, ..."""
    values = {f":{tag}{i}": s.value for i, s in enumerate(sorted(statuses))}
    return f"#st IN ({', '.join(values)})", values


def _still_open() -> tuple[str, dict[str, str]]:
    """Not terminal: terminal records never change."""
    terminal, values = _status_in(TERMINAL, "t")
    return f"NOT ({terminal})", values


class ApplyResult(StrEnum):
    APPLIED = "applied"  # the record moved to the outcome
    DUPLICATE = "duplicate"  # already terminal, or the same result again: nothing changed
    EARLY = "early"  # the record has no jobId yet: the result is kept on it until submit records the job
    SUPERSEDED = "superseded"  # the record belongs to another job of the same object
    UNKNOWN = "unknown"  # no such record (never ours, or expired)


@frozen
class Claim:
    token: str
    attempt: int  # claims taken on this object version, this one included
    failures: int = 0  # transient failures so far (5xx, timeouts, 401/402): the dead-letter budget
    throttles: int = 0  # 429s so far: they do not spend the budget, they only spread retries further
    # Results of earlier submissions whose answer we never got (timeout, crash) but whose webhook came.
    early: dict[str, Outcome] = field(default_factory=dict)
    charged: bool = False  # the budget was charged for this object version (budget_store): never twice

    @classmethod
    def of(cls, token: str, record: Record) -> Claim:
        """The claim `token` took, as the record it wrote says."""
        return cls(
            token=token,
            attempt=record.attempts or 1,
            failures=record.failures or 0,
            throttles=record.throttles or 0,
            charged=record.budget_day is not None,
            early=record.bound_early(),
        )


class LostClaim(Exception):
    """Another invocation took the claim over (ours outlived its lease)."""


class ClaimHeld(Exception):
    """Another invocation holds the claim until `lease_until` (epoch seconds): it may still be working, or it
    may have crashed, and only the end of its lease tells which."""

    def __init__(self, lease_until: int) -> None:
        super().__init__(f"claimed until {lease_until}")
        self.lease_until = lease_until


def voiceprint_expiry(outcome: Outcome, now: float, retention: int, voiceprint_retention: int) -> int | None:
    """A terminal record's TTL (epoch seconds), or None for none: a voiceprint keeps `voiceprint_retention`
    seconds (0: as long as its source object), everything else (failures, identifications) `retention`."""
    if outcome.voiceprint is None:
        return int(now) + retention
    return int(now) + voiceprint_retention if voiceprint_retention else None


class JobStore(RecordQueries):
    """The record writes; the reads are RecordQueries'."""

    def __init__(
        self, client: DynamoDBClient, table_name: str, *, retention_days: int, voiceprint_retention_days: int = 0
    ) -> None:
        """`voiceprint_retention_days`: how long a record holding a voiceprint is kept after it is made; 0 keeps
        it as long as its source object (its removal, by a user or a lifecycle rule, deletes the record)."""
        super().__init__(client, table_name)
        self._retention = retention_days * 86400
        self._voiceprint_retention = voiceprint_retention_days * 86400

    def _write(self, update: Update) -> Record | None:
        """The one place this adapter updates: a failed condition becomes ConditionFailed, with the item that
        failed it when the update asked for it (old_on_conflict); the record as written when asked for."""
        with conditional_failures(from_ddb):
            resp = self._ddb.update_item(**update.request(self._table))
        return Record.from_item(from_ddb(resp["Attributes"])) if update.returns_new else None

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
        reclaimable, reclaimable_values = _status_in(RECLAIMABLE, "r")  # a claim may be taken over from these
        update = (
            Update(ref.record_keys)
            .set_all(
                {
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
                    "updatedAt": int(now),
                    "expiresAt": self._ttl(now),
                }
            )
            .set_if_absent("early", {})
            .set_if_absent("createdAt", int(now))
            .add("attempts", 1)
            .when(
                f"attribute_not_exists(pk) OR {reclaimable} OR (#st = :submitting AND leaseUntil < :now)",
                {**reclaimable_values, ":submitting": Status.SUBMITTING.value, ":now": int(now)},
                {"#st": "status"},
            )
            .returning_new()
            .old_on_conflict()
        )
        try:
            record = self._write(update)
        except ConditionFailed as failed:
            held = failed.item
            if held.get("status") == Status.SUBMITTING.value and "leaseUntil" in held:
                raise ClaimHeld(int(held["leaseUntil"])) from None
            return None
        if record is None:  # returning_new always returns the item; this only narrows the type
            raise RuntimeError("UpdateItem returned no attributes")
        return Claim.of(token, record)

    def _release(self, ref: ObjectRef, claim: Claim, update: Update) -> Record | None:
        """Write `update` and give the claim up, if it is still ours; else LostClaim."""
        update.remove("leaseUntil", "claimToken").when("claimToken = :tok", {":tok": claim.token})
        try:
            return self._write(update)
        except ConditionFailed:
            raise LostClaim(ref.uri) from None

    def mark_retrying(
        self, ref: ObjectRef, claim: Claim, *, reason: str, now: float, throttled: bool, dead_letter: bool
    ) -> None:
        status = Status.DEAD_LETTER if dead_letter else Status.RETRYING
        update = Update(ref.record_keys).set_all({"status": status.value, "lastError": reason, "updatedAt": int(now)})
        self._release(ref, claim, update.add("throttles" if throttled else "failures", 1))

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
        fields = {
            **(details or {}),
            "status": Status.FAILED.value,
            "failureCode": code.value,
            "reason": reason,
            "completedAt": int(now),
            "updatedAt": int(now),
            "expiresAt": self._ttl(now),
        }
        self._release(ref, claim, Update(ref.record_keys).set_all(fields).remove("early"))

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
        update = Update(ref.record_keys).set_all(fields).remove("lastError").returning_new()
        record = self._release(ref, claim, update)
        return record.early.get(job_id) if record is not None else None

    # -- result side ---------------------------------------------------------------------------------------
    def apply_outcome(
        self, keys: Mapping[str, str], job_id: str, outcome: Outcome, *, now: float, allow_early: bool = False
    ) -> ApplyResult:
        """Move the record of `job_id` to `outcome`; terminal records never change again. With `allow_early` (the
        webhook's ref was bound to this record), a result for a record without a jobId yet is kept on it."""
        not_terminal, terminal_values = _still_open()
        update = Update(keys)
        if outcome.terminal:
            update.set_all({**outcome.to_item(), "completedAt": int(now), "updatedAt": int(now)})
            update.remove("pendingShard", "pendingSince", "early")
            if outcome.voiceprint is not None:
                # Into the byGroup index, where identification finds it.
                update.set_from("voiceprintGroup", "groupKey", group_key(""))
            expires = voiceprint_expiry(outcome, now, self._retention, self._voiceprint_retention)
            if expires is None:
                update.remove("expiresAt")
            else:
                update.set_all({"expiresAt": expires})
        else:
            # Still running: move it to the back of the reconciler's queue.
            update.set_all({"vendorStatus": outcome.vendor_status, "updatedAt": int(now), "pendingSince": int(now)})
        condition = f"jobId = :jid AND {not_terminal}"
        cond_values: dict[str, Any] = {":jid": job_id, **terminal_values}
        if outcome.kind is not None:
            # A genuine result of one kind never lands on a record of the other (records from before kinds
            # existed are voiceprints).
            legacy = " OR attribute_not_exists(kind)" if outcome.kind is Kind.VOICEPRINT else ""
            condition += f" AND (kind = :kind{legacy})"
            cond_values[":kind"] = outcome.kind.value
        update.when(condition, cond_values, {"#st": "status"})
        try:
            self._write(update)
            return ApplyResult.APPLIED
        except ConditionFailed:
            pass
        if outcome.terminal and allow_early:
            # The webhook beat the submit handler's write of the jobId: keep the result on the record.
            early = (
                Update(keys)
                .set_in_map_if_absent("early", job_id, {**outcome.to_item(), EARLY_BOUND: True})
                .set("updatedAt", int(now))
                .when("attribute_exists(early) AND attribute_not_exists(jobId)")
            )
            try:
                self._write(early)
                return ApplyResult.EARLY
            except ConditionFailed:
                pass
            # Neither held: the jobId was written between the two writes above, too late for the submit handler
            # to see an early result. The record is this job's now, so the first write applies; answering
            # "duplicate" instead would stop pyannoteAI's retries and leave the record to the reconciler.
            try:
                self._write(update)
                return ApplyResult.APPLIED
            except ConditionFailed:
                pass
        current = self.get(keys)
        if current is None:
            return ApplyResult.UNKNOWN
        if current.job_id != job_id:
            return ApplyResult.SUPERSEDED
        return ApplyResult.DUPLICATE

    def record_poll_error(self, keys: Mapping[str, str], job_id: str, *, reason: str, now: float) -> int | None:
        """Count an answer about `job_id` that could not be settled and move the record to the back of the poll
        queue; returns the count so far, None if the record is no longer this job's or is already settled."""
        not_terminal, terminal_values = _still_open()
        update = (
            Update(keys)
            .set_all({"lastError": reason, "pendingSince": int(now), "updatedAt": int(now)})
            .add("pollErrors", 1)
            .when(f"jobId = :jid AND {not_terminal}", {":jid": job_id, **terminal_values}, {"#st": "status"})
            .returning_new()
        )
        try:
            record = self._write(update)
        except ConditionFailed:
            return None
        return (record.poll_errors if record is not None else None) or 1

    def delete(self, keys: Mapping[str, str]) -> Record | None:
        """Remove a record (its source object was deleted); returns what it held, None if there was none."""
        resp = self._ddb.delete_item(TableName=self._table, Key=to_ddb(keys), ReturnValues="ALL_OLD")
        return Record.from_item(from_ddb(resp["Attributes"])) if resp.get("Attributes") else None
