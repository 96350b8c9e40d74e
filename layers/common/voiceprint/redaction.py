"""Vendor text is stored and logged, so it is cleaned first: a URL's query string (a presigned URL's signature
is a bearer credential) and any X-Amz-* parameter are removed, and the length is capped."""

from __future__ import annotations

import re

MAX_TEXT = 1000
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)\?[^\s\"'<>]*", re.IGNORECASE)
_AMZ_PARAM = re.compile(r"(X-Amz-[A-Za-z-]+)=[^&\s\"'<>]*", re.IGNORECASE)


def redact(text: str, limit: int = MAX_TEXT) -> str:
    cleaned = _AMZ_PARAM.sub(r"\1=<redacted>", _URL_QUERY.sub(r"\1?<redacted>", text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
