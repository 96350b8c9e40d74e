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
