"""`voiceprint backfill` and `voiceprint sweep`: the commands around voiceprint_cli.backfill, with the stack's
names and prefixes from CloudFormation (or the local stack)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, TextIO

from voiceprint_cli.terminal import safe

DRAIN_PER_MINUTE = 100  # pyannoteAI's voiceprint rate limit (API_NOTES.md): what the queue drains at most


def add_parsers(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    backfill = commands.add_parser(
        "backfill",
        parents=parents,
        help="enqueue the bucket's objects that have no record (objects from before the stack): paced, resumable",
    )
    backfill.add_argument(
        "--inventory", help="an S3 Inventory manifest (s3://.../manifest.json, CSV) to read instead of listing"
    )
    backfill.add_argument("--state", type=Path, help="the resume file (default: ~/.cache/voiceprint/...)")
    backfill.add_argument("--restart", action="store_true", help="forget where the last run stopped")
    sweep = commands.add_parser(
        "sweep",
        parents=parents,
        help="enqueue again the objects older than --older-than that still have no record (lost or expired messages)",
    )
    sweep.add_argument("--older-than", type=float, default=3600.0, help="seconds (default 3600)")
    for command in (backfill, sweep):
        command.add_argument("--prefix", action="append", default=[], help="repeatable; default: the stack's")
        command.add_argument("--dry-run", action="store_true", help="count what would be enqueued, send nothing")
        command.add_argument("--limit", type=int, help="enqueue at most this many in this run (e.g. a day's quota)")
        command.add_argument(
            "--drain-per-minute",
            type=float,
            default=DRAIN_PER_MINUTE,
            help="the rate the stack submits at; the backlog is kept to an hour of it (at most half of what it "
            f"drains in the queue's retention) (default {DRAIN_PER_MINUTE})",
        )
        command.add_argument("--max-backlog", type=int, help="the most messages to leave on the queue (overrides)")
        command.add_argument("--poll-seconds", type=float, default=30.0, help="while the backlog is full")


def prefixes(stack_prefixes: list[str], asked: list[str]) -> list[str]:
    """The prefixes to list: the stack's, or those asked for, each under one of the stack's (anything else would
    be filtered out by the submit function)."""
    if not asked:
        return stack_prefixes
    outside = [p for p in asked if not any(p.startswith(s) for s in stack_prefixes)]
    if outside:
        raise ValueError(f"not under the stack's prefixes {stack_prefixes}: {', '.join(map(repr, outside))}")
    return asked


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from voiceprint_cli import backfill as service
    from voiceprint_cli import backfill_aws as aws
    from voiceprint_cli.deployed import connect
    from voiceprint_cli.progress import Progress

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    bucket, table, queue_url = (stack.outputs[k] for k in ("InputBucketName", "JobsTableName", "InputQueueUrl"))
    stack_prefixes = [p for p in (stack.parameters.get(k) for k in ("VoiceprintPrefix", "IdentifyPrefix")) if p]
    try:
        chosen = prefixes(stack_prefixes, args.prefix)
    except ValueError as exc:
        err.write(safe(f"{args.command}: {exc}") + "\n")
        return 3
    queue = aws.InputQueue(stack.client("sqs"), queue_url, stack.session.region_name)
    sweeping = args.command == "sweep"
    listing: Any = aws.VersionsListing(stack.client("s3"), bucket, every_version=sweeping)
    inventory = getattr(args, "inventory", None)
    if inventory:
        listing = aws.InventoryListing(stack.client("s3"), inventory)
        if listing.bucket != bucket:
            err.write(
                safe(f"backfill: the inventory is of bucket {listing.bucket!r}, not the stack's {bucket!r}") + "\n"
            )
            return 3
    state_path = None if sweeping else (args.state or _default_state(stack.name, bucket))
    if state_path is not None and args.restart and state_path.exists():
        state_path.unlink()
    state = aws.FileState(state_path, {"bucket": bucket, "prefixes": chosen, "inventory": inventory})
    options = service.Options(
        bucket=bucket,
        prefixes=chosen,
        suffix=stack.parameters.get("KeySuffix", ""),
        older_than_seconds=args.older_than if sweeping else 0.0,
        sweep=sweeping,
        retention_seconds=queue.retention_seconds() if sweeping else 0.0,
        max_backlog=args.max_backlog or service.max_backlog(queue.retention_seconds(), args.drain_per_minute),
        limit=args.limit,
        dry_run=args.dry_run,
        poll_seconds=args.poll_seconds,
    )
    if state.resumed and not args.dry_run:
        err.write(f"resuming from {state_path} (--restart to list from the start)\n")
    progress = Progress(err, args.command)
    started = time.monotonic()

    def show(report: service.Report, backlog: int) -> None:
        progress.update(
            f"{report.line()}; queue backlog {backlog} of {options.max_backlog}", time.monotonic() - started
        )

    records = aws.TableRecords(stack.client("dynamodb"), table)
    report = service.Backfill(listing, records, queue, state, progress=show).run(options)
    progress.done()
    if args.json:
        where = str(state_path) if state_path else None
        out.write(json.dumps({**vars(report), "dryRun": args.dry_run, "state": where}) + "\n")
    else:
        line = report.line() + (" (dry run: nothing sent)" if args.dry_run else "")
        out.write(safe(f"{args.command} of s3://{bucket}/ under {', '.join(chosen)}: {line}") + "\n")
        if report.stopped:
            out.write(f"stopped: {report.stopped}; run the same command again to go on\n")
    return 0 if report.complete else 2


def _default_state(stack: str, bucket: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "voiceprint" / f"backfill-{stack}-{bucket}.json"
