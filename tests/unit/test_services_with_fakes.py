"""The services on in-memory fakes (tests/fakes.py): the submission's state machine, removal, the webhook and the
reconciler, with no AWS and no HTTP. The same behaviours are tested end to end on moto in tests/integration/; here
each decision is pinned down one by one, fast."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_lambda_powertools import Logger

from tests.fakes import (
    FakeBudget,
    FakeLabelHealth,
    FakeObjects,
    FakeOptOuts,
    FakeRecordStore,
    FakeResults,
    FakeSecret,
    FakeThresholds,
    FakeVendor,
)
from voiceprint import webhook_signature
from voiceprint.budget_store import Charge
from voiceprint.disposition import DeadLetter, Disposition, RetryLater
from voiceprint.input_router import InputRouter
from voiceprint.job_state import FailureCode, Outcome, Status
from voiceprint.object_ref import record_keys
from voiceprint.opt_out_list import EVERY_GROUP, OptOut
from voiceprint.pyannote_client import Job, RateLimited, RequestRejected, TransientError
from voiceprint.rate_allowance import RateAllowance
from voiceprint.reconcile_service import ReconcileService
from voiceprint.removal_service import RemovalService
from voiceprint.settings import Settings
from voiceprint.submit_service import SubmitService
from voiceprint.webhook_service import WebhookRequest, WebhookService
from voiceprint_local.audio_samples import wav_bytes

# The parent logger the services' child loggers log through (each handler module makes its own).
PARENT_LOGGER = Logger()
NOW = 1_700_000_000.0
BUCKET = "input"
SETTINGS_ENV = {
    "TABLE_NAME": "records",
    "INPUT_BUCKET": BUCKET,
    "WEBHOOK_URL": "https://hooks.example/webhooks/pyannote",
    "MAX_SUBMIT_ATTEMPTS": "2",
}
SETTINGS = Settings.from_env(SETTINGS_ENV)


class World:
    """The submit function's service on fakes, with a clock the test moves."""

    def __init__(self, settings: Settings = SETTINGS, allowance: RateAllowance | None = None) -> None:
        self.now = NOW
        self.store = FakeRecordStore()
        self.objects = FakeObjects()
        self.vendor = FakeVendor()
        self.results = FakeResults(inline_max_bytes=50)
        self.budget = FakeBudget()
        self.adopted: list[str] = []
        self.backlog = 0  # messages waiting in the input queue
        self.draw = 1.0  # what the service's random draws give
        self.opt_outs = FakeOptOuts()
        self.thresholds = FakeThresholds()
        self.submission = SubmitService(
            settings=settings,
            store=self.store,
            objects=self.objects,
            client=self.vendor,
            budget=self.budget,
            ref_key=lambda: "ref-key",
            clock=lambda: self.now,
            rand=lambda: self.draw,
            on_adopted=lambda ref, job_id: self.adopted.append(job_id),
            backlog=lambda: self.backlog,
            allowance=allowance,
            opt_outs=self.opt_outs,
            thresholds=self.thresholds,
        )
        removal = RemovalService(store=self.store, objects=self.objects, results=self.results)
        self.router = InputRouter(settings=settings, submission=self.submission, removal=removal)

    def upload(self, key: str, data: bytes | None = None, **metadata: str) -> str:
        obj = self.objects.put(BUCKET, key, wav_bytes(1.0, "alice") if data is None else data, **metadata)
        return str(obj.version_id)

    def message(self, key: str, event: str = "ObjectCreated:Put", bucket: str = BUCKET) -> str:
        record = {
            "eventSource": "aws:s3",
            "eventName": event,
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1000, "sequencer": "01"}},
        }
        return json.dumps({"Records": [record]})

    def handle(self, key: str, event: str = "ObjectCreated:Put", receive_count: int = 1) -> list[Disposition]:
        return self.router.handle_message(self.message(key, event), receive_count)

    def record(self, key: str, version: str) -> dict[str, object]:
        record = self.store.get(record_keys(BUCKET, key, version))
        assert record is not None
        return {"status": record.status, "job": record.job_id, "code": record.failure_code, "label": record.label}


