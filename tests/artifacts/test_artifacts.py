"""The artifacts `sam build` makes are what runs in Lambda: each function imports from its built CodeUri and the
built layer alone (a module missing from the layer, or a requirement missing from layers/common/requirements.txt,
fails here), and no module is compiled from source on import (Lambda's /opt and /var/task are read-only, so
bytecode that is not shipped is compiled on every cold start)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from voiceprint_local import lambda_artifacts, template

FUNCTIONS = list(template.functions())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    build_dir = lambda_artifacts.sam_build(tmp_path_factory.mktemp("sam-build"))
    runtime = lambda_artifacts.runtime_dir(tmp_path_factory.mktemp("runtime"))
    return build_dir, runtime


def _pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_every_module_shipped_has_unchecked_hash_bytecode_for_the_runtime(built: tuple[Path, Path]) -> None:
    build_dir, _ = built
    sources = [p for p in build_dir.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 100  # Powertools, mutagen, our package and the handlers
    missing, checked = [], []
    for source in sources:
        pyc = Path(importlib.util.cache_from_source(str(source)))
        if not pyc.exists():
            missing.append(str(source.relative_to(build_dir)))
        elif _pyc_flags(pyc) != 0b01:  # hash-based, not checked against the source: valid whatever the mtimes
            checked.append(str(source.relative_to(build_dir)))
    assert missing == []
    assert checked == []
    assert not list((build_dir / "CommonLayer" / "python").glob("boto*"))  # the runtime's, never shipped


def _function_env(logical_id: str, **extra: str) -> dict[str, str]:
    """The function's environment as the template declares it: resources by made-up names, parameters at their
    defaults (the two without one named here), then `extra`."""
    names = [*template.resources(), "ApiKeySecretName", "WebhookSecretName"]
    refs = {name: f"local-{name}" for name in names}
    env = template.resolved_environment(
        logical_id, refs, {"WEBHOOK_URL": "https://example.test/webhooks/pyannote", "EVENT_BUS_NAME": "bus"}
    )
    env.update(AWS_DEFAULT_REGION="eu-west-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", **extra)
    return env


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_function_imports_from_its_artifacts_alone_without_compiling(
    built: tuple[Path, Path], logical_id: str
) -> None:
    build_dir, runtime = built
    env = _function_env(logical_id)
    result = lambda_artifacts.probe_import("app", lambda_artifacts.function_path(build_dir, logical_id, runtime), env)
    assert result["compiled_from_source"] == []
    # In a Lambda container (lambda_env sets AWS_EXECUTION_ENV as Lambda does) init ran without the collector and
    # froze what it made: the modules, functions and botocore's models, tens of thousands of objects.
    assert result["gc_enabled"] is True
    assert int(str(result["gc_frozen"])) - int(str(result["gc_frozen_at_start"])) > 10_000


def test_outside_a_lambda_container_the_built_function_leaves_the_collector_alone(built: tuple[Path, Path]) -> None:
    build_dir, runtime = built
    env = _function_env("EventsFunction", AWS_EXECUTION_ENV="")
    path = lambda_artifacts.function_path(build_dir, "EventsFunction", runtime)
    result = lambda_artifacts.probe_import("app", path, env)
    assert result["gc_enabled"] is True
    assert result["gc_frozen"] == result["gc_frozen_at_start"]  # the interpreter's own, nothing more


def test_the_layer_holds_everything_its_modules_import_even_lazily(built: tuple[Path, Path]) -> None:
    """Some imports happen on first use (mutagen's formats, the pyannoteAI client): import them all here."""
    build_dir, runtime = built
    package = build_dir / "CommonLayer" / "python" / "voiceprint"
    modules = sorted(f"voiceprint.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__")
    assert "voiceprint.pyannote_client" in modules
    formats = ["aac", "aiff", "asf", "flac", "mp3", "mp4", "oggflac", "oggopus", "oggvorbis", "wave"]
    lazily = [f"mutagen.{name}" for name in formats] + ["aws_lambda_powertools.metrics"]
    path = lambda_artifacts.function_path(build_dir, "SubmitFunction", runtime)
    result = lambda_artifacts.probe_import(",".join(modules + lazily), path, {"AWS_DEFAULT_REGION": "eu-west-1"})
    assert result["compiled_from_source"] == []


def test_the_cold_start_breakdown_times_floor_powertools_and_ours_in_one_process(built: tuple[Path, Path]) -> None:
    """bench/lambda_cold.py's breakdown of where ours spends more than its floor, on the built artifacts."""
    from bench import lambda_cold

    build_dir, runtime = built
    results = lambda_cold.ColdResults(rounds=1)
    for name in lambda_cold.FUNCTIONS:
        lambda_cold.breakdown_round(build_dir, runtime, name, results)
    assert list(results.breakdown) == list(lambda_cold.FUNCTIONS)
    for shares in results.breakdown.values():
        assert list(shares) == list(lambda_cold.BREAKDOWN)
        # The floor's import carries boto3 and its clients, the largest share by far; Powertools and ours follow.
        assert all(len(ms) == 1 and ms[0] > 0 for ms in shares.values())
        assert shares["floor"][0] > shares["powertools"][0]
