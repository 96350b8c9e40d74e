"""Reading object records: by their keys, by jobId, every version of an object, a group's or a label's
voiceprints, the records waiting for a result, the records changed in a time range. Every answer is typed
(record.Record); writes are job_store's.

Indexes (template.yaml, above JobsTable): "byJobId" (jobId); sparse "byPending" (pendingShard, pendingSince),
the records still waiting for a result, for the reconciler; sparse "byGroup" (voiceprintGroup, label), each
group's voiceprints, for identification and listing; "byLabel" (label, voiceprintGroup), one speaker's
voiceprints across groups; sparse "byReview" (reviewQueue, completedAt), the identifications waiting for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voiceprint.ddb_update import from_ddb, to_ddb
from voiceprint.frozen import replace
from voiceprint.object_ref import RECORD_PK_PREFIX, partition_key
from voiceprint.record import Record
from voiceprint.review import QUEUED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING_SHARD = "PENDING"
GSI_BY_JOB = "byJobId"
GSI_BY_PENDING = "byPending"
GSI_BY_GROUP = "byGroup"
GSI_BY_LABEL = "byLabel"
GSI_BY_REVIEW = "byReview"
# An object's records are at most 400 KB each; 100 pages of 1 MB is far beyond any object's history.
MAX_VERSION_PAGES = 100
# BatchGetItem reads at most 100 items a call; what it leaves unprocessed (throttled) is asked again, this often.
BATCH_GET_KEYS = 100
BATCH_GET_ROUNDS = 5

Page = tuple[list[Record], dict[str, Any] | None]  # the records, and where the next page starts (None: no more)


def group_key(group: str) -> str:
    """The byGroup partition of a group: index keys cannot be empty strings, and the top-level group is ""."""
    return f"g#{group}"


class RecordQueries:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def _query(self, start: Mapping[str, Any] | None = None, **kwargs: Any) -> Page:
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._ddb.query(TableName=self._table, **kwargs)
        return [Record.from_item(from_ddb(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def get(self, keys: Mapping[str, str]) -> Record | None:
        resp = self._ddb.get_item(TableName=self._table, Key=to_ddb(keys), ConsistentRead=True)
        return Record.from_item(from_ddb(resp["Item"])) if "Item" in resp else None

    def find_by_job(self, job_id: str) -> Record | None:
        """The record of a vendor job, as the byJobId index projects it (its keys at least)."""
        items, _ = self._query(
            IndexName=GSI_BY_JOB,
            KeyConditionExpression="jobId = :j",
            ExpressionAttributeValues=to_ddb({":j": job_id}),
            Limit=1,
        )
        return items[0] if items else None

    def list_object_versions(self, bucket: str, key: str) -> list[Record]:
        """Every version's record of an object, all pages (a query answers at most 1 MB)."""
        records: list[Record] = []
        start: dict[str, Any] | None = None
        for _ in range(MAX_VERSION_PAGES):
            page, start = self._query(
                start,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_ddb({":pk": partition_key(bucket, key)}),
            )
            records += page
            if not start:
                return records
        raise RuntimeError(f"more than {MAX_VERSION_PAGES} MB of records for one object")

    def voiceprints_in_group(self, group: str) -> list[Record]:
        """Every stored voiceprint of a group (label, voiceprint, completedAt, object, model), all pages, by label."""
        records, start = self.voiceprints_page(group, label=None, limit=None, start=None)
        while start:
            page, start = self.voiceprints_page(group, label=None, limit=None, start=start)
            records += page
        return self._with_models(records)

    def _with_models(self, records: list[Record]) -> list[Record]:
        """The records with the model that made them, read from their items: byGroup does not project `model`,
        and projecting it would rebuild the index of every deployed table. One BatchGetItem per 100 voiceprints."""
        models: dict[tuple[str, str], str | None] = {}
        for at in range(0, len(records), BATCH_GET_KEYS):
            request: Mapping[str, Any] = {
                self._table: {
                    "Keys": [to_ddb(r.keys) for r in records[at : at + BATCH_GET_KEYS]],
                    "ProjectionExpression": "pk, sk, #m",
                    "ExpressionAttributeNames": {"#m": "model"},
                }
            }
            for _ in range(BATCH_GET_ROUNDS):
                resp = self._ddb.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    found = from_ddb(item)
                    models[(str(found["pk"]), str(found["sk"]))] = found.get("model")
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError(f"BatchGetItem left keys unread after {BATCH_GET_ROUNDS} rounds")
        return [replace(r, model=models.get((r.pk, r.sk))) for r in records]

    def voiceprints_page(
        self, group: str | None, *, label: str | None, limit: int | None, start: Mapping[str, Any] | None
    ) -> Page:
        """One page of voiceprints (at most `limit`, else what DynamoDB returns in one answer): a group's by label
        (of one label, if given), or with `group` None, one label's across every group."""
        if group is None:
            if label is None:
                raise ValueError("a group, a label, or both")
            index, condition, values = GSI_BY_LABEL, "label = :l", {":l": label}
        else:
            index, condition, values = GSI_BY_GROUP, "voiceprintGroup = :g", {":g": group_key(group)}
            if label is not None:
                condition, values = condition + " AND label = :l", {**values, ":l": label}
        limits = {"Limit": limit} if limit is not None else {}
        return self._query(
            start,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_ddb(values),
            **limits,
        )

    def changed_page(self, since: float, until: float, start: Mapping[str, Any] | None) -> Page:
        """One page of a scan for the records last changed in [since, until] (an operator's replay: no index).
        The budget's counters share the table and are left out."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "updatedAt BETWEEN :a AND :b AND begins_with(pk, :obj)",
            "ExpressionAttributeValues": to_ddb({":a": int(since), ":b": int(until), ":obj": RECORD_PK_PREFIX}),
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._ddb.scan(**kwargs)
        return [Record.from_item(from_ddb(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def review_page(self, limit: int | None, start: Mapping[str, Any] | None) -> Page:
        """One page of the identifications waiting for review, oldest first (byReview projects what a list shows)."""
        return self._query(
            start,
            IndexName=GSI_BY_REVIEW,
            KeyConditionExpression="reviewQueue = :q",
            ExpressionAttributeValues=to_ddb({":q": QUEUED}),
            **({"Limit": limit} if limit is not None else {}),
        )

    def pending_before(self, cutoff: float, limit: int) -> list[Record]:
        """Records waiting for a job result since before `cutoff`, oldest first (one page)."""
        return self.pending_page(cutoff, limit, None)[0]

    def pending_page(self, cutoff: float, limit: int, start: Mapping[str, Any] | None) -> Page:
        """One page of the records waiting since before `cutoff`, oldest first, and where the next page starts."""
        return self._query(
            start,
            IndexName=GSI_BY_PENDING,
            KeyConditionExpression="pendingShard = :p AND pendingSince < :c",
            ExpressionAttributeValues=to_ddb({":p": PENDING_SHARD, ":c": int(cutoff)}),
            Limit=limit,
        )
