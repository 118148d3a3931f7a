"""A download plan measured on disk, and its run through the native downloader.

A :class:`Plan` is the plan items of a selection under one download directory: the directory
is resolved and created once, the bytes the items hold, those already present and the free
space are measured once, and :meth:`Plan.run` checks the space, hands the items to
:func:`idc_index.download.download` and returns its report with the plan attached. A plan can
be looked at (:attr:`Plan.table`), written as an s5cmd manifest (:meth:`Plan.to_manifest`) and
split into parts of about equal bytes (:meth:`Plan.shard`, see :mod:`idc_index.sharding`),
each a plan that runs on its own.

Example:
    >>> plan = Plan.measure(items, "data", "aws")  # doctest: +SKIP
    >>> plan.bytes_needed, plan.fits  # doctest: +SKIP
    (1234567, True)
    >>> report = plan.shard(4)[0].run(show_progress_bar=False)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

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
from .sharding import InstanceSource, check_count, shard_positions, split_large_series

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("idc_index")


@dataclass(frozen=True)
class Plan:
    """Plan items to fetch from one bucket location into one download directory, measured.

    The counts and bytes of :attr:`summary` are also attributes of the plan (``plan.series``,
    ``plan.bytes_total``, ``plan.bytes_needed``, ``plan.fits``, ...).
    """

    items: tuple[PlanItem, ...] = field(repr=False)
    #: The download directory, resolved and existing.
    root: Path
    #: ``"aws"`` or ``"gcs"``: where the items' buckets are.
    location: SourceLocation
    #: Counts and bytes: total, already present, free on the disk.
    summary: PlanSummary
    #: The collection_id of each item (None where not known), in the order of :attr:`items`.
    collections: tuple[str | None, ...] = field(default=(), repr=False)

    @classmethod
    def measure(
        cls,
        items: Sequence[PlanItem],
        download_dir: str | os.PathLike[str],
        location: SourceLocation,
        collections: Sequence[str | None] = (),
    ) -> Plan:
        """Create ``download_dir`` (if needed) and measure what ``items`` need there;
        ``collections`` gives each item's collection_id (empty when not known).

        Raises:
            IDCError: the download directory cannot be created.
        """
        root = Path(download_dir).expanduser()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IDCError(f"the download directory {root} cannot be created: {e}; choose another one") from e
        summary = PlanSummary(
            series=sum(1 for i in items if i.prefix is not None),
            instances=sum(1 for i in items if i.key is not None),
            bytes_total=sum(i.size or 0 for i in items),
            bytes_present=present_bytes(root, items),
            bytes_free=free_bytes(root),
        )
        logger.info(
            "Disk size needed: %s (%s already present); available: %s",
            format_size(summary.bytes_total), format_size(summary.bytes_present), format_size(summary.bytes_free),
        )
        return cls(tuple(items), root, location, summary, tuple(collections))

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

    @property
    def table(self) -> pa.Table:
        """The items as an Arrow table: ``bucket``, ``prefix`` (a series) or ``key`` (one
        object), ``size`` (bytes, null when not known), ``destination`` (relative to
        :attr:`root`), ``collection_id``, ``SeriesInstanceUID``, ``SOPInstanceUID``."""
        import pyarrow as pa

        collections = self.collections or (None,) * len(self.items)
        return pa.table(
            {
                "bucket": pa.array([i.bucket for i in self.items], pa.string()),
                "prefix": pa.array([i.prefix for i in self.items], pa.string()),
                "key": pa.array([i.key for i in self.items], pa.string()),
                "size": pa.array([i.size for i in self.items], pa.int64()),
                "destination": pa.array([i.destination for i in self.items], pa.string()),
                "collection_id": pa.array(list(collections), pa.string()),
                "SeriesInstanceUID": pa.array([i.series_instance_uid for i in self.items], pa.string()),
                "SOPInstanceUID": pa.array([i.sop_instance_uid for i in self.items], pa.string()),
            }
        )

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
        return write_manifest(path, self.items, comments)

    def shard(self, n: int, *, instances: InstanceSource | None = None) -> list[Plan]:
        """Split the plan into ``n`` plans of about equal bytes, each run on its own
        (:meth:`run`, or its manifest on another machine); every item is in exactly one.

        Items go largest first to the part with the fewest bytes so far, so the same plan and
        ``n`` always give the same parts. Series stay whole (their sizes come from the index);
        a series larger than ``1/n`` of the plan is split into its instances only when
        ``instances`` gives them (a callable from a series item to its instance items, for
        example over ``sm_instance_index``); otherwise it stays whole and its part is larger.

        Raises:
            ValueError: ``n`` is less than 1, or larger than the number of items (ask for at
                most that many parts).
        """
        check_count(self.items, n)  # before any instance is looked up
        items: Sequence[PlanItem] = self.items
        collections: Sequence[str | None] = self.collections or (None,) * len(items)
        if instances is not None:
            items, collections = split_large_series(items, collections, n, instances)
        parts = shard_positions(items, n)
        return [
            Plan.measure([items[j] for j in part], self.root, self.location, [collections[j] for j in part])
            for part in parts
        ]

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


def present_bytes(root: Path, items: Sequence[PlanItem]) -> int:
    """Bytes of the plan already on disk, which a download will not fetch again.

    An object counts when a file of its size is at its destination. A series counts the files
    in its folder, up to the series' size (folders shared by several series are counted once,
    up to their sum).
    """
    credited = 0
    try:
        with os.scandir(root) as it:
            if next(it, None) is None:
                return 0
    except OSError:
        return 0
    per_dir: dict[Path, int] = defaultdict(int)
    for item in items:
        dest = root / item.destination
        if item.key is not None:
            try:
                if item.size is not None and dest.stat().st_size == item.size:
                    credited += item.size
            except OSError:
                pass
        elif item.size:
            per_dir[dest] += item.size
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


__all__ = ["Plan", "check_disk_space", "format_size", "free_bytes", "present_bytes"]
