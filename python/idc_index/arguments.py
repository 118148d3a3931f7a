"""The checks of the identifier and name arguments of the public methods: what they accept
(a string; lists as lists, tuples, numpy arrays or pandas Series of strings), and a TypeError
that names the argument and what it got for anything else, before a value reaches a query.
Also the on/off options (:func:`as_bool`) and the one reading of a bandwidth limit (:func:`parse_rate`)."""

from __future__ import annotations

import re
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


def as_bool(value: object, argument: str) -> bool:
    """An on/off option: True or False (numpy's booleans too), nothing that only looks like one.

    Raises:
        TypeError: anything else (``"yes"``, ``1``, None), naming the argument and what it got.

    Example:
        >>> as_bool(True, "with_references")
        True
    """
    kind = type(value)
    if isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")):
        return bool(value)
    raise TypeError(f"{argument} must be True or False, got {describe(value)}")


_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?B?(?:/s)?)?\s*")
_RATE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
#: The least bandwidth limit the downloader accepts (bytes per second).
MIN_RATE = 1024


def parse_rate(value: int | str | None, argument: str = "max_bandwidth") -> int | None:
    """A bandwidth limit in bytes per second: a number, or a text as curl's ``--limit-rate``
    takes it (``"500k"``, ``"25M"``, ``"1G"``: binary multiples; ``"25MB/s"`` reads the same).
    None: no limit.

    Raises:
        TypeError: neither a number nor a text, naming the argument.
        ValueError: a text that is no rate, or less than 1 kB/s, naming the argument.

    Example:
        >>> parse_rate("25M"), parse_rate(1_000_000), parse_rate(None)
        (26214400, 1000000, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{argument} must be bytes per second (a number, or a text such as '25M'), got {describe(value)}")
    if isinstance(value, (int, float)):
        rate = int(value)
    else:
        match = _RATE.fullmatch(str(value))
        if match is None:
            raise ValueError(
                f"{argument} must be bytes per second: a number, or a text such as '500k', '25M' or '1G' "
                f"(binary multiples, as curl's --limit-rate), got {shorten(value)!r}"
            )
        rate = int(float(match.group(1)) * _RATE_UNITS[match.group(2).lower()])
    if rate < MIN_RATE:
        raise ValueError(f"{argument} must be at least {MIN_RATE} bytes per second (1k), got {value!r}")
    return rate
