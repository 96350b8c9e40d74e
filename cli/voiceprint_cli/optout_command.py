"""`voiceprint optout add|remove|list`: the opt-out list (voiceprint/opt_out_list.py). Adding a label erases that
person's voiceprints (voiceprint_cli.erasure) and refuses their enrolments from then on, unpaid (`opted_out`).
Each change is announced on the bus (`Opt-out Added`, `Opt-out Removed`)."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from voiceprint_cli.terminal import safe, safe_json


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    optout = commands.add_parser(
        "optout", parents=parents, help="the opt-out list: add (and erase the person's voiceprints), remove, list"
    )
    optout.add_argument("action", choices=["add", "remove", "list"])
    optout.add_argument("--label", help="the person's label (add, remove)")
    optout.add_argument("--group", help='one group ("team-a/"); default: every group')
    optout.add_argument("--reason", default="", help="kept with the entry (add), e.g. a request's reference")
    optout.add_argument("--with-source", action="store_true", help="add: also delete every version of their audio")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from voiceprint import opt_out_list
    from voiceprint.submission_checks import normalise_label
    from voiceprint_cli import erasure, erasure_aws
    from voiceprint_cli.deployed import connect

    if args.action != "list" and not args.label:
        err.write(f"optout {args.action}: --label is required\n")
        return 3
    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    ddb, table = stack.client("dynamodb"), stack.outputs["JobsTableName"]
    listed = opt_out_list.OptOutList(ddb, table)
    bus = erasure_aws.BusAnnouncer(stack.client("events"), stack.outputs["EventBusName"])
    group = args.group or opt_out_list.EVERY_GROUP
    now = time.time()
    if args.action == "list":
        entries = [
            {"label": o.label, "group": o.group, "reason": o.reason, "addedAt": o.added_at} for o in listed.entries()
        ]
        if args.json:
            out.write(safe_json(entries) + "\n")
        for e in [] if args.json else entries:
            out.write(safe(f"{e['group']}  {e['label']}  {e['reason']}") + "\n")
        return 0
    label = normalise_label(args.label)
    detail = {"label": label, "group": group, "reason": args.reason, "at": int(now)}
    if args.action == "remove":
        if not listed.remove(label, group):
            err.write(safe(f"{label!r} is not on the opt-out list of {group}") + "\n")
            return 2
        bus.publish("Opt-out Removed", detail)
        out.write(
            (safe_json(detail) if args.json else safe(f"{label}: removed from the opt-out list ({group})")) + "\n"
        )
        return 0
    # Listed first, so an enrolment in flight is refused; then what was made before is erased.
    listed.add(opt_out_list.OptOut(label, group, args.reason, int(now)))
    bus.publish("Opt-out Added", detail)
    s3 = stack.client("s3")
    receipt = erasure.erase(
        label,
        group=args.group,
        with_source=args.with_source,
        dry_run=False,
        records=erasure_aws.TableRecords(ddb, table),
        sources=erasure_aws.BucketVersions(s3),
        results=erasure_aws.ResultObjects(s3),
        announcer=bus,
        now=now,
        health=erasure_aws.health(ddb, table),
    )
    if args.json:
        out.write(safe_json({"optOut": detail, "erasure": receipt.as_json()}) + "\n")
    else:
        out.write(
            safe(
                f"{label}: on the opt-out list ({group}); {len(receipt.voiceprintsDeleted)} voiceprint records "
                f"erased, {len(receipt.identificationsRedacted)} identifications redacted"
            )
            + "\n"
        )
    return 0
