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


def unique(values: Sequence[str]) -> list[str]:
    """``values`` without repeats, in their first order."""
    return list(dict.fromkeys(values))
