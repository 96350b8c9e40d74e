"""The emulator's HTTP server side: each request to `Emulator.handle`, its answer written back (a raw answer as
given, trickled when asked), and nothing logged (request lines carry presigned URLs)."""

from __future__ import annotations

import contextlib
import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from voiceprint_local.emulator_types import RawAnswer

if TYPE_CHECKING:
    from voiceprint_local.emulator import Emulator


def handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 2  # idle keep-alive connections close, so a stopped server leaves no thread behind

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = emulator.handle(self.command, self.path, headers, body)
            raw = answer if isinstance(answer, RawAnswer) else None
            data = raw.body if raw else b"" if answer is None else json.dumps(answer).encode()
            if raw is not None and raw.declared_length is not None:
                self.close_connection = True
            emulator.count_answer(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header(
                "Content-Length", str(raw.declared_length if raw and raw.declared_length is not None else len(data))
            )
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if raw is None or not raw.trickle_bytes:
                    self.wfile.write(data)  # fails only when the client gave up (its timeout)
                    return
                for start in range(0, len(data), raw.trickle_bytes):
                    if start and emulator.stopping(raw.trickle_seconds):
                        break
                    self.wfile.write(data[start : start + raw.trickle_bytes])
                    self.wfile.flush()
                    emulator.count_trickled(raw.trickle_bytes)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines carry presigned URLs: they are credentials, so nothing is logged

    return Handler
