"""One contract, two implementations of the shared rate counter: RateTokenStore on moto and tests/fakes.py's
FakeRateTokens (what the services' unit tests use)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeRateTokens
from voiceprint.rate_allowance import Grant
from voiceprint.rate_token_store import RateTokenStore


@pytest.fixture(params=["fake", "dynamodb"])
def tokens(request: pytest.FixtureRequest) -> Iterator[FakeRateTokens | RateTokenStore]:
    if request.param == "fake":
        yield FakeRateTokens()
        return
    aws: Any = request.getfixturevalue("aws")
    yield RateTokenStore(aws.ddb, aws.table)


def test_blocks_are_given_until_the_window_is_spent_then_what_is_left_then_nothing(
    tokens: FakeRateTokens | RateTokenStore,
) -> None:
    assert tokens.take("submit", 7, 5, 12) == Grant(5, 5)
    assert tokens.take("submit", 7, 5, 12) == Grant(5, 10)
    assert tokens.take("submit", 7, 5, 12) == Grant(2, 12)  # what is left, not a block over the limit
    assert tokens.take("submit", 7, 5, 12) == Grant(0, 12)
    assert tokens.used("submit", 7) == 12


def test_a_new_window_starts_from_zero_and_an_older_one_gets_nothing(tokens: FakeRateTokens | RateTokenStore) -> None:
    tokens.take("submit", 7, 5, 10)
    tokens.take("submit", 7, 5, 10)
    assert tokens.take("submit", 8, 3, 10) == Grant(3, 3)
    assert tokens.take("submit", 7, 3, 10).granted == 0  # a container whose clock lags gets no tokens of the past
    assert tokens.used("submit", 7) == 0
    assert tokens.used("submit", 8) == 3


def test_endpoints_are_counted_apart(tokens: FakeRateTokens | RateTokenStore) -> None:
    assert tokens.take("submit", 1, 5, 5) == Grant(5, 5)
    assert tokens.take("read", 1, 5, 300) == Grant(5, 5)
    assert tokens.take("submit", 1, 1, 5).granted == 0


def test_spending_raises_the_count_never_lowers_it(tokens: FakeRateTokens | RateTokenStore) -> None:
    tokens.take("submit", 4, 5, 100)
    tokens.spend("submit", 4, 40)  # the vendor counted 40: someone else uses the key
    assert tokens.used("submit", 4) == 40
    tokens.spend("submit", 4, 10)
    assert tokens.used("submit", 4) == 40
    assert tokens.take("submit", 4, 5, 42) == Grant(2, 42)
    tokens.spend("submit", 5, 100)  # a 429 in a window the counter had not reached yet spends it
    assert tokens.take("submit", 5, 1, 100).granted == 0


def test_a_block_shrinks_to_the_room_left_shared_among_the_containers(
    tokens: FakeRateTokens | RateTokenStore,
) -> None:
    assert tokens.take("submit", 3, 5, 100, 4) == Grant(5, 5)
    tokens.spend("submit", 3, 85)
    assert tokens.take("submit", 3, 5, 100, 4) == Grant(3, 88)  # 15 left among 4: 3 each
    tokens.spend("submit", 3, 98)
    assert tokens.take("submit", 3, 5, 100, 4) == Grant(1, 99)  # never less than one while there is room
    assert tokens.take("submit", 3, 5, 100, 4) == Grant(1, 100)
    assert tokens.take("submit", 3, 5, 100, 4).granted == 0
