"""Command line for the local stack.

python -m voiceprint_local demo     start everything, upload sample audio, identify a recording against the
                                    voiceprints, delete a sample, print the records and the events, stop
python -m voiceprint_local serve    keep running so you can upload your own files; Ctrl-C stops
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
import warnings
from collections import Counter
from typing import Any

from voiceprint_cli.terminal import safe
from voiceprint_local import speech, template
from voiceprint_local.audio_samples import silent_wav, wav_bytes
from voiceprint_local.speech import speech_wav
from voiceprint_local.stack import ACCESS_KEY, REGION, SECRET_KEY, LocalStack, StackOptions, wait_for

# Powertools warns when an invocation emitted no metric (an S3 test event, say): noise on a console.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def demo_files(spoken: bool = False) -> dict[str, bytes]:
    """The demo's uploads; with `spoken`, the three speakers read sentences (speech.py) instead of humming tones."""
    return {
        "voiceprints/alice.wav": _sample("alice", 3.0, 0, spoken),
        "voiceprints/bob (take 2).wav": _sample("bob", 4.0, 1, spoken),
        "voiceprints/carol+ünïcode.wav": _sample("carol", 2.5, 2, spoken),
        "voiceprints/too long.wav": silent_wav(35.0),
        "voiceprints/notes.txt": b"This is a text file, not audio.\n" * 20,
        "voiceprints/empty.wav": b"",
    }


def _sample(speaker: str, seconds: float, take: int, spoken: bool) -> bytes:
    if spoken:
        return speech_wav(speaker, take)
    return wav_bytes(seconds, speaker, seed=0)


def _spoken(args: argparse.Namespace) -> bool:
    """Speech where real embeddings listen to it: tones all sound alike to a speaker-embedding model."""
    if not args.embeddings:
        return False
    if speech.available():
        return True
    print("espeakng-loader is not installed: the samples are tones, which real embeddings hardly tell apart")
    return False


IDENTIFY_KEY = "identify/meeting.wav"
DELETE_KEY = "voiceprints/carol+ünïcode.wav"


def describe(record: dict[str, Any]) -> str:
    if record.get("status") == "succeeded" and record.get("kind") == "identify":
        matches = json.loads(record.get("matches") or "[]")
        found = ", ".join(f"{m['speaker']} = {m['match'] or 'nobody'} ({m['confidence']})" for m in matches)
        return f"{found or 'nobody recognised'}; compared with {', '.join(record.get('candidates', []))}"
    if record.get("status") == "succeeded":
        vp = str(record.get("voiceprint", ""))
        return f"voiceprint {vp[:28]}... ({len(vp)} chars), job {record.get('jobId')}"
    if record.get("status") == "failed":
        return f"{record.get('failureCode')}: {record.get('reason')}"
    return f"{record.get('status')} {record.get('lastError', '')}".strip()


def print_records(records: list[dict[str, Any]]) -> None:
    width = max((len(safe(r.get("objectKey", "?"))) for r in records), default=10)
    for r in sorted(records, key=lambda r: str(r.get("objectKey", ""))):
        print(f"  {safe(r.get('objectKey', '?')):<{width}}  {r.get('status')!s:<10} {safe(describe(r))}")


def watch(records: list[dict[str, Any]], seen: dict[str, str], out: Any = None) -> None:
    """One pass of the serve console: a line for each record whose status changed. A record it cannot describe
    is logged and skipped; the console (and the stack it runs in) carries on."""
    for record in records:
        try:
            key = f"{record.get('objectKey', '?')}#{record.get('sk', '?')}"
            if seen.get(key) == record.get("status"):
                continue
            line = f"  {safe(record.get('objectKey', '?'))}: {record.get('status')} - {safe(describe(record))}"
            seen[key] = str(record.get("status"))
            print(line, flush=True, file=out)
        except Exception:
            logging.getLogger("voiceprint_local").exception("could not describe a record; skipped")


def _emulator_options(args: argparse.Namespace) -> dict[str, Any]:
    if not args.embeddings:
        return {}
    from voiceprint_local.embeddings import model

    model()  # fail now, with the install hint, rather than inside the emulator
    return {"embedding": "resemblyzer"}


def demo(args: argparse.Namespace) -> int:
    spoken = _spoken(args)
    files = demo_files(spoken)
    started = time.monotonic()
    options = StackOptions(
        log_level="INFO" if args.verbose else "WARNING", metrics=args.verbose, emulator=_emulator_options(args)
    )
    with LocalStack(options) as stack:
        print(
            f"local stack up in {time.monotonic() - started:.1f} s (moto {stack.aws_url}, pyannoteAI emulator "
            f"{stack.emulator.url if stack.emulator else '?'}, webhook {stack.webhook_url})"
        )
        print(f"uploading {len(files)} voiceprint samples to s3://{stack.bucket}/voiceprints/ ...")
        for key, data in files.items():
            stack.upload(key, data)
        done = wait_for(lambda: len(stack.terminal_records()) >= len(files), timeout=args.timeout)
        records = stack.records()
        print(f"\n{len(records)} records in DynamoDB table {stack.table} after {time.monotonic() - started:.1f} s:")
        print_records(records)
        if done:
            done = identify_and_delete(stack, args.timeout, spoken=spoken)
        if stack.errors:
            print("\nerrors:", *stack.errors, sep="\n  ")
    print("\nlocal stack stopped.")
    if not done:
        print(f"not every upload reached a terminal state within {args.timeout:.0f} s")
        return 1
    return 0