@pytest.fixture
def world() -> World:
    return World()


def test_an_upload_is_planned_charged_and_submitted_once(world: World) -> None:
    version = world.upload("voiceprints/team/alice.wav", label="Alice Smith")
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.SUBMITTED]
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.DUPLICATE]  # a redelivery pays nothing
    assert world.record("voiceprints/team/alice.wav", version) == {
        "status": Status.SUBMITTED,
        "job": "job-1",
        "code": None,
        "label": "Alice Smith",  # x-amz-meta-label wins over the file name
    }
    [(path, body)] = world.vendor.calls
    assert path == "/v1/voiceprint"
    assert body["url"] == world.objects.presigned[0]
    assert parse_qs(urlsplit(str(body["webhook"])).query)["ref"]  # the webhook URL names its record
    assert [c["seconds"] for c in world.budget.charges] == [1]


def test_an_identification_sends_its_groups_newest_voiceprints(world: World) -> None:
    for name in ("alice", "bob"):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")
    for n, job in enumerate(("job-1", "job-2")):
        keys = world.store.find_by_job(job)
        assert keys is not None
        world.store.apply_outcome(keys.keys, job, Outcome("succeeded", Status.SUCCEEDED, voiceprint=f"VP{n}"), now=NOW)
    version = world.upload("identify/team/call.wav")
    assert world.handle("identify/team/call.wav") == [Disposition.SUBMITTED]
    path, body = world.vendor.calls[-1]
    assert path == "/v1/identify"
    assert body["voiceprints"] == [{"label": "alice", "voiceprint": "VP0"}, {"label": "bob", "voiceprint": "VP1"}]
    assert world.record("identify/team/call.wav", version)["status"] == Status.SUBMITTED


def _enrolled(world: World, *names: str, group: str = "team") -> None:
    for name in names:
        world.upload(f"voiceprints/{group}/{name}.wav")
        world.handle(f"voiceprints/{group}/{name}.wav")
        record = world.store.find_by_job(f"job-{len(world.vendor.calls)}")
        assert record is not None
        done = Outcome("succeeded", Status.SUCCEEDED, voiceprint=f"VP-{name}")
        world.store.apply_outcome(record.keys, str(record.job_id), done, now=NOW)


def test_a_recording_names_its_candidates_and_speaker_count(world: World) -> None:
    _enrolled(world, "alice", "bob", "carol", "José")
    metadata = {"candidates": "carol, Jos%C3%A9,carol", "min-speakers": "2", "max-speakers": "3"}
    version = world.upload("identify/team/call.wav", None, **metadata)
    assert world.handle("identify/team/call.wav") == [Disposition.SUBMITTED]
    path, body = world.vendor.calls[-1]
    assert path == "/v1/identify"
    assert body["voiceprints"] == [
        {"label": "José", "voiceprint": "VP-José"},
        {"label": "carol", "voiceprint": "VP-carol"},
    ]
    assert (body["minSpeakers"], body["maxSpeakers"], "numSpeakers" in body) == (2, 3, False)
    record = world.store.get(record_keys(BUCKET, "identify/team/call.wav", version))
    assert record is not None
    assert record.candidates == ("José", "carol")


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"candidates": "carol,zoe"}, "unknown_candidates"),
        ({"candidates": " , "}, "invalid_options"),
        ({"num-speakers": "two"}, "invalid_options"),
        ({"num-speakers": "0"}, "invalid_options"),
        ({"num-speakers": "2", "max-speakers": "3"}, "invalid_options"),
        ({"min-speakers": "4", "max-speakers": "3"}, "invalid_options"),
        ({"candidates": "Jos%E9"}, "invalid_options"),  # Latin-1, not UTF-8
    ],
)
def test_options_outside_the_spec_are_refused_before_anything_is_paid(
    world: World, metadata: dict[str, str], code: str
) -> None:
    _enrolled(world, "carol")
    calls = len(world.vendor.calls)
    version = world.upload("identify/team/call.wav", None, **metadata)
    assert world.handle("identify/team/call.wav") == [Disposition.REFUSED]
    assert world.record("identify/team/call.wav", version)["code"] == code
    assert len(world.vendor.calls) == calls  # nothing sent
    assert [c for c in world.budget.charges if c.get("candidates")] == []  # nothing charged


