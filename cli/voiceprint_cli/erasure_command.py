"""`voiceprint erase` and `voiceprint export`: the commands around voiceprint_cli.erasure and subject_export, with
the stack's table, buckets and bus."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from voiceprint_cli.terminal import safe, safe_json


def add_parsers(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    erase = commands.add_parser(
        "erase",
        parents=parents,
        help="erase a person: their voiceprints deleted, their label redacted from identifications, a receipt "
        "(needs --stack or --local)",
    )
    erase.add_argument("--with-source", action="store_true", help="also delete every version of their audio")
    erase.add_argument("--dry-run", action="store_true", help="list what would be erased, change nothing")
    export = commands.add_parser(
        "export",
        parents=parents,
        help="a subject-access export of a person as JSON: their samples, consent references, the identifications "
        "that name them, dates (needs --stack or --local)",
    )
    for command in (erase, export):
        command.add_argument("--label", required=True, help="the person's label, as enrolled")
        command.add_argument("--group", help='only in this group (its folder with its slash, e.g. "team-a/")')


def run_export(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint import opt_out_list
    from voiceprint_cli import erasure_aws, subject_export
    from voiceprint_cli.deployed import connect

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    ddb, table = stack.client("dynamodb"), stack.outputs["JobsTableName"]
    listed = [
        {"label": o.label, "group": o.group, "reason": o.reason, "addedAt": o.added_at}
        for o in opt_out_list.OptOutList(ddb, table).entries()
    ]
    now = time.time()
    document = subject_export.export(
        args.label, group=args.group, records=erasure_aws.TableRecords(ddb, table), opt_outs=listed, now=now
    )
    # What is derived from them too: their per-label health in each group they have samples in.
    health = erasure_aws.health(ddb, table)
    label = document["label"]
    groups = sorted({s["group"] for s in document["samples"]} | ({args.group} if args.group is not None else set()))
    document["health"] = [
        {"group": g, **found.public()} for g in groups if (found := health.labels(g).get(label)) is not None
    ]
    bus = erasure_aws.BusAnnouncer(stack.client("events"), stack.outputs["EventBusName"])
    bus.publish(
        "Subject Exported",
        {
            "label": label,
            "group": args.group,
            "samples": len(document["samples"]),
            "identifications": len(document["identifications"]),
            "at": int(now),
        },
    )
    out.write(safe_json(document) + "\n")
    return 0


def run(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint_cli import erasure, erasure_aws
    from voiceprint_cli.deployed import connect

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    s3 = stack.client("s3")
    receipt = erasure.erase(
        args.label,
        group=args.group,
        with_source=args.with_source,
        dry_run=args.dry_run,
        records=erasure_aws.TableRecords(stack.client("dynamodb"), stack.outputs["JobsTableName"]),
        sources=erasure_aws.BucketVersions(s3),
        results=erasure_aws.ResultObjects(s3),
        announcer=erasure_aws.BusAnnouncer(stack.client("events"), stack.outputs["EventBusName"]),
        now=time.time(),
        health=erasure_aws.health(stack.client("dynamodb"), stack.outputs["JobsTableName"]),
    )
    if args.json:
        out.write(safe_json(receipt.as_json()) + "\n")
        return 0
    done = "would be" if args.dry_run else "were"
    out.write(
        safe(
            f"{receipt.label}: {len(receipt.voiceprintsDeleted)} voiceprint records {done} deleted, "
            f"{len(receipt.identificationsRedacted)} identifications {done} redacted, "
            f"{sum(len(s['versions']) for s in receipt.sourceVersionsDeleted)} source versions {done} deleted; "
            f"pyannoteAI deletes its copies by {receipt.vendor['deletedBy'] or 'now (no job)'}"
        )
        + "\n"
    )
    for warning in receipt.warnings:
        out.write(safe(f"warning: {warning}") + "\n")
    return 0
