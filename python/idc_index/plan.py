"""A download plan measured on disk, and its run through the native downloader.

A :class:`Plan` is the plan items of a selection under one download directory, held as one
Arrow table (:attr:`Plan.table`, columns :data:`PLAN_COLUMNS`) so that a plan of a million
series is built, measured and split without a Python object per item: the directory is
resolved and created once, the bytes the items hold, those already present and the free space
are measured once, and :meth:`Plan.run` checks the space, hands the items to
:func:`idc_index.download.download` and returns its report with the plan attached. A plan can
be written as an s5cmd manifest (:meth:`Plan.to_manifest`) and split into parts of about equal
bytes (:meth:`Plan.shard`, see :mod:`idc_index.sharding`), each a plan that runs on its own.

Example:
    >>> plan = Plan.measure(items, "data", "aws")  # doctest: +SKIP
    >>> plan.bytes_needed, plan.fits  # doctest: +SKIP
    (1234567, True)
    >>> report = plan.shard(4)[0].run(show_progress_bar=False)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._arrow import compute
from .download import (
    PARTIAL_SUFFIX,
    DownloadReport,
    PlanItem,
    PlanSummary,
    ProgressCallback,
    SourceLocation,
    download,
)
from .errors import DownloadFailedError, IDCClientInsufficientDiskSpaceError, IDCError
from .manifest import write_manifest
from .sharding import InstanceSource, check_count, shard_tables, split_large_series

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("idc_index")

#: The columns of a plan's table: ``bucket``, ``prefix`` (a series, ``<crdc_series_uuid>/``) or
#: ``key`` (one object), ``size`` (bytes, null when not known), ``destination`` (relative to the
#: download directory), ``collection_id``, ``SeriesInstanceUID``, ``SOPInstanceUID``.
PLAN_COLUMNS = ("bucket", "prefix", "key", "size", "destination", "collection_id", "SeriesInstanceUID",
                "SOPInstanceUID")


@functools.cache
def plan_schema() -> pa.Schema:
    """The Arrow schema of :data:`PLAN_COLUMNS` (``size`` int64, the others strings)."""
    import pyarrow as pa

    return pa.schema([(name, pa.int64() if name == "size" else pa.string()) for name in PLAN_COLUMNS])


def items_table(items: Sequence[PlanItem], collections: Sequence[str | None] = ()) -> pa.Table:
    """The plan table of ``items``; ``collections`` gives each item's collection_id (empty: unknown)."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {
        "bucket": [i.bucket for i in items],
        "prefix": [i.prefix for i in items],
        "key": [i.key for i in items],
        "size": [i.size for i in items],
        "destination": [i.destination for i in items],
        "collection_id": list(collections) or [None] * len(items),
        "SeriesInstanceUID": [i.series_instance_uid for i in items],
        "SOPInstanceUID": [i.sop_instance_uid for i in items],
    }
    return pa.table(columns, schema=plan_schema())


