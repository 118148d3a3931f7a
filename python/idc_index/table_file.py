"""A table written to a file whose suffix names its format (CSV, Parquet or JSON), whole or not
at all: under a temporary name first, then renamed. ``idc changes --out FILE`` writes its list
of changed series so.

Example:
    >>> check_table_file("changes.parquet")  # doctest: +SKIP
    'changes.parquet'
    >>> write_table_file(client.release_changes(20), "changes.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: The suffixes a table file may have, each naming its format.
TABLE_FORMATS = (".csv", ".parquet", ".json")


def check_table_file(path: str) -> str:
    """``path``, or ValueError (before anything is computed) when its suffix names no format.

    Example:
        >>> check_table_file("out.txt")
        Traceback (most recent call last):
        ...
        ValueError: FILE ends in .csv, .parquet, .json, not '.txt'
    """
    suffix = Path(path).suffix
    if suffix.lower() not in TABLE_FORMATS:
        raise ValueError(f"FILE ends in {', '.join(TABLE_FORMATS)}, not {suffix or 'no suffix'!r}")
    return path


def write_table_file(frame: Any, path: str) -> None:
    """The pandas DataFrame ``frame`` into ``path``, its format from the suffix (a JSON file is
    a list of records), under a temporary name that is renamed once complete (and removed when
    writing fails).

    Raises:
        OSError: ``path`` cannot be written.
    """
    target = Path(path)
    part = target.with_name(f".{target.name}.part")
    suffix = target.suffix.lower()
    try:
        if suffix == ".csv":
            frame.to_csv(part, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(part, index=False)
        else:
            frame.to_json(part, orient="records", indent=1)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


__all__ = ["TABLE_FORMATS", "check_table_file", "write_table_file"]
