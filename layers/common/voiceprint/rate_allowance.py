"""pyannoteAI's rate limit as one allowance for every container and function that calls an endpoint.

The vendor counts each endpoint's requests per fixed window (API_NOTES.md: submits 100 a minute, job reads 300;
windows are taken to start at multiples of their length, as the emulator's do). Each container takes tokens of the
current window from one shared counter, in blocks (one conditional write per block: `RateTokens`), spends them
locally and asks again when they run out. So no container meets a 429 that another has already met, and the
counter costs well under one write per request.

Tokens a container holds when the window ends are lost to the others, while the messages that could have used them
wait elsewhere. So a block is no more than the messages the container has in hand (its batch, or LEAST_BLOCK), and
shrinks as the window fills (to the room left divided among the containers): with both, the scale model drains
within 5 % of the ideal at 1, 2 and 4 containers, with no 429 (docs/RELIABILITY.md).

The counter is ours; the vendor's count is the truth. An answer's `X-RateLimit-Remaining` below what the counter
knows (another tool on the same API key) raises the counter; a 429 spends the window for everyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceprint.frozen import frozen

if TYPE_CHECKING:
    from voiceprint.ports import RateTokens

# A block is at most the requests a container has in hand, but never fewer than this: messages come back one at a
# time in a long backlog, so blocks of one would cost a write per request (the scale model: 3 keeps the drain within
# 1.05 x the ideal at 2 and 4 containers for 0.4 writes a job; blocks of 5 cost 9 % of the drain at 4 containers).
LEAST_BLOCK = 3

SUBMIT = "submit"  # POST /v1/voiceprint and POST /v1/identify share one limit
READ = "read"  # GET /v1/jobs/{id}


def block_size(want: int, limit: int, used: int, sharers: int) -> int:
    """The tokens one take may get: `want`, shrunk to the room left divided among the containers that share it
    (at least 1 while there is room)."""
    return max(1, min(want, (limit - used) // max(1, sharers)))


def room_for(block: int, limit: int, sharers: int) -> int:
    """The most a window may have used for a take of `block` to be given in full: room for `block` in each of the
    sharing containers, or for the one token a block of 1 is."""
    return limit - (block * max(1, sharers) if block > 1 else 1)


@frozen
class Grant:
    granted: int  # tokens given to the caller, 0 when the window is spent
    used: int  # the window's count after this grant, as the counter has it


class RateAllowance:
    """One endpoint's tokens in one container. `take` before each request; `observe` its answer's remaining count;
    `refused` after a 429. Every method takes `now` (seconds since the epoch) so that tests run on a clock."""

    def __init__(
        self, tokens: RateTokens, endpoint: str, *, limit: int, window_seconds: int, block: int, containers: int
    ) -> None:
        self._tokens = tokens
        self._endpoint = endpoint
        self._limit = limit
        self._size = window_seconds
        self._block = max(1, block)
        self._containers = max(1, containers)
        self._window = -1  # the window the fields below describe
        self._left = 0  # tokens held for it
        self._used = 0  # the counter's value, last seen
        self._spent = False  # the counter said the window is spent
        self._synced = -1  # the last window this container raised the counter in (observe)

    def wait(self, now: float) -> float:
        """Seconds until a request may be made, as far as this container knows without asking: 0, or the time to
        the end of a window found spent."""
        if self._window == self._index(now) and self._spent and self._left == 0:
            return self._window_end(now) - now
        return 0.0

    def take(self, now: float, upcoming: int = 1) -> float:
        """One token for a request made now: 0.0 when it may be made, else the seconds to the window's end.
        `upcoming`: the requests this container has in hand (this one included); a block is no larger (but at least
        LEAST_BLOCK), for tokens held without a request to spend them on are lost to the others at the window's end."""
        self._roll(now)
        if self._left == 0:
            if self._spent:
                return self._window_end(now) - now
            want = block_size(min(self._block, max(LEAST_BLOCK, upcoming)), self._limit, self._used, self._containers)
            grant = self._tokens.take(self._endpoint, self._window, want, self._limit, self._containers)
            self._used = max(self._used, grant.used)
            self._left = grant.granted
            if grant.granted == 0:
                self._spent = True
                return self._window_end(now) - now
        self._left -= 1
        return 0.0

    def observe(self, now: float, remaining: int | None, vendor_limit: int | None = None) -> None:
        """An answer's X-RateLimit-Remaining (out of X-RateLimit-Limit): if the vendor has counted more than the
        counter, someone else uses the key; the counter is raised to the vendor's count. At most one such write per
        window and container: the counter's value seen here is that of this container's last take, and other
        containers' requests since then would otherwise look like a stranger's and cost a refused write each. Out of
        another limit than ours, the count says nothing of our windows: the 429s pace us then."""
        if remaining is None or (vendor_limit is not None and vendor_limit != self._limit):
            return
        self._roll(now)
        vendor_used = self._limit - max(0, remaining)
        if vendor_used > self._used and self._synced != self._window:
            self._tokens.spend(self._endpoint, self._window, vendor_used)
            self._used, self._synced = vendor_used, self._window

    def refused(self, now: float, retry_after: float | None = None) -> None:
        """A 429: the window is spent, for every container. Unless the vendor's window ends well before ours
        (Retry-After): then its windows are not ours, and this container's pause is all (submit_service)."""
        self._roll(now)
        if retry_after is not None and now + retry_after < self._window_end(now) - 1:
            return
        self._tokens.spend(self._endpoint, self._window, self._limit)
        self._used, self._left, self._spent = self._limit, 0, True

    def _roll(self, now: float) -> None:
        window = self._index(now)
        if window != self._window:
            self._window, self._left, self._used, self._spent = window, 0, 0, False

    def _index(self, now: float) -> int:
        return int(now // self._size)

    def _window_end(self, now: float) -> float:
        return float((self._index(now) + 1) * self._size)
