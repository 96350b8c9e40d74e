"""Shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

from voiceprint_local.stack import LocalStack, wait_for


def settle(stack: LocalStack, keys: list[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
    """The terminal records of these object keys, once all are terminal (the statuses so far if not in time)."""
    assert wait_for(lambda: set(keys) <= set(stack.terminal_records()), timeout), {
        r["objectKey"]: r.get("status") for r in stack.records() if r["objectKey"] in keys
    }
    records = stack.terminal_records()
    return {k: records[k] for k in keys}
