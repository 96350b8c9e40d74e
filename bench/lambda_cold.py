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
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class ColdResults:
    rounds: int
    ours: dict[str, list[float]] = field(default_factory=dict)  # init ms, one per round
    floor: dict[str, list[float]] = field(default_factory=dict)
    import_costs: dict[str, list[float]] = field(default_factory=dict)  # ms over the baseline, per round


def _env(logical_id: str | None) -> dict[str, str]:
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env.update({k: str(v) for k, v in template.global_environment().items() if k.startswith("POWERTOOLS_")})
    if logical_id:
        refs = {name: f"bench-{name}" for name in [*template.resources(), "ApiKeySecretName", "WebhookSecretName"]}
        overrides = {"WEBHOOK_URL": "https://example.test/webhooks/pyannote", "EVENT_BUS_NAME": "bench-bus"}
        env.update(template.resolved_environment(logical_id, refs, overrides))
    return env


def _init_ms(module: str, path: list[str], env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        spec, out = Path(tmp, "spec.json"), Path(tmp, "out.json")
        spec.write_text(json.dumps({"module": module, "events": [], "out": str(out), "path": path}))
        subprocess.run(
            [sys.executable, "-S", "-B", str(CHILD), str(spec)],
            env=lambda_artifacts.lambda_env(env),
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        return float(json.loads(out.read_text())["init_ms"])


def measure(build_dir: Path, runtime: Path, rounds: int) -> ColdResults:
    results = ColdResults(rounds)
    layer_path = [str(build_dir / "CommonLayer" / "python"), str(runtime)]
    for r in range(rounds):
        for name, (logical_id, floor_module) in FUNCTIONS.items():
            env = _env(logical_id)
            sides = [
                ("app", lambda_artifacts.function_path(build_dir, logical_id, runtime)),
                (floor_module, [str(BENCH), str(runtime)]),
            ]
            order = sides if r % 2 == 0 else sides[::-1]
            timed = {module: _init_ms(module, path, env) for module, path in order}
            o, f = timed["app"], timed[floor_module]
            results.ours.setdefault(name, []).append(o)
            results.floor.setdefault(name, []).append(f)
        for label, module in IMPORT_COSTS.items():
            base = _init_ms(IMPORT_BASELINE, layer_path, _env(None))
            both = _init_ms(f"{IMPORT_BASELINE},{module}", layer_path, _env(None))
            results.import_costs.setdefault(label, []).append(both - base)
    return results
