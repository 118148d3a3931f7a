"""Where each index of a release is read from, registered as a table of the query engine.

The main index is read from its optimised copy once that is written (the copy is started in
the background otherwise); the other installed or cached indices from their files; with
``remote``, the main indices that are not in the cache from their URLs, and an optional index
is registered at its URL instead of being downloaded. The key of each index that has one is
declared to the planner.

Queries run through :meth:`IndexTables.sql`, which answers them from sound files: an index
file that a query cannot read (garbled bytes, a file cut short or deleted under a live client)
is found among the files of the tables the query names (see :mod:`idc_index.query.damage`),
set aside and replaced, and the query runs again, at most once per damaged file. A copy in the
cache is removed and fetched again (or read at its URL with ``remote``); the optimised copy of
the main index is removed, the shipped file answers, and the copy is written again in the
background; a file that is not a copy (the data package, a release directory) is left in
place. When a copy cannot be fetched again, or a file is not a copy, ``DamagedIndexError``
names the file, says whether it was removed and what to do.

Before each query, every registered file is statted: one that is gone is replaced, and a copy
in the cache whose size or modification time differs from its stamp (see
:mod:`idc_index.releases.stamps`: it was written since it was checked) is checked again if the
query names it (the optimised copy is written again; a cached index is hashed against its
release's sha256), so that bytes changed in place are never read as values. Nothing is hashed
at start-up.

Example:
    >>> tables = IndexTables(engine, catalog, optimize_index=True, remote=False)  # doctest: +SKIP
    >>> tables.make_queryable(catalog.entry("sm_index"))  # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

from idc_index.errors import (
    DamagedIndexError,
    IDCError,
    IndexFetchError,
    IndexFileError,
    SQLError,
    UnknownTableError,
)
from idc_index.query.damage import is_read_error, not_whole, sha256_mismatch, tables_named, undecodable
from idc_index.query.sql import Params
from idc_index.releases.cache import OPTIMIZED_DIR
from idc_index.releases.catalog import Catalog
from idc_index.releases.files import (
    MAIN_INDEX,
    MAIN_INDEX_FILE_STEM,
    IndexEntry,
    check_remote_file,
    has_parquet_ends,
    index_name,
)
from idc_index.releases.stamps import Identity, identity, read_stamp, stamp_path, write_stamp

if TYPE_CHECKING:
    from idc_index import _core


logger = logging.getLogger("idc_index")

R = TypeVar("R")


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
# 4: the copy is written with its stamp (copies of layout 3 have none).
MAIN_INDEX_LAYOUT_VERSION = "4"

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

#: Why a file that is not there any more is replaced.
GONE = "it is gone"

#: Why the optimised copy is written again when it differs from its stamp.
CHANGED_COPY = "it was changed after it was written"

#: ``0`` (or ``false``, ``no``, ``off``) turns the optimised copy of the main index off.
OPTIMIZE_ENV = "IDC_INDEX_OPTIMIZE"


def optimize_from_env() -> bool:
    """Whether ``IDC_INDEX_OPTIMIZE`` leaves the optimised copy on (the default)."""
    return os.environ.get(OPTIMIZE_ENV, "").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class _IndexFile:
    """The file a registered table reads: ``optimized`` (the optimised copy of the main index),
    ``cached`` (a copy in the cache, fetched from ``entry.url``) or ``installed`` (the data
    package's, or a release directory's: not a copy)."""

    entry: IndexEntry
    path: Path
    kind: Literal["optimized", "cached", "installed"]


class IndexTables:
    """Registers the indices of ``catalog`` in ``engine`` and runs queries over them (see the
    module's documentation)."""

    def __init__(self, engine: _core.Engine, catalog: Catalog, *, optimize_index: bool, remote: bool) -> None:
        self._engine = engine
        self._catalog = catalog
        self._remote = remote
        self._optimize = optimize_index
        # Replacing damaged files: one at a time, counted (a query that failed while another
        # thread replaced a file runs again), and the cached indices removed and not fetched
        # again yet (index name -> why), which no query reads until they are.
        self._repair_lock = threading.RLock()
        self._repairs = 0
        self._removed: dict[str, str] = {}
        # The stamp of each copy in the cache that a table reads (path -> identity, None when
        # it has none), read once and again only when the file no longer matches it.
        self._stamps: dict[str, Identity | None] = {}
        self._kinds: dict[str, Literal["optimized", "cached", "installed"]] = {}
        main_path = catalog.entry(MAIN_INDEX).path
        optimized = self._optimized_copy(main_path) if optimize_index and main_path else None
        self._optimized = optimized
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
            self._start_optimize(optimized)

    def make_queryable(self, entry: IndexEntry) -> bool:
        """Register an index that is not registered yet: at its URL with ``remote`` (when it is
        not in the cache), else from its file, downloaded first when needed. Whether it was
        registered now (False: it was already).

        Raises:
            IndexFetchError: it could not be downloaded or read at its URL.
            IndexIntegrityError: it did not match its size or sha256; nothing was cached.
        """
        if entry.name in self._engine.table_names() and entry.name not in self._removed:
            return False
        if self._remote and entry.path is None:
            self._register_remote(entry)
        else:
            self._register(entry.name, self._catalog.fetch(entry.name))
        self._removed.pop(entry.name, None)
        return True

    # -- queries ----------------------------------------------------------------------------
    def sql(self, sql: str, params: Params = None) -> _core.QueryResult:
        """The rows of ``sql`` with ``params`` bound to its placeholders, read from sound files: an
        index file the query cannot read is replaced and the query run again, at most once per
        file (see the module's documentation).

        Raises:
            SQLError: the query could not be parsed, planned or run (and no file it names is
                damaged: the core's error as it is).
            DamagedIndexError: a file the query reads is damaged and could not be replaced.
        """
        named, replaced = self._check_changed(sql)
        return self._answer(sql, named, replaced, functools.partial(self._engine.sql, sql, params))

    def fold(self, sql: str, consume: Callable[[Iterator[_core.QueryResult]], R]) -> R:
        """``consume`` of the rows of ``sql``, one ``QueryResult`` per batch as the query computes
        them (so that a consumer that turns each batch into something smaller never holds the
        whole result), read from sound files as :meth:`sql` reads them: when a file turns out
        damaged while the rows come, it is replaced and ``consume`` is called again with the
        rows from the first.

        Raises:
            SQLError: as :meth:`sql`.
            DamagedIndexError: as :meth:`sql`.
        """
        def run() -> R:
            batches: _core.QueryBatches = self._engine.sql_batches(sql)
            return consume(iter(batches))

        named, replaced = self._check_changed(sql)
        return self._answer(sql, named, replaced, run)

    def _check_changed(self, sql: str) -> tuple[list[str] | None, set[Path]]:
        """Replace or check again the files of the tables ``sql`` names that changed since they
        were checked; the tables named (None: not looked at) and the files replaced."""
        replaced: set[Path] = set()
        named: list[str] | None = None
        # A file deleted under a live client, or removed here as damaged, would be read as no
        # rows, and a copy written since it was checked may hold changed values: they are
        # replaced or checked first (a stat of each registered file; the text is read only then).
        changed = self._changed_paths()
        if self._removed or changed:
            named = tables_named(sql, self._engine.table_names())
            with self._repair_lock:
                for f in self._files(named):
                    if f.entry.name in self._removed or not f.path.is_file():
                        reason: str | None = self._removed.get(f.entry.name, GONE)
                    elif str(f.path) in changed:
                        reason = self._recheck(f)
                    else:
                        continue
                    if reason is not None:
                        replaced.add(f.path)
                        self._replace(f, reason)
        return named, replaced

    def _answer(self, sql: str, named: list[str] | None, replaced: set[Path], run: Callable[[], R]) -> R:
        """``run()``, run again after replacing a damaged file of the tables ``sql`` names."""
        raced = False
        while True:
            repairs = self._repairs
            try:
                return run()
            except UnknownTableError as e:
                raise self._not_fetched(e, sql) from e
            except IDCError as e:
                if not is_read_error(e):
                    raise
                with self._repair_lock:
                    if repairs != self._repairs and not raced:  # another query replaced a file meanwhile
                        raced = True
                        continue
                    if named is None:
                        named = tables_named(sql, self._engine.table_names())
                    if not self._replace_damaged(named, replaced):
                        raise

    def _not_fetched(self, error: UnknownTableError, sql: str) -> UnknownTableError:
        """``error``, saying how to fetch it when the query names an index of the release that is
        not fetched yet."""
        registered = set(self._engine.table_names())
        missing = [n for n in tables_named(sql, self._catalog.indices) if n not in registered]
        if not missing:
            return error
        how = "; ".join(f"client.fetch_index({n!r}) (or `idc fetch-index {n}`)" for n in missing)
        return UnknownTableError(
            f"{', '.join(missing)} {'is an index' if len(missing) == 1 else 'are indices'} of IDC "
            f"{self._catalog.release} that {'is' if len(missing) == 1 else 'are'} not fetched yet: {how} fetches "
            f"it once, then queries can read it. ({error})"
        )

    @property
    def optimized_copy(self) -> Path | None:
        """The optimised copy of the main index that this client reads or will write (None when
        it is turned off or the release is read remotely)."""
        return self._optimized

    @property
    def removed(self) -> set[str]:
        """The cached indices removed as damaged and not fetched again yet (their tables are
        still registered; a query that reads one fetches it first)."""
        return set(self._removed)

    def table_names(self) -> list[str]:
        """The registered indices (and aliases), sorted."""
        return self._engine.table_names()

    def _local_paths(self) -> set[str]:
        """The local files that the registered tables read now."""
        paths = (self._engine.table_path(name) for name in self._engine.table_names())
        return {p for p in paths if p is not None and "://" not in p}

    def _changed_paths(self) -> set[str]:
        """The registered files that are gone, and the copies in the cache that differ from
        their stamp (or have none)."""
        changed = set()
        for p in self._local_paths():
            now = identity(p)
            if now is None:
                changed.add(p)
            elif now != self._stamps.get(p) and self._kind(p) != "installed":
                self._stamps[p] = read_stamp(Path(p))  # written again since (a new copy)?
                if now != self._stamps[p]:
                    changed.add(p)
        return changed

    def _recheck(self, f: _IndexFile) -> str | None:
        """Why the copy ``f``, changed since its stamp, cannot be read (None: it is sound and
        stamped again). The optimised copy is derived, not published: it is written again."""
        if f.kind == "optimized":
            return CHANGED_COPY
        logger.info("the cached index %s changed since it was checked; checking it again", f.path)
        for step in (0, 1, 3):
            reason = _damage(f, step)
            if reason is not None:
                return reason
        self._stamps[str(f.path)] = write_stamp(f.path)
        return None

    def _kind(self, path: str | Path) -> Literal["optimized", "cached", "installed"]:
        """Whether ``path`` is the optimised copy, another copy in the cache, or not a copy
        (worked out once per path: this runs before every query)."""
        key = os.fspath(path)
        kind = self._kinds.get(key)
        if kind is None:
            as_path = Path(key)
            if as_path == self._optimized or _inside(as_path, self._catalog.cache_dir / OPTIMIZED_DIR):
                kind = "optimized"
            else:
                kind = "cached" if _inside(as_path, self._catalog.cache_dir) else "installed"
            self._kinds[key] = kind
        return kind

    def _files(self, names: list[str]) -> list[_IndexFile]:
        """The local files that the tables ``names`` read now, each once."""
        found: dict[Path, _IndexFile] = {}
        for name in names:
            location = self._engine.table_path(name)
            entry = self._catalog.indices.get(index_name(name))
            if location is None or entry is None or "://" in location:  # read at a URL: not a file
                continue
            path = Path(location)
            if path in found:  # an alias of a table seen already
                continue
            found[path] = _IndexFile(entry, path, self._kind(path))
        return list(found.values())

    def _replace_damaged(self, names: list[str], replaced: set[Path]) -> bool:
        """Find the damaged files among those the tables ``names`` read (not ``replaced`` ones
        yet) and replace them; whether any was. The cheapest check first: a file found damaged
        by one is replaced before a dearer one runs (the query may then succeed)."""
        files = [f for f in self._files(names) if f.path not in replaced]
        for step in range(4):
            damaged = [(f, reason) for f in files if (reason := _damage(f, step)) is not None]
            if damaged:
                break
        else:
            return False
        for f, reason in damaged:
            replaced.add(f.path)
            self._replace(f, reason)
        return True

    def _replace(self, f: _IndexFile, reason: str) -> None:
        """Set the damaged file ``f`` aside and have its table read a sound one.

        Raises:
            DamagedIndexError: it is not a copy, or it could not be fetched again.
        """
        self._repairs += 1
        name = f.entry.name
        if f.kind == "installed":
            if self._catalog.source.startswith("idc-index-data"):
                todo = "reinstall the data package: pip install --force-reinstall idc-index-data"
            else:
                todo = f"restore the release directory {f.path.parent}, or use another release"
            state = "is gone" if reason == GONE else f"is damaged: {reason}. It is not a copy in the cache, so it was left in place"
            raise DamagedIndexError(
                f"the index file {f.path} (index {name!r}) {state}: {todo}.",
                str(f.path),
                removed=False,
            )
        f.path.unlink(missing_ok=True)
        stamp_path(f.path).unlink(missing_ok=True)
        if f.kind == "optimized" and f.entry.path is not None:
            logger.warning(
                "the optimised copy %s of the main index is damaged (%s): it was removed; queries read %s "
                "until it is written again", f.path, reason, f.entry.path,
            )
            self._register(MAIN_INDEX, f.entry.path)
            self._start_optimize(f.path)
            return
        f.entry.path = None
        self._removed[name] = reason
        if reason != GONE:
            logger.warning("the cached index %s is damaged (%s): it was removed and is fetched again", f.path, reason)
        try:
            if self._remote and f.entry.url is not None:
                self._register_remote(f.entry)
            else:
                path = self._catalog.fetch(name)
                self._register(name, path)
                if name == MAIN_INDEX and self._optimize:
                    self._optimized = self._optimized_copy(path)
                    self._start_optimize(self._optimized)
        except IndexFileError as e:
            state = "was deleted" if reason == GONE else f"is damaged ({reason}); it was removed"
            raise DamagedIndexError(
                f"the cached index file {f.path} (index {name!r}) {state}, and fetching it again failed: {e} "
                f"Run the query again once {f.entry.url or 'its release'} can be reached (the index is fetched "
                f"again then), or call fetch_index({name!r}).",
                str(f.path),
                removed=True,
            ) from e
        del self._removed[name]

    def _start_optimize(self, optimized: Path) -> None:
        """Start writing the optimised copy of the main index to ``optimized``."""
        # Started after a delay, so that a one-shot command never pays for it, and not waited
        # for: a process that ends first leaves a partial file and a lock that the next one
        # sees are abandoned (the writer is gone), and it starts again.
        self._engine.start_optimize(
            MAIN_INDEX,
            str(optimized),
            metadata=[("idc_index.release", self._catalog.release), ("idc_index.layout", MAIN_INDEX_LAYOUT_VERSION)],
            delay_seconds=OPTIMIZE_DELAY_SECONDS,
            **MAIN_INDEX_LAYOUT,
        )

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
        return self._catalog.cache_dir / OPTIMIZED_DIR / key / f"{MAIN_INDEX_FILE_STEM}.parquet"


def _damage(f: _IndexFile, step: int) -> str | None:
    """What check ``step`` (0 to 3, dearer each) finds wrong with ``f``, or None."""
    copy = f.kind == "optimized"
    if step == 0:  # a stat and 12 bytes
        return not_whole(f.path, None if copy else f.entry.bytes)
    if step == 1:  # the file read once
        return sha256_mismatch(f.path, f.entry.sha256) if not copy and f.entry.sha256 else None
    if step == 2:  # our own derived file: a read error on it is reason enough to write it again
        return "a query could not read it" if copy else None
    return undecodable(f.path) if not copy and not f.entry.sha256 else None  # every page decoded


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is inside ``directory``, read as written (the paths registered are built
    from the cache directory as the client was given it: no symbolic link is resolved, and no
    system call made, before each query)."""
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(directory))


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
