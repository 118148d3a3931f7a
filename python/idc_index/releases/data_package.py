"""The installed idc-index-data package: its folder and its version, found without importing
the package or ``importlib.metadata`` (each costs tens of milliseconds of every command's
start-up)."""

from __future__ import annotations

import re
from importlib.util import find_spec
from pathlib import Path

from idc_index.releases.files import DATA_PACKAGE

#: The folder an installer writes beside the package: ``idc_index_data-<version>.dist-info``.
_DIST_INFO = re.compile(rf"^{DATA_PACKAGE}-([^-]+)\.dist-info$", re.IGNORECASE)


def data_package_dir() -> Path | None:
    """The folder of the installed idc-index-data package, or None when it is not installed."""
    spec = find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def data_package_version(package_dir: Path) -> str | None:
    """The version of the idc-index-data installed at ``package_dir``: from the name of the one
    ``.dist-info`` folder beside it, else (an editable install keeps it elsewhere; two folders
    left by an interrupted upgrade) from the distribution's metadata; None without either."""
    folders = package_dir.parent.glob(f"{DATA_PACKAGE}-*.dist-info")
    found = {m.group(1) for folder in folders if (m := _DIST_INFO.match(folder.name))}
    if len(found) == 1:
        return found.pop()
    from importlib import metadata

    try:
        return metadata.version("idc-index-data")
    except metadata.PackageNotFoundError:
        return None


__all__ = ["data_package_dir", "data_package_version"]
