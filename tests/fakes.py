"""In-memory fakes of the ports (voiceprint/ports.py), for testing the services without AWS or pyannoteAI.

`FakeRecordStore` keeps the adapters' semantics (conditional writes, index projections, pages); the contract
suite (tests/contract/test_record_store.py) runs the same assertions against it and against JobStore on moto, so
it cannot drift from the real thing; so does `FakeRateTokens` (tests/contract/test_rate_tokens.py). The other fakes
are simple recorders with scripted answers.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from voiceprint import frozen, label_health
from voiceprint.budget_store import Charge, ChargeResult, Limits
from voiceprint.calibration_store import Calibration
from voiceprint.identify_options import IdentifyOptions
from voiceprint.job_state import RECLAIMABLE, TERMINAL, FailureCode, Kind, Outcome, Status
from voiceprint.job_store import ApplyResult, Claim, ClaimHeld, LostClaim, voiceprint_expiry
from voiceprint.object_ref import ObjectRef, partition_key
from voiceprint.object_source import ObjectGone, ObjectRead
from voiceprint.opt_out_list import EVERY_GROUP, OptOut
from voiceprint.pyannote_client import Job, JobCreated, JobNotFound
from voiceprint.rate_allowance import Grant, block_size
from voiceprint.record import EARLY_BOUND, Record
from voiceprint.record_queries import PENDING_SHARD, Page, group_key
from voiceprint_local import template


def _projection(index: str) -> tuple[str, ...]:
    """What an index holds of an item, read from template.yaml: its keys and its projected attributes."""
    [spec] = [
        g for g in template.resources()["JobsTable"]["Properties"]["GlobalSecondaryIndexes"] if g["IndexName"] == index
    ]
    keys = tuple(k["AttributeName"] for k in spec["KeySchema"])
    return keys + tuple(spec["Projection"].get("NonKeyAttributes", []))


_BY_JOB, _BY_PENDING = _projection("byJobId"), _projection("byPending")
_BY_GROUP, _BY_LABEL = _projection("byGroup"), _projection("byLabel")


def _project(item: Mapping[str, Any], names: tuple[str, ...]) -> Record:
    return Record.from_item({"pk": item["pk"], "sk": item["sk"], **{n: item[n] for n in names if n in item}})


def _page(
    items: list[dict[str, Any]], names: tuple[str, ...], limit: int | None, start: Mapping[str, Any] | None
) -> Page:
    """A query's page: after `start` (a key this fake issued), at most `limit`, and where the next one starts."""
    if start:
        at = next(i for i, item in enumerate(items) if (item["pk"], item["sk"]) == (start["pk"], start["sk"]))
        items = items[at + 1 :]
    if limit is None or len(items) <= limit:
        return [_project(i, names) for i in items], None
    last = items[limit - 1]
    return [_project(i, names) for i in items[:limit]], {"pk": last["pk"], "sk": last["sk"]}