def identify_and_delete(stack: LocalStack, timeout: float, *, spoken: bool = False) -> bool:
    """The rest of the tour: identify a recording against the voiceprints, delete a sample, show the events."""
    print(f"\nidentifying s3://{stack.bucket}/{IDENTIFY_KEY} (bob speaking) against the top-level voiceprints ...")
    # Bob again, saying something else than when he enrolled.
    meeting = speech_wav("bob", 4) if spoken else wav_bytes(5.0, "bob", seed=42)
    stack.upload(IDENTIFY_KEY, meeting)
    if not wait_for(lambda: IDENTIFY_KEY in stack.terminal_records(), timeout=timeout):
        return False
    print_records([stack.terminal_records()[IDENTIFY_KEY]])
    print(f"\ndeleting s3://{stack.bucket}/{DELETE_KEY}: its record goes with it ...")
    stack.client("s3").delete_object(Bucket=stack.bucket, Key=DELETE_KEY)
    if not wait_for(lambda: DELETE_KEY not in {r["objectKey"] for r in stack.records(("objectKey",))}, timeout):
        return False
    print(f"  {DELETE_KEY} has no record any more")
    events: list[dict[str, Any]] = []

    def all_announced() -> bool:
        events.extend(stack.published_events())
        return _announced(events)

    wait_for(all_announced, timeout=timeout)
    counts = Counter(e["detail-type"] for e in events)
    print("\nevents published on EventBridge (source voiceprint-pipeline):")
    for detail_type, n in sorted(counts.items()):
        print(f"  {n} x {detail_type}")
    return _announced(events)


def _announced(events: list[dict[str, Any]]) -> bool:
    return any(e["detail-type"] == "Voiceprint Deleted" for e in events) and any(
        e["detail-type"] == "Identification Ready" for e in events
    )


def serve(args: argparse.Namespace) -> int:
    options = StackOptions(
        moto_port=args.aws_port,
        api_port=args.api_port,
        emulator_port=args.emulator_port,
        log_level="INFO",
        emulator=_emulator_options(args),
        parameters=dict(args.parameter),
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalStack(options) as stack:
        print(
            f"""
voiceprint-pipeline is running locally. Upload audio (one speaker, <= 30 s) with any S3 client:

  export AWS_ACCESS_KEY_ID={ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SECRET_KEY} AWS_DEFAULT_REGION={REGION}
  aws --endpoint-url {stack.aws_url} s3 cp my-voice.wav s3://{stack.bucket}/voiceprints/my-voice.wav
  aws --endpoint-url {stack.aws_url} dynamodb scan --table-name {stack.table}

Identify a recording against the voiceprints of a folder, and read results with the CLI:

  aws --endpoint-url {stack.aws_url} s3 cp meeting.wav s3://{stack.bucket}/identify/meeting.wav
  scripts/voiceprint --local wait identify/meeting.wav

pyannoteAI emulator: {stack.emulator.url if stack.emulator else "?"}   webhook: {stack.webhook_url}
Results are printed below as they arrive. Ctrl-C stops everything.
""",
            flush=True,
        )
        seen: dict[str, str] = {}
        while not stop.wait(1.0):
            try:
                watch(stack.records(), seen)
            except Exception:
                logging.getLogger("voiceprint_local").exception("could not read the records; retrying")
    print("stopped.")
    return 0


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or name not in template.parameter_defaults():
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=VALUE with a parameter of template.yaml")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voiceprint_local", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run sample files through the pipeline and print the records")
    p_demo.add_argument("--timeout", type=float, default=60.0)
    p_demo.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs and metrics")
    p_serve = sub.add_parser("serve", help="keep the stack running for your own uploads")
    p_serve.add_argument("--aws-port", type=int, default=4566)
    p_serve.add_argument("--api-port", type=int, default=3000)
    p_serve.add_argument("--emulator-port", type=int, default=8765)
    p_serve.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a template parameter, as `sam deploy --parameter-overrides` takes it (e.g. ReviewBand=70-92)",
    )
    for p in (p_demo, p_serve):
        p.add_argument("--embeddings", action="store_true", help="real speaker embeddings (optional extra)")
    args = parser.parse_args(argv)
    return int(demo(args) if args.command == "demo" else serve(args))


if __name__ == "__main__":
    raise SystemExit(main())
