from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import load_event
from voiceprint.change_events import entry, event_for
from voiceprint.event_publisher import EventPublisher


def test_a_record_becoming_terminal_is_announced_with_the_documented_detail() -> None:
    modify = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][0]
    detail_type, detail = event_for(modify)  # type: ignore[misc]
    assert detail_type == "Voiceprint Ready"
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
    _, detail = event_for(modify)  # type: ignore[misc]
    assert detail["consentRef"] == "consent-2026-0042"
    assert "voiceprint" not in detail


def test_expiry_and_deletion_are_told_apart() -> None:
    remove = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][1]
    detail_type, detail = event_for(remove)  # type: ignore[misc]
    assert (detail_type, detail["deletedBecause"]) == ("Voiceprint Deleted", "expired")
    by_user = {k: v for k, v in remove.items() if k != "userIdentity"}
    assert event_for(by_user)[1]["deletedBecause"] == "source_deleted"  # type: ignore[index]
    erased = copy.deepcopy(by_user)
    erased["dynamodb"]["OldImage"]["erasedAt"] = {"N": "1800000000"}  # marked by `voiceprint erase` first
    assert event_for(erased)[1]["deletedBecause"] == "erased"  # type: ignore[index]


def test_only_the_transition_to_terminal_is_news() -> None:
    modify = load_event("dynamodb_stream_terminal_and_expired.json")["Records"][0]
    again = copy.deepcopy(modify)
    again["dynamodb"]["OldImage"] = again["dynamodb"]["NewImage"]  # terminal -> terminal (cannot happen, is not news)
    assert event_for(again) is None
    pending = copy.deepcopy(modify)
    pending["dynamodb"]["NewImage"]["status"] = {"S": "submitted"}
    assert event_for(pending) is None
    failed_at_once = copy.deepcopy(modify)
    failed_at_once["eventName"] = "INSERT"
    del failed_at_once["dynamodb"]["OldImage"]
    failed_at_once["dynamodb"]["NewImage"].update(
        status={"S": "failed"}, failureCode={"S": "too_long"}, reason={"S": "35.0 s"}
    )
    detail_type, detail = event_for(failed_at_once)  # type: ignore[misc]
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
