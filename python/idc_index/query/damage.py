"""Telling a damaged index file from a query that failed for another reason.

The core reports a file it cannot decode as an :class:`~idc_index.errors.SQLError` whose text is
the parquet reader's, without naming the file: ``Parquet argument error: External: snappy:
corrupt input (...)``, ``... Parquet error: invalid key=96 for dictionary``, ``... Parquet error:
Unexpected struct field type 15`` (a garbled page header), ``Parquet error: ... Corrupt footer``
(a file cut short under a live client), or ``the query task stopped: task 49 panicked with
message "offset + len out of bounds"``. :func:`is_read_error` recognises these; which file it
was is found by checking the files of the tables the query names (:func:`tables_named`), the
cheapest check first: :func:`not_whole` (a stat and 12 bytes), :func:`sha256_mismatch` (reads
the file) and :func:`undecodable` (decodes it, in a session of its own). Nothing here runs
unless a query has failed.

Example:
    >>> tables_named('SELECT * FROM "SM_INDEX" JOIN index USING (x)', ["index", "sm_index", "ct_index"])
    ['index', 'sm_index']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from idc_index.errors import (
    IDCError,
    IndexFileError,
    QueryCancelledError,
    ReadOnlySQLError,
    SQLError,
    UnknownTableError,
)
from idc_index.releases.files import file_sha256, has_parquet_ends

#: What the core's errors say when a file could not be read or decoded (see the module's
#: documentation); a query refused or planned wrong says none of these.
_READ_ERROR = re.compile(
    r"\bParquet (argument )?error\b|\bpanicked\b|\bExternal( error)?:|\bEOF:|Object Store error|FileStore|No such file",
    re.IGNORECASE,
)


def is_read_error(error: BaseException) -> bool:
    """Whether the core's ``error`` says that an index file could not be read or decoded."""
    if isinstance(error, (ReadOnlySQLError, UnknownTableError, QueryCancelledError)):
        return False
    return isinstance(error, (SQLError, IndexFileError)) and _READ_ERROR.search(str(error)) is not None


def tables_named(sql: str, names: Iterable[str]) -> list[str]:
    """The ``names`` that ``sql`` has as a word, in any case, quoted or not: every table the query
    can read (SQL text reads no file, and there are no views), and maybe a few more."""
    words = {word.lower() for word in re.findall(r"[A-Za-z_][\w$]*", sql)}
    return sorted(name for name in names if name.lower() in words)


def not_whole(path: Path, size: int | None) -> str | None:
    """What is wrong with ``path`` that a stat and its ends show (gone, cut short, not the size
    the manifest states), or None."""
    try:
        actual = path.stat().st_size
    except OSError:
        return "it is gone"
    if size is not None and actual != size:
        return f"it has {actual} bytes, not the {size} its release's manifest states"
    if not has_parquet_ends(path):
        return "it is cut short (its parquet footer is not whole)"
    return None


def sha256_mismatch(path: Path, sha256: str) -> str | None:
    """How ``path`` differs from the ``sha256`` its release's manifest states, or None."""
    try:
        actual = file_sha256(path)
    except OSError as e:
        return f"it cannot be read ({e})"
    if actual != sha256.lower():
        return f"its sha256 is {actual}, not the {sha256.lower()} its release's manifest states"
    return None


def undecodable(path: Path) -> str | None:
    """Why the query engine cannot decode every page of ``path`` (read in a session of its own,
    so that nothing cached by another session is used), or None when it can."""
    from idc_index import _core

    engine = _core.Engine()
    try:
        engine.register_parquet("checked", str(path))
        # Every column of every row is decoded, and no row is kept: random() is not pushed down.
        engine.sql("SELECT * FROM checked WHERE random() < 0")
    except IDCError as e:
        return f"it cannot be decoded: {e}"
    return None


__all__ = ["is_read_error", "not_whole", "sha256_mismatch", "tables_named", "undecodable"]
