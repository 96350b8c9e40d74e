from __future__ import annotations

import pytest

from bench import cost
from bench.calls import item_bytes
from bench.stats import Spread, ratio


def test_spread_reports_median_and_range() -> None:
    spread = Spread.of([5.0, 1.0, 3.0, 9.0])
    assert (spread.median, spread.low, spread.high, spread.n) == (4.0, 1.0, 9.0, 4)
    assert spread.show() == "4.0 ms [1.0, 9.0] n=4"
    assert ratio(Spread.of([3.0]), Spread.of([2.0])) == 1.5
    with pytest.raises(ValueError, match="no values"):
        Spread.of([])


def test_item_size_follows_dynamodb_rules() -> None:
    assert item_bytes({"pk": "OBJ#ab"}) == 3 + 2 + 6  # map overhead + name + UTF-8 value
    assert item_bytes({"n": 12345}) == 3 + 1 + 3
    assert item_bytes({"é": "é"}) == 3 + 2 + 2


def test_write_units_count_index_writes_and_item_size() -> None:
    assert cost.dynamodb_wru_per_job(3, 700) == 7  # claim, jobId, result (1 KB) + 4 index writes
    assert cost.dynamodb_wru_per_job(3, 3000) == 11  # a 3 KB result costs 3 units, in the table and in byGroup


def test_a_budget_is_over_only_when_the_whole_interval_is_above_it() -> None:
    from bench.stats import paired_ratio

    floor = [100.0] * 21
    assert paired_ratio([105.0 + i % 3 for i in range(21)], floor, 1.10).verdict == "within budget"
    assert paired_ratio([125.0 + i % 3 for i in range(21)], floor, 1.10).verdict == "over budget"
    # Half the pairs on each side of the budget: the interval straddles it.
    straddling = paired_ratio([100.0 if i % 2 else 120.0 for i in range(21)], floor, 1.10)
    assert straddling.verdict == "inconclusive"
    assert straddling.low <= 1.10 <= straddling.high
    assert (straddling.spread_low, straddling.spread_high, straddling.n) == (1.0, 1.2, 21)
