"""`voiceprint reenrol [--group G] [--dry-run]`: voiceprint_cli.reenrolment with the stack's table, bucket and
queue. The current model is the stack's `PyannoteModel` parameter; a run that copies announces `Voiceprints
Reenrolled` (each copy's own `Voiceprint Ready` follows from the pipeline)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any, TextIO

from voiceprint_cli.terminal import safe, safe_json

# The `Voiceprints Reenrolled` event names this many copies (the rest are counted): PutEvents takes 256 KB.
ANNOUNCED_COPIES = 100


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    reenrol = commands.add_parser(
        "reenrol",
        parents=parents,
        help="enrol again, from their source audio, the speakers whose voiceprints another model made (needs "
        "--stack or --local)",
    )
    reenrol.add_argument("--group", help='only this group (its folder with its slash, e.g. "team-a/")')
    reenrol.add_argument("--dry-run", action="store_true", help="count what would be enrolled again, copy nothing")
    reenrol.add_argument(
        "--max-backlog", type=int, help="the input queue's backlog kept under this (default: backfill's)"
    )


class S3Sources:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def newest_version(self, bucket: str, key: str) -> str | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None  # gone, or its newest version is a delete marker
            raise
        return str(head.get("VersionId") or "null")

    def copy_forward(self, bucket: str, key: str, version_id: str | None) -> str | None:
        source = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        head = self._s3.head_object(**source)
        # REPLACE with the same metadata and one more entry: S3 copies an object onto itself only with a change.
        copied = self._s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE",
            Metadata={**head.get("Metadata", {}), "reenrol-of": version_id or "null"},
            ContentType=head.get("ContentType", "binary/octet-stream"),
        )
        version = copied.get("VersionId")
        return str(version) if version else None


def _voiceprints(ddb: Any, table: str, group: str | None) -> Iterator[Any]:
    """A group's voiceprints (with their models), or every group's: the groups from a scan of byGroup."""
    from voiceprint.record_queries import RecordQueries

    queries = RecordQueries(ddb, table)
    if group is not None:
        yield from queries.voiceprints_in_group(group)
        return
    groups: set[str] = set()
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": "byGroup",
        "ProjectionExpression": "#g",
        "ExpressionAttributeNames": {"#g": "group"},
    }
    while True:
        page = ddb.scan(**params)
        groups |= {i.get("group", {}).get("S", "") for i in page.get("Items", [])}
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for name in sorted(groups):
        yield from queries.voiceprints_in_group(name)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint import model_lineage
    from voiceprint_cli import backfill, erasure_aws, reenrolment
    from voiceprint_cli.backfill_aws import InputQueue
    from voiceprint_cli.deployed import connect

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    model = stack.parameters.get("PyannoteModel") or model_lineage.DEFAULT
    queue = InputQueue(stack.client("sqs"), stack.outputs["InputQueueUrl"], stack.session.region_name)
    per_minute = float(stack.parameters.get("SubmitsPerMinute") or 100)
    report = reenrolment.reenrol(
        _voiceprints(stack.client("dynamodb"), stack.outputs["JobsTableName"], args.group),
        S3Sources(stack.client("s3")),
        queue,
        model=model,
        max_backlog=args.max_backlog or backfill.max_backlog(queue.retention_seconds(), per_minute),
        dry_run=args.dry_run,
        sleep=time.sleep,
    )
    if report.copied and not args.dry_run:
        copies = report.copies or []
        detail = {
            "model": model,
            "group": args.group,
            "copied": report.copied,
            "copies": copies[:ANNOUNCED_COPIES],
            "copiesOmitted": max(0, len(copies) - ANNOUNCED_COPIES),
            "at": int(time.time()),
        }
        bus = erasure_aws.BusAnnouncer(stack.client("events"), stack.outputs["EventBusName"])
        bus.publish("Voiceprints Reenrolled", detail)
    out.write((safe_json(vars(report)) if args.json else safe(report.line())) + "\n")
    return 0