def test_a_groups_calibrated_threshold_replaces_the_stacks_and_the_review_band_asks_for_turn_confidence() -> None:
    world = World(Settings.from_env({**SETTINGS_ENV, "IDENTIFY_THRESHOLD": "30", "REVIEW_BAND": "40-70"}))
    _enrolled(world, "carol")
    _enrolled(world, "dave", group="other")
    world.upload("identify/team/call.wav")
    world.upload("identify/other/call.wav")
    world.thresholds.by_group["team/"] = 55
    world.handle("identify/team/call.wav")
    assert world.vendor.calls[-1][1]["matching"] == {"threshold": 55, "exclusive": True}
    assert world.vendor.calls[-1][1]["turnLevelConfidence"] is True
    world.handle("identify/other/call.wav")
    assert world.vendor.calls[-1][1]["matching"] == {"threshold": 30, "exclusive": True}  # no calibration there
    kept = world.store.find_by_job(f"job-{len(world.vendor.calls) - 1}")
    assert kept is not None
    assert world.store.get(kept.keys).threshold == 55  # type: ignore[union-attr]


def test_an_identification_compares_only_the_voiceprints_its_model_made(world: World) -> None:
    """A voiceprint is one model's embedding: records keep the model asked for, and an identification leaves out
    labels that only another model enrolled, saying so (all of them: refused, unpaid, naming `reenrol`)."""
    keys = {}
    for n, name in enumerate(("alice", "bob", "carol")):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")
        found = world.store.find_by_job(f"job-{n + 1}")
        assert found is not None
        keys[name] = found.keys
        world.store.apply_outcome(
            found.keys, f"job-{n + 1}", Outcome("succeeded", Status.SUCCEEDED, voiceprint=f"VP-{name}"), now=NOW
        )
    assert {world.store.items[(k["pk"], k["sk"])]["model"] for k in keys.values()} == {"precision-2"}
    world.store.items[(keys["bob"]["pk"], keys["bob"]["sk"])]["model"] = "precision-1"  # enrolled by an older model
    del world.store.items[(keys["carol"]["pk"], keys["carol"]["sk"])]["model"]  # from before models were recorded
    version = world.upload("identify/team/call.wav")
    assert world.handle("identify/team/call.wav") == [Disposition.SUBMITTED]
    assert world.vendor.calls[-1][1]["voiceprints"] == [
        {"label": "alice", "voiceprint": "VP-alice"},
        {"label": "carol", "voiceprint": "VP-carol"},  # unrecorded: precision-2, the only model there has been
    ]
    call = world.store.get(record_keys(BUCKET, "identify/team/call.wav", version))
    assert call is not None
    assert (call.candidates, call.model) == (("alice", "carol"), "precision-2")
    assert (
        call.warning
        == "not compared: 1 speaker labels enrolled only with another model than precision-2 (voiceprint reenrol)"
    )
    for name in ("alice", "carol"):
        world.store.items[(keys[name]["pk"], keys[name]["sk"])]["model"] = "precision-1"
    paid = len(world.vendor.calls)
    version = world.upload("identify/team/call2.wav")
    assert world.handle("identify/team/call2.wav") == [Disposition.REFUSED]
    refused = world.store.get(record_keys(BUCKET, "identify/team/call2.wav", version))
    assert refused is not None
    assert (refused.failure_code, len(world.vendor.calls)) == ("no_voiceprints", paid)
    assert refused.reason == (
        "no voiceprints in group 'team/' made by precision-2: the 3 speaker labels there were enrolled with another "
        "model; run `voiceprint reenrol --group team/` to enrol them again from their source audio"
    )


