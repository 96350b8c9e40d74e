"""Writing review decisions on identification records (voiceprint review). A record's outcome never changes once
terminal; its `reviews` (speaker -> decision, JSON text) are the one thing added to it afterwards, and the record
leaves the review queue (REMOVE reviewQueue: out of the sparse byReview index) when every speaker waiting has one.

Each write is conditional on the decisions the writer read: two people deciding at once cannot overwrite each
other (the second is told to read the record again). The table's stream announces each write ("Identification
Reviewed", change_events).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from voiceprint.aws_errors import ConditionFailed, conditional_failures
from voiceprint.ddb_update import Update, from_ddb
from voiceprint.job_state import Kind, Status
from voiceprint.record import Record
from voiceprint.review import SpeakerDecision

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ReviewConflict(Exception):
    """The record changed since it was read (another decision, or it expired or was erased): read it again."""


class ReviewStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def decide(self, record: Record, decisions: Mapping[str, SpeakerDecision], *, now: float) -> Record:
        """Add these decisions to the ones `record` holds (a speaker decided again: the newer decision stands) and
        take the record out of the queue once every speaker waiting has one. Returns the record as written."""
        merged = {**record.reviews_map(), **{speaker: d.to_item() for speaker, d in decisions.items()}}
        waiting = {str(m["speaker"]) for m in record.matches_list() if m.get("review")}
        update = Update(record.keys).set_all(
            {"reviews": json.dumps(merged, sort_keys=True, ensure_ascii=False), "updatedAt": int(now)}
        )
        if waiting <= merged.keys():
            update.remove("reviewQueue")
        read = "reviews = :read" if record.reviews else "attribute_not_exists(reviews)"
        values = {":kind": Kind.IDENTIFY.value, ":ok": Status.SUCCEEDED.value}
        if record.reviews:
            values[":read"] = record.reviews
        update.when(f"kind = :kind AND #st = :ok AND {read}", values, {"#st": "status"}).returning_new()
        try:
            with conditional_failures(from_ddb):
                resp = self._ddb.update_item(**update.request(self._table))
        except ConditionFailed as exc:
            raise ReviewConflict("the record changed since it was read; read it again and decide") from exc
        return Record.from_item(from_ddb(resp["Attributes"]))
