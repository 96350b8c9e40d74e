"""S3's notifications in both shapes the input queue receives: S3's own (the stack's bucket, keys URL-encoded) and
S3's events on EventBridge (a bucket the stack does not own, ExistingBucketName; keys as they are)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event
from voiceprint.s3_notifications import MalformedMessage, Notification, parse

EVENTBRIDGE = json.loads(load_event("s3_eventbridge_object_created_via_sqs.json")["Records"][0]["body"])


def _eventbridge(**changes: Any) -> str:
    event = copy.deepcopy(EVENTBRIDGE)
    detail = changes.pop("detail", {})
    event.update(changes)
    event["detail"].update(detail)
    return json.dumps(event)


def test_s3s_own_notification_has_its_key_decoded() -> None:
    [note] = parse(load_event("s3_put_via_sqs.json")["Records"][0]["body"]) or []
    assert note == Notification(
        "ObjectCreated:Put",
        "voiceprint-input-example",
        "voiceprints/Jane Doe (take 2) été.wav",
        96044,
        "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
    )


def test_an_eventbridge_object_created_event_is_a_creation_with_its_key_as_it_is() -> None:
    [note] = parse(json.dumps(EVENTBRIDGE)) or []
    assert note == Notification(
        "ObjectCreated:PutObject",
        "my-existing-audio",
        "voiceprints/team-a/Jane Doe (take 2).wav",
        96044,
        "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
    )
    assert note.created
    plus = parse(_eventbridge(detail={"object": {**EVENTBRIDGE["detail"]["object"], "key": "a+b%41.wav"}})) or []
    assert plus[0].key == "a+b%41.wav"  # not decoded: EventBridge does not encode keys


@pytest.mark.parametrize(
    ("deletion", "event_name"),
    [
        ("Permanently Deleted", "ObjectRemoved:Delete"),
        ("Delete Marker Created", "ObjectRemoved:DeleteMarkerCreated"),
        (None, "ObjectRemoved:Unknown"),  # removal then confirms with S3 that the whole key is gone
    ],
)
def test_an_eventbridge_object_deleted_event_is_a_removal_of_its_kind(deletion: str | None, event_name: str) -> None:
    detail = {"reason": "DeleteObject", **({"deletion-type": deletion} if deletion else {})}
    [note] = parse(_eventbridge(**{"detail-type": "Object Deleted"}, detail=detail)) or []
    assert (note.event_name, note.removed, note.created) == (event_name, True, False)


def test_other_s3_events_on_eventbridge_are_neither_creations_nor_removals() -> None:
    [note] = parse(_eventbridge(**{"detail-type": "Object Tags Added"})) or []
    assert (note.created, note.removed) == (False, False)


def test_an_unversioned_objects_null_version_is_no_version() -> None:
    obj = {**EVENTBRIDGE["detail"]["object"], "version-id": "null"}
    [note] = parse(_eventbridge(detail={"object": obj})) or []
    assert note.version_id is None


@pytest.mark.parametrize(
    "detail",
    [
        {"object": "not an object"},
        {"bucket": {"name": ""}},
        {"object": {"key": "k.wav", "size": "big"}},
    ],
)
def test_a_malformed_eventbridge_event_is_refused(detail: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage):
        parse(_eventbridge(detail=detail))
    with pytest.raises(MalformedMessage):
        parse(json.dumps({"source": "aws.s3", "detail-type": "Object Created"}))


@pytest.mark.parametrize(
    ("event_name", "version_id", "version_deleted"),
    [
        ("ObjectRemoved:Delete", "v1", True),
        ("LifecycleExpiration:Delete", "v1", True),  # an old version expired by the bucket's lifecycle rule
        ("ObjectRemoved:DeleteMarkerCreated", "v2", False),
        ("LifecycleExpiration:DeleteMarkerCreated", "v2", False),  # the current version expired: a delete marker
        ("ObjectRemoved:Delete", None, False),  # an unversioned bucket: the key is gone
    ],
)
def test_a_lifecycle_expiry_is_a_removal_like_a_users_delete(
    event_name: str, version_id: str | None, version_deleted: bool
) -> None:
    note = Notification(event_name, "bucket", "voiceprints/a.wav", 0, version_id)
    assert (note.removed, note.created, note.version_deleted) == (True, False, version_deleted)
