"""Injectable clocks: real time, a manual clock for tests, and an accelerated one for bursts."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class ScaledClock:
    """Emulated time running `factor` times faster than real time, from `start`."""

    def __init__(self, factor: float, start: float | None = None) -> None:
        self._factor = factor
        self._origin_real = time.monotonic()
        self._origin = time.time() if start is None else start

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._origin_real) * self._factor
