"""What was verified: a stamp beside each index file of the cache, with the size and modification
time the file had when its content was last checked (against its release's sha256 when it was
fetched, or when the core wrote it, for the optimised copy of the main index).

A file whose size or modification time differs from its stamp was written since (in place, by
another program or a failing disk's repair) and is checked again before a query reads it: a
change that still decodes would otherwise be read as wrong values. A file without a stamp
(fetched by an earlier version, or its stamp could not be written) is checked once, then
stamped. The core writes the same stamp beside the optimised copy it writes
(``idc_core::query::layout``): ``.<file name>.verified``, JSON ``{"size": N, "mtime_ns": M}``.

Example:
    >>> write_stamp(path)  # doctest: +SKIP
    >>> is_stamped(path)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger("idc_index")

#: A file's size and modification time in nanoseconds.
Identity = tuple[int, int]


def stamp_path(path: Path) -> Path:
    """Where the stamp of ``path`` is kept: ``.<name>.verified`` beside it."""
    return path.with_name(f".{path.name}.verified")


def identity(path: str | os.PathLike[str]) -> Identity | None:
    """The size and modification time of ``path`` now, or None when it cannot be statted."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_stamp(path: Path) -> Identity | None:
    """The identity the stamp of ``path`` records, or None (no stamp, or not one we wrote)."""
    try:
        stamp = json.loads(stamp_path(path).read_bytes())
        size, mtime_ns = stamp["size"], stamp["mtime_ns"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if type(size) is not int or type(mtime_ns) is not int:
        return None
    return size, mtime_ns


def write_stamp(path: Path) -> Identity | None:
    """Record that ``path``, as it is now, was checked; its identity (None when it is gone). A
    stamp that cannot be written is not an error: the file is checked again next time."""
    now = identity(path)
    if now is None:
        return None
    stamp = stamp_path(path)
    tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"size": now[0], "mtime_ns": now[1]}))
        os.replace(tmp, stamp)
    except OSError as e:
        logger.debug("cannot write %s (%s); %s is checked again by the next client", stamp, e, path)
        tmp.unlink(missing_ok=True)
    return now


def is_stamped(path: Path) -> bool:
    """Whether ``path`` is as its stamp records (not changed since it was checked)."""
    now = identity(path)
    return now is not None and now == read_stamp(path)


__all__ = ["Identity", "identity", "is_stamped", "read_stamp", "stamp_path", "write_stamp"]
