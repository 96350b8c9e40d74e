"""Shared by the end-to-end tests."""

from __future__ import annotations

import io
import json
from typing import Any

from voiceprint_cli.__main__ import main
from voiceprint_local.stack import LocalStack, wait_for


def settle(stack: LocalStack, keys: list[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
    """The terminal records of these object keys, once all are terminal (the statuses so far if not in time)."""
    assert wait_for(lambda: set(keys) <= set(stack.terminal_records()), timeout), {
        r["objectKey"]: r.get("status") for r in stack.records() if r["objectKey"] in keys
    }
    records = stack.terminal_records()
    return {k: records[k] for k in keys}


def cli_json(stack: LocalStack, *args: str) -> Any:
    """`voiceprint --local ... --json <args>` against this stack, which must exit 0: its JSON answer."""
    return json.loads(cli_text(stack, "--json", *args))


def cli_text(stack: LocalStack, *args: str) -> str:
    """`voiceprint --local ... <args>` against this stack, which must exit 0: what it printed."""
    assert stack.api is not None
    out, err = io.StringIO(), io.StringIO()
    flags = ["--local", "--aws-endpoint", stack.aws_url, "--api", stack.api.url]
    assert main([*flags, *args], out=out, err=err) == 0, err.getvalue()
    return out.getvalue()
