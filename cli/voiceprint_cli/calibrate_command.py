"""`voiceprint calibrate --group G`: precision and recall of each matching threshold on the group's reviewed
identifications (calibration), a proposed threshold, what a threshold would change (--shadow), and storing it for
the group (--store), after which the group's identifications are submitted with it in place of IdentifyThreshold."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from voiceprint_cli.terminal import safe, safe_json

ROOT = Path(__file__).resolve().parents[2]


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        parents=parents,
        help="a group's matching threshold measured on its reviewed identifications; propose, preview, store",
    )
    calibrate.add_argument("--group", required=True, help='the group\'s folder, e.g. "team-a/" ("" for the top level)')
    calibrate.add_argument("--target-precision", type=float, default=0.95, help="default 0.95")
    calibrate.add_argument("--threshold", type=int, help="use this threshold instead of the proposal (0-100)")
    calibrate.add_argument("--shadow", action="store_true", help="list the past matches the threshold would change")
    calibrate.add_argument("--store", action="store_true", help="use the threshold for the group from now on")
    calibrate.add_argument("--unset", action="store_true", help="go back to the stack's IdentifyThreshold")
    calibrate.add_argument("--png", type=Path, help="draw the curve (needs .venv-plot: scripts/test.sh makes it)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from voiceprint.calibration_store import Calibration, CalibrationStore
    from voiceprint_cli import calibration
    from voiceprint_cli.calibration_aws import GroupIdentifications
    from voiceprint_cli.deployed import connect

    if args.threshold is not None and not 0 <= args.threshold <= 100:
        err.write("calibrate: --threshold must be within [0, 100]\n")
        return 3
    stack = connect(args.stack, local=args.local, region=args.region, endpoint=args.aws_endpoint)
    ddb, table = stack.client("dynamodb"), stack.outputs["JobsTableName"]
    stored = CalibrationStore(ddb, table)
    if args.unset:
        removed = stored.remove(args.group)
        out.write(safe(f"{args.group or 'top level'}: " + ("back to IdentifyThreshold" if removed else "had none")))
        out.write("\n")
        return 0
    records = list(GroupIdentifications(ddb, table).records(args.group))
    observed = calibration.observations(records)
    points = calibration.curve(observed)
    proposal = calibration.propose(points, args.target_precision)
    current = stored.get(args.group)
    chosen = args.threshold if args.threshold is not None else proposal.threshold if proposal else None
    report: dict[str, Any] = {
        "group": args.group,
        "identifications": len(records),
        "reviewed": len(observed),
        "targetPrecision": args.target_precision,
        "proposed": proposal.threshold if proposal else None,
        "current": current.threshold if current else None,
        "points": [
            {"threshold": p.threshold, "precision": p.precision, "recall": p.recall, "matched": p.matched}
            for p in points
        ],
    }
    if args.shadow and chosen is not None:
        report["shadow"] = {
            "threshold": chosen,
            "changes": [
                {"jobId": c.job_id, "key": c.key, "speaker": c.speaker, "was": c.was, "wouldBe": c.would_be}
                for c in calibration.shadow(records, chosen)
            ],
        }
    if args.png:
        _draw(report, args.png, err)
    if args.store:
        if chosen is None:
            err.write("calibrate: no reviewed decisions to propose from; give --threshold\n")
            return 2
        at = calibration.point(observed, chosen)
        stored.put(Calibration(args.group, chosen, at.precision, at.recall, len(observed), int(time.time())))
        report["stored"] = chosen
    if args.json:
        out.write(safe_json(report) + "\n")
    else:
        _print(report, out)
    return 0


def _draw(report: dict[str, Any], png: Path, err: TextIO) -> None:
    python = ROOT / ".venv-plot" / "bin" / "python"
    if not python.exists():
        err.write("no .venv-plot (scripts/test.sh makes it): the curve is not drawn\n")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json") as curve:
        curve.write(json.dumps(report))
        curve.flush()
        subprocess.run(  # noqa: S603 - our own script, our own venv
            [str(python), str(ROOT / "scripts" / "plot_calibration.py"), curve.name, str(png)], check=True
        )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _print(report: dict[str, Any], out: TextIO) -> None:
    group = report["group"] or "top level"
    out.write(
        safe(f"{group}: {report['identifications']} identifications, {report['reviewed']} reviewed speakers") + "\n"
    )
    out.write("threshold  precision  recall  matched\n")
    for p in report["points"][::5]:
        out.write(
            f"{p['threshold']:>9}  {_percent(p['precision']):>9}  {_percent(p['recall']):>6}  {p['matched']:>7}\n"
        )
    target = f"{100 * report['targetPrecision']:.0f}%"
    out.write(f"proposed: {report['proposed']} (precision target {target}); in use: {report['current']}\n")
    if "shadow" in report:
        changes = report["shadow"]["changes"]
        out.write(f"at {report['shadow']['threshold']}, {len(changes)} past matches would change:\n")
        for c in changes:
            out.write(safe(f"  {c['jobId']} {c['speaker']}: {c['was']} -> {c['wouldBe']}  ({c['key']})") + "\n")
    if "stored" in report:
        out.write(safe(f"stored: {group} identifies at threshold {report['stored']} from now on") + "\n")