class FakeRecordStore:
    """The records in a dict, with JobStore's conditions. `writes` counts the writes that went through."""

    def __init__(self, *, retention_days: int = 30, voiceprint_retention_days: int = 0) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0
        self.gets = 0  # GetItems: what a path pays in reads
        self._retention = retention_days * 86400
        self._voiceprint_retention = voiceprint_retention_days * 86400

    def _item(self, keys: Mapping[str, str]) -> dict[str, Any] | None:
        return self.items.get((keys["pk"], keys["sk"]))

    def _ttl(self, now: float) -> int:
        return int(now) + self._retention

    # -- writes --------------------------------------------------------------------------------------------
    def claim(
        self, ref: ObjectRef, *, now: float, lease_seconds: int, kind: Kind = Kind.VOICEPRINT, group: str = ""
    ) -> Claim | None:
        keys = ref.record_keys
        item = self._item(keys)
        if item is not None:
            status = item.get("status")
            expired = status == Status.SUBMITTING.value and item.get("leaseUntil", float("inf")) < int(now)
            if status not in RECLAIMABLE and not expired:
                if status == Status.SUBMITTING.value and "leaseUntil" in item:
                    raise ClaimHeld(int(item["leaseUntil"]))
                return None
        token = uuid.uuid4().hex
        new = dict(item or keys)
        new.update(
            status=Status.SUBMITTING.value,
            claimToken=token,
            leaseUntil=int(now) + lease_seconds,
            bucket=ref.bucket,
            objectKey=ref.key,
            version=ref.version,
            versionId=ref.version_id,
            etag=ref.etag,
            size=ref.size,
            kind=kind.value,
            group=group,
            groupKey=group_key(group),
            updatedAt=int(now),
            expiresAt=self._ttl(now),
        )
        new.setdefault("early", {})
        new.setdefault("createdAt", int(now))
        new["attempts"] = new.get("attempts", 0) + 1
        self._put(new)
        record = Record.from_item(new)
        return Claim.of(token, record)

    def _put(self, item: dict[str, Any]) -> None:
        self.items[(item["pk"], item["sk"])] = item
        self.writes += 1

    def _release(self, ref: ObjectRef, claim: Claim) -> dict[str, Any]:
        item = self._item(ref.record_keys)
        if item is None or item.get("claimToken") != claim.token:
            raise LostClaim(ref.uri)
        item = dict(item)
        item.pop("leaseUntil", None)
        item.pop("claimToken", None)
        return item

    def mark_retrying(
        self, ref: ObjectRef, claim: Claim, *, reason: str, now: float, throttled: bool, dead_letter: bool
    ) -> None:
        item = self._release(ref, claim)
        counter = "throttles" if throttled else "failures"
        status = Status.DEAD_LETTER if dead_letter else Status.RETRYING
        item.update({"status": status.value, "lastError": reason, "updatedAt": int(now)})
        item[counter] = item.get(counter, 0) + 1
        self._put(item)

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
        item = self._release(ref, claim)
        item.update(details or {})
        item.update(
            status=Status.FAILED.value,
            failureCode=code.value,
            reason=reason,
            completedAt=int(now),
            updatedAt=int(now),
            expiresAt=self._ttl(now),
        )
        item.pop("early", None)
        self._put(item)

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
        item = self._release(ref, claim)
        item.update(details or {})
        item.update(
            status=Status.SUBMITTED.value,
            jobId=job_id,
            vendorStatus=vendor_status,
            submittedAt=int(now),
            updatedAt=int(now),
            pendingShard=PENDING_SHARD,
            pendingSince=int(now),
        )
        if warning:
            item["warning"] = warning
        item.pop("lastError", None)
        self._put(item)
        early = (item.get("early") or {}).get(job_id)
        return Outcome.from_item(early) if early else None

    def apply_outcome(
        self, keys: Mapping[str, str], job_id: str, outcome: Outcome, *, now: float, allow_early: bool = False
    ) -> ApplyResult:
        item = self._item(keys)
        if item is not None and self._applies(item, job_id, outcome):
            item = dict(item)
            if outcome.terminal:
                item.update({**outcome.to_item(), "completedAt": int(now), "updatedAt": int(now)})
                for name in ("pendingShard", "pendingSince", "early", "expiresAt"):
                    item.pop(name, None)
                expires = voiceprint_expiry(outcome, now, self._retention, self._voiceprint_retention)
                if expires is not None:
                    item["expiresAt"] = expires
                if outcome.voiceprint is not None:
                    item["voiceprintGroup"] = item.get("groupKey", group_key(""))
            else:
                item.update(vendorStatus=outcome.vendor_status, updatedAt=int(now), pendingSince=int(now))
            self._put(item)
            return ApplyResult.APPLIED
        if item is not None and outcome.terminal and allow_early and "early" in item and "jobId" not in item:
            item = copy.deepcopy(item)
            item["early"].setdefault(job_id, {**outcome.to_item(), EARLY_BOUND: True})
            item["updatedAt"] = int(now)
            self._put(item)
            return ApplyResult.EARLY
        if item is None:
            return ApplyResult.UNKNOWN
        return ApplyResult.SUPERSEDED if item.get("jobId") != job_id else ApplyResult.DUPLICATE

    @staticmethod
    def _applies(item: Mapping[str, Any], job_id: str, outcome: Outcome) -> bool:
        if item.get("jobId") != job_id or item.get("status") in TERMINAL:
            return False
        if outcome.kind is None:
            return True
        return item.get("kind") == outcome.kind.value or (outcome.kind is Kind.VOICEPRINT and "kind" not in item)

    def record_poll_error(self, keys: Mapping[str, str], job_id: str, *, reason: str, now: float) -> int | None:
        item = self._item(keys)
        if item is None or item.get("jobId") != job_id or item.get("status") in TERMINAL:
            return None
        item = {**item, "lastError": reason, "pendingSince": int(now), "updatedAt": int(now)}
        item["pollErrors"] = item.get("pollErrors", 0) + 1
        self._put(item)
        return int(item["pollErrors"])

    def delete(self, keys: Mapping[str, str]) -> Record | None:
        old = self.items.pop((keys["pk"], keys["sk"]), None)
        return Record.from_item(old) if old is not None else None

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, keys: Mapping[str, str]) -> Record | None:
        self.gets += 1
        item = self._item(keys)
        return Record.from_item(item) if item is not None else None

    def find_by_job(self, job_id: str) -> Record | None:
        found = [i for i in self.items.values() if i.get("jobId") == job_id]
        return _project(found[0], _BY_JOB) if found else None

    def list_object_versions(self, bucket: str, key: str) -> list[Record]:
        pk = partition_key(bucket, key)
        return [Record.from_item(i) for i in sorted(self.items.values(), key=lambda i: i["sk"]) if i["pk"] == pk]

    def voiceprints_in_group(self, group: str) -> list[Record]:
        found = self.voiceprints_page(group, label=None, limit=None, start=None)[0]
        return [frozen.replace(r, model=self.items[(r.pk, r.sk)].get("model")) for r in found]

    def voiceprints_page(
        self, group: str | None, *, label: str | None, limit: int | None, start: Mapping[str, Any] | None
    ) -> Page:
        indexed = [i for i in self.items.values() if "voiceprintGroup" in i and "label" in i]
        if group is None:
            if label is None:
                raise ValueError("a group, a label, or both")
            found = sorted((i for i in indexed if i["label"] == label), key=lambda i: i["voiceprintGroup"])
            return _page(found, _BY_LABEL, limit, start)
        found = [i for i in indexed if i["voiceprintGroup"] == group_key(group) and label in (None, i["label"])]
        return _page(sorted(found, key=lambda i: i["label"]), _BY_GROUP, limit, start)

    def pending_page(self, cutoff: float, limit: int, start: Mapping[str, Any] | None) -> Page:
        found = [
            i for i in self.items.values() if i.get("pendingShard") == PENDING_SHARD and i["pendingSince"] < int(cutoff)
        ]
        return _page(sorted(found, key=lambda i: i["pendingSince"]), _BY_PENDING, limit, start)


