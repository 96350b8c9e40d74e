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
