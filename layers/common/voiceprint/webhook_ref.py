"""The webhook URL's reference to its record, bound to this stack.

pyannoteAI signs the webhook's body, not its URL, so the `ref` query parameter (which record the result is for)
is outside the vendor's signature: a genuine body replayed with another record's `ref` must not land there. Each
URL therefore carries `sig`, a MAC of the ref under a key only this stack holds (a generated Secrets Manager
secret). A ref without a valid `sig` is ignored: the result can then only reach the record that already holds
its jobId (the byJobId index), never a record still waiting for one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

MAC_HEX_CHARS = 32  # 128 bits
_DOMAIN = b"voiceprint-webhook-ref-v1:"


def mac(key: str, ref: str) -> str:
    return hmac.new(key.encode(), _DOMAIN + ref.encode(), hashlib.sha256).hexdigest()[:MAC_HEX_CHARS]


def webhook_url(base: str, ref: str, key: str) -> str:
    return f"{base}?ref={quote(ref, safe='')}&sig={mac(key, ref)}"


def is_bound(ref: str, sig: str, keys: Iterable[str]) -> bool:
    """True when `sig` is this stack's MAC of `ref` under one of `keys` (current first, then a previous one)."""
    if not ref or len(sig) != MAC_HEX_CHARS:
        return False
    return any(key and hmac.compare_digest(mac(key, ref), sig) for key in keys)
