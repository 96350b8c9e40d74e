"""How long a failed submission waits before its SQS message is seen again."""

from __future__ import annotations

import random
from collections.abc import Callable

# SQS ChangeMessageVisibility accepts at most 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600
# A message our rate budget had no token for returns at the next window while the backlog is under this many
# windows of work (submit_service._turn). Here, not there: the scale model reads it without importing a service.
TURN_FREE_WINDOWS = 10


def retry_delay(
    attempt: int,
    *,
    base: float = 10.0,
    cap: float = 900.0,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> int:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1).

    Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): a random
    delay below min(cap, base * 2^(attempt-1)). A server-given Retry-After is a floor added to that jitter, so a
    burst of throttled messages does not come back in lockstep at the start of the next rate-limit window, and
    spreads further each time the same message is throttled again. Never below 1 s.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    floor = retry_after if retry_after is not None and retry_after >= 0 else 0.0
    delay = floor + rand() * ceiling
    return int(min(MAX_VISIBILITY_SECONDS, max(1.0, round(delay))))
