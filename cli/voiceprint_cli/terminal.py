"""Text from records (object keys, labels, vendor reasons) is anyone's input: before it reaches a terminal, control
characters (escape sequences, carriage returns, C1 controls) and bidirectional overrides are shown escaped."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object) -> str:
    text = str(value)
    if not any(_unsafe(c) for c in text):
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def safe_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON for a terminal: json.dumps escapes C0 controls itself; DEL, C1 controls and bidi overrides too here."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    # Raw newlines here are json's own indentation; inside strings json.dumps has escaped them already.
    return "".join(f"\\u{ord(c):04x}" if _unsafe(c) and c != "\n" else c for c in text)
