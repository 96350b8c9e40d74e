"""Cold start as Lambda runs it: each function imported from its `sam build` artifact and the built layer, with
the runtime's boto3 after them and nothing else on the path, no bytecode cache it can write (`python -S -B`,
PYTHONDONTWRITEBYTECODE=1) and nothing precompiled that the artifact does not ship; its floor (a raw-boto3 module
making the same clients) the same way. Ours and the floor alternate, and which goes first alternates by round, so
each pair sees the same machine."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import paired_ratio
from voiceprint_local import lambda_artifacts, template

ROOT = template.ROOT
BENCH = Path(__file__).resolve().parent
CHILD = BENCH / "child.py"
FUNCTIONS = {  # logical id -> (our module in the artifact, the floor's module in bench/)
    "submit": ("SubmitFunction", "floor_submit"),
    "webhook": ("WebhookFunction", "floor_webhook"),
    "reconciler": ("ReconcilerFunction", "floor_reconciler"),
    "events": ("EventsFunction", "floor_events"),
    "read": ("ReadFunction", "floor_read"),
}
# Powertools utilities we do not use, for cold start: their import cost on top of what every handler imports.
IMPORT_COSTS = {
    "Batch (utilities.batch)": "aws_lambda_powertools.utilities.batch",
    "Event Handler": "aws_lambda_powertools.event_handler",
    "event data classes (utilities.data_classes)": "aws_lambda_powertools.utilities.data_classes",
    "Parameters (utilities.parameters)": "aws_lambda_powertools.utilities.parameters",
}
IMPORT_BASELINE = "aws_lambda_powertools.logging,aws_lambda_powertools.metrics,boto3"
# Where ours spends more than its floor: one process imports the floor (boto3 and its clients), then Powertools'
# package (Logger, Metrics, Tracer and what they import beyond boto3), then our function, timing each in turn.
BREAKDOWN = {"floor": "boto3 and the clients (the floor)", "powertools": "+ Powertools", "app": "+ ours"}
EXTRA_BATCH = 15  # rounds added at a time to the functions whose interval straddles the budget


@dataclass
class ColdResults:
    rounds: int  # every function's; those left inconclusive got more (len(ours[name]))
    ours: dict[str, list[float]] = field(default_factory=dict)  # init ms, one per round
    floor: dict[str, list[float]] = field(default_factory=dict)
    import_costs: dict[str, list[float]] = field(default_factory=dict)  # ms over the baseline, per round
    breakdown: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # function -> BREAKDOWN key -> ms
    # The floor with the collector paused during its imports as ours pauses it: one per round, in its first rounds.
    floor_paused: dict[str, list[float]] = field(default_factory=dict)


def _env(logical_id: str | None) -> dict[str, str]:
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env.update({k: str(v) for k, v in template.global_environment().items() if k.startswith("POWERTOOLS_")})
    if logical_id:
        refs = {name: f"bench-{name}" for name in [*template.resources(), "ApiKeySecretName", "WebhookSecretName"]}
        overrides = {"WEBHOOK_URL": "https://example.test/webhooks/pyannote", "EVENT_BUS_NAME": "bench-bus"}
        env.update(template.resolved_environment(logical_id, refs, overrides))
    return env


def _init_ms(module: str, path: list[str], env: dict[str, str], *, pause_collector: bool = False) -> float:
    return float(_child(module, path, env, pause_collector=pause_collector)["init_ms"])


def _child(module: str, path: list[str], env: dict[str, str], *, pause_collector: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        spec, out = Path(tmp, "spec.json"), Path(tmp, "out.json")
        request = {"module": module, "events": [], "out": str(out), "path": path, "pause_collector": pause_collector}
        spec.write_text(json.dumps(request))
        subprocess.run(
            [sys.executable, "-S", "-B", str(CHILD), str(spec)],
            env=lambda_artifacts.lambda_env(env),
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        answer: dict[str, Any] = json.loads(out.read_text())
        return answer


def breakdown_round(build_dir: Path, runtime: Path, name: str, results: ColdResults) -> None:
    """One process: the floor's module, then Powertools, then ours, each timed on top of the ones before."""
    logical_id, floor_module = FUNCTIONS[name]
    path = [str(build_dir / logical_id), str(build_dir / "CommonLayer" / "python"), str(BENCH), str(runtime)]
    parts = _child(f"{floor_module},aws_lambda_powertools,app", path, _env(logical_id))["parts_ms"]
    shares = results.breakdown.setdefault(name, {})
    for key, module in (("floor", floor_module), ("powertools", "aws_lambda_powertools"), ("app", "app")):
        shares.setdefault(key, []).append(float(parts[module]))


def paused_floor_round(runtime: Path, name: str, results: ColdResults) -> None:
    """One process: the floor's module with the collector paused and its objects frozen, as ours does in Lambda
    (voiceprint/container_init.py), so that ours can also be set against a floor that does the same."""
    logical_id, floor_module = FUNCTIONS[name]
    ms = _init_ms(floor_module, [str(BENCH), str(runtime)], _env(logical_id), pause_collector=True)
    results.floor_paused.setdefault(name, []).append(ms)


def _pair(build_dir: Path, runtime: Path, name: str, r: int, results: ColdResults) -> None:
    """One round of one function: ours and its floor, in an order that alternates by round."""
    logical_id, floor_module = FUNCTIONS[name]
    env = _env(logical_id)
    sides = [
        ("app", lambda_artifacts.function_path(build_dir, logical_id, runtime)),
        (floor_module, [str(BENCH), str(runtime)]),
    ]
    order = sides if r % 2 == 0 else sides[::-1]
    timed = {module: _init_ms(module, path, env) for module, path in order}
    results.ours.setdefault(name, []).append(timed["app"])
    results.floor.setdefault(name, []).append(timed[floor_module])


def measure(
    build_dir: Path, runtime: Path, rounds: int, *, budget: float | None = None, max_rounds: int = 0
) -> ColdResults:
    """`rounds` paired rounds of every function; then, with a `budget`, more rounds (EXTRA_BATCH at a time, up to
    `max_rounds` in all) for the functions whose interval still straddles it, so that a verdict is decided rather
    than left to one run's luck. The functions already decided are not measured again."""
    results = ColdResults(rounds)
    layer_path = [str(build_dir / "CommonLayer" / "python"), str(runtime)]
    for r in range(rounds):
        for name in FUNCTIONS:
            _pair(build_dir, runtime, name, r, results)
            breakdown_round(build_dir, runtime, name, results)
            paused_floor_round(runtime, name, results)
        for label, module in IMPORT_COSTS.items():
            base = _init_ms(IMPORT_BASELINE, layer_path, _env(None))
            both = _init_ms(f"{IMPORT_BASELINE},{module}", layer_path, _env(None))
            results.import_costs.setdefault(label, []).append(both - base)
    if budget is not None:
        extend(results, budget, max_rounds, lambda name, r: _pair(build_dir, runtime, name, r, results))
    return results


def extend(results: ColdResults, budget: float, max_rounds: int, pair: Callable[[str, int], None]) -> None:
    """Measure `pair(name, round)` EXTRA_BATCH rounds at a time for the functions whose interval straddles
    `budget`, until none does or they have `max_rounds`."""
    done = results.rounds
    while done < max_rounds:
        undecided = [
            n for n in results.ours if paired_ratio(results.ours[n], results.floor[n], budget).verdict == "inconclusive"
        ]
        if not undecided:
            return
        for r in range(done, min(done + EXTRA_BATCH, max_rounds)):
            for name in undecided:
                pair(name, r)
        done = min(done + EXTRA_BATCH, max_rounds)
