"""`voiceprint reenrol [--group G] [--dry-run]`: voiceprint_cli.reenrolment with the stack's table, bucket and
queue (their adapters: reenrol_aws). The current model is the stack's `PyannoteModel` parameter; a run that copies
announces `Voiceprints Reenrolled` (each copy's own `Voiceprint Ready` follows from the pipeline)."""

from __future__ import annotations

import argparse
import time
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


def run(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint import model_lineage
    from voiceprint_cli import backfill, erasure_aws, reenrolment
    from voiceprint_cli.backfill_aws import InputQueue
    from voiceprint_cli.deployed import connect
    from voiceprint_cli.reenrol_aws import S3Sources, voiceprints

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    model = stack.parameters.get("PyannoteModel") or model_lineage.DEFAULT
    queue = InputQueue(stack.client("sqs"), stack.outputs["InputQueueUrl"], stack.session.region_name)
    per_minute = float(stack.parameters.get("SubmitsPerMinute") or 100)
    report = reenrolment.reenrol(
        voiceprints(stack.client("dynamodb"), stack.outputs["JobsTableName"], args.group),
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
