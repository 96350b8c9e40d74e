"""One fresh process = one Lambda container: time the cold import (module + clients), then invoke the handler on
each prepared event and measure CPU per invocation and peak RSS. The parent hosts moto and the emulator, so this
process's CPU and memory are the handler's alone.

    python -m bench.child SPEC.json        (SPEC: {"module", "events", "out"})
    python -S -B bench/child.py SPEC.json  (SPEC also has "path": a Lambda-like sys.path, bench/lambda_cold.py)
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before anything else is imported

import gc  # noqa: E402 - after the clock starts
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    """The parts of Lambda's context object that Powertools reads."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    memory_limit_in_mb = 256
    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _peak_rss_mb() -> float:
    """This process's high-water mark (VmHWM). Not getrusage's ru_maxrss, which survives exec on Linux and so
    reports the parent's peak if that was higher."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("path"):  # run as `python -S -B child.py`: only these folders (and the standard library)
        sys.path[0:1] = spec["path"]
    before, before_cpu = time.perf_counter(), time.process_time()
    if spec.get("pause_collector"):  # a floor given what ours does (voiceprint/container_init.py), for reference
        gc.disable()
    parts_ms: dict[str, float] = {}  # each module's own share, in import order
    for name in spec["module"].split(","):  # several, for import-cost figures; the handler is the last
        started = time.perf_counter()
        module = importlib.import_module(name)
        parts_ms[name] = (time.perf_counter() - started) * 1000
    if spec.get("pause_collector"):
        gc.freeze()
        gc.enable()
    init_ms = (time.perf_counter() - before) * 1000
    init_cpu_ms = (time.process_time() - before_cpu) * 1000
    context = Context()
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    answers: list[Any] = []
    profile = None
    if spec.get("profile"):
        import cProfile

        profile = cProfile.Profile()
    for i, event in enumerate(spec["events"]):
        if profile is not None and i == 1:
            profile.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        answers.append(module.lambda_handler(event, context))
        cpu_ms.append((time.process_time() - cpu) * 1000)
        wall_ms.append((time.perf_counter() - wall) * 1000)
    if profile is not None:
        profile.disable()
        profile.dump_stats(spec["profile"])
    result = {
        "init_ms": init_ms,
        "init_cpu_ms": init_cpu_ms,
        "parts_ms": parts_ms,
        "process_ms": (before - STARTED) * 1000,
        "cpu_ms": cpu_ms,
        "wall_ms": wall_ms,
        "peak_rss_mb": _peak_rss_mb(),
        "answers": answers,
    }
    Path(spec["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