def test_refusals_are_recorded_and_cost_nothing(world: World) -> None:
    empty = world.upload("voiceprints/team/empty.wav", b"")
    lonely = world.upload("identify/nobody/call.wav")
    assert world.handle("voiceprints/team/empty.wav") == [Disposition.REFUSED]
    assert world.handle("identify/nobody/call.wav") == [Disposition.REFUSED]
    assert world.record("voiceprints/team/empty.wav", empty)["code"] == "empty_object"
    assert world.record("identify/nobody/call.wav", lonely)["code"] == "no_voiceprints"
    world.budget.refuse = Charge.GROUP_QUOTA
    spent = world.upload("voiceprints/team/carol.wav")
    assert world.handle("voiceprints/team/carol.wav") == [Disposition.REFUSED]
    assert world.record("voiceprints/team/carol.wav", spent)["code"] == "quota_exceeded"
    assert world.vendor.calls == []


def test_a_rejected_job_fails_its_record_and_is_not_retried(world: World) -> None:
    version = world.upload("voiceprints/team/alice.wav")
    world.vendor.answers.append(RequestRejected("POST /v1/voiceprint: bad", 400, [{"field": "url", "message": "no"}]))
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.REFUSED]
    assert world.record("voiceprints/team/alice.wav", version)["code"] == "api_rejected"


def test_transient_errors_retry_with_backoff_then_dead_letter(world: World) -> None:
    version = world.upload("voiceprints/team/alice.wav")
    world.vendor.answers += [TransientError("503", 503), TransientError("503", 503)]
    with pytest.raises(RetryLater) as first:
        world.handle("voiceprints/team/alice.wav")
    assert first.value.delay_seconds == SETTINGS.retry_base_seconds  # rand 1.0: the top of the first window
    assert world.record("voiceprints/team/alice.wav", version)["status"] == Status.RETRYING
    with pytest.raises(DeadLetter):  # MAX_SUBMIT_ATTEMPTS is 2
        world.handle("voiceprints/team/alice.wav", receive_count=2)
    assert world.record("voiceprints/team/alice.wav", version)["status"] == Status.DEAD_LETTER


def test_a_429_pauses_the_container_without_spending_the_attempt_budget(world: World) -> None:
    world.upload("voiceprints/team/alice.wav")
    world.upload("voiceprints/team/bob.wav")
    world.vendor.answers.append(RateLimited("429", retry_after=30))
    with pytest.raises(RetryLater):
        world.handle("voiceprints/team/alice.wav")
    with pytest.raises(RetryLater):  # paused: bob waits without a request that would be refused too
        world.handle("voiceprints/team/bob.wav")
    assert len(world.vendor.calls) == 1
    world.now += 31
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.SUBMITTED]
    claimed = world.store.get(record_keys(BUCKET, "voiceprints/team/alice.wav", "v1"))
    assert claimed is not None
    assert (claimed.failures, claimed.throttles) == (None, 1)


@pytest.mark.parametrize(
    ("backlog", "rand", "delay"),
    [
        (0, 1.0, 30 + 10),  # no backlog: Retry-After plus the backoff's jitter (base 10 s, rand 1.0)
        (6_000, 1.0, 3_600),  # an hour of work at 100 a minute: back at the end of it (rand 1.0)
        (6_000, 0.25, 900),  # or anywhere in it: a quarter of the way
        (10_000_000, 1.0, 12 * 3600),  # never beyond what SQS allows (12 h)
    ],
)
def test_a_message_sent_back_for_the_rate_limit_returns_by_its_place_in_the_backlog(
    world: World, backlog: int, rand: float, delay: int
) -> None:
    """Issue 14: with the backoff alone, a backlog of more than a few hours came back so often that the redrive
    dead-lettered its tail (the scale model in docs/RELIABILITY.md)."""
    world.backlog = backlog
    world.draw = rand
    world.upload("voiceprints/team/alice.wav")
    world.upload("voiceprints/team/bob.wav")
    world.vendor.answers.append(RateLimited("429", retry_after=30))
    with pytest.raises(RetryLater) as refused:
        world.handle("voiceprints/team/alice.wav")
    assert refused.value.delay_seconds == delay
    with pytest.raises(RetryLater) as paused:  # sent back without a request while the container waits
        world.handle("voiceprints/team/bob.wav")
    assert paused.value.delay_seconds >= min(delay, 12 * 3600) - 10
    assert len(world.vendor.calls) == 1


