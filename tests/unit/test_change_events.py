from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import load_event
from voiceprint.change_events import entry, event_id, events_for
from voiceprint.event_publisher import EventPublisher


def only(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one event a stream record is news of."""
    found = events_for(record)
    assert len(found) == 1
    return found[0]


def test_a_record_becoming_terminal_is_announced_with_the_documented_detail() -> None:
    modify = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][0]
    detail_type, detail = only(modify)
    assert detail_type == "Voiceprint Ready"
    keys = modify["dynamodb"]["Keys"]
    assert detail.pop("eventId") == event_id(keys["pk"]["S"], keys["sk"]["S"], "Voiceprint Ready")
    assert detail == {
        "schemaVersion": 1,
        "kind": "voiceprint",
        "status": "succeeded",
        "bucket": "voiceprint-input-example",
        "key": "voiceprints/Jane Doe (take 2) été.wav",
        "versionId": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
        "jobId": "3c8a89a5-dcc6-4edb-a75d-ffd64739674d",
        "group": "",
        "completedAt": 1764000042,
        "label": "Jane Doe (take 2) été",
    }
    put = entry(detail_type, detail, "default")
    assert (put["Source"], put["DetailType"], put["EventBusName"]) == (
        "voiceprint-pipeline",
        "Voiceprint Ready",
        "default",
    )
    assert "emulator-v1:" not in put["Detail"]  # the voiceprint is never in an event


def test_a_voiceprint_enrolled_with_consent_is_announced_with_its_reference() -> None:
    modify = copy.deepcopy(load_event("dynamodb_stream_terminal_and_expired.json")["Records"][0])
    modify["dynamodb"]["NewImage"]["consentRef"] = {"S": "consent-2026-0042"}
    _, detail = only(modify)
    assert detail["consentRef"] == "consent-2026-0042"
    assert "voiceprint" not in detail


def test_expiry_and_deletion_are_told_apart() -> None:
    remove = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][1]
    detail_type, detail = only(remove)
    assert (detail_type, detail["deletedBecause"]) == ("Voiceprint Deleted", "expired")
    by_user = {k: v for k, v in remove.items() if k != "userIdentity"}
    assert only(by_user)[1]["deletedBecause"] == "source_deleted"
    erased = copy.deepcopy(by_user)
    erased["dynamodb"]["OldImage"]["erasedAt"] = {"N": "1800000000"}  # marked by `voiceprint erase` first
    assert only(erased)[1]["deletedBecause"] == "erased"


def test_only_the_transition_to_terminal_is_news() -> None:
    modify = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][0]
    again = copy.deepcopy(modify)
    again["dynamodb"]["OldImage"] = again["dynamodb"]["NewImage"]  # terminal -> terminal (cannot happen, is not news)
    assert events_for(again) == []
    pending = copy.deepcopy(modify)
    pending["dynamodb"]["NewImage"]["status"] = {"S": "submitted"}
    assert events_for(pending) == []
    failed_at_once = copy.deepcopy(modify)
    failed_at_once["eventName"] = "INSERT"
    del failed_at_once["dynamodb"]["OldImage"]
    failed_at_once["dynamodb"]["NewImage"].update(
        status={"S": "failed"}, failureCode={"S": "too_long"}, reason={"S": "35.0 s"}
    )
    detail_type, detail = only(failed_at_once)
    assert (detail_type, detail["failureCode"], detail["reason"]) == ("Voiceprint Failed", "too_long", "35.0 s")


class FakeEvents:
    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail_at = fail_at

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        return {
            "FailedEntryCount": int(self.fail_at is not None),
            "Entries": [
                {"ErrorCode": "ThrottlingException"} if i == self.fail_at else {"EventId": str(i)}
                for i in range(len(Entries))
            ],
        }


def test_publisher_reports_the_first_unpublished_record_and_ids_are_stable() -> None:
    records = load_event("dynamodb_stream_terminal_and_expired.json")["Records"]
    ok = FakeEvents()
    assert EventPublisher(ok, "default").publish(records) == {"batchItemFailures": []}  # type: ignore[arg-type]
    [sent] = ok.calls
    assert [e["DetailType"] for e in sent] == ["Voiceprint Ready", "Voiceprint Deleted"]
    ids = [json.loads(e["Detail"])["eventId"] for e in sent]
    assert len(set(ids)) == 2

    again = FakeEvents()
    EventPublisher(again, "default").publish(records)  # type: ignore[arg-type]
    assert [json.loads(e["Detail"])["eventId"] for e in again.calls[0]] == ids  # a redelivery dedupes

    failing = FakeEvents(fail_at=1)
    result = EventPublisher(failing, "default").publish(records)  # type: ignore[arg-type]
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}


def test_the_events_function_knows_object_records_by_the_key_schema_of_object_ref() -> None:
    from voiceprint import change_events, object_ref

    assert change_events.RECORD_PK_PREFIX == object_ref.RECORD_PK_PREFIX
    assert object_ref.record_keys("b", "k", "v")["pk"].startswith(change_events.RECORD_PK_PREFIX)


def _identification(**attributes: Any) -> dict[str, Any]:
    """A stream record of an identification becoming terminal, with these attributes on its new image."""
    from boto3.dynamodb.types import TypeSerializer

    keys = {"pk": {"S": "OBJ#aa"}, "sk": {"S": "VER#1"}}
    base = {
        "pk": "OBJ#aa",
        "sk": "VER#1",
        "bucket": "in",
        "objectKey": "identify/team-a/call.wav",
        "versionId": "1",
        "kind": "identify",
        "group": "team-a/",
        "jobId": "job-1",
        "candidates": ["carol", "dave"],
        "completedAt": 1764000042,
    }
    ser = TypeSerializer()
    old = {k: ser.serialize(v) for k, v in {**base, "status": "submitted"}.items()}
    new = {k: ser.serialize(v) for k, v in {**base, "status": "succeeded", **attributes}.items()}
    return {"eventName": "MODIFY", "dynamodb": {"Keys": keys, "OldImage": old, "NewImage": new}}


MATCHES = json.dumps(
    [
        {"speaker": "S0", "match": "dave", "confidence": 93},
        {"speaker": "S1", "match": None, "confidence": None, "best": "carol", "bestConfidence": 55, "review": True},
    ]
)


def test_an_identification_in_the_review_band_is_announced_ready_and_needing_review() -> None:
    found = events_for(_identification(matches=MATCHES, reviewQueue="pending"))
    assert [t for t, _ in found] == ["Identification Ready", "Identification Needs Review"]
    ready, review = (detail for _, detail in found)
    assert ready["eventId"] != review["eventId"]
    assert review["eventId"] == event_id("OBJ#aa", "VER#1", "Identification Needs Review")  # the same on a retry
    assert review["review"] == "pending"
    assert review["speakers"] == [{"speaker": "S1", "best": "carol", "bestConfidence": 55, "match": None}]
    assert (review["key"], review["group"], review["jobId"], review["reviews"]) == (
        "identify/team-a/call.wav",
        "team-a/",
        "job-1",
        {},
    )
    assert [t for t, _ in events_for(_identification(matches=MATCHES))] == ["Identification Ready"]  # no band


def test_each_set_of_review_decisions_is_announced_once_with_its_own_id() -> None:
    decided = {"S1": {"decision": "relabelled", "label": "erin", "by": "ops", "at": 1764000100}}
    record = _identification(matches=MATCHES, reviews=json.dumps(decided))
    record["dynamodb"]["OldImage"] = {
        **record["dynamodb"]["NewImage"],
        "reviewQueue": {"S": "pending"},
        "reviews": {"S": "{}"},
    }
    (detail_type, detail), *more = events_for(record)
    assert (detail_type, more) == ("Identification Reviewed", [])
    assert (detail["review"], detail["reviews"]) == ("done", decided)
    changed = copy.deepcopy(record)
    changed["dynamodb"]["OldImage"]["reviews"] = {"S": json.dumps(decided)}
    changed["dynamodb"]["NewImage"]["reviews"] = {
        "S": json.dumps({"S1": {**decided["S1"], "label": "frank", "at": 1764000200}})
    }
    assert events_for(changed)[0][1]["eventId"] != detail["eventId"]  # a second decision is news of its own
    unchanged = copy.deepcopy(record)
    unchanged["dynamodb"]["OldImage"]["reviews"] = unchanged["dynamodb"]["NewImage"]["reviews"]
    assert events_for(unchanged) == []
    redacted = copy.deepcopy(unchanged)  # voiceprint erase replaced the label: no one decided anything
    redacted["dynamodb"]["NewImage"]["reviews"] = {"S": json.dumps({"S1": {**decided["S1"], "label": "[erased]"}})}
    assert events_for(redacted) == []
