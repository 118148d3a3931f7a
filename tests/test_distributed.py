"""Plans downloaded on a Dask cluster (a LocalCluster of two worker processes) against the tests'
S3 server: the same files as on one machine, a worker killed mid-run, a shard that fails."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    moto_s3,
    small_collection,
)
from idc_index import distributed
from idc_index.download import DownloadReport, PlanItem
from idc_index.errors import DownloadFailedError
from idc_index.plan import Plan
from s3server import FaultProxy, MotoS3, Series

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


def test_ctrl_c_cancels_the_shards_and_stops_their_transfers(
    client, workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
    proxy = FaultProxy(moto_s3.endpoint, trickle_bytes=1024)
    try:
        for s in small_collection:
            for key in s.objects:
                proxy.fault_always(key, "trickle")
        plan = client.plan_download(tmp_path / "p", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
        timer = threading.Timer(1.5, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            distributed.download(
                plan, tmp_path / "data", client=workers, shards=4, concurrency=2, endpoint_url=proxy.endpoint,
                show_progress_bar=False,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(workers.processing().values()):
            time.sleep(0.1)
        assert not any(workers.processing().values())
        time.sleep(0.5)  # the transfers have stopped: nothing more arrives
        before = files_on_disk(tmp_path / "data")
        time.sleep(1.0)
        assert files_on_disk(tmp_path / "data") == before
        assert len(before) < sum(len(s.objects) for s in small_collection)
    finally:
        proxy.stop()


def test_a_shard_that_fails_for_good_is_in_the_merged_report(
    workers: dd.Client, moto_s3: MotoS3, small_collection: list[Series], tmp_path: Path
):
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
                show_progress_bar=False,
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
