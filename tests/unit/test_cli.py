from __future__ import annotations

import io

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
