"""Download files from the IDC buckets (or any S3-compatible endpoint) with the native downloader.

A download is a list of :class:`PlanItem`: a series prefix (``<crdc_series_uuid>/``) that is
listed and fetched into a directory, or one object key fetched to a file path. The Rust core
does the transfer (bounded concurrency, parallel ranges for large objects, retries, size and
checksum verification, temp file + rename); this module starts it, shows progress, forwards
Ctrl-C as a cancel, and turns the outcome into a :class:`DownloadReport`::

    from idc_index.download import PlanItem, download

    report = download(
        [PlanItem.series("idc-open-data", "0a1b...-uuid", "collection/patient/series")],
        destination_root="downloads",
    )
    for f in report.files:
        print(f.path, f.series_instance_uid)

Endpoints: ``source_bucket_location="aws"`` (``https://s3.amazonaws.com``, the default) or
``"gcs"`` (``https://storage.googleapis.com``, its S3-compatible API); the environment variable
``IDC_ENDPOINT_URL`` or the ``endpoint_url`` argument point every bucket at one S3-compatible
endpoint instead (mirrors, proxies, tests). An explicit argument wins over the variable.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from idc_index import _core
from idc_index.errors import DownloadError, DownloadFailedError

if TYPE_CHECKING:
    from idc_index.plan import Plan

logger = logging.getLogger(__name__)

AWS_ENDPOINT = _core.AWS_ENDPOINT
GCS_ENDPOINT = _core.GCS_ENDPOINT
ENDPOINT_ENV = "IDC_ENDPOINT_URL"
#: The suffix of a file being written (``.<name>.idc-partial``); such a file is never complete.
PARTIAL_SUFFIX = _core.PARTIAL_SUFFIX

#: The GCS bucket holding the same objects as each AWS bucket of IDC.
GCS_BUCKETS: dict[str, str] = {
    "idc-open-data": "idc-open-data",
    "idc-open-data-two": "idc-open-idc1",
    "idc-open-data-cr": "idc-open-cr",
}

#: ``progress_callback(done, total, unit, desc)``: ``done`` and ``total`` in ``unit`` ("B").
ProgressCallback = Callable[[int, int, str, str], None]

SourceLocation = Literal["aws", "gcs"]


def resolve_endpoint(endpoint_url: str | None = None, source_bucket_location: str = "aws") -> str:
    """The endpoint to use: ``endpoint_url``, else ``$IDC_ENDPOINT_URL``, else the one of the location.

    >>> resolve_endpoint(source_bucket_location="gcs")  # doctest: +SKIP
    'https://storage.googleapis.com'
    """
    defaults = {"aws": AWS_ENDPOINT, "gcs": GCS_ENDPOINT}
    if source_bucket_location not in defaults:
        raise DownloadError(f"source_bucket_location must be 'aws' or 'gcs', not {source_bucket_location!r}")
    if endpoint_url:
        return endpoint_url
    from_env = os.environ.get(ENDPOINT_ENV, "").strip()
    return from_env or defaults[source_bucket_location]


def bucket_for(aws_bucket: str, source_bucket_location: str = "aws") -> str:
    """The bucket name at ``source_bucket_location`` of an IDC bucket named as on AWS.

    >>> bucket_for("idc-open-data-two", "gcs")
    'idc-open-idc1'
    """
    if source_bucket_location == "aws":
        return aws_bucket
    if source_bucket_location == "gcs":
        try:
            return GCS_BUCKETS[aws_bucket]
        except KeyError:
            known = ", ".join(sorted(GCS_BUCKETS))
            raise DownloadError(f"no GCS bucket is known for {aws_bucket!r}; IDC's AWS buckets are {known}") from None
    raise DownloadError(f"source_bucket_location must be 'aws' or 'gcs', not {source_bucket_location!r}")


#: One unit of a download: a series prefix (listed, then fetched into a folder) or one object
#: key (fetched to a file). See :class:`idc_index._core.PlanItem`.
PlanItem = _core.PlanItem
#: A file that is at its destination, complete and verified.
DownloadedFile = _core.DownloadedFile
#: A file (or a whole series prefix, when its listing failed) that is not on disk.
FailedFile = _core.FailedFile
#: A reading of a running download's counters.
DownloadProgress = _core.DownloadProgress


@dataclass(frozen=True)
class PlanSummary:
    """What a download asks for, measured before it starts (and all a dry run does).

    Sizes of series come from the index (``series_size_MB``), so they are close estimates;
    sizes of single objects are exact.
    """

    #: Series prefixes and single objects in the plan.
    series: int
    instances: int
    #: Bytes the selection holds.
    bytes_total: int
    #: Bytes of it already on disk under the destinations (not fetched again).
    bytes_present: int
    #: Free bytes on the disk of the download directory.
    bytes_free: int

    @property
    def bytes_needed(self) -> int:
        """Bytes still to fetch."""
        return max(0, self.bytes_total - self.bytes_present)

    @property
    def fits(self) -> bool:
        """Whether the bytes still to fetch fit on the disk."""
        return self.bytes_needed <= self.bytes_free


@dataclass(frozen=True)
class DownloadReport:
    """The outcome of one download: what is on disk, what is not and why."""

    files: list[DownloadedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    bytes_downloaded: int = 0
    bytes_present: int = 0
    seconds: float = 0.0
    #: The download was cancelled (Ctrl-C or ``cancel()``).
    cancelled: bool = False
    #: Why the run stopped early on its own (the disk is full), if it did.
    stopped: str | None = None
    #: The plan as measured before the transfer (set by the client's download methods): its
    #: items, and its counts and bytes (``plan.series``, ``plan.bytes_needed``, ...).
    plan: Plan | None = None
    #: Nothing was transferred: the report only describes the plan.
    dry_run: bool = False
    #: ``(line number, text)`` of the manifest lines skipped as not copy commands (set by
    #: ``download_from_manifest``; empty otherwise).
    skipped_manifest_lines: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def from_core(cls, r: _core.TransferReport) -> DownloadReport:
        return cls(
            files=r.files,
            failed=r.failed,
            bytes_downloaded=r.bytes_downloaded,
            bytes_present=r.bytes_present,
            seconds=r.seconds,
            cancelled=r.cancelled,
            stopped=r.stopped,
        )

    @property
    def ok(self) -> bool:
        """Every file is on disk and the run was neither cancelled nor stopped."""
        return not self.failed and not self.cancelled and self.stopped is None

    @property
    def downloaded(self) -> list[DownloadedFile]:
        return [f for f in self.files if f.status == "downloaded"]

    @property
    def skipped(self) -> list[DownloadedFile]:
        """Files found already present and complete, not fetched again."""
        return [f for f in self.files if f.status == "already_present"]

    @property
    def paths(self) -> list[str]:
        """The local path of every file on disk (written or already present)."""
        return [f.path for f in self.files]

    def summary(self) -> str:
        """One line: counts, bytes, time, the kinds of failure, how downloaded files were
        checked, and the manifest lines skipped."""
        return self._summary() + self._skipped_lines_note()

    def _summary(self) -> str:
        if self.dry_run and self.plan is not None:
            p = self.plan
            what = f"{p.series} series" + (f" and {p.instances} instances" if p.instances else "")
            if p.instances and not p.series:
                what = f"{p.instances} instances"
            line = (
                f"dry run: {what}, {p.bytes_total / 1e6:.1f} MB in total, {p.bytes_present / 1e6:.1f} MB already "
                f"present, {p.bytes_needed / 1e6:.1f} MB to fetch, {p.bytes_free / 1e6:.1f} MB free on disk"
            )
            if not p.fits:
                line += " (not enough free space)"
            return line
        mb = self.bytes_downloaded / 1e6
        rate = mb / self.seconds if self.seconds > 0 else 0.0
        line = (
            f"{len(self.downloaded)} files downloaded ({mb:.1f} MB in {self.seconds:.1f} s, {rate:.1f} MB/s), "
            f"{len(self.skipped)} already present, {len(self.failed)} failed"
        )
        if self.failed:
            kinds = Counter(f.kind for f in self.failed)
            line += " (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")"
        if self.downloaded:
            checks = Counter(f.verification for f in self.downloaded)
            line += "; checked by " + ", ".join(f"{k}: {n}" for k, n in checks.most_common())
        if self.cancelled:
            line += "; cancelled"
        if self.stopped:
            line += f"; stopped: {self.stopped}"
        return line

    def _skipped_lines_note(self) -> str:
        lines = self.skipped_manifest_lines
        if not lines:
            return ""
        numbers = ", ".join(str(number) for number, _ in lines[:10]) + (", ..." if len(lines) > 10 else "")
        if len(lines) == 1:
            return f"; 1 manifest line skipped as not a copy command (line {numbers})"
        return f"; {len(lines)} manifest lines skipped as not copy commands (lines {numbers})"


Item = Union[PlanItem, Mapping[str, Any]]


def _plan_items(items: Iterable[Item]) -> list[PlanItem]:
    out = []
    for it in items:
        if isinstance(it, PlanItem):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(PlanItem(**it))
        else:
            raise DownloadError(f"a plan item must be a PlanItem or a mapping, not {type(it).__name__}")
    return out


def download_config(endpoint: str, **settings: Any) -> _core.DownloadConfig:
    """The core's settings for a download from ``endpoint``; a misspelt setting names the known ones."""
    try:
        return _core.DownloadConfig(endpoint, **settings)
    except TypeError as e:
        known = sorted(p for p in inspect.signature(_core.DownloadConfig).parameters if p != "endpoint")
        unknown = sorted(set(settings) - set(known))
        if not unknown:
            raise DownloadError(f"invalid download setting: {e}") from None
        raise DownloadError(
            f"unknown download setting(s) {', '.join(unknown)}; known: {', '.join(known)}"
        ) from None


