"""`@frozen`: the frozen dataclasses of this layer, without dataclasses' cold-start cost.

`dataclasses.dataclass` compiles each class's __init__, __repr__, __eq__ and __hash__ from generated source (one
exec each): a 37-field record took 6-9 ms to define, and the layer's ~20 value classes a few percent of every
cold start (docs/BENCHMARKS.md). Here one generic __init__ and friends serve every class, defined once; type
checkers treat `@frozen` classes as frozen dataclasses (PEP 681 dataclass_transform), so constructor calls and
field types are checked as before.

What it keeps of a frozen dataclass: fields from annotations in order, defaults, `field(default_factory=...,
repr=False)`, positional or keyword construction, immutability, equality and hashing by fields, a repr (without
`repr=False` fields), and `replace`. What it leaves out: inheritance of fields, InitVar, __post_init__, ordering,
and `dataclasses.fields()` (these classes are not dataclasses to the dataclasses module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, dataclass_transform, overload

_MISSING: Any = object()


class _Field:
    __slots__ = ("default", "factory", "repr")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, repr_: bool) -> None:
        self.default, self.factory, self.repr = default, factory, repr_


@overload
def field[T](*, default: T, repr: bool = True) -> T: ...
@overload
def field[T](*, default_factory: Callable[[], T], repr: bool = True) -> T: ...
@overload
def field(*, repr: bool = True) -> Any: ...
def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
) -> Any:
    return _Field(default, default_factory, repr)


class FrozenInstanceError(AttributeError):
    pass


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    spec = type(self).__frozen_fields__
    if len(args) > len(spec):
        raise TypeError(f"{type(self).__name__}() takes {len(spec)} arguments, {len(args)} given")
    values = self.__dict__
    for (name, _, _, _), value in zip(spec, args, strict=False):
        values[name] = value
    for name, default, factory, _ in spec[len(args) :]:
        if name in kwargs:
            values[name] = kwargs.pop(name)
        elif factory is not None:
            values[name] = factory()
        elif default is not _MISSING:
            values[name] = default
        else:
            raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got unexpected arguments {sorted(kwargs)}")


def _values(self: Any) -> tuple[Any, ...]:
    values = self.__dict__
    return tuple(values[name] for name, _, _, _ in type(self).__frozen_fields__)


def _eq(self: Any, other: object) -> Any:  # bool, or NotImplemented for another class
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _repr(self: Any) -> str:
    values = self.__dict__
    shown = ", ".join(f"{name}={values[name]!r}" for name, _, _, show in type(self).__frozen_fields__ if show)
    return f"{type(self).__name__}({shown})"


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen[T](cls: type[T]) -> type[T]:
    spec = []
    # The class's own annotations, read directly: inspect.get_annotations would import inspect at cold start.
    for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
        declared = cls.__dict__.get(name, _MISSING)
        if isinstance(declared, _Field):
            spec.append((name, declared.default, declared.factory, declared.repr))
        else:
            spec.append((name, declared, None, True))
        if declared is not _MISSING:
            delattr(cls, name)  # instances hold every field; a class attribute would only shadow a missing one
    cls.__frozen_fields__ = tuple(spec)  # type: ignore[attr-defined]
    for dunder, function in (
        ("__init__", _init),
        ("__eq__", _eq),
        ("__hash__", _hash),
        ("__repr__", _repr),
        ("__setattr__", _setattr),
        ("__delattr__", _delattr),
    ):
        setattr(cls, dunder, function)
    return cls


def replace[T](obj: T, **changes: Any) -> T:
    """A copy of `obj` with `changes` (dataclasses.replace for @frozen classes)."""
    values = {name: obj.__dict__[name] for name, _, _, _ in type(obj).__frozen_fields__}  # type: ignore[attr-defined]
    return type(obj)(**{**values, **changes})
