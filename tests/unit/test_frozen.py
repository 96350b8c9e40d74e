"""@frozen keeps what the layer used of frozen dataclasses (voiceprint/frozen.py says what it leaves out)."""

from __future__ import annotations

import pytest

from voiceprint import frozen
from voiceprint.frozen import FrozenInstanceError, field


@frozen.frozen
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    secret: str = field(default="s3cr3t", repr=False)

    @property
    def total(self) -> int:
        return self.x + self.y


def test_construction_defaults_and_factories() -> None:
    a, b = Point(1), Point(1, y=2)
    assert (a.x, a.y, a.tags, b.y, b.total) == (1, 0, [], 2, 3)
    assert Point(1).tags is not Point(1).tags  # a fresh default per instance
    with pytest.raises(TypeError, match="missing argument 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected"):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 4 arguments"):
        Point(1, 2, [], "s", 5)  # type: ignore[call-arg]


def test_immutable_equal_hashable_and_replaceable() -> None:
    a = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        a.x = 3  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del a.y
    assert a == Point(1, 2)
    assert a != Point(1, 3)
    assert a != (1, 2)  # type: ignore[comparison-overlap]
    assert hash(Point(1, 2, (), "k")) == hash(Point(1, 2, (), "k"))  # type: ignore[arg-type]
    moved = frozen.replace(a, y=5)
    assert (moved.x, moved.y, a.y) == (1, 5, 2)


def test_repr_leaves_out_what_is_marked() -> None:
    assert repr(Point(1)) == "Point(x=1, y=0, tags=[])"
