"""The functions from source, in the stack's process: each handler module imported under the functions'
environment, as Lambda would start it, with the submit service rebuilt through the seam the module declares
(`build_service`) so the chaos run can observe and crash it. Nothing is patched into a module.

Every handler module has `lambda_handler` and `logger` (HandlerModule); those that publish metrics also have
`metrics` (the read function does not); the submit module also has `service` and `build_service` (SubmitModule).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, Protocol, cast

from voiceprint_local.fault_injection import FaultInjector


class HandlerModule(Protocol):
    """What the stack uses of any functions/<name>/app.py."""

    logger: Any

    def lambda_handler(self, event: dict[str, Any], context: Any) -> Any: ...


class SubmitModule(HandlerModule, Protocol):
    """functions/submit/app.py beyond its entry point: the service it runs, and the factory that builds it with
    injected collaborators."""

    service: Any

    def build_service(self, *, store: Any = None, on_adopted: Callable[[Any, str], None] | None = None) -> Any: ...


class Environment:
    """os.environ changes that are undone on `restore` (the stack runs inside the caller's process)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def load(names: Iterable[str], *, log_level: str, faults: FaultInjector) -> dict[str, ModuleType]:
    """Import each function's handler module afresh (the environment must already be the functions')."""
    from voiceprint.settings import get_settings

    get_settings.cache_clear()
    modules: dict[str, ModuleType] = {}
    for name in names:
        sys.modules.pop(f"functions.{name}.app", None)
        module = importlib.import_module(f"functions.{name}.app")
        # Powertools keeps the level of a logger it already configured (an earlier stack in this process),
        # where Lambda starts each function in a fresh process: apply this stack's level explicitly.
        cast("HandlerModule", module).logger.setLevel(log_level)
        modules[name] = module
    # The submit function's declared seam: the same service, with the chaos run's observer and, when asked, a
    # store that crashes between pyannoteAI's answer and our jobId write.
    submit = cast("SubmitModule", modules["submit"])
    submit.service = submit.build_service(store=faults.submit_store(get_settings()), on_adopted=faults.count_adopted)
    return modules


def submit_container(index: int, *, log_level: str, faults: FaultInjector) -> ModuleType:
    """Another container of the submit function: its module executed again under a name of its own, so it has its
    own clients, service, pause and share of the rate limit, and shares nothing in memory with the others (as
    Lambda's containers share nothing but what is in AWS)."""
    import functions.submit.app as first
    from voiceprint.settings import get_settings

    spec = importlib.util.spec_from_file_location(f"functions.submit.app_container{index}", str(first.__file__))
    if spec is None or spec.loader is None:
        raise ImportError("functions/submit/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    submit = cast("SubmitModule", module)
    submit.logger.setLevel(log_level)
    submit.service = submit.build_service(store=faults.submit_store(get_settings()), on_adopted=faults.count_adopted)
    return module


def unload(names: Iterable[str]) -> None:
    for name in names:
        sys.modules.pop(f"functions.{name}.app", None)


def clear_metrics(module: Any) -> None:
    """Disabled metrics still pile up in Powertools' shared set and print every 100 values: drop them."""
    metrics = getattr(module, "metrics", None)  # the read function publishes none
    if metrics is not None:
        metrics.clear_metrics()
