"""Everything logged or printed during a run goes to a file (searched for secrets afterwards); the report's own
progress goes to the terminal through `say`."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

_console: TextIO | None = None


@contextlib.contextmanager
def captured_output() -> Iterator[Path]:
    """Everything logged or printed for the duration goes to a file: file descriptors 1 and 2, sys.stdout and
    sys.stderr, and every logging StreamHandler, whichever stream it was given when it was made (Powertools keeps
    the one it saw first). The report's progress goes to the terminal meanwhile, through `say`."""
    global _console
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally
        "w", prefix="voiceprint-logs-", suffix=".txt", delete=False, buffering=1, errors="replace"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    _console = open(os.dup(sys.stdout.fileno()) if _has_fd(sys.stdout) else os.dup(1), "w", buffering=1)  # noqa: SIM115
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    handlers = [h for h in _stream_handlers() if not isinstance(h, logging.FileHandler)]
    saved_handler_streams = [(h, h.stream) for h in handlers]
    try:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        sys.stdout = sys.stderr = handle
        for h in handlers:
            _swap_stream(h, handle)
        yield Path(handle.name)
    finally:
        handle.flush()
        sys.stdout, sys.stderr = saved_streams
        for h, stream in saved_handler_streams:
            _swap_stream(h, stream)
        for h in _stream_handlers():  # made during the capture: give them the real stdout back
            if h.stream is handle:
                _swap_stream(h, sys.stdout)
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        os.close(saved_fds[0])
        os.close(saved_fds[1])
        handle.close()
        _console.close()
        _console = None


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    # Not setStream(): it flushes the old stream, which may be closed (a finished test's capture, say).
    with handler.lock or contextlib.nullcontext():
        handler.stream = stream


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    return [h for lg in loggers for h in lg.handlers if isinstance(h, logging.StreamHandler)]


def say(message: str) -> None:
    print(message, file=_console or sys.stdout, flush=True)
