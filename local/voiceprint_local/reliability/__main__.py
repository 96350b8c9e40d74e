"""python -m voiceprint_local.reliability: the runs, then the report (see the package's docstring)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from voiceprint_local import reliability, scale_model, template
from voiceprint_local.reliability import burst, chaos, pacing, report
from voiceprint_local.reliability.capture import say

ROOT = template.ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voiceprint_local.reliability",
        description=reliability.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--burst-uploads", type=int, default=10_000, help="0 skips the burst")
    parser.add_argument("--scale", type=float, default=5.0, help="clock acceleration of the burst")
    parser.add_argument("--chaos-uploads", type=int, default=1_000, help="0 skips the chaos run")
    parser.add_argument("--pacing-uploads", type=int, default=300, help="per pacing run; 0 skips them")
    parser.add_argument(
        "--pacing-containers", default="1,2,4", help="submit containers of each pacing run (comma-separated)"
    )
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
    pacing_runs = [
        pacing.run_pacing(int(n), args.pacing_uploads, seed=args.seed, timeout=args.timeout)
        for n in args.pacing_containers.split(",")
        if args.pacing_uploads
    ]
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
        full = (args.burst_uploads, args.chaos_uploads, args.pacing_uploads) == (10_000, 1_000, 300)
        args.out = Path("docs/RELIABILITY.md") if full else Path("local-data/RELIABILITY-small.md")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture = _plot(pacing_runs, args.out.parent / "pacing.png") if pacing_runs else None
    # The scale model's section (scripts/scale-model.sh) is its own: a new run of the local stack keeps it.
    kept = scale_model.kept_section(args.out)
    page = report.render(burst_run, chaos_run, command, pacing_runs, picture)
    args.out.write_text(page + ("\n\n" + kept if kept else "") + "\n")
    if args.json:
        runs = {"burst": burst_run and asdict(burst_run), "chaos": chaos_run and asdict(chaos_run)}
        args.json.write_text(json.dumps({**runs, "pacing": [asdict(r) for r in pacing_runs]}, indent=1))
    say(f"wrote {args.out}")
    return 0 if all(r is None or r.ok for r in (burst_run, chaos_run, *pacing_runs)) else 1


def _plot(runs: list[pacing.PacingResult], out: Path) -> str | None:
    """The pacing runs' PNG, drawn by scripts/plot_pacing.py in .venv-plot (scripts/reliability.sh makes it);
    its name relative to the page, or None (said) when that venv is missing."""
    python = ROOT / ".venv-plot" / "bin" / "python"
    if not python.exists():
        say("no .venv-plot (scripts/reliability.sh makes it): the pacing picture is not drawn")
        return None
    fields = ("containers", "limit", "window_seconds", "per_window")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as data:
        json.dump([{k: asdict(r)[k] for k in fields} for r in runs], data)
        data.flush()
        command = [str(python), str(ROOT / "scripts" / "plot_pacing.py"), data.name, str(out)]
        subprocess.run(command, check=True)  # noqa: S603 - our venv, our script, our paths
    say(f"wrote {out}")
    return out.name


if __name__ == "__main__":
    raise SystemExit(main())
