"""Progress of a wait: one line rewritten in place on a terminal, a line per change otherwise (logs, CI)."""

from __future__ import annotations

from typing import TextIO

from voiceprint_cli.terminal import safe

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    def __init__(self, stream: TextIO, what: str) -> None:
        self._stream = stream
        self._what = safe(what)
        self._tty = stream.isatty()
        self._last: str | None = None
        self._tick = 0

    def update(self, status: str, elapsed: float) -> None:
        if self._tty:
            self._tick += 1
            frame = SPINNER[self._tick % len(SPINNER)]
            self._stream.write(f"\r\033[K{frame} {self._what}  {status}  {elapsed:4.0f} s")
            self._stream.flush()
        elif status != self._last:
            self._stream.write(f"{elapsed:5.0f} s  {self._what}  {status}\n")
            self._stream.flush()
        self._last = status

    def done(self) -> None:
        if self._tty:
            self._stream.write("\r\033[K")
            self._stream.flush()
