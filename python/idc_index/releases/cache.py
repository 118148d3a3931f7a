"""What the cache holds, and removing it: ``<cache>/indices/<release>/`` with the fetched
indices, the optimised copies of the main index (``optimized/<key>/``, one per shipped index
file the cache has met) and the clinical tables (``clinical_data/``); and ``<cache>/headers/``,
the DICOM headers and series listings that instance metadata read (of no release: an object
never changes).

Nothing outside ``<cache>/indices`` and ``<cache>/headers`` is read or removed: the cache
directory may be shared with other files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from idc_index.releases.files import safe_component

#: The directories under the cache root that idc-index writes: the indices, and the headers.
INDICES_DIR = "indices"
HEADERS_DIR = "headers"
#: The release column of the headers' item: they belong to every release.
ANY_RELEASE = "any"
#: Under a release's directory: the optimised copies of the main index, and the clinical tables.
OPTIMIZED_DIR = "optimized"
CLINICAL_DIR = "clinical_data"


@dataclass(frozen=True)
class CacheItem:
    """One thing in the cache: its release, what it is, where, and its bytes on disk."""

    release: str
    what: str
    path: Path
    bytes: int


def items(cache_root: Path) -> list[CacheItem]:
    """Everything idc-index keeps under ``cache_root``, by release (sorted) and kind; the headers
    last."""
    root = cache_root / INDICES_DIR
    found: list[CacheItem] = []
    for release in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for path in sorted(release.iterdir()):
            if path.name.startswith(".") and path.name.endswith(".verified"):  # an index file's stamp
                continue
            if path.name == OPTIMIZED_DIR and path.is_dir():
                found.extend(CacheItem(release.name, f"optimised copy of the main index ({copy.name})", copy,
                                       _bytes(copy)) for copy in sorted(path.iterdir()))
            elif path.name == CLINICAL_DIR and path.is_dir():
                found.append(CacheItem(release.name, "clinical tables", path, _bytes(path)))
            elif path.suffix == ".parquet":
                found.append(CacheItem(release.name, f"index {path.stem}", path, _bytes(path)))
            else:
                found.append(CacheItem(release.name, "release metadata" if path.suffix == ".json" else "other",
                                       path, _bytes(path)))
    headers = cache_root / HEADERS_DIR
    if headers.is_dir():
        found.append(CacheItem(ANY_RELEASE, "DICOM headers and series listings (instance metadata)", headers,
                               _bytes(headers)))
    return found


def stale_copies(cache_root: Path, current: Path | None) -> list[CacheItem]:
    """The optimised copies that no client of this installation reads: every one but
    ``current``'s (a copy is made per shipped index file; an upgrade of idc-index-data leaves
    the previous ones behind)."""
    keep = current.parent if current is not None else None
    return [i for i in items(cache_root) if i.what.startswith("optimised copy") and i.path != keep]


def remove(cache_root: Path, targets: list[CacheItem]) -> int:
    """Remove ``targets`` (each inside ``<cache_root>/indices`` or ``<cache_root>/headers``, or
    the latter itself); the bytes freed."""
    roots = [(cache_root / d).resolve() for d in (INDICES_DIR, HEADERS_DIR)]
    freed = 0
    for item in targets:
        path = item.path.resolve()
        if not any(root in path.parents or root == path and root.name == HEADERS_DIR for root in roots):
            raise ValueError(f"{item.path} is not inside {' or '.join(map(str, roots))}; nothing outside them is "
                             "removed")
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        freed += item.bytes
    return freed


def release_items(cache_root: Path, release: str | None) -> list[CacheItem]:
    """Everything of ``release`` in the cache (everything, the headers too, with None)."""
    return [i for i in items(cache_root) if release is None or i.release == safe_component(release)]


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


__all__ = ["ANY_RELEASE", "CLINICAL_DIR", "HEADERS_DIR", "INDICES_DIR", "OPTIMIZED_DIR", "CacheItem", "items", "release_items", "remove", "stale_copies"]
