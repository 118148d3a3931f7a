"""Where each index of a release is read from, registered as a table of the query engine.

The main index is read from its optimised copy once that is written (the copy is started in
the background otherwise); the other installed or cached indices from their files; with
``remote``, the main indices that are not in the cache from their URLs, and an optional index
is registered at its URL instead of being downloaded. The key of each index that has one is
declared to the planner.

Example:
    >>> tables = IndexTables(engine, catalog, optimize_index=True, remote=False)  # doctest: +SKIP
    >>> tables.make_queryable(catalog.entry("sm_index"))  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from idc_index.errors import IndexFetchError, SQLError
from idc_index.releases.catalog import Catalog
from idc_index.releases.files import MAIN_INDEX, MAIN_INDEX_FILE_STEM, IndexEntry, check_remote_file, has_parquet_ends

if TYPE_CHECKING:
    from idc_index import _core


logger = logging.getLogger("idc_index")


class _Layout(TypedDict):
    """The layout arguments of ``_core.Engine.start_optimize``."""

    sort_by: list[str]
    bloom_filter_columns: list[str]
    row_group_rows: int
    page_rows: int
    compression: str


#: Layout of the optimised copy of the main index (see idc_core::query::layout).
MAIN_INDEX_LAYOUT: _Layout = {
    "sort_by": ["collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID"],
    "bloom_filter_columns": ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "crdc_series_uuid"],
    # Measured on the v25 index: 8,192-row groups of 1,024-row pages, LZ4, make a lookup by
    # SeriesInstanceUID 2 ms; 16,384 rows, 2,048-row pages and zstd (90 MB instead of 150)
    # made it 6 ms, most of it in zstd (see docs/benchmarks.md).
    "row_group_rows": 8192,
    "page_rows": 1024,
    "compression": "lz4_raw",
}
MAIN_INDEX_LAYOUT_VERSION = "3"

#: The column that names one row of an index, declared to the query planner: it counts
#: COUNT(DISTINCT key) as a count and groups by the key alone where the other group columns
#: depend on it. The index builder's gates refuse a release in which a key repeats or is NULL.
INDEX_KEYS = {
    MAIN_INDEX: "SeriesInstanceUID",
    "collections_index": "collection_id",
    "analysis_results_index": "analysis_result_id",
}


#: Seconds a client lives before the optimised copy is started: a command that is done by then
#: (most CLI commands, a short script) pays nothing for it; a notebook or a download writes it.
OPTIMIZE_DELAY_SECONDS = 3.0

#: ``0`` (or ``false``, ``no``, ``off``) turns the optimised copy of the main index off.
OPTIMIZE_ENV = "IDC_INDEX_OPTIMIZE"


def optimize_from_env() -> bool:
    """Whether ``IDC_INDEX_OPTIMIZE`` leaves the optimised copy on (the default)."""
    return os.environ.get(OPTIMIZE_ENV, "").strip().lower() not in ("0", "false", "no", "off")


class IndexTables:
    """Registers the indices of ``catalog`` in ``engine`` (see the module's documentation)."""

    def __init__(self, engine: _core.Engine, catalog: Catalog, *, optimize_index: bool, remote: bool) -> None:
        self._engine = engine
        self._catalog = catalog
        self._remote = remote
        main_path = catalog.entry(MAIN_INDEX).path
        optimized = self._optimized_copy(main_path) if optimize_index and main_path else None
        if optimized is not None and optimized.is_file():
            if has_parquet_ends(optimized):
                main_path = optimized
            else:  # cut short (a full disk, a copy): removed, to be written again
                logger.warning("the optimised copy %s is damaged; it was removed and will be written again", optimized)
                optimized.unlink(missing_ok=True)
        opened_with = set(catalog.main_indices) if remote else set()
        at_urls = []
        for entry in catalog.indices.values():
            if entry.path is not None:
                self._register(entry.name, main_path if entry.name == MAIN_INDEX and main_path else entry.path)
            elif entry.name in opened_with:
                at_urls.append(entry)
        if at_urls:
            # Side by side: each is a few round trips (a HEAD, the footer).
            with ThreadPoolExecutor(max_workers=len(at_urls)) as pool:
                list(pool.map(self._register_remote, at_urls))
        if optimized is not None and main_path is not None and main_path != optimized:
            # Started after a delay, so that a one-shot command never pays for it, and not waited
            # for: a process that ends first leaves a partial file and a lock that the next one
            # sees are abandoned (the writer is gone), and it starts again.
            engine.start_optimize(
                MAIN_INDEX,
                str(optimized),
                metadata=[("idc_index.release", catalog.release), ("idc_index.layout", MAIN_INDEX_LAYOUT_VERSION)],
                delay_seconds=OPTIMIZE_DELAY_SECONDS,
                **MAIN_INDEX_LAYOUT,
            )

    def make_queryable(self, entry: IndexEntry) -> bool:
        """Register an index that is not registered yet: at its URL with ``remote`` (when it is
        not in the cache), else from its file, downloaded first when needed. Whether it was
        registered now (False: it was already).

        Raises:
            IndexFetchError: it could not be downloaded or read at its URL.
            IndexIntegrityError: it did not match its size or sha256; nothing was cached.
        """
        if entry.name in self._engine.table_names():
            return False
        if self._remote and entry.path is None:
            self._register_remote(entry)
        else:
            self._register(entry.name, self._catalog.fetch(entry.name))
        return True

    def _register(self, name: str, path: Path) -> None:
        self._engine.register_parquet(name, str(path), _aliases(name))
        self._declare_key(name)

    def _register_remote(self, entry: IndexEntry) -> None:
        url = check_remote_file(entry)
        try:
            self._engine.register_remote_parquet(entry.name, url, _aliases(entry.name))
        except SQLError as e:
            raise IndexFetchError(f"index {entry.name} cannot be read at {url}: {e}") from e
        self._declare_key(entry.name)

    def _declare_key(self, name: str) -> None:
        if name in INDEX_KEYS:
            self._engine.declare_key(name, [INDEX_KEYS[name]])

    def _optimized_copy(self, source: Path) -> Path:
        """Where the optimised copy of the main index file ``source`` is (or will be) written."""
        stat = source.stat()
        key = f"layout{MAIN_INDEX_LAYOUT_VERSION}-{stat.st_size}-{stat.st_mtime_ns}"
        return self._catalog.cache_dir / "optimized" / key / f"{MAIN_INDEX_FILE_STEM}.parquet"


def _aliases(name: str) -> list[str]:
    """The other names of an index's table: ``idc_index`` for the main index."""
    return [MAIN_INDEX_FILE_STEM] if name == MAIN_INDEX else []


__all__ = [
    "INDEX_KEYS",
    "MAIN_INDEX_LAYOUT",
    "MAIN_INDEX_LAYOUT_VERSION",
    "OPTIMIZE_ENV",
    "IndexTables",
    "optimize_from_env",
]
