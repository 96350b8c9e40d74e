"""voiceprint/container_init.py: the collector paused for a Lambda container's init and its objects frozen at the
end, and left alone anywhere else; every handler module brackets its whole init with it."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from voiceprint import container_init

ROOT = Path(__file__).resolve().parents[2]
HANDLER_MODULES = sorted((ROOT / "functions").glob("*/app.py"))


@pytest.fixture
def collector() -> Iterator[int]:
    """How many objects were frozen before (the interpreter freezes a few hundred of its own at start); whatever a
    test does to this process's collector is undone."""
    assert gc.isenabled()
    before = gc.get_freeze_count()
    yield before
    if gc.get_freeze_count() != before:
        gc.unfreeze()
    gc.enable()


@pytest.mark.parametrize("execution_env", [None, "", "AWS_ECS_FARGATE", "CloudShell", "aws_lambda_python3.12"])
def test_outside_a_lambda_container_the_collector_is_left_alone(
    collector: int, monkeypatch: pytest.MonkeyPatch, execution_env: str | None
) -> None:
    if execution_env is None:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    else:
        monkeypatch.setenv("AWS_EXECUTION_ENV", execution_env)
    paused = container_init.begin()
    assert paused is False
    assert gc.isenabled()
    container_init.finish(paused)
    assert gc.isenabled()
    assert gc.get_freeze_count() == collector


def test_in_a_lambda_container_init_runs_without_the_collector_and_ends_frozen(
    collector: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    paused = container_init.begin()
    assert paused is True
    assert not gc.isenabled()
    made_during_init = [{"model": i} for i in range(1000)]
    container_init.finish(paused)
    assert gc.isenabled()
    # What init made, and everything older: no collection scans them again.
    assert gc.get_freeze_count() >= collector + len(made_during_init)
    assert not gc.is_finalized(made_during_init)


@pytest.mark.parametrize("module", HANDLER_MODULES, ids=lambda p: p.parent.name)
def test_every_handler_module_pauses_before_its_imports_and_finishes_after_all_its_init(module: Path) -> None:
    body = ast.parse(module.read_text()).body
    statements = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    first, second, third = (ast.unparse(s) for s in statements[:3])
    assert first == "from __future__ import annotations"
    assert second == "from voiceprint import container_init"
    assert third == "_collector_paused = container_init.begin()"
    assert ast.unparse(statements[-1]) == "container_init.finish(_collector_paused)"
    assert len(HANDLER_MODULES) == 5