@pytest.mark.parametrize("listed_in", ["team/", EVERY_GROUP])
def test_an_opted_out_label_is_refused_unpaid_and_never_compared_against(world: World, listed_in: str) -> None:
    """Issue 15: a person on the opt-out list is not enrolled (in their group, or in every group), and a voiceprint
    of theirs made while the opt-out was being added is never a candidate."""
    world.upload("voiceprints/team/bob.wav")
    world.handle("voiceprints/team/bob.wav")
    world.upload("voiceprints/team/alice.wav")
    world.handle("voiceprints/team/alice.wav")
    for job_id, label in (("job-1", "bob"), ("job-2", "alice")):
        keys = record_keys(BUCKET, f"voiceprints/team/{label}.wav", "v1")
        world.store.apply_outcome(
            keys, job_id, Outcome("succeeded", Status.SUCCEEDED, voiceprint=f"VP-{label}"), now=NOW
        )
    world.opt_outs.add(OptOut("Zoé", listed_in, "asked", int(NOW)))
    world.opt_outs.add(OptOut("alice", listed_in, "asked", int(NOW)))
    calls = len(world.vendor.calls)
    version = world.upload("voiceprints/team/zoe.wav", label="Zoe\u0301")  # NFD: the same label
    assert world.handle("voiceprints/team/zoe.wav") == [Disposition.REFUSED]
    assert world.record("voiceprints/team/zoe.wav", version)["code"] == FailureCode.OPTED_OUT
    assert len(world.vendor.calls) == calls  # unpaid
    world.upload("voiceprints/other/zoe.wav", label="Zoé")
    other = world.handle("voiceprints/other/zoe.wav")
    assert other == ([Disposition.REFUSED] if listed_in == EVERY_GROUP else [Disposition.SUBMITTED])
    world.upload("identify/team/call.wav")
    assert world.handle("identify/team/call.wav") == [Disposition.SUBMITTED]
    assert [c["label"] for c in world.vendor.calls[-1][1]["voiceprints"]] == ["bob"]


def test_with_consent_required_an_enrolment_without_it_fails_unpaid_and_one_with_it_keeps_it() -> None:
    """Issue 15: biometric data is enrolled with the speaker's consent on record (RequireConsent)."""
    world = World(Settings.from_env({**SETTINGS_ENV, "REQUIRE_CONSENT": "true"}))
    missing = world.upload("voiceprints/team/alice.wav")
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.REFUSED]
    refused = world.store.get(record_keys(BUCKET, "voiceprints/team/alice.wav", missing))
    assert refused is not None
    assert (refused.status, refused.failure_code) == (Status.FAILED, FailureCode.NO_CONSENT)
    assert "x-amz-meta-consent" in (refused.reason or "")
    bad = world.upload("voiceprints/team/carol.wav", consent="ref\x1b[31m")
    assert world.handle("voiceprints/team/carol.wav") == [Disposition.REFUSED]
    assert world.record("voiceprints/team/carol.wav", bad)["code"] == FailureCode.NO_CONSENT
    assert (world.vendor.calls, world.budget.charges) == ([], [])  # refused before anything is paid
    given = world.upload("voiceprints/team/bob.wav", consent="consent-2026-0042")
    assert world.handle("voiceprints/team/bob.wav") == [Disposition.SUBMITTED]
    kept = world.store.get(record_keys(BUCKET, "voiceprints/team/bob.wav", given))
    assert kept is not None
    assert kept.consent_ref == "consent-2026-0042"
    assert kept.public()["consentRef"] == "consent-2026-0042"


