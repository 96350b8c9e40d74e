"""Model lineage on the local stack (issue 15): each record keeps the model it was made with; an identification
compares only the current model's voiceprints and says which labels it left out; `voiceprint reenrol` enrols
those labels again from their kept source version, through the pipeline, once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import cli_json, settle
from voiceprint_local.audio_samples import wav_bytes
from voiceprint_local.stack import LocalStack, StackOptions, running, wait_for

pytestmark = pytest.mark.e2e
ALICE, BOB = "voiceprints/lineage/alice.wav", "voiceprints/lineage/bob.wav"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running(StackOptions(reconcile_every_seconds=0.5, log_level="WARNING", metrics=False)) as s:
        yield s


def _versions(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    return list(stack.client("s3").list_object_versions(Bucket=stack.bucket, Prefix=key).get("Versions", []))


def test_identification_uses_current_model_voiceprints_and_reenrol_makes_them(stack: LocalStack) -> None:
    stack.upload(ALICE, wav_bytes(2.0, "alice"))
    stack.upload(BOB, wav_bytes(2.0, "bob", seed=2))
    enrolled = settle(stack, [ALICE, BOB])
    assert {enrolled[k]["model"] for k in (ALICE, BOB)} == {"precision-2"}
    # Alice's voiceprint as one an earlier model made (PyannoteModel allows one model today).
    [alice] = [r for r in stack.records() if r["objectKey"] == ALICE]
    stack.client("dynamodb").update_item(
        TableName=stack.table,
        Key={"pk": {"S": alice["pk"]}, "sk": {"S": alice["sk"]}},
        UpdateExpression="SET model = :m",
        ExpressionAttributeValues={":m": {"S": "precision-1"}},
    )

    stack.upload("identify/lineage/call.wav", wav_bytes(4.0, "bob", seed=5))
    call = settle(stack, ["identify/lineage/call.wav"])["identify/lineage/call.wav"]
    assert (call["status"], call["candidates"]) == ("succeeded", ["bob"])
    assert "1 speaker labels enrolled only with another model than precision-2" in call["warning"]

    dry = cli_json(stack, "reenrol", "--group", "lineage/", "--dry-run")
    assert (dry["stale_labels"], dry["copied"], dry["current_labels"], len(_versions(stack, ALICE))) == (1, 1, 1, 1)

    done = cli_json(stack, "reenrol", "--group", "lineage/")
    assert (done["copied"], done["copies"][0]["from"]) == (1, alice["versionId"])
    new_version = done["copies"][0]["to"]
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=ALICE, VersionId=new_version)
    assert head["Metadata"]["reenrol-of"] == alice["versionId"]
    assert wait_for(
        lambda: any(
            r["versionId"] == new_version and r.get("status") == "succeeded" and r.get("model") == "precision-2"
            for r in stack.records()
        ),
        30,
    )
    assert cli_json(stack, "reenrol", "--group", "lineage/")["copied"] == 0  # every label current: nothing to copy
    announced = [e for e in stack.published_events() if e["detail-type"] == "Voiceprints Reenrolled"]
    assert [(e["detail"]["model"], e["detail"]["copies"]) for e in announced] == [("precision-2", done["copies"])]

    stack.upload("identify/lineage/call2.wav", wav_bytes(4.0, "alice", seed=6))
    again = settle(stack, ["identify/lineage/call2.wav"])["identify/lineage/call2.wav"]
    assert (again["candidates"], again.get("warning")) == (["alice", "bob"], None)
    # Per-label health: both identifications compared against bob, only the second against alice.
    health = {h["label"]: h for h in cli_json(stack, "health", "--group", "lineage/")["labels"]}
    assert (health["alice"]["voiceprints"], health["bob"]["voiceprints"]) == (2, 1)
    assert health["alice"]["lastUsed"] == again["completedAt"]
    assert health["bob"]["lastUsed"] == again["completedAt"]
    applied = cli_json(stack, "retention", "--check-sources")  # every source is there: nothing deleted
    assert (applied["voiceprints"], applied["orphans"]) == (3, 0)
    kinds = [e["detail-type"] for e in stack.published_events()]
    assert "Retention Applied" in kinds
    assert set(health["alice"]) == {
        "label",
        "voiceprints",
        "enrolledAt",
        "lastUsed",
        "lastMatched",
        "bestScore",
        "neverMatched",
    }
