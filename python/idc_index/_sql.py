"""Small helpers for building SQL from user values: literals are always escaped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def literal(value: object) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (case kept)."""
    return '"' + name.replace('"', '""') + '"'


def in_list(column: str, values: Iterable[object]) -> str:
    """``"column" IN ('a', 'b')``."""
    return f"{ident(column)} IN ({', '.join(literal(v) for v in values)})"


def as_list(value: object, argument: str) -> list[str]:
    """A str or a list/tuple of str as a list; anything else is a TypeError naming the argument."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        if not value:
            raise ValueError(f"{argument} is an empty list: give at least one value")
        return list(value)
    raise TypeError(f"{argument} must be a string or list of strings, not {type(value).__name__}")


def unique(values: Sequence[str]) -> list[str]:
    """``values`` without repeats, in their first order."""
    return list(dict.fromkeys(values))
