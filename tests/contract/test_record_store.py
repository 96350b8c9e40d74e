"""One contract, two implementations: JobStore on moto (the adapter the functions run) and tests/fakes.py's
FakeRecordStore (what the services' unit tests run against). Every assertion here holds for both, so the fake
cannot drift from the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeRecordStore
from voiceprint.job_state import FailureCode, Kind, Outcome, Status, outcome_from_job
from voiceprint.job_store import ApplyResult, ClaimHeld, JobStore, LostClaim
from voiceprint.object_ref import ObjectRef
from voiceprint.ports import RecordWriter

NOW = 1_700_000_000.0
LEASE = 120


def _ref(key: str = "voiceprints/team/alice.wav", version: str = "v1") -> ObjectRef:
    return ObjectRef("input", key, 1000, version, version, '"etag"')


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordWriter]:
    if request.param == "fake":
        yield FakeRecordStore(retention_days=30)
        return
    aws: Any = request.getfixturevalue("aws")
    yield JobStore(aws.ddb, aws.table, retention_days=30)


def _submitted(store: RecordWriter, ref: ObjectRef, job_id: str, *, kind: Kind = Kind.VOICEPRINT) -> None:
    claim = store.claim(ref, now=NOW, lease_seconds=LEASE, kind=kind, group="team/")
    assert claim is not None
    store.record_submitted(
        ref, claim, job_id=job_id, vendor_status="created", warning=None, now=NOW + 1, details={"label": "alice"}
    )


def test_a_claim_is_taken_once_held_for_its_lease_then_taken_over(store: RecordWriter) -> None:
    ref = _ref()
    first = store.claim(ref, now=NOW, lease_seconds=LEASE)
    assert first is not None
    assert (first.attempt, first.charged) == (1, False)
    with pytest.raises(ClaimHeld) as held:
        store.claim(ref, now=NOW + 1, lease_seconds=LEASE)
    assert held.value.lease_until == int(NOW) + LEASE
    second = store.claim(ref, now=NOW + LEASE + 1, lease_seconds=LEASE)
    assert second is not None
    assert second.attempt == 2
    assert second.token != first.token
    with pytest.raises(LostClaim):  # the first invocation outlived its lease: its write is refused
        store.record_submitted(ref, first, job_id="job-1", vendor_status="created", warning=None, now=NOW + 200)
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.claim_token is not None, record.attempts) == (Status.SUBMITTING, True, 2)


def test_a_submitted_version_is_never_claimed_again_and_waits_in_the_pending_index(store: RecordWriter) -> None:
    ref = _ref()
    _submitted(store, ref, "job-1")
    assert store.claim(ref, now=NOW + 10_000, lease_seconds=LEASE) is None
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.job_id, record.label, record.claim_token, record.lease_until) == (
        Status.SUBMITTED,
        "job-1",
        "alice",
        None,
        None,
    )
    [pending] = store.pending_page(NOW + 100, 10, None)[0]
    # The index projects what the reconciler reads, and no more.
    assert (pending.keys, pending.job_id, pending.submitted_at, pending.status) == (
        ref.record_keys,
        "job-1",
        int(NOW) + 1,
        None,
    )
    assert store.pending_page(NOW, 10, None)[0] == []  # not waiting since before the cutoff
    found = store.find_by_job("job-1")
    assert found is not None
    assert (found.keys, found.status) == (ref.record_keys, None)  # keys only
    assert store.find_by_job("job-2") is None


def test_retries_count_failures_and_throttles_apart_and_stay_reclaimable(store: RecordWriter) -> None:
    ref = _ref()
    claim = store.claim(ref, now=NOW, lease_seconds=LEASE)
    assert claim is not None
    store.mark_retrying(ref, claim, reason="503", now=NOW, throttled=False, dead_letter=False)
    again = store.claim(ref, now=NOW + 1, lease_seconds=LEASE)
    assert again is not None
    assert (again.failures, again.throttles, again.attempt) == (1, 0, 2)
    store.mark_retrying(ref, again, reason="429", now=NOW + 1, throttled=True, dead_letter=True)
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.last_error) == (Status.DEAD_LETTER, "429")
    third = store.claim(ref, now=NOW + 2, lease_seconds=LEASE)  # redriven from the DLQ
    assert third is not None
    assert (third.failures, third.throttles, third.attempt) == (1, 1, 3)
    with pytest.raises(LostClaim):
        store.mark_retrying(ref, again, reason="stale", now=NOW + 3, throttled=False, dead_letter=False)


def test_a_refusal_is_terminal_with_its_code_and_details(store: RecordWriter) -> None:
    ref = _ref()
    claim = store.claim(ref, now=NOW, lease_seconds=LEASE)
    assert claim is not None
    store.mark_failed(ref, claim, code=FailureCode.TOO_LONG, reason="35 s", now=NOW + 1, details={"label": "alice"})
    assert store.claim(ref, now=NOW + 10_000, lease_seconds=LEASE) is None
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.failure_code, record.reason, record.label, record.completed_at) == (
        Status.FAILED,
        "too_long",
        "35 s",
        "alice",
        int(NOW) + 1,
    )
    assert record.expires_at == int(NOW) + 1 + 30 * 86400


def test_an_outcome_applies_once_to_its_own_job_and_never_changes_a_terminal_record(store: RecordWriter) -> None:
    ref = _ref()
    _submitted(store, ref, "job-1")
    running = outcome_from_job("running", None)
    assert store.apply_outcome(ref.record_keys, "job-1", running, now=NOW + 5) is ApplyResult.APPLIED
    done = outcome_from_job("succeeded", {"voiceprint": "VP"})
    assert store.apply_outcome(ref.record_keys, "job-2", done, now=NOW + 6) is ApplyResult.SUPERSEDED
    assert store.apply_outcome(_ref(version="v9").record_keys, "job-1", done, now=NOW + 6) is ApplyResult.UNKNOWN
    assert store.apply_outcome(ref.record_keys, "job-1", done, now=NOW + 7) is ApplyResult.APPLIED
    failed = outcome_from_job("failed", {"error": "late"})
    assert store.apply_outcome(ref.record_keys, "job-1", failed, now=NOW + 8) is ApplyResult.DUPLICATE
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.voiceprint, record.vendor_status, record.completed_at) == (
        Status.SUCCEEDED,
        "VP",
        "succeeded",
        int(NOW) + 7,
    )
    assert record.pending_since is None
    assert store.pending_page(NOW + 10_000, 10, None)[0] == []


def test_a_result_of_the_other_kind_never_lands(store: RecordWriter) -> None:
    ref = _ref("identify/team/call.wav")
    _submitted(store, ref, "job-1", kind=Kind.IDENTIFY)
    voiceprint = outcome_from_job("succeeded", {"voiceprint": "VP"})
    assert store.apply_outcome(ref.record_keys, "job-1", voiceprint, now=NOW + 2) is ApplyResult.DUPLICATE
    record = store.get(ref.record_keys)
    assert record is not None
    assert (record.status, record.voiceprint) == (Status.SUBMITTED, None)


def test_an_early_result_is_kept_only_through_a_bound_ref_and_handed_to_the_claim(store: RecordWriter) -> None:
    ref = _ref()
    claim = store.claim(ref, now=NOW, lease_seconds=LEASE)
    assert claim is not None
    done = outcome_from_job("succeeded", {"voiceprint": "VP"})
    assert store.apply_outcome(ref.record_keys, "job-1", done, now=NOW + 1) is ApplyResult.SUPERSEDED
    assert store.apply_outcome(ref.record_keys, "job-1", done, now=NOW + 1, allow_early=True) is ApplyResult.EARLY
    retaken = store.claim(ref, now=NOW + LEASE + 1, lease_seconds=LEASE)
    assert retaken is not None
    assert retaken.early == {"job-1": done}
    early = store.record_submitted(
        ref, retaken, job_id="job-1", vendor_status="created", warning=None, now=NOW + LEASE + 2
    )
    assert early == done


def test_a_voiceprint_joins_its_group_and_label_indexes(store: RecordWriter) -> None:
    alice, bob = _ref(), _ref("voiceprints/team/bob.wav")
    for ref, job_id, label in ((alice, "job-a", "alice"), (bob, "job-b", "bob")):
        claim = store.claim(ref, now=NOW, lease_seconds=LEASE, group="team/")
        assert claim is not None
        store.record_submitted(
            ref, claim, job_id=job_id, vendor_status="created", warning=None, now=NOW, details={"label": label}
        )
        store.apply_outcome(
            ref.record_keys, job_id, Outcome("succeeded", Status.SUCCEEDED, voiceprint=f"VP-{label}"), now=NOW + 1
        )
    in_group = store.voiceprints_in_group("team/")
    assert [(r.label, r.voiceprint, r.object_key) for r in in_group] == [
        ("alice", "VP-alice", alice.key),
        ("bob", "VP-bob", bob.key),
    ]
    assert store.voiceprints_in_group("other/") == []
    page, start = store.voiceprints_page("team/", label=None, limit=1, start=None)
    assert [r.label for r in page] == ["alice"]
    assert start is not None
    rest, _ = store.voiceprints_page("team/", label=None, limit=1, start=start)
    assert [r.label for r in rest] == ["bob"]
    [by_label] = store.voiceprints_page(None, label="bob", limit=10, start=None)[0]
    # The label index leaves the voiceprint out (listing across groups never carries biometric data).
    assert (by_label.group, by_label.status, by_label.voiceprint) == ("team/", Status.SUCCEEDED, None)


def test_poll_errors_count_until_the_record_is_settled(store: RecordWriter) -> None:
    ref = _ref()
    _submitted(store, ref, "job-1")
    assert store.record_poll_error(ref.record_keys, "job-1", reason="bad", now=NOW + 2) == 1
    assert store.record_poll_error(ref.record_keys, "job-1", reason="bad", now=NOW + 3) == 2
    assert store.record_poll_error(ref.record_keys, "job-2", reason="bad", now=NOW + 3) is None
    store.apply_outcome(ref.record_keys, "job-1", outcome_from_job("canceled", None), now=NOW + 4)
    assert store.record_poll_error(ref.record_keys, "job-1", reason="bad", now=NOW + 5) is None


def test_delete_returns_what_the_record_held(store: RecordWriter) -> None:
    v1, v2 = _ref(version="v1"), _ref(version="v2")
    _submitted(store, v1, "job-1")
    _submitted(store, v2, "job-2")
    assert [r.version_id for r in store.list_object_versions("input", v1.key)] == ["v1", "v2"]
    old = store.delete(v1.record_keys)
    assert old is not None
    assert (old.job_id, old.label) == ("job-1", "alice")
    assert store.delete(v1.record_keys) is None
    assert store.get(v1.record_keys) is None
    assert [r.version_id for r in store.list_object_versions("input", v1.key)] == ["v2"]


@pytest.mark.parametrize("voiceprint_days", [0, 90])
@pytest.mark.parametrize("adapter", ["fake", "dynamodb"])
def test_a_voiceprint_keeps_its_own_retention_and_every_other_record_the_stacks(
    request: pytest.FixtureRequest, adapter: str, voiceprint_days: int
) -> None:
    """Issue 15: a team enrolled today is still there in two months. VoiceprintRetentionDays 0 keeps a voiceprint
    as long as its source object (no TTL: the source's removal deletes it); N keeps it N days. Failures and
    identifications keep RetentionDays (30 here)."""
    if adapter == "fake":
        store: RecordWriter = FakeRecordStore(retention_days=30, voiceprint_retention_days=voiceprint_days)
    else:
        aws: Any = request.getfixturevalue("aws")
        store = JobStore(aws.ddb, aws.table, retention_days=30, voiceprint_retention_days=voiceprint_days)
    enrolled, refused, identified = _ref(), _ref("voiceprints/team/bob.wav"), _ref("identify/team/meeting.wav")
    _submitted(store, enrolled, "job-a")
    _submitted(store, refused, "job-b")
    _submitted(store, identified, "job-c", kind=Kind.IDENTIFY)
    done = NOW + 10
    store.apply_outcome(enrolled.record_keys, "job-a", outcome_from_job("succeeded", {"voiceprint": "VP"}), now=done)
    store.apply_outcome(refused.record_keys, "job-b", outcome_from_job("failed", {"error": "no speech"}), now=done)
    store.apply_outcome(identified.record_keys, "job-c", Outcome("succeeded", Status.SUCCEEDED, result="{}"), now=done)
    expiry = {ref.key: store.get(ref.record_keys) for ref in (enrolled, refused, identified)}
    assert {key: record.expires_at if record else "gone" for key, record in expiry.items()} == {
        enrolled.key: int(done) + voiceprint_days * 86400 if voiceprint_days else None,
        refused.key: int(done) + 30 * 86400,
        identified.key: int(done) + 30 * 86400,
    }


def test_a_groups_voiceprints_carry_the_model_that_made_them(store: RecordWriter) -> None:
    """The byGroup index does not project `model`: the store reads it from the items, across batches of 100."""
    refs = [_ref(f"voiceprints/big/s{n:03}.wav") for n in range(101)]
    for n, ref in enumerate(refs):
        claim = store.claim(ref, now=NOW, lease_seconds=LEASE, group="big/")
        assert claim is not None
        details = {"label": f"s{n:03}", **({"model": "precision-9"} if n % 2 else {})}
        store.record_submitted(
            ref, claim, job_id=f"job-{n}", vendor_status="created", warning=None, now=NOW, details=details
        )
        store.apply_outcome(
            ref.record_keys, f"job-{n}", Outcome("succeeded", Status.SUCCEEDED, voiceprint="VP"), now=NOW
        )
    found = store.voiceprints_in_group("big/")
    assert [(r.label, r.model) for r in found] == [(f"s{n:03}", "precision-9" if n % 2 else None) for n in range(101)]