@dataclass
class StoredObject:
    data: bytes
    version_id: str | None = None
    etag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class FakeObjects:
    """A bucket's objects, one or more versions per key (the last is the current one)."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], list[StoredObject]] = {}
        self.presigned: list[str] = []
        self.reads: list[tuple[str, str]] = []  # (key, range) of each read

    def put(self, bucket: str, key: str, data: bytes, **metadata: str) -> StoredObject:
        versions = self.versions.setdefault((bucket, key), [])
        obj = StoredObject(data, f"v{len(versions) + 1}", f'"etag-{uuid.uuid4().hex[:8]}"', dict(metadata))
        versions.append(obj)
        return obj

    def remove(self, bucket: str, key: str) -> None:
        self.versions.pop((bucket, key), None)

    def _find(self, bucket: str, key: str, version_id: str | None) -> StoredObject:
        versions = self.versions.get((bucket, key)) or []
        found = [v for v in versions if version_id in (None, v.version_id)]
        if not found:
            raise ObjectGone(f"{bucket}/{key}")
        return found[-1]

    def read(self, bucket: str, key: str, version_id: str | None, start: int, end: int) -> ObjectRead:
        self.reads.append((key, f"{start}-{end}"))
        obj = self._find(bucket, key, version_id)
        return ObjectRead(obj.data[start : end + 1], obj.version_id, obj.etag, len(obj.data), dict(obj.metadata))

    def exists(self, bucket: str, key: str, version_id: str | None = None) -> bool:
        try:
            self._find(bucket, key, version_id)
        except ObjectGone:
            return False
        return True

    def presign_get(self, bucket: str, key: str, version_id: str | None, expires_seconds: int) -> str:
        url = f"https://{bucket}.s3.example/{key}?versionId={version_id}&expires={expires_seconds}"
        self.presigned.append(url)
        return url


class FakeVendor:
    """pyannoteAI: every call recorded; `answers` (exceptions or JobCreated) are given in order, then new jobs;
    `jobs` answers GET /v1/jobs/{id}."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[Exception | JobCreated] = []
        self.jobs: dict[str, Job] = {}

    def _answer(self, path: str, body: dict[str, Any]) -> JobCreated:
        self.calls.append((path, body))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return JobCreated(f"job-{len(self.calls)}", "created")

    def submit_voiceprint(self, url: str, *, webhook: str | None, model: str | None) -> JobCreated:
        return self._answer("/v1/voiceprint", {"url": url, "webhook": webhook, "model": model})

    def submit_identify(
        self,
        url: str,
        *,
        voiceprints: list[dict[str, str]],
        webhook: str | None,
        model: str | None,
        options: IdentifyOptions,
        status_only_webhook: bool = False,
    ) -> JobCreated:
        body = {
            "url": url,
            "voiceprints": voiceprints,
            "webhook": webhook,
            "statusOnly": status_only_webhook,
            **options.body(),
        }
        return self._answer("/v1/identify", body)

    def get_job(self, job_id: str) -> Job:
        self.calls.append(("GET /v1/jobs", {"jobId": job_id}))
        if job_id not in self.jobs:
            raise JobNotFound(f"GET /v1/jobs/{job_id}: not found", 404)
        return self.jobs[job_id]


