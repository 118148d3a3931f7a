"""Run a download plan on a Dask cluster: one task per shard, one merged report.

:func:`download` splits a :class:`~idc_index.download.plan.Plan` into shards of about equal bytes (more
shards than workers, so that fast workers take more of them), submits one task per shard, and
merges what the tasks return into one :class:`~idc_index.download.DownloadReport`. Each task
rebuilds its shard on its worker and runs the native downloader there, into the same download
directory (a shared filesystem) or one per worker (a path with ``{worker}`` or ``{host}``).

A shard that fails is retried by Dask (``retries``); a worker lost mid-run has its shard
rescheduled on another worker, whose run skips the files already complete. The workers' byte
counts drive the caller's progress bar, and Ctrl-C cancels the tasks and stops the transfers.

Needs ``dask[distributed]`` (the ``idc-index[dask]`` extra).

Example:
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from idc_index import IDCClient, distributed  # doctest: +SKIP
    >>> plan = IDCClient().plan_download("data", collection_id="nlst")  # doctest: +SKIP
    >>> with Client(LocalCluster(n_workers=4)) as dask_client:  # doctest: +SKIP
    ...     report = distributed.download(plan, "/shared/nlst", client=dask_client)
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from idc_index.download.locations import SourceLocation
from idc_index.download.plan_table import PlanItem
from idc_index.download.progress_bar import ProgressBar
from idc_index.download.report import DownloadReport, FailedFile, failure_message
from idc_index.download.transfer import ProgressCallback
from idc_index.errors import DownloadFailedError, IDCError

if TYPE_CHECKING:
    from distributed import Client, Future

    from idc_index.download.plan import Plan

#: Shards per worker when ``shards`` is not given: more than one, so that a fast worker takes
#: more of them; not many more, since each shard is a download of its own (its connections,
#: its first listings, its drain at the end). See docs/benchmarks.md.
SHARDS_PER_WORKER = 2
#: Seconds between two progress messages of a task (and two looks at the cancel flag).
REPORT_INTERVAL = 0.5
#: Seconds between two updates of the caller's progress bar.
PROGRESS_SECONDS = 0.25

#: A plan item as plain values: bucket, destination, prefix, key, size, SeriesInstanceUID,
#: SOPInstanceUID (native plan items do not leave their process).
Row = tuple[str, str, "str | None", "str | None", "int | None", "str | None", "str | None"]


def download(
    plan: Plan,
    download_dir: str | os.PathLike[str],
    client: Client,
    shards: int | None = None,
    *,
    retries: int = 2,
    endpoint_url: str | None = None,
    concurrency: int | None = None,
    checksums: bool = True,
    show_progress_bar: bool = True,
    progress_callback: ProgressCallback | None = None,
    desc: str = "Downloading",
) -> DownloadReport[Plan]:
    """Download ``plan`` on the workers of the Dask ``client`` and return one merged report.

    Args:
        plan: the plan to fetch (for example from
            :meth:`~idc_index.IDCClient.plan_download`); its destinations are relative, so the
            files land under ``download_dir`` on the workers.
        download_dir: where the workers write, as seen by them: a shared filesystem, or a path
            with ``{worker}`` (the worker's name) or ``{host}`` (its host name) for a
            directory per worker.
        client: a ``dask.distributed.Client`` connected to the cluster.
        shards: how many tasks to split the plan into (default: 2 per worker connected now,
            at most one per plan item).
        retries: how many times Dask runs a failed shard again (a rerun skips the files
            already complete).
        endpoint_url: the S3 endpoint of every bucket (as in
            :meth:`~idc_index.download.plan.Plan.run`; by default the one of the plan's
            location, or ``$IDC_ENDPOINT_URL`` on the workers).
        concurrency: the concurrent transfers of each worker's download.
        checksums: verify checksums (sizes only when False), of files already present too.
        show_progress_bar: show a progress bar of the workers' bytes in the caller.
        progress_callback: ``f(done_bytes, total_bytes, "B", desc)`` with the workers' bytes,
            called in the caller as the shards progress (replaces the progress bar), as
            :meth:`~idc_index.download.plan.Plan.run` calls it.
        desc: the label of the progress bar.

    The merged report has every shard's files and failures, their bytes, and the wall-clock
    seconds of the whole run; its ``plan`` is ``plan``.

    Raises:
        DownloadFailedError: some files are not on disk after the retries (the report carries
            them, with the reason of each); a rerun fetches only what is missing.
        ValueError: ``shards`` is less than 1 or larger than the number of plan items.
        KeyboardInterrupt: Ctrl-C; the tasks are cancelled and their transfers stopped.
    """
    try:
        from distributed import Event, wait
    except ImportError as e:
        raise ImportError(
            "downloads on a Dask cluster need dask.distributed: pip install 'idc-index[dask]'"
        ) from e

    if not plan.table.num_rows:
        return DownloadReport(plan=plan)
    if shards is None:
        workers = len(client.scheduler_info().get("workers", {}))
        shards = min(plan.table.num_rows, SHARDS_PER_WORKER * max(1, workers))
    started = time.monotonic()  # the whole run: splitting the plan too
    parts = plan.shard(shards)
    run_id = uuid.uuid4().hex[:12]
    topic = f"idc-index-progress-{run_id}"
    stop = Event(f"idc-index-stop-{run_id}", client=client)
    progress: dict[int, tuple[int, int, int]] = {}
    lock = threading.Lock()

    def on_progress(event: tuple[float, dict[str, int]]) -> None:
        msg = event[1]
        with lock:
            progress[msg["shard"]] = (msg["done"], msg["total"], msg["present"])

    client.subscribe_topic(topic, on_progress)
    futures = [
        client.submit(
            run_shard,
            i,
            rows_of(part),
            list(part.collections),
            os.fspath(download_dir),
            plan.location,
            {"endpoint_url": endpoint_url, "concurrency": concurrency, "checksums": checksums},
            topic,
            stop.name,
            key=f"idc-index-shard-{i}-{run_id}",
            retries=retries,
            pure=False,
        )
        for i, part in enumerate(parts)
    ]
    bar = ProgressBar(desc) if show_progress_bar and progress_callback is None else None

    def tick(reports: list[DownloadReport[Plan]] | None = None) -> None:
        if bar is None and progress_callback is None:
            return
        with lock:
            done = sum(d for d, _, _ in progress.values())
            total = sum(t for _, t, _ in progress.values())
            present = sum(p for _, _, p in progress.values())
        if reports is not None:
            # The end: the bytes the shards' reports hold. Their last progress messages come
            # through the scheduler and may arrive after their results (or never, for a shard
            # whose last count fell within its rate limit).
            done = sum(r.bytes_downloaded + r.bytes_present for r in reports)
            present = sum(r.bytes_present for r in reports)
        if progress_callback is not None:
            progress_callback(done, max(total, done), "B", desc)
            return
        assert bar is not None
        finished = sum(1 for f in futures if f.done())
        bar.show(done, total, f"{finished}/{len(futures)} shards", present=present, last=reports is not None)

    try:
        while True:
            try:
                wait(futures, timeout=PROGRESS_SECONDS)  # returns as soon as the last shard ends
                break
            except TimeoutError:
                tick()
        reports = [report_of(i, f, parts[i]) for i, f in enumerate(futures)]
        tick(reports)
    except BaseException:
        stop.set()
        client.cancel(futures)
        raise
    finally:
        client.unsubscribe_topic(topic)
        if bar is not None:
            bar.close()
    report = merge(reports, time.monotonic() - started, plan)
    if not report.ok:
        raise DownloadFailedError(failure_message(report), report)
    return report


def rows_of(plan: Plan) -> list[Row]:
    """The plan's items as plain values, in order (read from its table: no object per item)."""
    columns = ("bucket", "destination", "prefix", "key", "size", "SeriesInstanceUID", "SOPInstanceUID")
    return list(zip(*(plan.table[c].to_pylist() for c in columns)))


def items_of(rows: Sequence[Row]) -> list[PlanItem]:
    """The plan items of :func:`rows_of`."""
    return [
        PlanItem(bucket, destination, prefix=prefix, key=key, size=size, series_instance_uid=series, sop_instance_uid=sop)
        for bucket, destination, prefix, key, size, series, sop in rows
    ]


def worker_dir(template: str, worker: str) -> str:
    """``template`` with ``{worker}`` and ``{host}`` filled in for this worker.

    Example:
        >>> worker_dir("/scratch/{worker}/nlst", "3")
        '/scratch/3/nlst'
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in worker)
    return template.replace("{worker}", safe).replace("{host}", socket.gethostname())


def run_shard(
    shard: int,
    rows: list[Row],
    collections: list[str | None],
    download_dir: str,
    location: SourceLocation,
    settings: dict[str, Any],
    topic: str,
    stop_name: str,
    desc: str = "Downloading",
) -> DownloadReport[Plan]:
    """The task of one shard, on a worker: rebuild the shard's plan under ``download_dir``, run
    it, and return its report in plain values (see :func:`portable`); when files are missing,
    raise :class:`~idc_index.errors.DownloadFailedError` with that report, so that Dask runs
    the shard again and the caller merges the last run's report.
    """
    from distributed import Event, get_worker

    from idc_index.download.plan import Plan

    worker = get_worker()
    name = str(worker.name)
    plan = Plan.measure(items_of(rows), worker_dir(download_dir, name), location, collections)
    stop = Event(stop_name)
    last = 0.0

    def report_progress(done: int, total: int, unit: str, desc: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < REPORT_INTERVAL and done < total:
            return
        last = now
        # The bytes found on disk when the shard was planned are left out of the bar's rate.
        worker.log_event(topic, {"shard": shard, "done": done, "total": total, "present": plan.bytes_present})
        if stop.is_set():
            raise IDCError("the distributed download was cancelled")

    failure: str | None = None
    try:
        report = plan.run(**settings, show_progress_bar=False, progress_callback=report_progress, desc=desc)
    except DownloadFailedError as e:
        if e.report is None:
            raise
        report, failure = e.report, str(e)
    plain = portable(report)
    if failure is not None:
        # Raised outside the handler: Dask sends an error's causes along, and the native
        # report they carry cannot be pickled.
        raise DownloadFailedError(f"shard {shard} on worker {name}: {failure}", plain)
    return plain


def portable(report: DownloadReport[Plan]) -> DownloadReport[Plan]:
    """The report without its plan (whose table and instance source stay on the worker); its
    files and failures are the downloader's records, which pickle."""
    return replace(report, plan=None)


def report_of(shard: int, future: Future[DownloadReport[Plan]], part: Plan) -> DownloadReport[Plan]:
    """The report of a finished task: its result, the report its last failure carries, or,
    when it was cancelled or raised anything else, every item of the shard failed so."""
    if future.status == "finished":
        report: DownloadReport[Plan] = future.result()
        return report
    kind: Literal["cancelled", "shard_error"]
    if future.cancelled():
        kind, reason = "cancelled", f"shard {shard} was cancelled"
    else:
        error = future.exception()
        if isinstance(error, DownloadFailedError) and isinstance(error.report, DownloadReport):
            carried: DownloadReport[Plan] = error.report
            return carried
        kind, reason = "shard_error", f"shard {shard} failed: {type(error).__name__}: {error}"
    failed = [
        FailedFile(
            i.bucket, i.prefix or i.key or "", i.destination, kind, reason, 0, i.series_instance_uid, i.sop_instance_uid
        )
        for i in part.items
    ]
    return DownloadReport(failed=failed, cancelled=kind == "cancelled")


def merge(reports: Sequence[DownloadReport[Plan]], seconds: float, plan: Plan) -> DownloadReport[Plan]:
    """One report of the shards' reports: their files, failures and bytes; ``seconds`` is the
    wall-clock time of the whole run (not the sum of the shards' times)."""
    stopped = sorted({r.stopped for r in reports if r.stopped})
    return DownloadReport(
        files=[f for r in reports for f in r.files],
        failed=[f for r in reports for f in r.failed],
        bytes_downloaded=sum(r.bytes_downloaded for r in reports),
        bytes_present=sum(r.bytes_present for r in reports),
        seconds=seconds,
        cancelled=any(r.cancelled for r in reports),
        stopped="; ".join(stopped) or None,
        not_started=sum(r.not_started for r in reports),
        plan=plan,
    )


__all__ = ["download"]
