"""How long a failed submission waits before its SQS message is seen again."""

from __future__ import annotations

import random
from collections.abc import Callable

# SQS ChangeMessageVisibility accepts at most 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600


def retry_delay(
    attempt: int,
    *,
    base: float = 10.0,
    cap: float = 900.0,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> int:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1).

    A server-given Retry-After wins (plus a little jitter so a burst of throttled messages does not come back
    in lockstep); otherwise exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
    Architecture Blog), never below 1 s.
    """
    if retry_after is not None and retry_after >= 0:
        delay = retry_after + rand() * min(10.0, max(1.0, retry_after * 0.2))
    else:
        ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
        delay = rand() * ceiling
    return int(min(MAX_VISIBILITY_SECONDS, max(1.0, round(delay))))