def test_without_consent_required_a_given_reference_is_kept_and_none_is_needed(world: World) -> None:
    plain = world.upload("voiceprints/team/alice.wav")
    given = world.upload("voiceprints/team/bob.wav", consent="doc-sha256:ab12")
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.SUBMITTED]
    assert world.handle("voiceprints/team/bob.wav") == [Disposition.SUBMITTED]
    keys = [record_keys(BUCKET, f"voiceprints/team/{n}.wav", v) for n, v in (("alice", plain), ("bob", given))]
    assert [r.consent_ref for r in map(world.store.get, keys) if r is not None] == [None, "doc-sha256:ab12"]


def test_a_result_that_came_by_webhook_is_adopted_instead_of_paying_again(world: World) -> None:
    version = world.upload("voiceprints/team/alice.wav")
    ref_keys = record_keys(BUCKET, "voiceprints/team/alice.wav", version)
    world.vendor.answers.append(TransientError("timeout", None))  # the job was made; the answer was lost
    with pytest.raises(RetryLater):
        world.handle("voiceprints/team/alice.wav")
    done = Outcome("succeeded", Status.SUCCEEDED, voiceprint="VP")
    world.store.apply_outcome(ref_keys, "job-lost", done, now=NOW, allow_early=True)  # through the bound URL
    assert world.handle("voiceprints/team/alice.wav") == [Disposition.ADOPTED]
    assert world.adopted == ["job-lost"]
    assert world.record("voiceprints/team/alice.wav", version)["status"] == Status.SUCCEEDED
    assert len(world.vendor.calls) == 1


def test_notifications_that_are_not_ours_change_nothing(world: World) -> None:
    world.upload("voiceprints/team/alice.wav")
    assert world.router.handle_message(world.message("voiceprints/team/alice.wav", bucket="other"), 1) == [
        Disposition.FOREIGN_BUCKET
    ]
    assert world.handle("elsewhere/alice.wav") == [Disposition.FILTERED]
    assert world.handle("voiceprints/team/alice.wav", "ObjectRestore:Completed") == [Disposition.IGNORED_EVENT]
    assert world.router.handle_message(json.dumps({"Event": "s3:TestEvent"}), 1) == [Disposition.TEST_EVENT]
    with pytest.raises(DeadLetter):
        world.router.handle_message("not json", 1)
    assert world.store.items == {}


def test_a_removal_takes_the_records_only_once_s3_confirms_it(world: World) -> None:
    world.upload("voiceprints/team/alice.wav")
    world.handle("voiceprints/team/alice.wav")
    assert world.handle("voiceprints/team/alice.wav", "ObjectRemoved:DeleteMarkerCreated") == [
        Disposition.NOT_DELETED  # forged: the object is still there
    ]
    assert len(world.store.items) == 1
    world.objects.remove(BUCKET, "voiceprints/team/alice.wav")
    assert world.handle("voiceprints/team/alice.wav", "ObjectRemoved:DeleteMarkerCreated") == [Disposition.DELETED]
    assert world.store.items == {}


def _webhook(
    store: FakeRecordStore,
    vendor: FakeVendor,
    results: FakeResults,
    clock: float,
    reads: RateAllowance | None = None,
    health: FakeLabelHealth | None = None,
) -> WebhookService:
    return WebhookService(
        settings=SETTINGS,
        store=store,
        secrets=FakeSecret("whs_current", "whs_previous"),
        ref_keys=FakeSecret("ref-key"),
        client=lambda: vendor,
        results=results,
        clock=lambda: clock,
        reads=lambda: reads,
        health=health,
    )