class Download:
    """A running download: poll it, cancel it, wait for its report.

    Start one with :func:`start_download`; :func:`download` runs one to the end with a
    progress bar and Ctrl-C handling.
    """

    def __init__(self, handle: _core.DownloadHandle) -> None:
        self._handle = handle

    def progress(self) -> DownloadProgress:
        return self._handle.progress()

    def cancel(self) -> None:
        """Stop the transfer; no partial file is left under a final name. Returns at once."""
        self._handle.cancel()

    def done(self) -> bool:
        return self._handle.done()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (forever when None) without holding the GIL; True once finished."""
        return self._handle.wait(timeout)

    def report(self) -> DownloadReport | None:
        """The report once finished, else None."""
        r = self._handle.report()
        return None if r is None else DownloadReport.from_core(r)

    def run(
        self,
        *,
        show_progress_bar: bool = True,
        quiet: bool = False,
        progress_callback: ProgressCallback | None = None,
        desc: str = "Downloading",
        poll_interval: float = 0.1,
    ) -> DownloadReport:
        """Wait for the end, showing a tqdm bar (unless ``quiet`` or not ``show_progress_bar``)
        and calling ``progress_callback(done_bytes, total_bytes, "B", desc)`` whenever the
        counters move. Ctrl-C (or an exception from the callback) cancels the download, waits
        for it to clean up, and propagates."""
        bar = None
        if show_progress_bar and not quiet:
            from tqdm.auto import tqdm

            bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1000, desc=desc, dynamic_ncols=True)
        last: tuple[int, int] | None = None

        def tick() -> None:
            nonlocal last
            p = self.progress()
            if (p.bytes_done, p.bytes_total) == last:
                return
            last = (p.bytes_done, p.bytes_total)
            if bar is not None:
                if bar.total != p.bytes_total:
                    bar.total = p.bytes_total
                bar.n = p.bytes_done
                bar.set_postfix_str(f"{p.files_finished}/{p.files_total} files", refresh=False)
                bar.refresh()
            if progress_callback is not None:
                progress_callback(p.bytes_done, p.bytes_total, "B", desc)

        try:
            while not self.wait(poll_interval):
                tick()
            tick()
        except BaseException:
            self.cancel()
            # Let the transfer remove its partial files; a second Ctrl-C stops waiting.
            self.wait(30.0)
            raise
        finally:
            if bar is not None:
                bar.close()
        report = self.report()
        if report is None:  # pragma: no cover - wait() returned True, so the report exists
            raise DownloadError("the download finished without a report; run it again")
        return report


def start_download(
    items: Iterable[Item],
    destination_root: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    source_bucket_location: str = "aws",
    concurrency: int | None = None,
    resume: bool = True,
    verify_existing: bool = True,
    checksums: bool = True,
    fsync: bool = False,
    **tuning: Any,
) -> Download:
    """Start downloading ``items`` under ``destination_root`` and return at once.

    ``checksums=False`` checks sizes only, not the checksum the bucket states. ``tuning``
    passes the core's finer settings through: ``list_concurrency``, ``part_size``,
    ``multipart_threshold``, ``max_large_files``, ``ranges_per_file``, ``max_attempts``,
    ``retry_max_seconds``, ``stall_timeout``, ``connect_timeout``.
    """
    config = download_config(
        resolve_endpoint(endpoint_url, source_bucket_location),
        concurrency=concurrency,
        fsync=fsync,
        resume=resume,
        verify_existing=verify_existing,
        checksums=checksums,
        **tuning,
    )
    handle = _core.start_download(_plan_items(items), os.fspath(destination_root), config)
    return Download(handle)


def download(
    items: Iterable[Item],
    destination_root: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    source_bucket_location: str = "aws",
    concurrency: int | None = None,
    resume: bool = True,
    verify_existing: bool = True,
    checksums: bool = True,
    fsync: bool = False,
    show_progress_bar: bool = True,
    quiet: bool = False,
    progress_callback: ProgressCallback | None = None,
    desc: str = "Downloading",
    raise_on_failure: bool = True,
    **tuning: Any,
) -> DownloadReport:
    """Download ``items`` under ``destination_root`` and return the report.

    Files already present with the right size (and MD5, when the listing states one) are
    skipped when ``resume`` is on, so a rerun after a failure or a kill fetches only the rest.
    Raises :class:`~idc_index.errors.DownloadFailedError` (carrying the report) when any file
    failed or the run was cancelled or stopped, unless ``raise_on_failure`` is False;
    :class:`~idc_index.errors.DownloadError` when the download cannot start.
    """
    started = time.monotonic()
    handle = start_download(
        items,
        destination_root,
        endpoint_url=endpoint_url,
        source_bucket_location=source_bucket_location,
        concurrency=concurrency,
        resume=resume,
        verify_existing=verify_existing,
        checksums=checksums,
        fsync=fsync,
        **tuning,
    )
    report = handle.run(
        show_progress_bar=show_progress_bar, quiet=quiet, progress_callback=progress_callback, desc=desc
    )
    logger.debug("download finished in %.2f s: %s", time.monotonic() - started, report.summary())
    if not quiet:
        logger.info("%s", report.summary())
    if not report.ok and raise_on_failure:
        raise DownloadFailedError(failure_message(report), report)
    return report


def failure_message(report: DownloadReport) -> str:
    """What went wrong in a report, for an exception: counts, kinds, the first reasons, what to do."""
    if report.stopped:
        head = f"The download stopped early: {report.stopped}"
    elif report.cancelled:
        head = "The download was cancelled"
    else:
        head = "The download did not complete"
    lines = [f"{head}. {report.summary()}."]
    real = [f for f in report.failed if f.kind not in ("cancelled", "not_attempted")]
    for f in real[:3]:
        lines.append(f"  - {f.reason}")
    if len(real) > 3:
        lines.append(f"  ... and {len(real) - 3} more (see the report attribute of this exception)")
    lines.append("Run the same download again to fetch what is missing: files already present are skipped.")
    return "\n".join(lines)


__all__ = [
    "AWS_ENDPOINT",
    "ENDPOINT_ENV",
    "GCS_BUCKETS",
    "GCS_ENDPOINT",
    "Download",
    "DownloadProgress",
    "DownloadReport",
    "DownloadedFile",
    "FailedFile",
    "PlanItem",
    "PlanSummary",
    "ProgressCallback",
    "bucket_for",
    "download",
    "download_config",
    "failure_message",
    "resolve_endpoint",
    "start_download",
]
