"""Plans downloaded on a Dask cluster (a LocalCluster of two worker processes) against the tests'
S3 server: the same files as on one machine, a worker killed mid-run, a shard that fails, the
caller's progress bar, the default number of shards, a directory per host, and the settings
each worker's download takes from the call."""

from __future__ import annotations

import _thread
import io
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    moto_s3,
    small_collection,
)
from idc_index import distributed
from idc_index.download import DownloadReport, PlanItem
from idc_index.download.plan import Plan
from idc_index.errors import DownloadFailedError
from s3server import FaultProxy, MotoS3, Series
from tqdm.std import tqdm as tqdm_std

dd = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[dd.Client]:
    cluster = dd.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None, silence_logs=40
    )
    with dd.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture()
def workers(dask_client: dd.Client) -> dd.Client:
    """The client, once both workers are up (a killed worker is restarted by its nanny)."""
    dask_client.wait_for_workers(2, timeout=60)
    return dask_client


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in files_on_disk(root)}


def expected_tree(series: list[Series]) -> dict[str, bytes]:
    return {
        f"{s.series_instance_uid}/{key.split('/', 1)[1]}": data for s in series for key, data in s.objects.items()
    }


def test_the_union_of_the_shards_is_the_single_machine_download(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    plan = client.plan_download(tmp_path / "one", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    single = plan.run(endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    report = distributed.download(
        plan, tmp_path / "many", client=workers, endpoint_url=moto_s3.endpoint, show_progress_bar=False
    )
    assert isinstance(report, DownloadReport) and report.ok and report.plan is plan
    assert tree(tmp_path / "many") == tree(tmp_path / "one") == expected_tree(small_collection)
    assert len(report.downloaded) == len(single.downloaded) and not report.failed
    assert report.bytes_downloaded == single.bytes_downloaded
    assert sorted(Path(f.path).relative_to(tmp_path / "many") for f in report.files) == sorted(
        Path(f.path).relative_to(tmp_path / "one") for f in single.files
    )
    assert report.summary().startswith(f"{len(single.downloaded)} files downloaded (")
    assert ", 0 already present, 0 failed; checked by " in report.summary()
    # A rerun fetches nothing; a per-worker template gives each worker its own tree.
    again = distributed.download(
        plan, tmp_path / "many", client=workers, shards=3, endpoint_url=moto_s3.endpoint, show_progress_bar=False
    )
    assert again.ok and not again.downloaded and len(again.skipped) == len(single.files)
    per_worker = distributed.download(
        plan, str(tmp_path / "w-{worker}"), client=workers, endpoint_url=moto_s3.endpoint, show_progress_bar=False
    )
    assert per_worker.ok
    union: dict[str, bytes] = {}
    for d in tmp_path.glob("w-*"):
        union.update(tree(d))
    assert union == expected_tree(small_collection)


def test_a_worker_killed_mid_run_still_ends_with_the_complete_tree(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    proxy = FaultProxy(moto_s3.endpoint, trickle_bytes=2048)
    try:
        for s in small_collection:
            for key in s.objects:
                proxy.fault_always(key, "trickle")
        plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
        pids = workers.run(os.getpid)
        killed: list[int] = []
        total = sum(len(s.objects) for s in small_collection)

        def kill_when_files_appear() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not files_on_disk(tmp_path / "data"):
                time.sleep(0.02)
            busy = [a for a, keys in workers.processing().items() if keys]
            pid = pids[busy[0]]
            os.kill(pid, signal.SIGKILL)
            if len(files_on_disk(tmp_path / "data")) < total:  # the run is not over
                killed.append(pid)

        killer = threading.Thread(target=kill_when_files_appear, daemon=True)
        killer.start()
        report = distributed.download(
            plan, tmp_path / "data", client=workers, shards=4, concurrency=4, endpoint_url=proxy.endpoint,
            show_progress_bar=False,
        )
        killer.join()
    finally:
        proxy.stop()
    assert killed and report.ok
    assert tree(tmp_path / "data") == expected_tree(small_collection)
    assert len(report.files) == total
    assert killed[0] not in workers.run(os.getpid).values()  # the nanny started a new process
    assert not any(p.name.endswith(".idc-partial") for p in files_on_disk(tmp_path / "data"))


def _interrupt_when(seen: Callable[[], bool], timeout: float = 120.0) -> None:
    """Ctrl-C in the main thread as soon as ``seen()`` holds (or after ``timeout``, so that a run in
    which it never holds fails on its assertions instead of hanging)."""
    deadline = time.monotonic() + timeout
    while not seen() and time.monotonic() < deadline:
        time.sleep(0.02)
    _thread.interrupt_main()


def test_ctrl_c_cancels_the_shards_and_stops_their_transfers(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    proxy = FaultProxy(moto_s3.endpoint, trickle_bytes=1024)
    try:
        for s in small_collection:
            for key in s.objects:
                proxy.fault_always(key, "trickle")
        plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
        # Ctrl-C once the shards' transfers are seen running (the proxy has answered requests of at least
        # two objects), however long the workers take to start them: never on a timer that may fire first.
        watcher = threading.Thread(target=_interrupt_when, args=(lambda: len(proxy.requests) >= 2,), daemon=True)
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            distributed.download(
                plan, tmp_path / "data", client=workers, shards=4, concurrency=2, endpoint_url=proxy.endpoint,
                show_progress_bar=False,
            )
        # What stopped: the shard tasks, and their transfers, which the server saw cut off mid-body
        # (looked at until seen, for at most a minute, so that a failing run does not hang).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (any(workers.processing().values()) or proxy.trickling):
            time.sleep(0.05)
        assert not any(workers.processing().values())
        assert proxy.trickling == 0, f"{proxy.trickling} transfers still running after Ctrl-C"
        assert proxy.cut_trickles() > 0
        assert len(files_on_disk(tmp_path / "data")) < sum(len(s.objects) for s in small_collection)
    finally:
        proxy.stop()


def test_a_shard_that_fails_for_good_is_in_the_merged_report(
    workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    from idc_index.download import progress_bar

    monkeypatch.setattr(progress_bar, "_tqdm", lambda: RecordingBar)
    RecordingBar.bars.clear()
    proxy = FaultProxy(moto_s3.endpoint)
    try:
        items = [
            PlanItem.series(s.bucket, s.crdc_series_uuid, s.series_instance_uid, size=s.size)
            for s in small_collection[:6]
        ]
        missing = PlanItem.instance("idc-open-data", "missing/none.dcm", "missing/none.dcm", size=10)
        plan = Plan.measure([*items, missing], tmp_path / "data", "aws")
        with pytest.raises(DownloadFailedError, match="1 failed") as e:
            distributed.download(
                plan, tmp_path / "data", client=workers, shards=3, retries=1, endpoint_url=proxy.endpoint,
            )
    finally:
        proxy.stop()
    report = e.value.report
    assert report is not None and report.plan is plan and not report.ok
    (failure,) = report.failed
    assert failure.kind == "not_found" and failure.key == "missing/none.dcm"
    assert "(1 not_found)" in report.summary()
    assert proxy.requests["missing/none.dcm"] == 2  # the first run and Dask's one retry
    # The other shards' files are all there.
    assert len(report.files) == sum(len(s.objects) for s in small_collection[:6])
    assert {p.parent.name for p in files_on_disk(tmp_path / "data")} == {s.series_instance_uid for s in small_collection[:6]}
    # Without a retry (which starts with the files present), the bar still ends at every byte on
    # disk: the end is read from the shards' reports, not from their last progress messages,
    # which may come after the results or fall within a shard's rate limit.
    RecordingBar.bars.clear()
    with pytest.raises(DownloadFailedError):
        distributed.download(plan, tmp_path / "again", client=workers, shards=3, retries=0,
                             endpoint_url=moto_s3.endpoint)
    (bar,) = RecordingBar.bars
    assert bar.n == sum(len(data) for s in small_collection[:6] for data in s.objects.values())
    assert bar.initial == 0
    # Run again over the same files: they are all present, and left out of the bar's rate.
    RecordingBar.bars.clear()
    with pytest.raises(DownloadFailedError) as again:
        distributed.download(plan, tmp_path / "again", client=workers, shards=3, retries=0,
                             endpoint_url=moto_s3.endpoint)
    (bar,) = RecordingBar.bars
    assert again.value.report is not None and again.value.report.bytes_downloaded == 0
    assert bar.initial == bar.n == again.value.report.bytes_present > 0


class RecordingBar(tqdm_std):
    """A tqdm bar that writes nowhere and is kept for the test to look at."""

    bars: ClassVar[list[RecordingBar]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["file"] = io.StringIO()
        super().__init__(*args, **kwargs)
        RecordingBar.bars.append(self)


def shard_tasks(ts: dd.get_task_stream) -> set[str]:
    """The shard tasks a task stream saw."""
    return {str(t["key"]) for t in ts.data if str(t["key"]).startswith("idc-index-shard-")}


def test_the_callers_progress_bar_counts_every_byte_of_every_shard(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    from idc_index.download import progress_bar

    monkeypatch.setattr(progress_bar, "_tqdm", lambda: RecordingBar)
    RecordingBar.bars.clear()
    plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    started = time.monotonic()
    report = distributed.download(plan, tmp_path / "data", client=workers, endpoint_url=moto_s3.endpoint, desc="NLST")
    elapsed = time.monotonic() - started
    (bar,) = RecordingBar.bars
    nbytes = sum(len(data) for s in small_collection for data in s.objects.values())
    assert report.ok and report.bytes_downloaded == nbytes
    assert bar.n == bar.total == nbytes
    assert bar.desc == "NLST" and bar.unit == "B"
    # Two shards for each of the two workers, all of them finished.
    assert bar.postfix == "4/4 shards" and distributed.SHARDS_PER_WORKER == 2
    assert 0 < report.seconds <= elapsed


def test_by_default_two_shards_per_worker_and_at_most_one_per_item(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    assert len(plan.items) == len(small_collection) > 8
    with dd.get_task_stream(client=workers) as ts:
        report = distributed.download(
            plan, tmp_path / "all", client=workers, endpoint_url=moto_s3.endpoint, show_progress_bar=False
        )
    assert report.ok and len(report.files) == sum(len(s.objects) for s in small_collection)
    assert len(shard_tasks(ts)) == distributed.SHARDS_PER_WORKER * 2  # more shards than workers
    small = client.plan_download(
        tmp_path / "p3", seriesInstanceUID=[s.series_instance_uid for s in small_collection[:3]],
        dirTemplate="%SeriesInstanceUID",
    )
    with dd.get_task_stream(client=workers) as ts:
        report = distributed.download(
            small, tmp_path / "three", client=workers, endpoint_url=moto_s3.endpoint, show_progress_bar=False
        )
    assert report.ok and len(shard_tasks(ts)) == 3
    assert tree(tmp_path / "three") == expected_tree(small_collection[:3])


def test_a_host_template_puts_the_files_under_the_workers_host_name(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    report = distributed.download(
        plan, str(tmp_path / "{host}" / "data"), client=workers, endpoint_url=moto_s3.endpoint,
        show_progress_bar=False,
    )
    assert report.ok
    (host,) = set(workers.run(socket.gethostname).values())  # the workers' host: this one
    assert [p.name for p in tmp_path.iterdir() if p.name != "p"] == [host]
    assert tree(tmp_path / host / "data") == expected_tree(small_collection)
    assert all(Path(f.path).is_relative_to(tmp_path / host / "data") for f in report.files)


def test_the_settings_of_the_call_are_those_of_every_workers_download(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    sizes = distributed.download(
        plan, tmp_path / "sizes", client=workers, endpoint_url=moto_s3.endpoint, checksums=False, concurrency=2,
        show_progress_bar=False,
    )
    assert sizes.ok and {f.verification for f in sizes.downloaded} == {"size"}
    # Without endpoint_url, each worker takes $IDC_ENDPOINT_URL from its own environment.
    def set_endpoint(endpoint: str | None) -> None:
        import os

        if endpoint is None:
            os.environ.pop("IDC_ENDPOINT_URL", None)
        else:
            os.environ["IDC_ENDPOINT_URL"] = endpoint

    workers.run(set_endpoint, moto_s3.endpoint)
    try:
        crc = distributed.download(plan, tmp_path / "env", client=workers, show_progress_bar=False)
    finally:
        workers.run(set_endpoint, None)
    assert crc.ok and {f.verification for f in crc.downloaded} == {"crc32"}
    assert tree(tmp_path / "env") == tree(tmp_path / "sizes") == expected_tree(small_collection)


def test_a_shard_that_cannot_start_has_every_item_failed_with_the_reason(
    workers: dd.Client, small_collection: list[Series], tmp_path: Path
):
    s = small_collection[0]
    key = next(iter(s.objects))
    items = [
        PlanItem.series(t.bucket, t.crdc_series_uuid, t.series_instance_uid, size=t.size,
                        series_instance_uid=t.series_instance_uid)
        for t in small_collection[1:3]
    ]
    instance = PlanItem.instance(s.bucket, key, f"{s.series_instance_uid}/one.dcm", size=len(s.objects[key]),
                                 series_instance_uid=s.series_instance_uid, sop_instance_uid="1.2.3.4")
    plan = Plan.measure([*items, instance], tmp_path / "p", "aws")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DownloadFailedError, match="3 failed") as e:
        distributed.download(plan, tmp_path / "file" / "data", client=workers, shards=2, retries=0,
                             show_progress_bar=False)
    report = e.value.report
    assert report is not None and report.plan is plan and not report.files
    assert {f.kind for f in report.failed} == {"shard_error"}
    assert all("cannot be created" in f.reason for f in report.failed)
    by_key = {f.key: f for f in report.failed}
    assert set(by_key) == {key, *(f"{t.crdc_series_uuid}/" for t in small_collection[1:3])}
    assert by_key[key].sop_instance_uid == "1.2.3.4"
    assert by_key[key].series_instance_uid == s.series_instance_uid
    assert {by_key[f"{t.crdc_series_uuid}/"].series_instance_uid for t in small_collection[1:3]} == {
        t.series_instance_uid for t in small_collection[1:3]
    }


def test_shards_out_of_range_and_an_empty_plan(workers: dd.Client, small_collection: list[Series], tmp_path: Path):
    items = [PlanItem.series(s.bucket, s.crdc_series_uuid, s.series_instance_uid, size=s.size)
             for s in small_collection[:3]]
    plan = Plan.measure(items, tmp_path / "p", "aws")
    for shards in (0, 4):
        with pytest.raises(ValueError):
            distributed.download(plan, tmp_path / "data", client=workers, shards=shards, show_progress_bar=False)
    assert not files_on_disk(tmp_path / "data")
    empty = Plan.measure([], tmp_path / "p", "aws")
    with dd.get_task_stream(client=workers) as ts:
        report = distributed.download(empty, tmp_path / "data", client=workers)
    assert report.ok and report.plan is empty and not report.files and not report.failed
    assert not shard_tasks(ts)


def test_without_dask_distributed_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'idc-index\[dask\]'"):
        distributed.download(Plan.measure([], tmp_path, "aws"), tmp_path, client=None)  # type: ignore[arg-type]


def test_a_progress_callback_replaces_the_bar_and_sees_every_byte(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    from idc_index.download import progress_bar

    monkeypatch.setattr(progress_bar, "_tqdm", lambda: RecordingBar)
    RecordingBar.bars.clear()
    calls: list[tuple[int, int, str, str]] = []
    plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    report = distributed.download(plan, tmp_path / "data", client=workers, endpoint_url=moto_s3.endpoint,
                                  progress_callback=lambda *a: calls.append(a), desc="cohort")
    nbytes = sum(len(data) for s in small_collection for data in s.objects.values())
    assert report.ok and not RecordingBar.bars
    assert calls[-1] == (nbytes, nbytes, "B", "cohort")
    assert all(done <= total for done, total, _, _ in calls)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # never goes back
