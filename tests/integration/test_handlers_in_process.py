"""The local stack and these tests import the handlers into one shared process: the collector pause of a Lambda
container's init (voiceprint/container_init.py) must not touch that process's collector or freeze its heap."""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import ModuleType

import pytest

from tests.conftest import HANDLERS


@pytest.mark.parametrize("name", list(HANDLERS))
def test_a_handler_imported_in_process_leaves_the_collector_running_and_nothing_frozen(
    load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    frozen = gc.get_freeze_count()
    module = load_handler(name)
    assert callable(module.lambda_handler)
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
