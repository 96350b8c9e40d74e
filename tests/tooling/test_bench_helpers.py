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


def test_only_undecided_cold_starts_get_more_rounds_until_decided_or_capped() -> None:
    import itertools

    from bench.lambda_cold import EXTRA_BATCH, ColdResults, extend

    # Ratios by function, cycled: "fast" is clearly within 1.10; "near" straddles it with 10 and 25 pairs and is
    # decided (within) with 40; "edge" sits on the budget and never decides.
    ratios = {
        "fast": [1.00, 1.02],
        "near": [1.0 + 0.016 * ((k * 7) % 10) for k in range(10)],  # 1.00-1.14, median ~1.07
        "edge": [1.05, 1.15],
    }
    cycles = {name: itertools.cycle(values) for name, values in ratios.items()}
    results = ColdResults(rounds=10)
    for name in ratios:
        results.ours[name] = [100 * next(cycles[name]) for _ in range(10)]
        results.floor[name] = [100.0] * 10
    asked: list[tuple[str, int]] = []

    def pair(name: str, r: int) -> None:
        asked.append((name, r))
        results.ours[name].append(100 * next(cycles[name]))
        results.floor[name].append(100.0)

    extend(results, 1.10, 10 + 4 * EXTRA_BATCH, pair)
    counts = {name: len(results.ours[name]) for name in ratios}
    assert counts["fast"] == 10  # decided from the start: never measured again
    assert counts["near"] == 10 + 2 * EXTRA_BATCH  # more rounds until its interval left the budget
    assert counts["edge"] == 10 + 4 * EXTRA_BATCH  # capped
    assert sorted({r for name, r in asked if name == "edge"}) == list(range(10, 10 + 4 * EXTRA_BATCH))