class FakeResults:
    """Identification outputs over `inline_max_bytes` are "placed" (kept here) and replaced by their location."""

    def __init__(self, *, inline_max_bytes: int = 100_000) -> None:
        self.kept: dict[str, str] = {}
        self.deleted: list[str] = []
        self._max = inline_max_bytes

    def place(self, job_id: str, outcome: Outcome) -> Outcome:
        if outcome.result is None or len(outcome.result.encode()) <= self._max:
            return outcome
        location = f"s3://results/identifications/{job_id}.json"
        self.kept[location] = outcome.result
        return frozen.replace(outcome, result=None, result_location=location)

    def delete(self, location: str) -> None:
        self.deleted.append(location)
        self.kept.pop(location, None)

    def presigned_url(self, location: str, expires_seconds: int) -> str | None:
        return f"https://results.example/{location}?expires={expires_seconds}" if location in self.kept else None


class FakeBudget:
    """Charges everything, unless `refuse` names the Charge to answer with; `charges` lists what was charged."""

    def __init__(self) -> None:
        self.charges: list[dict[str, Any]] = []
        self.refuse: Charge | None = None

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
        if self.refuse is not None:
            return ChargeResult(self.refuse)
        self.charges.append({"keys": dict(record_keys), "group": group, "seconds": audio_seconds, "dedup": dedup_key})
        return ChargeResult(Charge.CHARGED)


