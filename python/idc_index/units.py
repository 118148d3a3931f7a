"""Sizes for a person: one helper, used by every repr, summary, log line and message that
shows a number of bytes.

Units are 1000-based, as idc-index 0.13's sizes (``series_size_MB``) are: B, kB, MB, GB, TB,
with three significant digits.

Example:
    >>> format_size(26_367_667_400_000)
    '26.4 TB'
    >>> format_size(1_234_567), format_size(999), format_size(0)
    ('1.23 MB', '999 B', '0 B')
"""

from __future__ import annotations

_UNITS = (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))


def format_size(n: float) -> str:
    """``n`` bytes for a person, in 1000-based units with three significant digits:
    ``512 B``, ``1.23 MB``, ``12.3 GB``, ``26.4 TB``.

    Example:
        >>> format_size(1_234_567)
        '1.23 MB'
        >>> format_size(999_999)
        '1.00 MB'
    """
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, scale in _UNITS:
        if n >= scale * 0.9995:  # what rounds to 1.00 of a unit is shown in it
            value = n / scale
            if value >= 99.95:
                text = f"{value:.0f}"
            elif value >= 9.995:
                text = f"{value:.1f}"
            else:
                text = f"{value:.2f}"
            return f"{sign}{text} {unit}"
    return f"{sign}{n:.0f} B"


__all__ = ["format_size"]
