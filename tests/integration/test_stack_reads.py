"""What the reliability runs read of the local stack's table (local/voiceprint_local/stack_reads.py), on moto."""

from __future__ import annotations

from tests.conftest import Aws
from voiceprint_local import stack_reads


def test_a_counting_scan_counts_object_records_by_status(aws: Aws) -> None:
    statuses = ["succeeded"] * 5 + ["failed"] * 2 + ["pending"] * 3
    for n, status in enumerate(statuses):
        item = {"pk": {"S": f"OBJ#b#k{n}#v"}, "sk": {"S": "RECORD"}, "status": {"S": status}, "objectKey": {"S": "k"}}
        aws.ddb.put_item(TableName=aws.table, Item=item)
    # Not a record: the rate budget's counters share the table.
    aws.ddb.put_item(TableName=aws.table, Item={"pk": {"S": "RATE#w"}, "sk": {"S": "x"}, "status": {"S": "failed"}})
    assert stack_reads.count_records(aws.ddb, aws.table, ("succeeded", "failed")) == 7
    assert stack_reads.count_records(aws.ddb, aws.table, ("pending",)) == 3
    listed = stack_reads.records(aws.ddb, aws.table, ("status",))
    assert sorted(r["status"] for r in listed) == sorted(statuses)
