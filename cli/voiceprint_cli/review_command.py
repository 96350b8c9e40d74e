"""`voiceprint review list|show|confirm|reject|relabel`: the identifications whose best score for a speaker fell
in the stack's ReviewBand, and a person's decision on each such speaker (review_queue; voiceprint/review.py)."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from voiceprint_cli.terminal import safe, safe_json

SOURCE_LINK_SECONDS = 900  # short-lived: the link is a bearer credential to a recording of people


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    review = commands.add_parser(
        "review",
        parents=parents,
        help="the review queue: identifications with a speaker in the ReviewBand; confirm, reject or relabel",
    )
    review.add_argument("action", choices=["list", "show", "confirm", "reject", "relabel"])
    review.add_argument("job", nargs="?", help="the identification's jobId (show, confirm, reject, relabel)")
    review.add_argument("--speaker", help="the diarization speaker, e.g. SPEAKER_01 (confirm, reject, relabel)")
    review.add_argument("--label", help="relabel: who the speaker is")
    review.add_argument("--limit", type=int, default=None, help="list: at most this many")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from voiceprint.object_source import ObjectSource
    from voiceprint.record_queries import RecordQueries
    from voiceprint.review import Decision
    from voiceprint.review_store import ReviewConflict, ReviewStore
    from voiceprint_cli import review_queue
    from voiceprint_cli.deployed import connect

    if args.action != "list" and not args.job:
        err.write(f"review {args.action}: the jobId is required\n")
        return 3
    if args.action in ("confirm", "reject", "relabel") and not args.speaker:
        err.write(f"review {args.action}: --speaker is required\n")
        return 3
    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    ddb, table = stack.client("dynamodb"), stack.outputs["JobsTableName"]
    queries = RecordQueries(ddb, table)
    try:
        if args.action == "list":
            rows = [_row(r) for r in review_queue.waiting(queries, args.limit)]
            if args.json:
                out.write(safe_json(rows) + "\n")
            for row in [] if args.json else rows:
                who = ", ".join(f"{s['speaker']}: {s['best']} {s['score']}" for s in row["speakers"])
                out.write(safe(f"{row['jobId']}  {row['key']}  ({row['group'] or 'top level'})  {who}") + "\n")
            return 0
        record = review_queue.record_of(queries, args.job)
        if args.action == "show":
            result = review_queue.inline_result(record)
            source = ObjectSource(stack.client("s3"))
            link = source.presign_get(
                str(record.bucket), str(record.object_key), record.version_id, SOURCE_LINK_SECONDS
            )
            shown = {
                **_row(record),
                "source": {"url": link, "expiresInSeconds": SOURCE_LINK_SECONDS},
                "segments": {
                    s["speaker"]: review_queue.segments(result, s["speaker"]) if result else None
                    for s in _row(record)["speakers"]
                },
            }
            if args.json:
                out.write(safe_json(shown) + "\n")
            else:
                _print_show(shown, out)
            return 0
        identity = stack.client("sts").get_caller_identity()["Arn"]
        decided = review_queue.decide(
            ReviewStore(ddb, table),
            record,
            args.speaker,
            {"confirm": Decision.CONFIRMED, "reject": Decision.REJECTED, "relabel": Decision.RELABELLED}[args.action],
            label=args.label,
            by=str(identity),
            now=time.time(),
        )
    except review_queue.ReviewError as exc:
        err.write(safe(str(exc)) + "\n")
        return 2
    except ReviewConflict as exc:
        err.write(safe(str(exc)) + "\n")
        return 4
    row = _row(decided)
    if args.json:
        out.write(safe_json(row) + "\n")
    else:
        left = [s["speaker"] for s in row["speakers"] if s["decision"] is None]
        out.write(safe(f"{args.job} {args.speaker}: {args.action} recorded; waiting: {', '.join(left) or 'none'}\n"))
    return 0


def _row(record: Any) -> dict[str, Any]:
    from voiceprint_cli import review_queue

    return {
        "jobId": record.job_id,
        "key": record.object_key,
        "group": record.group or "",
        "completedAt": record.completed_at,
        "review": record.review_queue or "done",
        "speakers": [
            {"speaker": w.speaker, "best": w.best, "score": w.score, "match": w.match, "decision": w.decision}
            for w in review_queue.speakers(record)
        ],
    }


def _print_show(shown: dict[str, Any], out: TextIO) -> None:
    out.write(safe(f"{shown['jobId']}  {shown['key']}  ({shown['group'] or 'top level'})  {shown['review']}") + "\n")
    for s in shown["speakers"]:
        decision = s["decision"]["decision"] if s["decision"] else "waiting"
        out.write(safe(f"  {s['speaker']}: best {s['best']} at {s['score']}, match {s['match']}: {decision}") + "\n")
        for start, end in shown["segments"].get(s["speaker"]) or []:
            out.write(f"    {start:9.2f} s - {end:9.2f} s\n")
    out.write(safe(f"  source ({shown['source']['expiresInSeconds']} s): {shown['source']['url']}") + "\n")
