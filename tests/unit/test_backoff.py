from __future__ import annotations

import pytest

from voiceprint.backoff import MAX_VISIBILITY_SECONDS, retry_delay


def test_retry_after_is_honoured_with_bounded_jitter() -> None:
    assert retry_delay(1, retry_after=30, rand=lambda: 0.0) == 30
    assert retry_delay(1, retry_after=30, rand=lambda: 0.999) == 36  # + up to 20 % (max 10 s)
    assert retry_delay(1, retry_after=600, rand=lambda: 0.999) == 610


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 10), (2, 20), (3, 40), (6, 320), (7, 640), (8, 900), (30, 900)])
def test_exponential_ceiling_with_full_jitter(attempt: int, ceiling: int) -> None:
    assert retry_delay(attempt, rand=lambda: 0.999999) == ceiling
    assert retry_delay(attempt, rand=lambda: 0.5) == round(ceiling / 2)


def test_never_below_one_second_nor_above_sqs_maximum() -> None:
    assert retry_delay(1, rand=lambda: 0.0) == 1
    assert retry_delay(1, retry_after=10**9, rand=lambda: 0.0) == MAX_VISIBILITY_SECONDS