def _signed(body: Mapping[str, object], secret: str = "whs_current", at: float = NOW) -> WebhookRequest:  # noqa: S107
    raw = json.dumps(body).encode()
    timestamp = str(int(at))
    headers = {"x-request-timestamp": timestamp, "x-signature": webhook_signature.sign(secret, timestamp, raw)}
    return WebhookRequest(raw, headers)


def test_the_webhook_applies_signed_results_only(world: World) -> None:
    version = world.upload("voiceprints/team/alice.wav")
    world.handle("voiceprints/team/alice.wav")
    service = _webhook(world.store, world.vendor, world.results, NOW)
    body = {"jobId": "job-1", "status": "succeeded", "output": {"voiceprint": "VP"}}
    assert service.handle(_signed(body, secret="whs_forged")).status_code == 401
    assert service.handle(_signed(body, at=NOW - 3600)).status_code == 401  # a replay, past the tolerance
    assert world.record("voiceprints/team/alice.wav", version)["status"] == Status.SUBMITTED
    answer = service.handle(_signed(body, secret="whs_previous"))  # rotation: the previous secret still counts
    assert (answer.status_code, answer.body) == (200, {"result": "applied"})
    assert world.record("voiceprints/team/alice.wav", version)["status"] == Status.SUCCEEDED
    again = service.handle(_signed(body))
    assert again.body == {"result": "duplicate"}
    unknown = service.handle(_signed({"jobId": "job-x", "status": "succeeded", "output": {"voiceprint": "VP"}}))
    assert (unknown.status_code, unknown.body) == (202, {"result": "unknown"})


def test_a_status_only_webhook_fetches_the_job_and_keeps_a_large_result_in_s3(world: World) -> None:
    for name in ("alice",):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")
        world.store.apply_outcome(
            record_keys(BUCKET, f"voiceprints/team/{name}.wav", "v1"),
            "job-1",
            Outcome("succeeded", Status.SUCCEEDED, voiceprint="VP"),
            now=NOW,
        )
    version = world.upload("identify/team/call.wav")
    world.handle("identify/team/call.wav")
    output = {"identification": [], "diarization": [{"speaker": "S0", "start": 0, "end": 1}] * 3, "voiceprints": []}
    world.vendor.jobs["job-2"] = Job("job-2", "succeeded", output)
    service = _webhook(world.store, world.vendor, world.results, NOW)
    answer = service.handle(_signed({"jobId": "job-2", "status": "succeeded"}))
    assert answer.body == {"result": "applied"}
    record = world.store.get(record_keys(BUCKET, "identify/team/call.wav", version))
    assert record is not None
    assert (record.status, record.result, record.result_location) == (
        Status.SUCCEEDED,
        None,
        "s3://results/identifications/job-2.json",
    )
    assert json.loads(world.results.kept[str(record.result_location)])["diarization"] == output["diarization"]


def _reconciler(
    world: World, clock: float, reads: RateAllowance | None = None, health: FakeLabelHealth | None = None
) -> ReconcileService:
    return ReconcileService(
        settings=SETTINGS,
        store=world.store,
        client=world.vendor,
        results=world.results,
        clock=lambda: clock,
        allowance=reads,
        health=health,
    )


def test_the_reconciler_settles_what_got_no_webhook_and_gives_up_on_lost_jobs(world: World) -> None:
    for name in ("alice", "bob", "carol"):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")
    world.vendor.jobs["job-1"] = Job("job-1", "succeeded", {"voiceprint": "VP"})
    world.vendor.jobs["job-2"] = Job("job-2", "running", None)
    # job-3: pyannoteAI no longer knows it
    report = _reconciler(world, NOW + SETTINGS.reconcile_after_seconds + 1).run()
    assert (report.examined, report.polled, report.still_running, report.settled) == (
        3,
        3,
        1,
        {"succeeded": 1, "lost": 1},
    )
    assert world.record("voiceprints/team/alice.wav", "v1")["status"] == Status.SUCCEEDED
    assert world.record("voiceprints/team/bob.wav", "v1")["status"] == Status.SUBMITTED
    assert world.record("voiceprints/team/carol.wav", "v1")["code"] == "lost"
    later = _reconciler(world, NOW + SETTINGS.lost_after_seconds + 10).run()
    assert later.settled == {"lost": 1}  # still running a day later: given up on
    assert world.record("voiceprints/team/bob.wav", "v1")["code"] == "lost"