class FakeThresholds:
    """Each group's calibration in dicts, with CalibrationStore's reads and writes (tests/contract holds the two
    alike); `by_group` can also be set directly."""

    def __init__(self) -> None:
        self.by_group: dict[str, int] = {}
        self.calibrations: dict[str, Calibration] = {}

    def threshold(self, group: str) -> int | None:
        return self.by_group.get(group)

    def get(self, group: str) -> Calibration | None:
        return self.calibrations.get(group) if group in self.by_group else None

    def put(self, calibration: Calibration) -> None:
        c = calibration

        def kept(v: float | None) -> float | None:  # the adapter keeps 4 decimals
            return None if v is None else round(v, 4)

        self.calibrations[c.group] = Calibration(
            c.group, c.threshold, kept(c.precision), kept(c.recall), c.reviewed, c.calibrated_at
        )
        self.by_group[calibration.group] = calibration.threshold

    def remove(self, group: str) -> bool:
        self.calibrations.pop(group, None)
        return self.by_group.pop(group, None) is not None


class FakeOptOuts:
    """The opt-out list in a list, with OptOutList's reads and writes."""

    def __init__(self) -> None:
        self.listed: dict[tuple[str, str], OptOut] = {}

    def labels(self, group: str) -> frozenset[str]:
        return frozenset(o.label for o in self.entries() if o.group in (EVERY_GROUP, group))

    def entries(self) -> list[OptOut]:
        return list(self.listed.values())

    def add(self, entry: OptOut) -> None:
        self.listed[(entry.group, entry.label)] = entry

    def remove(self, label: str, group: str) -> bool:
        return self.listed.pop((group, label), None) is not None


class FakeLabelHealth:
    """The groups' per-label health in a dict, with LabelHealthStore's merge (label_health.merged)."""

    def __init__(self, *, keep_days: int = 30) -> None:
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.keep = keep_days * 86400

    def observe(self, record: Record, now: float) -> None:
        group = record.group or ""
        self.groups[group] = label_health.merged(self.groups.get(group, {}), record, now=now, keep_seconds=self.keep)

    def labels(self, group: str) -> dict[str, label_health.LabelHealth]:
        return {label: label_health.of(label, e) for label, e in self.groups.get(group, {}).items()}

    def forget(self, label: str, group: str | None) -> int:
        names = [group] if group is not None else list(self.groups)
        return sum(1 for name in names if self.groups.get(name, {}).pop(label, None) is not None)


class FakeRateTokens:
    """The shared counter in memory: the same answers as rate_token_store.RateTokenStore (tests/contract)."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, int]] = {}  # endpoint -> (window, used)
        self.writes = 0

    def take(self, endpoint: str, window: int, want: int, limit: int, sharers: int = 1) -> Grant:
        held, used = self.windows.get(endpoint, (-1, 0))
        if held > window:
            return Grant(0, limit)
        if held < window:
            held, used = window, 0
        granted = block_size(want, limit, used, sharers) if used < limit else 0
        if granted:
            self.windows[endpoint] = (held, used + granted)
            self.writes += 1
        return Grant(granted, used + granted)

    def spend(self, endpoint: str, window: int, used: int) -> None:
        held, was = self.windows.get(endpoint, (-1, 0))
        if held < window or (held == window and was < used):
            self.windows[endpoint] = (window, used)
            self.writes += 1

    def used(self, endpoint: str, window: int) -> int:
        held, used = self.windows.get(endpoint, (-1, 0))
        return used if held == window else 0


class FakeSecret:
    def __init__(self, current: str, previous: str | None = None) -> None:
        self._current, self._previous = current, previous

    def current(self) -> str:
        return self._current

    def candidates(self, *, include_previous: bool) -> Iterator[str]:
        yield self._current
        if include_previous and self._previous:
            yield self._previous
