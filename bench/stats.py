"""Median with min-max, the way every figure in docs/BENCHMARKS.md is reported."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def show(self, unit: str = "ms", digits: int = 1) -> str:
        return f"{self.median:.{digits}f} {unit} [{self.low:.{digits}f}, {self.high:.{digits}f}] n={self.n}"


def ratio(ours: Spread, floor: Spread) -> float:
    return ours.median / floor.median


BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class RatioVerdict:
    """Ours over the floor, from paired samples (taken alternately, so drift on the machine hits both alike): the
    median of the pairs' ratios with a bootstrap 95 % interval, and what that says of the budget."""

    median: float
    low: float  # 2.5th percentile of the bootstrap medians
    high: float  # 97.5th
    spread_low: float  # the smallest and largest single pair: the run-to-run spread
    spread_high: float
    n: int
    budget: float

    @property
    def verdict(self) -> str:
        if self.high <= self.budget:
            return "within budget"
        if self.low > self.budget:
            return "over budget"
        return "inconclusive"

    def show(self) -> str:
        pairs = f"pairs {self.spread_low:.2f}-{self.spread_high:.2f}, n={self.n}"
        return f"{self.median:.2f}x (95% CI {self.low:.2f}-{self.high:.2f}; {pairs})"


def paired_ratio(ours: Sequence[float], floor: Sequence[float], budget: float, seed: int = 0) -> RatioVerdict:
    import random

    pairs = [o / f for o, f in zip(ours, floor, strict=False) if f > 0]
    if len(pairs) < 3:
        raise ValueError("at least 3 pairs")
    rng = random.Random(seed)  # noqa: S311 - resampling, not security
    medians = sorted(statistics.median(rng.choices(pairs, k=len(pairs))) for _ in range(BOOTSTRAP_RESAMPLES))
    return RatioVerdict(
        median=statistics.median(pairs),
        low=medians[int(0.025 * len(medians))],
        high=medians[int(0.975 * len(medians)) - 1],
        spread_low=min(pairs),
        spread_high=max(pairs),
        n=len(pairs),
        budget=budget,
    )
