from __future__ import annotations

import pytest

from voiceprint.backoff import MAX_VISIBILITY_SECONDS, retry_delay


def test_retry_after_is_a_floor_and_throttled_retries_spread_further_each_time() -> None:
    assert retry_delay(1, retry_after=30, rand=lambda: 0.0) == 30
    assert retry_delay(1, retry_after=30, rand=lambda: 0.999999) == 40  # + up to 10 s the first time
    assert retry_delay(3, retry_after=30, rand=lambda: 0.999999) == 70  # + up to 40 s the third time
    assert retry_delay(20, retry_after=30, rand=lambda: 0.999999) == 930  # the spread is capped


def test_a_burst_of_throttled_messages_does_not_come_back_together() -> None:
    import random

    rng = random.Random(7)
    delays = [retry_delay(4, retry_after=20, rand=rng.random) for _ in range(1000)]
    assert min(delays) >= 20
    assert max(delays) <= 100
    assert max(delays.count(d) for d in set(delays)) < 40  # spread over ~80 distinct seconds


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 10), (2, 20), (3, 40), (6, 320), (7, 640), (8, 900), (30, 900)])
def test_exponential_ceiling_with_full_jitter(attempt: int, ceiling: int) -> None:
    assert retry_delay(attempt, rand=lambda: 0.999999) == ceiling
    assert retry_delay(attempt, rand=lambda: 0.5) == round(ceiling / 2)


def test_never_below_one_second_nor_above_sqs_maximum() -> None:
    assert retry_delay(1, rand=lambda: 0.0) == 1
    assert retry_delay(1, retry_after=10**9, rand=lambda: 0.0) == MAX_VISIBILITY_SECONDS
