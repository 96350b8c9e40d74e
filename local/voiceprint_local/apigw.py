"""A local stand-in for an API Gateway HTTP API (payload format 2.0) in front of one Lambda handler.

It turns real HTTP requests into the events API Gateway sends (lower-cased headers, comma-joined repeats, a
base64 body for non-text content or when asked), invokes the handler one request at a time (like one Lambda
container), and turns the handler's answer back into HTTP. Payloads over API Gateway's 10 MB are refused.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from voiceprint_local.lambda_context import LocalLambdaContext

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# (method, raw path, lower-cased headers, body) -> the caller's access key id; raises when not authorised.
Authorizer = Callable[[str, str, dict[str, str], bytes], str]


class LocalHttpApi:
    def __init__(
        self,
        routes: dict[str, tuple[str, Handler]],
        *,
        always_base64: bool = False,
        iam_routes: frozenset[str] = frozenset(),
        authorizer: Authorizer | None = None,
    ) -> None:
        """`routes` maps "POST /path" (or "GET /jobs/{jobId}") to (function name, handler); `iam_routes` need a
        SigV4-signed request, checked by `authorizer` as API Gateway's IAM authorizer would."""
        self.routes = routes
        self.iam_routes = iam_routes
        self.authorizer = authorizer
        self.always_base64 = always_base64
        self._locks = {key: threading.Lock() for key in routes}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.invocations = 0

    def start(self, host: str = "127.0.0.1", port: int = 0) -> LocalHttpApi:
        self._server = ThreadingHTTPServer((host, port), _http_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-apigw", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        """The route key a request matches, with its path parameters."""
        segments = path.split("/")
        for route in self.routes:
            route_method, _, template = route.partition(" ")
            pattern = template.split("/")
            if route_method != method or len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{") and want.endswith("}") and got:
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return route, params
        return None

    @staticmethod
    def _merge(headers: list[tuple[str, str]]) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        return merged

    def event(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        route: str | None = None,
        path_parameters: dict[str, str] | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        parts = urlsplit(raw_path)
        merged = self._merge(headers)
        route_key = route or f"{method} {parts.path}"
        content_type = merged.get("content-type", "")
        as_base64 = self.always_base64 or (bool(body) and not content_type.startswith(TEXT_TYPES))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        now = time.time()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": merged,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": merged.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": method,
                    "path": parts.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": merged.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex[:16],
                "routeKey": route_key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": as_base64,
        }
        if query:
            event["queryStringParameters"] = query
        if path_parameters:
            event["pathParameters"] = path_parameters
        if caller is not None:
            event["requestContext"]["authorizer"] = {
                "iam": {
                    "accessKey": caller,
                    "accountId": "123456789012",
                    "userArn": "arn:aws:iam::123456789012:user/local",
                }
            }
        if body:
            event["body"] = base64.b64encode(body).decode() if as_base64 else body.decode("utf-8", "replace")
        return event

    def invoke(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        matched = self.match(method, urlsplit(raw_path).path)
        if matched is None:
            return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'
        route, params = matched
        if len(body) > MAX_PAYLOAD_BYTES:
            return 413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}'
        caller = None
        if route in self.iam_routes:
            try:
                assert self.authorizer is not None, "IAM routes need an authorizer"
                caller = self.authorizer(method, raw_path, self._merge(headers), body)
            except Exception:  # noqa: BLE001 - any failure to authorise is API Gateway's 403
                return 403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}'
        name, handler = self.routes[route]
        event = self.event(method, raw_path, headers, body, route=route, path_parameters=params, caller=caller)
        with self._locks[route]:  # one invocation at a time, like a single Lambda container
            self.invocations += 1
            try:
                result = handler(event, LocalLambdaContext(function_name=name, timeout_seconds=8))
            except Exception:  # noqa: BLE001 - API Gateway answers 500 when the function errors
                return 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
        status = int(result.get("statusCode", 200))
        out_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return status, out_headers, data


def _http_handler(api: LocalHttpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 2  # idle keep-alive connections close, so a stopped server leaves no thread behind

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, data = api.invoke(self.command, self.path, list(self.headers.items()), body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # query strings can carry references; keep the console for the pipeline's own logs

    return Handler


def json_body(data: bytes) -> Any:
    return json.loads(data) if data else None
