"""A download plan: its items measured on disk, split into shards, written as a manifest, run.

A :class:`Plan` is the plan items of a selection under one download directory, held as one
Arrow table (:attr:`Plan.table`, columns :data:`~idc_index.download.plan_table.PLAN_COLUMNS`)
so that a plan of a million series is built, measured, split and run without a Python object
per item (a run hands the core the table itself, through the Arrow C stream): the directory is
created once (by the time the plan runs; a dry run creates nothing), the bytes the items hold,
those already present and the free space are measured once. :meth:`Plan.run` checks the space
and runs the items through the native downloader (:func:`idc_index.download.transfer.download`),
which returns the one report of the run, the plan in it. A plan can be written as an s5cmd
manifest (:meth:`Plan.to_manifest`) and split into parts of about equal bytes
(:meth:`Plan.shard`, see :mod:`idc_index.download.sharding`), each a plan that runs on its own.
A plan made ``with_references`` keeps which of its series came in as references
(:attr:`Plan.references`, see :mod:`idc_index.download.references`), and so does each shard.
``repr(plan)`` is one line (counts, size, destination) and a notebook shows a small table.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from idc_index._arrow import compute
from idc_index._display import fields_table, rows_table
from idc_index.arguments import shorten
from idc_index.download.disk import check_disk_space, free_bytes, present_bytes
from idc_index.download.locations import SourceLocation
from idc_index.download.plan_table import PlanItem, items_table, plan_schema, table_items
from idc_index.download.references import References
from idc_index.download.report import DownloadReport, PlanSummary
from idc_index.download.s5cmd import write_manifest
from idc_index.download.sharding import InstanceSource, check_count, shard_tables, split_large_series
from idc_index.download.transfer import ProgressCallback, download
from idc_index.errors import IDCError
from idc_index.units import format_size

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("idc_index")

#: What idc-index 0.13 logged after the sizes on a dry run (its words).
DRY_RUN_NOTE = "Dry run. Not downloading files. Rerun with dry_run=False to download the files."
#: The items a notebook's table of a plan lists.
HTML_ITEMS = 10


@dataclass(frozen=True)
class Plan:
    """Plan items to fetch from one bucket location into one download directory, measured.

    The counts and bytes of :attr:`summary` are also attributes of the plan (``plan.series``,
    ``plan.bytes_total``, ``plan.bytes_needed``, ``plan.fits``, ...).
    """

    #: The items, one row each (columns :data:`PLAN_COLUMNS`).
    table: pa.Table = field(repr=False)
    #: The download directory (created by :meth:`measure`, except for a dry run's plan, whose
    #: directory is created when it runs).
    root: Path
    #: ``"aws"`` or ``"gcs"``: where the items' buckets are.
    location: SourceLocation
    #: Counts and bytes: total, already present, free on the disk.
    summary: PlanSummary
    #: Where :meth:`shard` finds the instances of a series larger than a share (None: nowhere).
    instance_source: InstanceSource | None = field(default=None, repr=False, compare=False)
    #: ``(line number, text)`` of the lines of the manifest the plan was made from that were
    #: skipped as not copy commands; every report of the plan lists them.
    skipped_manifest_lines: tuple[tuple[int, str], ...] = ()
    #: The references that brought series into the plan: which series came in as references
    #: and which series referenced them (``references.table``), those not in the index
    #: (``references.missing``); None when the plan was made without ``with_references``.
    references: References | None = field(default=None, repr=False)

    @classmethod
    def measure(
        cls,
        items: pa.Table | Sequence[PlanItem],
        download_dir: str | os.PathLike[str],
        location: SourceLocation,
        collections: Sequence[str | None] = (),
        instance_source: InstanceSource | None = None,
        skipped_manifest_lines: Sequence[tuple[int, str]] = (),
        *,
        create: bool = True,
        references: References | None = None,
    ) -> Plan:
        """Create ``download_dir`` (if needed) and measure what ``items`` need there.

        With ``create=False`` (a dry run) nothing is created: the free space is that of the
        nearest existing parent, and :meth:`run` creates the directory.

        ``items`` is a plan table (columns :data:`PLAN_COLUMNS`) or a sequence of
        :class:`~idc_index.download.PlanItem`, with ``collections`` giving each one's
        collection_id (empty when not known). ``instance_source`` is where :meth:`shard` finds
        the instances of a large series. ``references`` (see
        :func:`~idc_index.download.references.follow_references`) are kept as far as they
        concern the items' series.

        Raises:
            IDCError: the download directory cannot be created.
        """
        import pyarrow as pa
        pc = compute()

        table = items.cast(plan_schema()) if isinstance(items, pa.Table) else items_table(items, collections)
        root = Path(download_dir).expanduser()
        if create:
            _create(root)
        if references is not None:
            references = references.within(table)
        summary = PlanSummary(
            series=table.num_rows - table["prefix"].null_count,
            instances=table.num_rows - table["key"].null_count,
            bytes_total=pc.sum(table["size"]).as_py() or 0,
            bytes_present=present_bytes(root, table),
            bytes_free=free_bytes(root),
            references=references.count_added(table) if references is not None else 0,
        )
        logger.debug(
            "plan of %d items measured under %s: %s in total, %s already present, %s free",
            table.num_rows, shorten(root), format_size(summary.bytes_total), format_size(summary.bytes_present),
            format_size(summary.bytes_free),
        )
        return cls(table, root, location, summary, instance_source, tuple(skipped_manifest_lines), references)

    def __repr__(self) -> str:
        """One short line, whatever the number of items: counts, size, destination; the items
        are in :attr:`table` (or :attr:`items`)."""
        n = self.instances
        refs = self.summary.references
        what = f"{self.series} series" + (f" ({refs} as references)" if refs else "")
        what += f", {n} instance{'' if n == 1 else 's'}" if n else ""
        return (
            f"Plan({self.table.num_rows} items: {what}; {format_size(self.bytes_total)} in total, "
            f"{format_size(self.bytes_needed)} to fetch; into {shorten(self.root, 80)} from {self.location.upper()})"
        )

    def _repr_html_(self) -> str:
        """A small table for notebooks: counts, sizes, destination, and the first
        :data:`HTML_ITEMS` items."""
        fields = [
            ("items", f"{self.table.num_rows}"),
            ("series", f"{self.series}"),
            ("instances", f"{self.instances}"),
            ("in total", format_size(self.bytes_total)),
            ("already present", format_size(self.bytes_present)),
            ("to fetch", format_size(self.bytes_needed)),
            ("free on disk", format_size(self.bytes_free) + ("" if self.fits else " (not enough)")),
            ("destination", str(self.root)),
            ("from", self.location.upper()),
        ]
        if self.skipped_manifest_lines:
            fields.append(("manifest lines skipped", f"{len(self.skipped_manifest_lines)}"))
        if self.references is not None:
            fields.extend(_reference_fields(self.summary.references, self.references))
        head = self.table.slice(0, HTML_ITEMS)
        columns = ("bucket", "prefix", "key", "destination", "size")
        rows = [
            [format_size(row[c]) if c == "size" and row[c] is not None else row[c] or "" for c in columns]
            for row in head.select(list(columns)).to_pylist()
        ]
        more = self.table.num_rows - head.num_rows
        note = f"and {more} more (plan.table holds them all)" if more else None
        return fields_table("Plan", fields) + rows_table(columns, rows, caption="items", note=note)

    def space_lines(self) -> list[str]:
        """What idc-index 0.13 said of the disk before a download: the size needed and the
        space available (``Disk size needed: 26.4 TB``, ``Disk size available: 1.20 TB``)."""
        needed = f"Disk size needed: {format_size(self.bytes_needed)}"
        if self.bytes_present:
            needed += f" ({format_size(self.bytes_total)} in total, {format_size(self.bytes_present)} already present)"
        return [needed, f"Disk size available: {format_size(self.bytes_free)} (on the disk of {shorten(self.root)})"]

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
        return [
            Plan.measure(part, self.root, self.location, instance_source=source, create=False,
                         references=self.references)
            for part in shard_tables(table, n)
        ]

    def dry_run(self) -> DownloadReport[Plan]:
        """The report of a run that transfers nothing: the measurements only. Logs (INFO, on the
        ``idc_index`` logger) what idc-index 0.13 did: the size needed, the space available, and
        :data:`DRY_RUN_NOTE`."""
        report = DownloadReport(plan=self, dry_run=True, skipped_manifest_lines=list(self.skipped_manifest_lines))
        added = self.summary.references
        noted = [f"{added} of the series come in as references (plan.references says of which series)"] if added else []
        for line in [*self.space_lines(), *noted, DRY_RUN_NOTE]:
            logger.info("%s", line)
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
        max_bandwidth: int | str | None = None,
    ) -> DownloadReport[Plan]:
        """Download the items and return the report, its ``plan`` set to this plan.

        ``checksums`` applies to the files already present too (sizes only when False). A
        ``progress_callback`` replaces the progress bar. ``max_bandwidth`` limits the bytes per
        second taken from the link (``25_000_000``, or ``"25M"`` as curl's ``--limit-rate``).

        Raises:
            IDCClientInsufficientDiskSpaceError: the bytes still missing do not fit on the disk.
            DownloadFailedError: some files could not be downloaded (its report carries the plan).
        """
        for line in self.space_lines():
            logger.info("%s", line)
        check_disk_space(self.root, self.summary.bytes_needed, self.summary.bytes_free)
        _create(self.root)
        return download(
            self.table,
            self.root,
            endpoint_url=endpoint_url,
            source_bucket_location=self.location,
            concurrency=concurrency,
            checksums=checksums,
            verify_existing=checksums,
            max_bandwidth=max_bandwidth,
            show_progress_bar=show_progress_bar and progress_callback is None,
            progress_callback=progress_callback,
            desc=desc,
            plan=self,
            skipped_manifest_lines=self.skipped_manifest_lines,
        )


def _reference_fields(added: int, references: References) -> list[tuple[str, str]]:
    """The lines of a notebook's table of a plan about its references."""
    fields = [("as references", f"{added} series (plan.references lists them and who references them)")]
    if references.missing:
        fields.append(("references not in the index", f"{len(references.missing)} series (not downloaded)"))
    return fields


def _create(root: Path) -> None:
    """Create the download directory ``root`` (and its parents) if it does not exist.

    Raises:
        IDCError: it cannot be created (the message says why, with the path shortened).
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise IDCError(f"the download directory {shorten(root)} cannot be created: {reason}; choose another one") from e


__all__ = ["DRY_RUN_NOTE", "Plan"]
