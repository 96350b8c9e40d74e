"""python -m voiceprint_local.reliability: the runs, then the report (see the package's docstring)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from voiceprint_local import reliability, scale_model
from voiceprint_local.reliability import burst, chaos, report
from voiceprint_local.reliability.capture import say


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voiceprint_local.reliability",
        description=reliability.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--burst-uploads", type=int, default=10_000, help="0 skips the burst")
    parser.add_argument("--scale", type=float, default=5.0, help="clock acceleration of the burst")
    parser.add_argument("--chaos-uploads", type=int, default=1_000, help="0 skips the chaos run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600.0, help="per run, seconds")
    parser.add_argument(
        "--out",
        type=Path,
        help="default: docs/RELIABILITY.md for the full runs; smaller runs write local-data/RELIABILITY-small.md, "
        "so the committed figures are never overwritten by a smaller run unless asked",
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    burst_run = (
        burst.run_burst(args.burst_uploads, scale=args.scale, seed=args.seed, timeout=args.timeout)
        if (args.burst_uploads)
        else None
    )
    if burst_run is not None:
        say(f"burst: {'PASS' if burst_run.ok else 'FAIL'} {asdict(burst_run)}")
    chaos_run = (
        chaos.run_chaos(args.chaos_uploads, seed=args.seed, timeout=args.timeout) if args.chaos_uploads else None
    )
    if chaos_run is not None:
        say(f"chaos: {'PASS' if chaos_run.ok else 'FAIL'} in {chaos_run.seconds:.0f} s")
    shown = sys.argv[1:] if argv is None else argv
    command = " ".join(["scripts/reliability.sh", *shown])
    if args.out is None:
        full = (args.burst_uploads, args.chaos_uploads) == (10_000, 1_000)
        args.out = Path("docs/RELIABILITY.md") if full else Path("local-data/RELIABILITY-small.md")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # The scale model's section (scripts/scale-model.sh) is its own: a new run of the local stack keeps it.
    kept = scale_model.kept_section(args.out)
    args.out.write_text(report.render(burst_run, chaos_run, command) + ("\n\n" + kept if kept else "") + "\n")
    if args.json:
        args.json.write_text(
            json.dumps({"burst": burst_run and asdict(burst_run), "chaos": chaos_run and asdict(chaos_run)}, indent=1)
        )
    say(f"wrote {args.out}")
    return 0 if all(r is None or r.ok for r in (burst_run, chaos_run)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
