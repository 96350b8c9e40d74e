"""Run as `python -S -B import_probe.py MODULE[,MODULE...] PATH_JSON`: imports each MODULE with only PATH_JSON (and
the standard library) on sys.path, and prints JSON: the seconds it took and the files compiled from source meanwhile.
Standard library only: it runs where nothing else is importable."""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import gc  # noqa: E402
import importlib  # noqa: E402
import importlib.machinery  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

FROZEN_AT_START = gc.get_freeze_count()  # the interpreter's own, a few hundred
compiled: list[str] = []
_original = importlib.machinery.SourceFileLoader.source_to_code


def _counting(
    self: importlib.machinery.SourceFileLoader, data: bytes, path: str, *args: object, **kw: object
) -> object:
    compiled.append(str(path))
    return _original(self, data, path, *args, **kw)  # type: ignore[arg-type]


importlib.machinery.SourceFileLoader.source_to_code = _counting  # type: ignore[assignment,method-assign]


def main() -> None:
    module, path = sys.argv[1], json.loads(sys.argv[2])
    sys.path[0:1] = path  # in place of this script's own folder: nothing of the repository but the artifacts
    before = time.perf_counter()
    for name in module.split(","):
        importlib.import_module(name)
    seconds = time.perf_counter() - before
    ours = [p for p in compiled if any(p.startswith(d) for d in path[:2])]  # the function and the layer
    collector = {  # voiceprint/container_init.py
        "gc_enabled": gc.isenabled(),
        "gc_frozen": gc.get_freeze_count(),
        "gc_frozen_at_start": FROZEN_AT_START,
    }
    print(json.dumps({"seconds": seconds, "compiled_from_source": ours, "all_compiled": len(compiled), **collector}))


if __name__ == "__main__":
    main()