def first_rows(rows: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``rows`` without those whose ``keys`` repeat an earlier row's (the first one wins)."""
    import pyarrow as pa
    pc = compute()

    numbered = rows.append_column("__position", pa.array(range(rows.num_rows), pa.int64()))
    first = numbered.group_by(list(keys), use_threads=False).aggregate([("__position", "min")])
    if first.num_rows == rows.num_rows:
        return rows
    positions = first["__position_min"]
    return rows.take(positions.take(pc.sort_indices(positions)))


def unique_items(tables: Sequence[pa.Table]) -> pa.Table:
    """The items of several plan tables, each object or series prefix once (the first wins)."""
    import pyarrow as pa

    return first_rows(pa.concat_tables(tables), ["bucket", "prefix", "key"])


def table_items(table: pa.Table) -> list[PlanItem]:
    """The :class:`~idc_index.download.PlanItem` of each row of a plan table, in order."""
    columns = [table[name].to_pylist() for name in
               ("bucket", "destination", "prefix", "key", "size", "SeriesInstanceUID", "SOPInstanceUID")]
    return [
        PlanItem(bucket, destination, prefix=prefix, key=key, size=size, series_instance_uid=series,
                 sop_instance_uid=sop)
        for bucket, destination, prefix, key, size, series, sop in zip(*columns)
    ]


@dataclass(frozen=True)
class Plan:
    """Plan items to fetch from one bucket location into one download directory, measured.

    The counts and bytes of :attr:`summary` are also attributes of the plan (``plan.series``,
    ``plan.bytes_total``, ``plan.bytes_needed``, ``plan.fits``, ...).
    """

    #: The items, one row each (columns :data:`PLAN_COLUMNS`).
    table: pa.Table = field(repr=False)
    #: The download directory, resolved and existing.
    root: Path
    #: ``"aws"`` or ``"gcs"``: where the items' buckets are.
    location: SourceLocation
    #: Counts and bytes: total, already present, free on the disk.
    summary: PlanSummary
    #: Where :meth:`shard` finds the instances of a series larger than a share (None: nowhere).
    instance_source: InstanceSource | None = field(default=None, repr=False, compare=False)

    @classmethod
    def measure(
        cls,
        items: pa.Table | Sequence[PlanItem],
        download_dir: str | os.PathLike[str],
        location: SourceLocation,
        collections: Sequence[str | None] = (),
        instance_source: InstanceSource | None = None,
    ) -> Plan:
        """Create ``download_dir`` (if needed) and measure what ``items`` need there.

        ``items`` is a plan table (columns :data:`PLAN_COLUMNS`) or a sequence of
        :class:`~idc_index.download.PlanItem`, with ``collections`` giving each one's
        collection_id (empty when not known). ``instance_source`` is where :meth:`shard` finds
        the instances of a large series.

        Raises:
            IDCError: the download directory cannot be created.
        """
        import pyarrow as pa
        pc = compute()

        table = items.cast(plan_schema()) if isinstance(items, pa.Table) else items_table(items, collections)
        root = Path(download_dir).expanduser()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IDCError(f"the download directory {root} cannot be created: {e}; choose another one") from e
        summary = PlanSummary(
            series=table.num_rows - table["prefix"].null_count,
            instances=table.num_rows - table["key"].null_count,
            bytes_total=pc.sum(table["size"]).as_py() or 0,
            bytes_present=present_bytes(root, table),
            bytes_free=free_bytes(root),
        )
        logger.info(
            "Disk size needed: %s (%s already present); available: %s",
            format_size(summary.bytes_total), format_size(summary.bytes_present), format_size(summary.bytes_free),
        )
        return cls(table, root, location, summary, instance_source)

    @functools.cached_property
    def items(self) -> tuple[PlanItem, ...]:
        """The items as :class:`~idc_index.download.PlanItem` values, in the order of :attr:`table`
        (made on first use: a Python object per item)."""
        return tuple(table_items(self.table))

    @property
    def collections(self) -> tuple[str | None, ...]:
        """The collection_id of each item (None where not known), in the order of :attr:`table`."""
        return tuple(self.table["collection_id"].to_pylist())

    # The summary's counts and bytes, read from the plan itself.
    @property
    def series(self) -> int:
        """Series prefixes in the plan."""
        return self.summary.series

    @property
    def instances(self) -> int:
        """Single objects in the plan."""
        return self.summary.instances

    @property
    def bytes_total(self) -> int:
        """Bytes the plan holds (series sizes from the index, so close estimates)."""
        return self.summary.bytes_total

    @property
    def bytes_present(self) -> int:
        """Bytes of it already on disk (not fetched again)."""
        return self.summary.bytes_present

    @property
    def bytes_free(self) -> int:
        """Free bytes on the disk of the download directory."""
        return self.summary.bytes_free

    @property
    def bytes_needed(self) -> int:
        """Bytes still to fetch."""
        return self.summary.bytes_needed

    @property
    def fits(self) -> bool:
        """Whether the bytes still to fetch fit on the disk."""
        return self.summary.fits

    def to_manifest(self, path: str | os.PathLike[str], comment: str | None = None) -> Path:
        """Write the plan as an s5cmd manifest: ``cp s3://<bucket>/<crdc_series_uuid>/* <folder>/``
        per series (``cp s3://<bucket>/<key> <file>`` per single object), destinations relative
        to the directory s5cmd runs in. ``s5cmd run`` and
        :meth:`~idc_index.IDCClient.download_from_manifest` read it (the latter: series only).

        Raises:
            ManifestError: the file cannot be written.
        """
        comments = [comment] if comment else []
        comments.append(
            f"{self.series} series, {self.instances} instances, {self.bytes_total} bytes "
            f"({format_size(self.bytes_total)}) from {self.location.upper()}"
        )
        return write_manifest(path, self.table, comments)

    def shard(self, n: int, *, instances: InstanceSource | None = None) -> list[Plan]:
        """Split the plan into ``n`` plans of about equal bytes, each run on its own
        (:meth:`run`, or its manifest on another machine); every item is in exactly one.

        Items go largest first to the part with the fewest bytes so far, so the same plan and
        ``n`` always give the same parts. Series stay whole (their sizes come from the index);
        a series larger than ``1/n`` of the plan is split into its instances only when
        ``instances`` gives them (a callable from a series item to its instance items); by
        default the plan's own :attr:`instance_source` (a client's plan looks in
        ``sm_instance_index``, fetched on first need). Otherwise it stays whole and its part
        is larger.

        Raises:
            ValueError: ``n`` is less than 1, or larger than the number of items (ask for at
                most that many parts).
        """
        check_count(self.table.num_rows, n)  # before any instance is looked up
        source = instances or self.instance_source
        table = self.table if source is None else split_large_series(self.table, n, source)
        return [Plan.measure(part, self.root, self.location, instance_source=source) for part in shard_tables(table, n)]

    def dry_run(self) -> DownloadReport:
        """The report of a run that transfers nothing: the measurements only."""
        report = DownloadReport(plan=self, dry_run=True)
        logger.info("%s. Rerun with dry_run=False to download the files.", report.summary())
        return report

    def run(
        self,
        *,
        endpoint_url: str | None = None,
        concurrency: int | None = None,
        checksums: bool = True,
        show_progress_bar: bool = True,
        progress_callback: ProgressCallback | None = None,
        desc: str = "Downloading",
    ) -> DownloadReport:
        """Download the items and return the report, its ``plan`` set to this plan.

        ``checksums`` applies to the files already present too (sizes only when False). A
        ``progress_callback`` replaces the progress bar.

        Raises:
            IDCClientInsufficientDiskSpaceError: the bytes still missing do not fit on the disk.
            DownloadFailedError: some files could not be downloaded (its report carries the plan).
        """
        check_disk_space(self.root, self.summary.bytes_needed, self.summary.bytes_free)
        try:
            report = download(
                self.items,
                self.root,
                endpoint_url=endpoint_url,
                source_bucket_location=self.location,
                concurrency=concurrency,
                checksums=checksums,
                verify_existing=checksums,
                show_progress_bar=show_progress_bar and progress_callback is None,
                progress_callback=progress_callback,
                desc=desc,
            )
        except DownloadFailedError as e:
            if e.report is not None:
                e.report = replace(e.report, plan=self)
            raise
        return replace(report, plan=self)


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
    import pyarrow as pa

    pc = compute()
    try:
        entries = os.listdir(root)
    except OSError:
        return 0
    if not entries:
        return 0
    first = pc.list_element(pc.split_pattern(table["destination"], "/", max_splits=1), 0)
    table = table.filter(pc.is_in(first, value_set=pa.array([*entries, "."], pa.string())))
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


def format_size(n: float) -> str:
    """``n`` bytes for a person: ``12.3 MB``, ``1.20 GB``.

    Example:
        >>> format_size(1_234_567)
        '1.23 MB'
    """
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def check_disk_space(root: Path, needed: int, free: int) -> None:
    """Raise IDCClientInsufficientDiskSpaceError when ``needed`` bytes exceed ``free``."""
    if needed > free:
        raise IDCClientInsufficientDiskSpaceError(
            format_size(needed),
            format_size(free),
            f"Insufficient disk space in {root}: the download needs {format_size(needed)} more "
            f"(files already present are counted), but only {format_size(free)} is free. "
            "Free some space or choose another download directory.",
        )


__all__ = [
    "PLAN_COLUMNS",
    "Plan",
    "check_disk_space",
    "first_rows",
    "format_size",
    "free_bytes",
    "items_table",
    "plan_schema",
    "present_bytes",
    "table_items",
    "unique_items",
]
