"""voiceprint status|wait|list|health: the results of the pipeline, from the results API (deployed or local).
voiceprint enrol|identify: upload a voiceprint sample (with its label) or a recording to identify; --wait prints
the result. voiceprint doctor: check a deployed stack, an exit code per problem.
voiceprint replay-events: publish the events of the records changed in a time range again (an operator's tool).
voiceprint backfill|sweep: enqueue the bucket's objects that have no record: those from before the stack, or
whose message was lost or expired (operator's tools: paced by the queue's backlog, resumable).
voiceprint reenrol: enrol again, from their source audio, the speakers whose voiceprints another model made.

    voiceprint --stack my-voiceprints status voiceprints/alice.wav
    voiceprint --api https://abc123.execute-api.eu-west-1.amazonaws.com wait identify/team/standup.wav
    voiceprint --local list --group team/
    voiceprint --local health --group team/
    voiceprint --local --voiceprint --json status voiceprints/alice.wav   (the voiceprint itself, only when asked)
    voiceprint --stack my-voiceprints enrol alice.wav --label "Alice Martin" --group team-a --wait
    voiceprint --stack my-voiceprints identify standup.wav --group team-a --wait
    voiceprint --stack my-voiceprints doctor
    voiceprint --stack my-voiceprints replay-events --since 2026-11-01T00:00:00Z --until 2026-11-02T00:00:00Z
    voiceprint --stack my-voiceprints backfill --prefix voiceprints/team-a/ --dry-run
    voiceprint --stack my-voiceprints sweep --older-than 3600
    voiceprint --stack my-voiceprints reenrol --group team-a/ --dry-run

Exit codes: 0 succeeded (or found), 1 failed, 2 timed out or not found, 3 usage or API error.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from voiceprint_cli import (
    backfill_command,
    calibrate_command,
    erasure_command,
    optout_command,
    reenrol_command,
    review_command,
)
from voiceprint_cli import doctor as doctor_checks
from voiceprint_cli.api import LOCAL_URL, ApiError, ResultsApi
from voiceprint_cli.deployed import LOCAL_ENDPOINT
from voiceprint_cli.progress import Progress
from voiceprint_cli.terminal import safe, safe_json

TERMINAL = {"succeeded", "failed"}
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voiceprint", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--api", help="the stack's ApiUrl output (or VOICEPRINT_API_URL)")
    where.add_argument("--stack", help="a deployed stack's name: its ApiUrl output is looked up")
    parser.add_argument("--local", action="store_true", help=f"the local stack ({LOCAL_URL}, its credentials)")
    parser.add_argument("--region", help="the API's region (default: from the URL or the AWS config)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="a host of yours that serves the API besides execute-api (a custom domain); repeatable",
    )
    _output_flags(parser, False)
    # The output flags are accepted after the subcommand too (`list --group g/ --json`), as people write them.
    after = argparse.ArgumentParser(add_help=False)
    _output_flags(after, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", parents=[after], help="the record(s) of an object key, s3:// URI or jobId")
    status.add_argument("target")
    wait = commands.add_parser(
        "wait", parents=[after], help="wait until an object's newest version (or a job) is terminal"
    )
    wait.add_argument("target")
    wait.add_argument("--timeout", type=float, default=300.0)
    wait.add_argument("--interval", type=float, default=2.0)
    listing = commands.add_parser(
        "list", parents=[after], help="voiceprints of a group (the folder under voiceprints/), or of a label"
    )
    listing.add_argument("--group", help='e.g. "team-a/"; default: the top level, or every group with --label')
    listing.add_argument("--label")
    health = commands.add_parser(
        "health", parents=[after], help="a group's labels: last used, last matched, best score, never matched"
    )
    health.add_argument("--group", default="", help='e.g. "team-a/"; default: the top level')
    backfill_command.add_parsers(commands, [after])
    erasure_command.add_parsers(commands, [after])
    optout_command.add_parser(commands, [after])
    reenrol_command.add_parser(commands, [after])
    review_command.add_parser(commands, [after])
    calibrate_command.add_parser(commands, [after])
    retention = commands.add_parser(
        "retention",
        parents=[after],
        help="give the voiceprints made before an update the stack's VoiceprintRetentionDays (rewrites their TTL)",
    )
    retention.add_argument("--dry-run", action="store_true", help="count the voiceprints, change nothing")
    retention.add_argument(
        "--check-sources",
        action="store_true",
        help="also delete the voiceprints whose source is gone (a lost removal notification): a HeadObject each",
    )
    replay = commands.add_parser(
        "replay-events",
        help="publish again the events of the records changed in [--since, --until] (reads the table, writes the "
        "bus, with your credentials: needs --stack or --local, or --table and --bus)",
    )
    replay.add_argument("--since", required=True, type=_instant, help="ISO 8601 (UTC if no zone) or epoch seconds")
    replay.add_argument("--until", type=_instant, default=None, help="default: now")
    replay.add_argument("--table", help="the JobsTableName output (default: from --stack)")
    replay.add_argument("--bus", help="the EventBusName output (default: from --stack)")
    enrol = commands.add_parser(
        "enrol", parents=[after], help="upload a voiceprint sample with its speaker's label (x-amz-meta-label)"
    )
    enrol.add_argument("file")
    enrol.add_argument("--label", required=True, help="the speaker's name, as identification will report it")
    enrol.add_argument(
        "--consent", help="the speaker's consent reference (an id or a document hash): needed with RequireConsent"
    )
    identify = commands.add_parser(
        "identify", parents=[after], help="upload a recording to identify its speakers against a group's voiceprints"
    )
    identify.add_argument("file")
    for upload in (enrol, identify):
        upload.add_argument("--group", help='the group\'s folder, e.g. "team-a" (default: the top level)')
        upload.add_argument("--wait", action="store_true", help="wait for the result and print it")
        upload.add_argument("--timeout", type=float, default=300.0)
        upload.add_argument("--interval", type=float, default=2.0)
    doctor = commands.add_parser(
        "doctor",
        help="check a deployed stack: secrets, API key, webhook route, queues, alarms, schedule (exit "
        "codes: `voiceprint doctor --help`)",
        description=doctor_checks.__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    doctor.add_argument("--webhook-url", help="default: the stack's WebhookUrl output (--local: the local API's)")
    parser.add_argument(
        "--aws-endpoint",
        help=f"an AWS endpoint for enrol, identify, doctor, backfill and sweep (--local: {LOCAL_ENDPOINT})",
    )
    return parser


def _instant(text: str) -> float:
    from datetime import UTC, datetime

    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def replay_events(args: argparse.Namespace, out: TextIO) -> int:
    import boto3

    from voiceprint.event_publisher import EventPublisher
    from voiceprint.event_replay import replay
    from voiceprint.job_store import JobStore

    table, bus, endpoint = args.table, args.bus, None
    session = boto3.Session(region_name=args.region)
    stack = args.stack
    if args.local:  # the local stack is a CloudFormation stack too: its names come from its outputs
        from voiceprint_local.deploy import STACK_NAME
        from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY

        stack, endpoint = STACK_NAME, "http://127.0.0.1:4566"
        session = boto3.Session(region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    if stack and not (table and bus):
        outputs = session.client("cloudformation", endpoint_url=endpoint).describe_stacks(StackName=stack)
        found = {o["OutputKey"]: o["OutputValue"] for o in outputs["Stacks"][0].get("Outputs", [])}
        table, bus = table or found.get("JobsTableName"), bus or found.get("EventBusName")
    if not table or not bus:
        raise SystemExit(
            "replay-events reads the table and writes the bus: --stack NAME, --local, or --table and --bus"
        )
    until = args.until if args.until is not None else time.time()
    store = JobStore(session.client("dynamodb", endpoint_url=endpoint), table, retention_days=0)
    publisher = EventPublisher(session.client("events", endpoint_url=endpoint), bus)
    report = replay(store, publisher, since=args.since, until=until)
    out.write(
        f"{report.examined} records examined, {report.published} events published"
        + ("" if report.complete else f", {report.not_published} not published: run the same range again")
        + "\n"
    )
    return 0 if report.complete else 2


def retention_command(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint_cli import retention
    from voiceprint_cli.deployed import connect

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    days = int(stack.parameters.get("VoiceprintRetentionDays") or 0)
    records = retention.TableVoiceprints(stack.client("dynamodb"), stack.outputs["JobsTableName"])
    sources = retention.BucketSources(stack.client("s3")) if args.check_sources else None
    report = retention.apply(records, days, dry_run=args.dry_run, sources=sources)
    if not args.dry_run:
        from voiceprint_cli.erasure_aws import BusAnnouncer

        bus = BusAnnouncer(stack.client("events"), stack.outputs["EventBusName"])
        bus.publish("Retention Applied", {**vars(report), "at": int(time.time())})
    out.write((safe_json(vars(report)) if args.json else report.line()) + "\n")
    return 0


def doctor(args: argparse.Namespace, out: TextIO) -> int:
    from voiceprint_cli.deployed import connect

    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    webhook_url = args.webhook_url or (f"{args.api or LOCAL_URL}/webhooks/pyannote" if args.local else None)
    checks = doctor_checks.run(stack, webhook_url=webhook_url)
    for check in checks:
        mark = {True: "ok  ", False: "FAIL", None: "n/a "}[check.ok]
        out.write(safe(f"{mark} {check.name}: {check.detail}") + ("" if check.ok is not False else f" [{check.code}]"))
        out.write("\n")
    return doctor_checks.exit_code(checks)


def upload(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """enrol / identify: the upload, then (with --wait) the record once terminal."""
    from pathlib import Path

    from voiceprint_cli import uploads
    from voiceprint_cli.deployed import connect

    file = Path(args.file)
    if not file.is_file():
        err.write(f"no such file: {safe(str(file))}\n")
        return 3
    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    kind = "VoiceprintPrefix" if args.command == "enrol" else "IdentifyPrefix"
    consent = getattr(args, "consent", None)
    if consent is not None and not (consent.isascii() and consent.isprintable()):
        err.write("--consent: printable ASCII only (S3 metadata)\n")
        return 3
    key, version = uploads.upload(
        stack, kind, file, group=args.group, label=getattr(args, "label", None), consent=consent
    )
    out.write(safe(f"uploaded s3://{stack.outputs['InputBucketName']}/{key}") + "\n")
    if not args.wait:
        return 0
    try:
        api = _api(args)
        record = wait(
            api, key, timeout=args.timeout, interval=args.interval, progress=Progress(err, key), version=version
        )
    except ApiError as exc:
        err.write(f"results API: {safe(exc)}\n")
        return 3
    if record is None:
        err.write(f"{safe(key)}: not finished after {args.timeout:.0f} s\n")
        return 2
    _print([record], args.json, out)
    return 0 if record["status"] == "succeeded" else 1


def _output_flags(parser: argparse.ArgumentParser, default: object) -> None:
    """--json and --voiceprint; after the subcommand their default is SUPPRESS, so one given before stays."""
    parser.add_argument("--json", action="store_true", default=default, help="print the records as JSON")
    parser.add_argument(
        "--voiceprint",
        action="store_true",
        default=default,
        help="include the voiceprint itself (biometric data; off by default)",
    )


def _api(args: argparse.Namespace) -> ResultsApi:
    import os

    if args.local:
        from botocore.credentials import Credentials

        from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY

        return ResultsApi.connect(
            args.api or LOCAL_URL, credentials=Credentials(ACCESS_KEY, SECRET_KEY), region=REGION, local=True
        )
    url = args.api or os.environ.get("VOICEPRINT_API_URL")
    if args.stack:
        import boto3

        outputs = boto3.client("cloudformation", region_name=args.region).describe_stacks(StackName=args.stack)
        found = {o["OutputKey"]: o["OutputValue"] for o in outputs["Stacks"][0].get("Outputs", [])}
        url = found.get("ApiUrl")
    if not url:
        raise SystemExit("say where the API is: --api URL, --stack NAME, --local or VOICEPRINT_API_URL")
    return ResultsApi.connect(url, region=args.region, allowed_hosts=args.allow_host)


def _records(api: ResultsApi, target: str, voiceprint: bool = False, result: bool = False) -> list[dict[str, Any]]:
    """Newest first. A jobId names one record (whole); an object key (or s3://bucket/key) every version's, with
    identification outputs only if `result`."""
    if JOB_ID.match(target):
        found = api.job(target, voiceprint=voiceprint)
        return [found] if found else []
    if target.startswith("s3://"):
        bucket, _, key = target.removeprefix("s3://").partition("/")
        return api.object_versions(key, bucket, voiceprint=voiceprint, result=result)
    return api.object_versions(target, voiceprint=voiceprint, result=result)


def _line(record: dict[str, Any]) -> str:
    status = record.get("status", "?")
    what = f"{record.get('kind', 'voiceprint'):<10} {status:<11}"
    if status == "succeeded" and record.get("kind") == "identify":
        matches = ", ".join(f"{m['speaker']}={m['match'] or '?'}" for m in record.get("matches", []))
        detail = f"matches {matches or 'none'}"
    elif status == "succeeded":
        held = f"voiceprint of {len(record['voiceprint'])} chars" if record.get("voiceprint") else "voiceprint stored"
        detail = f"label {record.get('label')!r}, {held}"
    elif status == "failed":
        detail = f"{record.get('failureCode')}: {record.get('reason')}"
    else:
        detail = record.get("lastError") or f"job {record.get('jobId') or '(not yet)'}"
    return safe(f"{record.get('key')}  {what} {detail}")


def _print(records: Sequence[dict[str, Any]], as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(safe_json(records) + "\n")
        return
    for record in records:
        out.write(_line(record) + "\n")


def _print_health(answer: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(safe_json(answer) + "\n")
        return

    def when(epoch: Any) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch)) if epoch else "never"

    for label in answer.get("labels", []):
        score = label.get("bestScore")
        line = (
            f"{label['label']}: {label['voiceprints']} voiceprint(s); last used {when(label.get('lastUsed'))}, "
            f"last matched {when(label.get('lastMatched'))}"
            + (f", best score {score:g}" if score is not None else "")
            + (" (never matched)" if label.get("neverMatched") else "")
        )
        out.write(safe(line) + "\n")


def wait(
    api: ResultsApi,
    target: str,
    *,
    timeout: float,
    interval: float,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    version: str | None = None,
) -> dict[str, Any] | None:
    """The newest record of `target` (or the record of that `version` of it) once terminal; None at the timeout."""
    started = clock()
    while True:
        records = _records(api, target)
        if version is not None:
            records = [r for r in records if r.get("versionId") == version]
        newest = records[0] if records else None
        status = newest.get("status", "?") if newest else "not yet recorded"
        progress.update(status, clock() - started)
        if newest is not None and status in TERMINAL:
            progress.done()
            return newest
        if clock() - started >= timeout:
            progress.done()
            return None
        sleep(interval)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    # Commands that work on the stack's resources with the caller's credentials; the rest read the results API.
    with_aws: dict[str, Callable[[], int]] = {
        "replay-events": lambda: replay_events(args, out),
        "doctor": lambda: doctor(args, out),
        "enrol": lambda: upload(args, out, err),
        "identify": lambda: upload(args, out, err),
        "backfill": lambda: backfill_command.run(args, out, err),
        "sweep": lambda: backfill_command.run(args, out, err),
        "retention": lambda: retention_command(args, out),
        "erase": lambda: erasure_command.run(args, out),
        "export": lambda: erasure_command.run_export(args, out),
        "optout": lambda: optout_command.run(args, out, err),
        "reenrol": lambda: reenrol_command.run(args, out),
        "review": lambda: review_command.run(args, out, err),
        "calibrate": lambda: calibrate_command.run(args, out, err),
    }
    if args.command in with_aws:
        return with_aws[args.command]()
    try:
        api = _api(args)
        if args.command == "status":
            records = _records(api, args.target, args.voiceprint, result=args.json)
            if not records:
                err.write(f"no record for {safe(args.target)}\n")
                return 2
            _print(records, args.json, out)
            return 0 if records[0].get("status") != "failed" else 1
        if args.command == "wait":
            record = wait(
                api, args.target, timeout=args.timeout, interval=args.interval, progress=Progress(err, args.target)
            )
            if record is None:
                err.write(f"{safe(args.target)}: not finished after {args.timeout:.0f} s\n")
                return 2
            if args.json or args.voiceprint:  # the whole record, read once it is final
                record = (_records(api, args.target, args.voiceprint, result=True) or [record])[0]
            _print([record], args.json, out)
            return 0 if record["status"] == "succeeded" else 1
        if args.command == "health":
            _print_health(api.health(args.group), args.json, out)
            return 0
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):  # bounded: 100,000 voiceprints
            group = args.group if args.group is not None or args.label else ""
            page = api.voiceprints(group, args.label, cursor)
            items += page["items"]
            cursor = page.get("next")
            if not cursor:
                break
        _print(items, args.json, out)
        return 0
    except ApiError as exc:
        hint = " (is `scripts/run-local.sh serve` running?)" if exc.status == 0 and args.local else ""
        err.write(f"results API: {safe(exc)}{hint}\n")
        return 3


if __name__ == "__main__":
    sys.exit(main())
