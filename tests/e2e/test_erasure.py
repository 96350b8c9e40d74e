"""Erasure by person on the local stack (issue 15): `voiceprint erase --label alice --with-source` leaves no record,
identification output, result object or source version in which alice's label or voiceprint can be found; bob is
untouched; the deletions and the erasure are announced on EventBridge."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import cli_json, settle
from voiceprint_cli.__main__ import main
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e
ALICE, BOB, CALL = "voiceprints/erase/alice.wav", "voiceprints/erase/bob.wav", "identify/erase/call.wav"
SMALL_CALL = "identify/erase/short.wav"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Every identification output goes to the results bucket (an inline output's redaction: tests/unit).
    env = {"INLINE_RESULT_MAX_BYTES": "0"}
    with running(StackOptions(reconcile_every_seconds=0.5, env=env, log_level="WARNING", metrics=False)) as s:
        yield s


def _erase(stack: LocalStack, *args: str) -> dict[str, Any]:
    assert stack.api is not None
    out, err = io.StringIO(), io.StringIO()
    flags = ["--local", "--aws-endpoint", stack.aws_url, "--api", stack.api.url, "--json"]
    assert main([*flags, "erase", "--label", "alice", *args], out=out, err=err) == 0, err.getvalue()
    return dict(json.loads(out.getvalue()))


def _everything(stack: LocalStack) -> str:
    """Every item of the table and every object of the results bucket, as text."""
    ddb, s3 = stack.client("dynamodb"), stack.client("s3")
    items = ddb.scan(TableName=stack.table)["Items"]
    listed = s3.list_objects_v2(Bucket=stack.results_bucket).get("Contents", [])
    bodies = [s3.get_object(Bucket=stack.results_bucket, Key=o["Key"])["Body"].read().decode() for o in listed]
    return json.dumps(items) + "\n".join(bodies)


def test_erasing_a_person_leaves_nothing_that_names_them_and_is_announced(stack: LocalStack) -> None:
    stack.upload(ALICE, wav_bytes(2.0, "alice"))
    stack.upload(ALICE, wav_bytes(2.5, "alice", seed=3))  # a second sample: a second version, a second record
    stack.upload(BOB, wav_bytes(2.0, "bob", seed=2))
    assert wait_for(
        lambda: sum(1 for r in stack.records() if r["objectKey"] == ALICE and r["status"] == "succeeded") == 2, 30
    )
    voiceprints = {r["voiceprint"] for r in stack.records() if r["objectKey"] == ALICE}
    settle(stack, [BOB])
    stack.upload(CALL, wav_bytes(6.0, "alice", seed=8))
    stack.upload(SMALL_CALL, wav_bytes(1.0, "bob", seed=9))
    calls = settle(stack, [CALL, SMALL_CALL])
    assert calls[CALL]["resultLocation"]
    assert calls[SMALL_CALL]["resultLocation"]
    assert '"alice"' in _everything(stack)

    export = cli_json(stack, "export", "--label", "alice")
    assert [(x["key"], x["holdsVoiceprint"]) for x in export["samples"]] == [(ALICE, True), (ALICE, True)]
    assert sorted(i["key"] for i in export["identifications"]) == [CALL, SMALL_CALL]
    assert not any(v in json.dumps(export) for v in voiceprints)  # the export says where, not the embedding
    [alice_health] = export["health"]  # what is derived from her samples: her per-label health in erase/
    assert (alice_health["group"], alice_health["label"]) == ("erase/", "alice")

    health = {h["label"]: h for h in cli_json(stack, "health", "--group", "erase/")["labels"]}
    assert (health["alice"]["voiceprints"], health["alice"]["lastUsed"] is not None) == (2, True)

    dry = _erase(stack, "--with-source", "--dry-run")
    assert len(dry["voiceprintsDeleted"]) == 2
    assert '"alice"' in _everything(stack)  # a dry run changes nothing

    receipt = _erase(stack, "--with-source")
    assert sorted(v["key"] for v in receipt["voiceprintsDeleted"]) == [ALICE, ALICE]
    assert sorted(i["key"] for i in receipt["identificationsRedacted"]) == [CALL, SMALL_CALL]
    [source] = receipt["sourceVersionsDeleted"]
    assert (source["key"], len(source["versions"])) == (ALICE, 2)
    assert receipt["vendor"]["deletedBy"]  # when pyannoteAI's copies of the outputs are gone
    assert receipt["healthEntriesRemoved"] == 1  # her entry in the group's per-label health

    left = _everything(stack)
    assert '"alice"' not in left  # the health item included
    assert "alice.wav" not in left
    assert not any(v in left for v in voiceprints)
    assert stack.client("s3").list_object_versions(Bucket=stack.bucket, Prefix=ALICE).get("Versions", []) == []
    records = {r["objectKey"]: r for r in stack.records()}
    assert records[BOB]["status"] == "succeeded"
    assert records[BOB]["label"] == "bob"
    assert records[SMALL_CALL]["candidates"] == ["[erased]", "bob"]

    seen: list[dict[str, Any]] = []

    def announced() -> bool:
        seen.extend(stack.published_events())
        kinds = [(e["detail-type"], e["detail"].get("deletedBecause")) for e in seen]
        return (
            kinds.count(("Voiceprint Deleted", "erased")) == 2
            and ("Person Erased", None) in kinds
            and ("Subject Exported", None) in kinds
        )

    assert wait_for(announced, 20), [(e["detail-type"], e["detail"].get("key")) for e in seen]
    erased = next(e for e in seen if e["detail-type"] == "Person Erased")["detail"]
    assert erased["label"] == "alice"
    assert not any(v in json.dumps(seen) for v in voiceprints)  # never a voiceprint in an event
    assert stack.errors == []


def test_an_opted_out_person_is_erased_and_not_enrolled_again_until_removed(stack: LocalStack) -> None:
    carol = "voiceprints/optout/carol.wav"
    stack.upload(carol, wav_bytes(2.0, "carol"))
    settle(stack, [carol])
    added = cli_json(stack, "optout", "add", "--label", "carol", "--group", "optout/", "--reason", "request 42")
    assert len(added["erasure"]["voiceprintsDeleted"]) == 1
    assert [e["label"] for e in cli_json(stack, "optout", "list")] == ["carol"]
    assert stack.emulator is not None
    paid = sum(stack.emulator.stats.submissions_by_url.values())

    stack.upload(carol, wav_bytes(2.5, "carol", seed=5))  # a new sample: refused, unpaid
    assert wait_for(lambda: any(r.get("failureCode") == "opted_out" for r in stack.records()), 20)
    assert sum(stack.emulator.stats.submissions_by_url.values()) == paid

    cli_json(stack, "optout", "remove", "--label", "carol", "--group", "optout/")
    stack.upload(carol, wav_bytes(3.0, "carol", seed=6))
    assert wait_for(lambda: any(r.get("label") == "carol" and r["status"] == "succeeded" for r in stack.records()), 20)

    seen: list[dict[str, Any]] = []

    def announced() -> bool:
        seen.extend(stack.published_events())
        kinds = {e["detail-type"] for e in seen}
        return {"Opt-out Added", "Opt-out Removed", "Person Erased"} <= kinds

    assert wait_for(announced, 20), sorted({e["detail-type"] for e in seen})
