"""The native downloader, started and watched: endpoints, buckets, settings, progress, Ctrl-C.

A download is a plan table (:mod:`~idc_index.download.plan_table`), or a list of
:class:`~idc_index.download.PlanItem`: a series prefix (``<crdc_series_uuid>/``) that is listed
and fetched into a directory, or one object key fetched to a file path. The core reads the
table through the Arrow C stream, with no Python object per item. The Rust core
does the transfer (bounded concurrency, parallel ranges for large objects, retries, size and
checksum verification, temp file + rename); this module starts it (:func:`start_download`),
shows progress, forwards Ctrl-C as a cancel and builds the one
:class:`~idc_index.download.DownloadReport` of the run from the core's ``TransferReport``.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from idc_index import _core
from idc_index.arguments import parse_rate
from idc_index.download.locations import resolve_endpoint
from idc_index.download.plan_table import PlanItem, items_table, plan_schema
from idc_index.download.progress_bar import ProgressBar
from idc_index.download.report import DownloadReport, P, failure_message
from idc_index.errors import DownloadError, DownloadFailedError, DownloadInterrupted

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: The suffix of a file being written (``.<name>.idc-partial``); such a file is never complete.
PARTIAL_SUFFIX = _core.PARTIAL_SUFFIX

#: ``progress_callback(done, total, unit, desc)``: ``done`` and ``total`` in ``unit`` ("B").
ProgressCallback = Callable[[int, int, str, str], None]


#: A reading of a running download's counters.
DownloadProgress = _core.DownloadProgress


Item = Union[PlanItem, Mapping[str, Any]]


def _plan_table(items: pa.Table | Iterable[Item]) -> pa.Table:
    """The plan table the core reads: ``items`` when it is one, else the table of the items."""
    import pyarrow as pa

    if isinstance(items, pa.Table):
        return items.cast(plan_schema())
    return items_table(_plan_items(items))


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

    def report(
        self, plan: P | None = None, skipped_manifest_lines: Sequence[tuple[int, str]] = ()
    ) -> DownloadReport[P] | None:
        """The report once finished (with ``plan`` and ``skipped_manifest_lines`` in it), else None."""
        r = self._handle.report()
        return None if r is None else DownloadReport.of(r, plan, skipped_manifest_lines)

    def run(
        self,
        *,
        show_progress_bar: bool = True,
        quiet: bool = False,
        progress_callback: ProgressCallback | None = None,
        desc: str = "Downloading",
        poll_interval: float = 0.1,
        plan: P | None = None,
        skipped_manifest_lines: Sequence[tuple[int, str]] = (),
    ) -> DownloadReport[P]:
        """Wait for the end, showing a progress bar (unless ``quiet`` or not ``show_progress_bar``)
        and calling ``progress_callback(done_bytes, total_bytes, "B", desc)`` whenever the
        counters move. Ctrl-C (or an exception from the callback) cancels the download, waits
        for it to clean up, and propagates. The report carries ``plan`` and ``skipped_manifest_lines``."""
        bar = ProgressBar(desc) if show_progress_bar and not quiet else None
        last: tuple[int, int] | None = None

        def tick(end: bool = False) -> None:
            nonlocal last
            p = self.progress()
            if (p.bytes_done, p.bytes_total) == last and not end:
                return
            last = (p.bytes_done, p.bytes_total)
            if bar is not None:
                bar.show(p.bytes_done, p.bytes_total, f"{p.files_finished}/{p.files_total} files",
                         present=p.bytes_present, last=end)
            if progress_callback is not None:
                progress_callback(p.bytes_done, p.bytes_total, "B", desc)

        try:
            while not self.wait(poll_interval):
                tick()
            tick(end=True)
        except BaseException as stopped:
            self.cancel()
            # Let the transfer remove its partial files; a second Ctrl-C stops waiting.
            self.wait(30.0)
            if type(stopped) is KeyboardInterrupt:
                p = self.progress()
                raise DownloadInterrupted(p.files_downloaded + p.files_skipped, p.files_total, p.bytes_done,
                                          report=self.report(plan, skipped_manifest_lines)) from stopped
            raise
        finally:
            if bar is not None:
                bar.close()
        report = self.report(plan, skipped_manifest_lines)
        if report is None:  # pragma: no cover - wait() returned True, so the report exists
            raise DownloadError("the download finished without a report; run it again")
        return report


def start_download(
    items: pa.Table | Iterable[Item],
    destination_root: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    source_bucket_location: str = "aws",
    concurrency: int | None = None,
    resume: bool = True,
    verify_existing: bool = True,
    checksums: bool = True,
    fsync: bool = False,
    max_bandwidth: int | str | None = None,
    **tuning: Any,
) -> Download:
    """Start downloading ``items`` under ``destination_root`` and return at once.

    ``checksums=False`` checks sizes only, not the checksum the bucket states.
    ``max_bandwidth`` limits the bytes per second all transfers together take from the link
    (a number, or curl's ``--limit-rate`` form: ``"500k"``, ``"25M"``). ``tuning``
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
        max_bandwidth=parse_rate(max_bandwidth),
        **tuning,
    )
    handle = _core.start_download(_plan_table(items), os.fspath(destination_root), config)
    return Download(handle)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: the endpoint a download of a plain URL is set up with.

    >>> origin("https://example.org/v1/idc_index.parquet")
    'https://example.org'
    """
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def fetch_file(
    url: str,
    path: str | os.PathLike[str],
    *,
    size: int | None = None,
    sha256: str | None = None,
    stall_timeout: float = 60.0,
    max_attempts: int = 4,
    progress_callback: ProgressCallback | None = None,
) -> DownloadReport[Any]:
    """Fetch the file at a plain ``http(s)://`` URL (not in a bucket: a published index file) to
    ``path``, as a download fetches an object: retried, in parallel ranges when large, checked
    against ``size`` and ``sha256`` (hexadecimal) when given, written under a temporary name and
    renamed, never skipped because a file is already there. Ctrl-C, or an exception raised by
    ``progress_callback``, cancels it.

    Raises:
        DownloadFailedError: the file could not be fetched or did not verify; its report's one
            failure says why.
        DownloadError: the URL or a setting is not valid.
    """
    import pyarrow as pa

    from idc_index._arrow import int64s, strings

    path = os.path.abspath(path)
    row = {name: strings([None]) for name in ("bucket", "prefix", "key", "collection_id", "SeriesInstanceUID",
                                               "SOPInstanceUID")}
    row.update(url=strings([url]), sha256=strings([sha256]), destination=strings([os.path.basename(path)]),
               size=int64s([size]))
    config = download_config(origin(url), resume=False, stall_timeout=stall_timeout, max_attempts=max_attempts)
    handle = Download(_core.start_download(pa.table(row), os.path.dirname(path), config))
    report: DownloadReport[Any] = handle.run(show_progress_bar=False, quiet=True, progress_callback=progress_callback)
    if not report.ok:
        raise DownloadFailedError(failure_message(report), report)
    return report


def download(
    items: pa.Table | Iterable[Item],
    destination_root: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    source_bucket_location: str = "aws",
    concurrency: int | None = None,
    resume: bool = True,
    verify_existing: bool = True,
    checksums: bool = True,
    fsync: bool = False,
    max_bandwidth: int | str | None = None,
    show_progress_bar: bool = True,
    quiet: bool = False,
    progress_callback: ProgressCallback | None = None,
    desc: str = "Downloading",
    raise_on_failure: bool = True,
    plan: P | None = None,
    skipped_manifest_lines: Sequence[tuple[int, str]] = (),
    **tuning: Any,
) -> DownloadReport[P]:
    """Download ``items`` under ``destination_root`` and return the report.

    Files already present with the right size (and checksum, when the listing states one) are
    skipped when ``resume`` is on, so a rerun after a failure or a kill fetches only the rest.
    Raises :class:`~idc_index.errors.DownloadFailedError` (carrying the report) when any file
    failed or the run was cancelled or stopped, unless ``raise_on_failure`` is False;
    :class:`~idc_index.errors.DownloadError` when the download cannot start. ``plan`` and
    ``skipped_manifest_lines`` go into the report as they are (a :class:`~idc_index.Plan` runs
    itself this way).
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
        max_bandwidth=max_bandwidth,
        **tuning,
    )
    report = handle.run(
        show_progress_bar=show_progress_bar, quiet=quiet, progress_callback=progress_callback, desc=desc, plan=plan,
        skipped_manifest_lines=skipped_manifest_lines,
    )
    logger.debug("download finished in %.2f s: %s", time.monotonic() - started, report.summary())
    if not quiet:
        logger.info("%s", report.summary())
    if not report.ok and raise_on_failure:
        raise DownloadFailedError(failure_message(report), report)
    return report


__all__ = [
    "PARTIAL_SUFFIX",
    "Download",
    "DownloadProgress",
    "Item",
    "PlanItem",
    "ProgressCallback",
    "download",
    "download_config",
    "fetch_file",
    "origin",
    "start_download",
]
