"""`voiceprint review list|show|confirm|reject|relabel`: the identifications whose best score for a speaker fell
in the stack's ReviewBand, and a person's decision on each such speaker (review_queue; voiceprint/review.py)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
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
    review.add_argument(
        "--clips", type=Path, help="show: write each segment of a WAV recording as a playable WAV file here"
    )
    review.add_argument(
        "--enrol",
        action="store_true",
        help="confirm: enrol a new voiceprint for the label from the speaker's segments (WAV; the newest "
        "voiceprint of a label is the one identification uses)",
    )
    review.add_argument("--consent", help="confirm --enrol: the speaker's consent reference (x-amz-meta-consent)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from voiceprint.object_source import ObjectSource
    from voiceprint.record_queries import RecordQueries
    from voiceprint.review import Decision
    from voiceprint.review_store import ReviewConflict, ReviewStore
    from voiceprint_cli import review_queue
    from voiceprint_cli.deployed import connect
    from voiceprint_cli.review_aws import ReviewSources, SourceGone

    refused = _refused(args)
    if refused:
        err.write(refused + "\n")
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
        s3 = stack.client("s3")
        sources = ReviewSources(s3, stack.outputs.get("ResultsBucketName", ""))
        if args.action == "show":
            shown = _show(record, sources, ObjectSource(s3), args.clips)
            if args.json:
                out.write(safe_json(shown) + "\n")
            else:
                _print_show(shown, out)
            return 0
        # Cut before deciding: a recording that cannot be cut fails the command before anything is recorded.
        sample = None
        if args.enrol:
            sample = review_queue.enrolment_sample(sources, record, args.speaker, _result(record, sources) or {})
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
        enrolled = _enrol(stack, sample, decided, args.speaker, args.consent) if sample else None
    except (review_queue.ReviewError, SourceGone) as exc:
        err.write(safe(str(exc)) + "\n")
        return 2
    except ReviewConflict as exc:
        err.write(safe(str(exc)) + "\n")
        return 4
    _print_decided(args, _row(decided), enrolled, out)
    return 0


def _refused(args: argparse.Namespace) -> str | None:
    if args.action != "list" and not args.job:
        return f"review {args.action}: the jobId is required"
    if args.action in ("confirm", "reject", "relabel") and not args.speaker:
        return f"review {args.action}: --speaker is required"
    if args.enrol and args.action != "confirm":
        return "review: --enrol goes with confirm"
    return None


def _print_decided(
    args: argparse.Namespace, row: dict[str, Any], enrolled: tuple[str, str | None] | None, out: TextIO
) -> None:
    if enrolled:
        row["enrolled"] = {"key": enrolled[0], "versionId": enrolled[1]}
    if args.json:
        out.write(safe_json(row) + "\n")
    else:
        left = [s["speaker"] for s in row["speakers"] if s["decision"] is None]
        out.write(
            safe(f"{args.job} {args.speaker}: {args.action} recorded; waiting: {', '.join(left) or 'none'}") + "\n"
        )
        if enrolled:
            out.write(safe(f"enrolling from the speaker's segments: {enrolled[0]}") + "\n")


def _result(record: Any, sources: Any) -> dict[str, Any] | None:
    """The identification's output: on the record, or in the results bucket where the record points."""
    from voiceprint_cli import review_queue

    inline = review_queue.inline_result(record)
    return inline if inline is not None or not record.result_location else sources.output(record.result_location)


def _show(record: Any, sources: Any, source: Any, clips: Path | None) -> dict[str, Any]:
    from voiceprint_cli import review_queue

    result = _result(record, sources)
    link = source.presign_get(str(record.bucket), str(record.object_key), record.version_id, SOURCE_LINK_SECONDS)
    wav = review_queue.wav_layout(sources, record)
    row = _row(record)
    shown: dict[str, Any] = {
        **row,
        "source": {"url": link, "expiresInSeconds": SOURCE_LINK_SECONDS, "cutByByteRange": wav is not None},
        "segments": {},
    }
    for speaker in row["speakers"]:
        spans = review_queue.segments(result, speaker["speaker"]) if result else []
        entries = review_queue.segment_links(spans, link, wav)
        if clips is not None and wav is not None:
            clips.mkdir(parents=True, exist_ok=True)
            for n, (entry, clip) in enumerate(
                zip(entries, review_queue.clips(sources, record, wav, spans), strict=True)
            ):
                path = clips / f"{record.job_id}-{speaker['speaker']}-{n + 1}.wav"
                path.write_bytes(clip)
                entry["clip"] = str(path)
        shown["segments"][speaker["speaker"]] = entries
    return shown


def _enrol(stack: Any, sample: bytes, record: Any, speaker: str, consent: str | None) -> tuple[str, str | None]:
    """Upload the confirmed speaker's sample as a new voiceprint of the label, in the recording's group: the
    pipeline enrols it like any other (consent and opt-out checks included) and the newest voiceprint wins."""
    import tempfile

    from voiceprint_cli import uploads

    label = str(record.reviews_map()[speaker]["label"])
    with tempfile.TemporaryDirectory(prefix="voiceprint-enrol-") as tmp:
        file = Path(tmp, f"review-{record.job_id}-{speaker}.wav")
        file.write_bytes(sample)
        return uploads.upload(stack, "VoiceprintPrefix", file, group=record.group, label=label, consent=consent)


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
        for segment in shown["segments"].get(s["speaker"]) or []:
            where = f"    {segment['start']:9.2f} s - {segment['end']:9.2f} s"
            out.write(safe(where + (f"  {segment['clip']}" if "clip" in segment else "")) + "\n")
    out.write(safe(f"  source ({shown['source']['expiresInSeconds']} s): {shown['source']['url']}") + "\n")
