"""Small helpers for building SQL from user values: literals are always escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Union

#: Values bound to a query's placeholders: one per ``?`` or ``$1`` (a list or tuple), or one per
#: ``$name`` (a dict). A list bound right after ``IN`` stands for its elements.
Params = Union[Sequence[object], Mapping[str, object], None]


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
