"""Waiting on real time for the stack's threads, boundedly, and a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    interval: float = 0.1,
    *,
    progress: Callable[[], None] | None = None,
    progress_every: float = 15.0,
) -> bool:
    """Bounded polling on real time (the stack's parts run on their own threads); `progress` is called every
    `progress_every` seconds meanwhile, for long runs."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    reported = time.monotonic()
    while time.monotonic() < deadline:
        if predicate():
            return True
        if progress is not None and time.monotonic() - reported >= progress_every:
            progress()
            reported = time.monotonic()
        pause.wait(interval)
    return predicate()
