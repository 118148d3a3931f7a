"""The checks of the identifier and name arguments of the public methods: what they accept
(a string; lists as lists, tuples, numpy arrays or pandas Series of strings), and a TypeError
that names the argument and what it got for anything else, before a value reaches a query."""

from __future__ import annotations

import reprlib

_ACCEPTED = "a tuple, numpy array or pandas Series of strings works too"


def describe(value: object) -> str:
    """What a user passed, for an error message: ``None``, ``int 42``, ``list ['a', 1]``."""
    if value is None:
        return "None"
    return f"{type(value).__name__} {reprlib.repr(value)}"


def shorten(text: object, limit: int = 160) -> str:
    """``text`` for a message, at most about ``limit`` characters: a longer one keeps its start and
    its end (where a path's distinguishing parts are) around an ellipsis.

    Example:
        >>> shorten("/data/" + "x" * 500 + "/series", 40)
        '/data/xxxxxxxxxxxxx…xxxxxxxxxxxxx/series'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    keep = (limit - 1) // 2
    return text[:keep] + "…" + text[-(limit - 1 - keep):]


def _items(value: object) -> list[object] | None:
    """The items of a list, a tuple, or an array-like with ``tolist()`` (numpy arrays, pandas
    Series and Index); None for anything else."""
    if isinstance(value, (list, tuple)):
        return list(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and not isinstance(value, (str, bytes)):
        items = tolist()
        if isinstance(items, list):
            return items
        if isinstance(items, str):  # a 0-dimensional numpy array of one string
            return [items]
    return None


def as_list(value: object, argument: str) -> list[str]:
    """A string, or a list, tuple, numpy array or pandas Series of strings, as a list.

    Raises:
        TypeError: anything else (None, a number, a list holding a non-string), naming the
            argument and what it got.
        ValueError: an empty list.

    Example:
        >>> as_list(("a", "b"), "patientId")
        ['a', 'b']
    """
    if isinstance(value, str):
        return [value]
    items = _items(value)
    if items is None:
        raise TypeError(f"{argument} must be a string or list of strings ({_ACCEPTED}), got {describe(value)}")
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"{argument} must be a string or list of strings, got {describe(value)} whose item {position} "
                f"is {describe(item)}"
            )
    if not items:
        raise ValueError(f"{argument} is an empty list: give at least one value")
    return [str(item) for item in items]


def as_str(value: object, argument: str, what: str) -> str:
    """``value``, once checked to be a string.

    Raises:
        TypeError: it is not, naming the argument, ``what`` it should be and what it got.
    """
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"{argument} must be a string ({what}), got {describe(value)}")


def as_one(value: object, argument: str, kind: str) -> str:
    """One identifier: a string (or a list of exactly one, as idc-index 0.13 allowed).

    Raises:
        TypeError: anything else, naming the argument and what it got.

    Example:
        >>> as_one("1.2.3", "seriesInstanceUID", "SeriesInstanceUID")
        '1.2.3'
    """
    if isinstance(value, str):
        return str(value)
    items = _items(value)
    if items is not None and len(items) == 1 and isinstance(items[0], str):
        return str(items[0])
    raise TypeError(f"{argument} must be one {kind} (a string), got {describe(value)}")
