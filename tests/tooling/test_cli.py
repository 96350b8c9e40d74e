from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from voiceprint_cli.__main__ import main
from voiceprint_local.stack import free_port


def test_an_unreachable_api_is_a_clear_message_not_a_traceback() -> None:
    out, err = io.StringIO(), io.StringIO()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["--local", "--api", url, "status", "voiceprints/x.wav"], out=out, err=err) == 3
    assert err.getvalue() == (
        f"results API: 0: cannot reach {url} (ConnectionError) (is `scripts/run-local.sh serve` running?)\n"
    )
    assert out.getvalue() == ""


def test_terminal_output_escapes_control_characters_and_bidi_overrides() -> None:
    from voiceprint_cli.__main__ import _print

    record = {"key": "voiceprints/\x1b]0;owned\x07a\u202egnp.wav", "status": "failed", "reason": "bad\r\x9b2J"}
    for as_json in (False, True):
        out = io.StringIO()
        _print([record], as_json, out)
        text = out.getvalue()
        for char in ("\x1b", "\x07", "\r", "\x9b", "\u202e"):
            assert char not in text
    out = io.StringIO()
    _print([record], False, out)
    assert "voiceprints/\\x1b]0;owned\\x07a\\u202egnp.wav" in out.getvalue()


def test_unreachable_api_message_escapes_the_target() -> None:
    out, err = io.StringIO(), io.StringIO()
    url = f"http://127.0.0.1:{free_port()}"
    main(["--local", "--api", url, "wait", "k\x1b[2J", "--timeout", "0"], out=out, err=err)
    assert "\x1b" not in err.getvalue()


def test_output_flags_are_accepted_before_or_after_the_subcommand() -> None:
    from voiceprint_cli.__main__ import _parser

    for argv in (["--json", "list", "--group", "team-a/"], ["list", "--group", "team-a/", "--json"]):
        args = _parser().parse_args(["--local", *argv])
        assert (args.json, args.voiceprint, args.group) == (True, False, "team-a/")
    args = _parser().parse_args(["--local", "status", "k", "--voiceprint"])
    assert (args.json, args.voiceprint) == (False, True)


# -- issue 18, item 8: signed requests (they carry the session token) go only where they belong ---------------------
@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--api", "http://abc123.execute-api.eu-west-1.amazonaws.com"], "the results API is https"),
        (["--api", "https://api.attacker.example"], "not an execute-api host"),
        (["--api", "https://abc123.execute-api.eu-west-1.amazonaws.com.attacker.example"], "not an execute-api host"),
        (["--local", "--api", "http://10.0.0.8:3000"], "loopback only"),
    ],
)
def test_the_cli_refuses_urls_its_credentials_do_not_belong_to(argv: list[str], why: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, "--region", "eu-west-1", "status", "voiceprints/x.wav"], out=out, err=err) == 3
    assert why in err.getvalue()


def test_a_host_the_user_names_is_accepted() -> None:
    from voiceprint_cli.api import checked_url

    url = "https://voices.example.com"
    assert checked_url(url, local=False, allowed_hosts=["voices.example.com"]) == url


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request with a redirect to `target`, or (as the target) records what reached it."""

    seen: ClassVar[list[dict[str, str]]] = []
    target: ClassVar[str] = ""

    def do_GET(self) -> None:
        if self.target:
            self.send_response(302)
            self.send_header("Location", self.target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).seen.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_redirect_is_refused_and_the_credentials_go_nowhere_else() -> None:
    from botocore.credentials import Credentials

    from voiceprint_cli.api import ApiError, ResultsApi

    seen: list[dict[str, str]] = []
    sink_handler = type("Sink", (_Recorder,), {"seen": seen, "target": ""})
    sink = ThreadingHTTPServer(("127.0.0.1", 0), sink_handler)
    redirector_handler = type("Redirector", (_Recorder,), {"target": f"http://127.0.0.1:{sink.server_port}"})
    redirector = ThreadingHTTPServer(("127.0.0.1", 0), redirector_handler)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (sink, redirector)]
    for t in threads:
        t.start()
    try:
        api = ResultsApi.connect(
            f"http://127.0.0.1:{redirector.server_port}",
            credentials=Credentials("AKIDEXAMPLE", "secret", "session-token-xyz"),
            region="eu-west-1",
            local=True,
        )
        with pytest.raises(ApiError, match="redirect refused"):
            api.object_versions("voiceprints/x.wav")
        assert seen == []
    finally:
        for s in (sink, redirector):
            s.shutdown()
            s.server_close()
