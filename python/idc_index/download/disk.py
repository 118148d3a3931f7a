"""The disk under a download: free space, bytes of a plan already there, whether it fits.

Sizes are shown with :func:`idc_index.units.format_size`.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from idc_index._arrow import compute, scalar, strings
from idc_index.arguments import shorten
from idc_index.download.transfer import PARTIAL_SUFFIX
from idc_index.errors import IDCClientInsufficientDiskSpaceError
from idc_index.units import format_size

if TYPE_CHECKING:
    import pyarrow as pa

def free_bytes(directory: str | os.PathLike[str]) -> int:
    """Free bytes on the disk of ``directory`` (or of its nearest existing parent)."""
    path = Path(directory).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def present_bytes(root: Path, table: pa.Table) -> int:
    """Bytes of the plan ``table`` already on disk, which a download will not fetch again.

    An object counts when a file of its size is at its destination. A series counts the files
    in its folder, up to the series' size (folders shared by several series are counted once,
    up to their sum). Only items whose first folder exists in ``root`` are looked at, so a
    plan measured against an unrelated or empty directory costs one listing.
    """
    pc = compute()
    try:
        entries = os.listdir(root)
    except OSError:
        return 0
    if not entries:
        return 0
    first = pc.list_element(pc.split_pattern(table["destination"], "/", max_splits=1), scalar(0))
    table = table.filter(pc.is_in(first, value_set=strings([*entries, "."])))
    credited = 0
    per_dir: dict[str, int] = defaultdict(int)
    columns = (table[name].to_pylist() for name in ("key", "size", "destination"))
    for key, size, destination in zip(*columns):
        dest = os.path.join(root, destination)
        if key is not None:
            try:
                if size is not None and os.stat(dest).st_size == size:
                    credited += size
            except OSError:
                pass
        elif size:
            per_dir[os.path.normpath(dest)] += size
    for folder, expected in per_dir.items():
        on_disk = 0
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False) and not entry.name.endswith(PARTIAL_SUFFIX):
                        on_disk += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        credited += min(on_disk, expected)
    return credited


def check_disk_space(root: Path, needed: int, free: int) -> None:
    """Raise IDCClientInsufficientDiskSpaceError when ``needed`` bytes exceed ``free``."""
    if needed > free:
        raise IDCClientInsufficientDiskSpaceError(
            format_size(needed),
            format_size(free),
            f"Insufficient disk space in {shorten(root)}: the download needs {format_size(needed)} more "
            f"(files already present are counted), but only {format_size(free)} is free. "
            "Free some space or choose another download directory.",
        )



__all__ = ["check_disk_space", "free_bytes", "present_bytes"]