def test_the_reconciler_stops_at_the_first_429(world: World) -> None:
    for name in ("alice", "bob"):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")

    def throttled(job_id: str) -> Job:
        world.vendor.calls.append(("GET /v1/jobs", {"jobId": job_id}))
        raise RateLimited("429", retry_after=60)

    world.vendor.get_job = throttled  # type: ignore[method-assign]
    report = _reconciler(world, NOW + SETTINGS.reconcile_after_seconds + 1).run()
    assert (report.throttled, report.polled, len(world.vendor.calls)) == (True, 1, 3)  # 2 POSTs, then 1 GET


class _BrokenHealth(FakeLabelHealth):
    def observe(self, record: object, now: float) -> None:
        raise RuntimeError("throttled")


def test_settled_identifications_add_to_their_groups_label_health(world: World) -> None:
    """Webhook and reconciler alike: each identification that succeeds counts once for its candidates and matches;
    voiceprints do not count, a redelivery adds nothing, and a health write that fails loses no result."""

    def submitted(key: str, output: Mapping[str, Any]) -> tuple[str, str]:
        version = world.upload(key)
        world.handle(key)
        record = world.store.get(record_keys(BUCKET, key, version))
        assert record is not None
        assert record.job_id is not None
        world.vendor.jobs[record.job_id] = Job(record.job_id, "succeeded", dict(output))
        return record.job_id, version

    health = FakeLabelHealth()
    service = _webhook(world.store, world.vendor, world.results, NOW, health=health)
    for name in ("alice", "bob"):
        job, _ = submitted(f"voiceprints/team/{name}.wav", {"voiceprint": f"VP-{name}"})
        gets = world.store.gets
        assert service.handle(_signed({"jobId": job, "status": "succeeded"})).body == {"result": "applied"}
        assert world.store.gets == gets  # a voiceprint's webhook pays no read for health
    assert health.groups == {}  # voiceprints say nothing of how labels fare
    matched = [{"speaker": "S0", "match": "alice", "confidence": {"alice": 88, "bob": 12}}]
    output = {"identification": [], "diarization": [], "voiceprints": matched}
    job, _ = submitted("identify/team/call.wav", output)
    assert service.handle(_signed({"jobId": job, "status": "succeeded"})).body == {"result": "applied"}
    assert service.handle(_signed({"jobId": job, "status": "succeeded"})).body == {"result": "duplicate"}
    assert {label: h.public() for label, h in health.labels("team/").items()} == {
        "alice": {
            "label": "alice",
            "lastUsed": int(NOW),
            "lastMatched": int(NOW),
            "bestScore": 88.0,
            "neverMatched": False,
        },
        "bob": {"label": "bob", "lastUsed": int(NOW), "lastMatched": None, "bestScore": None, "neverMatched": True},
    }
    submitted("identify/team/call2.wav", {**output, "voiceprints": []})
    later = NOW + SETTINGS.reconcile_after_seconds + 1
    assert _reconciler(world, later, health=health).run().settled == {"succeeded": 1}
    assert {label: h.last_used for label, h in health.labels("team/").items()} == {
        "alice": int(later),
        "bob": int(later),
    }
    job, version = submitted("identify/team/call3.wav", output)
    broken = _webhook(world.store, world.vendor, world.results, NOW, health=_BrokenHealth())
    assert broken.handle(_signed({"jobId": job, "status": "succeeded"})).body == {"result": "applied"}
    assert world.record("identify/team/call3.wav", version)["status"] == Status.SUCCEEDED
