"""A plan downloaded on a Dask cluster against the same plan run on one machine, side by side
against s3s-fs on 127.0.0.1: ``idc_index.distributed.download`` on a LocalCluster of two worker
processes, and ``plan.run()`` in this process.

The data: 300 real series of the v25 index (``idc-open-data``, 1-3 MB each in the index), each
uploaded as its number of instances with the index's size per instance (about 100-600 kB,
typical CT and MR files), each object with a CRC32. The plan is ``client.plan_download`` of
their SeriesInstanceUIDs with the default folder template.

Each round runs the plan once with ``plan.run()`` and once with ``distributed.download`` on the
same cluster, each from an empty tmpfs directory (as in test_download_cli.py), so the two see
the same machine load. Wall time is the best of 5 rounds; CPU seconds (user + system) are
medians, apart for this process (which also runs the cluster's scheduler), the cluster's
processes (the nannies and workers, measured with psutil), and the server; the native
downloader's share is the CPU of its runtime's threads (``idc-core``) in all of them. The cluster's
start-up and its first download (the workers import idc-index then) are measured apart, and
one more round, not timed, records where the Dask run's time goes (the task stream) and what
running the shards one after another on one machine costs. Run with
``scripts/bench.sh -k download_distributed -s``; skipped without s3s-fs or dask.distributed.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench_paths import real_index
from bench_s3s import anonymous_client, destination, proc_cpu, put_object, start_s3s

dd = pytest.importorskip("dask.distributed")
psutil = pytest.importorskip("psutil")

BUCKET = "idc-open-data"
SERIES = 300
SERIES_MB = (1.0, 3.0)
INSTANCE_BYTES = (100_000, 600_000)
WORKERS = 2
ROUNDS = 5


@pytest.fixture(scope="module")
def s3s_series(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """s3s-fs holding :data:`SERIES` real series of realistic sizes; their SeriesInstanceUIDs,
    files and bytes."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["SeriesInstanceUID", "crdc_series_uuid", "aws_bucket",
                                              "series_size_MB", "instanceCount"])
    per_instance = pc.divide(pc.multiply(t["series_size_MB"], 1e6), pc.max_element_wise(t["instanceCount"], 1))
    keep = [
        pc.equal(t["aws_bucket"], BUCKET),
        pc.greater_equal(t["series_size_MB"], SERIES_MB[0]),
        pc.less_equal(t["series_size_MB"], SERIES_MB[1]),
        pc.greater_equal(per_instance, INSTANCE_BYTES[0]),
        pc.less_equal(per_instance, INSTANCE_BYTES[1]),
    ]
    mask = keep[0]
    for k in keep[1:]:
        mask = pc.and_(mask, k)
    rows = t.filter(mask).to_pylist()
    rnd = random.Random(SERIES)
    rows = rnd.sample(rows, SERIES)
    root = tmp_path_factory.mktemp("s3s-dask")
    (root / BUCKET).mkdir()
    server, endpoint = start_s3s(root)
    s3 = anonymous_client(endpoint)
    block = os.urandom(1 << 20)
    files = nbytes = 0
    for row in rows:
        count = max(1, row["instanceCount"])
        size = row["series_size_MB"] * 1e6 / count
        for i in range(count):
            n = int(size * rnd.uniform(0.9, 1.1))
            put_object(s3, BUCKET, f"{row['crdc_series_uuid']}/{i:05d}.dcm", n, rnd, block)
            files, nbytes = files + 1, nbytes + n
    yield {
        "endpoint": endpoint,
        "server_pid": server.pid,
        "uids": [r["SeriesInstanceUID"] for r in rows],
        "files": files,
        "bytes": nbytes,
    }
    server.terminate()
    server.wait(10)


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def native_threads(pids: list[int]) -> dict[tuple[int, int], float]:
    """User + system seconds of each thread of the native downloader's runtime (named
    ``idc-core``) in the processes ``pids``."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            task = Path(f"/proc/{pid}/task/{tid}")
            try:
                if (task / "comm").read_text().strip() != "idc-core":
                    continue
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            out[pid, int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def native_cpu_since(before: dict[tuple[int, int], float], pids: list[int]) -> float:
    """The native downloader's CPU seconds since ``before`` (threads that ended meanwhile left out)."""
    return sum(cpu - before.get(k, 0.0) for k, cpu in native_threads(pids).items())


class Cluster:
    """A LocalCluster of :data:`WORKERS` processes and its client, with the CPU seconds of its
    processes (the processes it started: nannies, workers and their helpers)."""

    def __init__(self) -> None:
        before = {p.pid for p in psutil.Process().children(recursive=True)}  # the S3 server among them
        t0, cpu0 = time.perf_counter(), self_cpu()
        self.cluster = dd.LocalCluster(n_workers=WORKERS, processes=True, dashboard_address=None, silence_logs=40)
        self.client = dd.Client(self.cluster)
        self.client.wait_for_workers(WORKERS, timeout=120)
        self.start_s = time.perf_counter() - t0
        self.procs = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        self.start_cpu = self_cpu() - cpu0 + self.cpu()
        #: This process and the cluster's.
        self.pids = [os.getpid(), *(p.pid for p in self.procs)]

    def cpu(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def measured(run: Callable[[], Any], cluster: Cluster, server_pid: int) -> dict[str, float]:
    """Wall seconds of ``run()`` and the CPU seconds of this process, the cluster, the server, and
    of the native downloader's threads in this process and the cluster's."""
    start = marks(cluster, server_pid)
    t0 = time.perf_counter()
    run()
    return {"wall": time.perf_counter() - t0, **cpu_since(start, cluster, server_pid)}


def marks(cluster: Cluster, server_pid: int) -> dict[str, Any]:
    return {"cpu": self_cpu(), "workers_cpu": cluster.cpu(), "server_cpu": proc_cpu(server_pid),
            "native_cpu": native_threads(cluster.pids)}


def cpu_since(start: dict[str, Any], cluster: Cluster, server_pid: int) -> dict[str, float]:
    return {
        "cpu": self_cpu() - start["cpu"],
        "workers_cpu": cluster.cpu() - start["workers_cpu"],
        "server_cpu": proc_cpu(server_pid) - start["server_cpu"],
        "native_cpu": native_cpu_since(start["native_cpu"], cluster.pids),
    }


def empty(d: Path) -> Path:
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def breakdown(
    plan: Any, dask_client: Any, dest: Path, endpoint: str, shards: int | None, monkeypatch: pytest.MonkeyPatch
) -> dict[str, float]:
    """Where a Dask run's wall time goes, from the scheduler's task stream: from the call to the
    first shard started on a worker, the shards' run times, the time each worker was idle
    between shards and at the end, and from the last shard's end to the merged report (of
    which the caller spends ``results`` fetching the shards' reports and ``merge`` merging them)."""
    from idc_index import distributed

    spent = {"results": 0.0, "merge": 0.0}

    def timing(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t

        return timed

    with monkeypatch.context() as m:
        m.setattr(distributed, "report_of", timing("results", distributed.report_of))
        m.setattr(distributed, "merge", timing("merge", distributed.merge))
        empty(dest)
        with dd.get_task_stream(client=dask_client) as ts:
            t0 = time.time()
            distributed.download(
                plan, dest, client=dask_client, shards=shards, endpoint_url=endpoint, show_progress_bar=False
            )
            t1 = time.time()
    spans: dict[str, list[tuple[float, float]]] = {}
    for task in ts.data:
        if not str(task["key"]).startswith("idc-index-shard-"):
            continue
        for s in task["startstops"]:
            if s["action"] == "compute":
                spans.setdefault(task["worker"], []).append((s["start"], s["stop"]))
    first = min(a for v in spans.values() for a, _ in v)
    last = max(b for v in spans.values() for _, b in v)
    shard_s = [b - a for v in spans.values() for a, b in v]
    idle = 0.0
    for v in spans.values():
        v.sort()
        idle += sum(max(0.0, v[i + 1][0] - v[i][1]) for i in range(len(v) - 1)) + (last - v[-1][1])
    return {
        "wall": t1 - t0,
        "to_first_shard": first - t0,
        "shards": len(shard_s),
        "shard_min": min(shard_s),
        "shard_median": statistics.median(shard_s),
        "shard_max": max(shard_s),
        "workers_idle": idle / len(spans),
        "last_shard_to_report": t1 - last,
        **spent,
    }


@pytest.mark.parametrize("shards", [None, WORKERS], ids=["default-shards", "one-shard-per-worker"])
def test_dask_overhead(benchmark, s3s_series, client, monkeypatch, shards: int | None) -> None:
    from idc_index import distributed

    data, ep, server_pid = s3s_series, s3s_series["endpoint"], s3s_series["server_pid"]
    base = destination()
    plan = client.plan_download(base / "single", seriesInstanceUID=data["uids"])
    assert plan.series == SERIES
    single_dest, dask_dest = base / "single", base / "dask"

    def single() -> None:
        assert plan.run(endpoint_url=ep, show_progress_bar=False).ok

    def on_dask() -> None:
        report = distributed.download(
            plan, dask_dest, client=cluster.client, shards=shards, endpoint_url=ep, show_progress_bar=False
        )
        assert report.ok and len(report.files) == data["files"]

    cluster: Cluster | None = None
    try:
        empty(single_dest)
        single()  # the server's files into the page cache
        cluster = Cluster()
        empty(dask_dest)
        cold = measured(on_dask, cluster, server_pid)  # the workers import idc-index here
        singles: list[dict[str, float]] = []
        dasks: list[dict[str, float]] = []
        start: dict[str, Any] = {}

        def setup() -> tuple[tuple[()], dict[str, Any]]:
            empty(single_dest)
            singles.append(measured(single, cluster, server_pid))
            empty(dask_dest)
            start.update(marks(cluster, server_pid))
            return (), {}

        def timed() -> None:
            on_dask()
            dasks.append(cpu_since(start, cluster, server_pid))

        benchmark.group = (
            f"dask: {SERIES} series, {data['files']:,} files, {data['bytes'] / 1e6:,.0f} MB, {WORKERS} workers"
        )
        benchmark.pedantic(timed, setup=setup, rounds=ROUNDS, iterations=1)
        walls = benchmark.stats.stats.data
        steps = breakdown(plan, cluster.client, dask_dest, ep, shards, monkeypatch)
        idle = measured(lambda: time.sleep(2.0), cluster, server_pid)  # the cluster's own upkeep
        parts = plan.shard(shards or distributed.SHARDS_PER_WORKER * WORKERS)
        t0 = time.perf_counter()
        plan.shard(len(parts))
        shard_s = time.perf_counter() - t0
        empty(single_dest)
        t0 = time.perf_counter()
        for part in parts:  # the shards one after another on one machine
            assert part.run(endpoint_url=ep, show_progress_bar=False).ok
        parts_s = time.perf_counter() - t0
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(base, ignore_errors=True)

    single_wall = min(s["wall"] for s in singles)
    dask_wall = min(walls)
    kinds = ("cpu", "workers_cpu", "server_cpu", "native_cpu")
    med = {k: statistics.median(s[k] for s in singles) for k in kinds}
    dmed = {k: statistics.median(d[k] for d in dasks) for k in kinds}
    paired = [d / s["wall"] for d, s in zip(walls, singles)]
    info = {
        "files": data["files"], "bytes": data["bytes"], "shards": steps["shards"],
        "single_wall_s": single_wall, "single_walls_s": [s["wall"] for s in singles],
        "single_cpu_s": med["cpu"], "single_server_cpu_s": med["server_cpu"],
        "single_idle_cluster_cpu_s": med["workers_cpu"],
        "dask_wall_s": dask_wall, "dask_walls_s": list(walls),
        "dask_client_cpu_s": dmed["cpu"], "dask_workers_cpu_s": dmed["workers_cpu"],
        "dask_server_cpu_s": dmed["server_cpu"],
        "single_native_cpu_s": med["native_cpu"], "dask_native_cpu_s": dmed["native_cpu"],
        "overhead_ratio": dask_wall / single_wall, "paired_ratio_median": statistics.median(paired),
        "cluster_start_s": cluster.start_s, "cluster_start_cpu_s": cluster.start_cpu,
        "first_run_wall_s": cold["wall"], "first_run_workers_cpu_s": cold["workers_cpu"],
        "plan_shard_s": shard_s, "shards_in_sequence_s": parts_s,
        "idle_client_cpu_per_s": idle["cpu"] / idle["wall"], "idle_workers_cpu_per_s": idle["workers_cpu"] / idle["wall"],
        "breakdown": steps,
    }
    benchmark.extra_info.update(info)
    print(
        f"\n{benchmark.group}, shards={shards}: plan.run {single_wall:.2f} s wall, {med['cpu']:.2f} CPU-s "
        f"(server {med['server_cpu']:.2f}); dask {dask_wall:.2f} s wall, {dmed['cpu']:.2f} client + "
        f"{dmed['workers_cpu']:.2f} workers CPU-s (server {dmed['server_cpu']:.2f}); native downloader "
        f"{med['native_cpu']:.2f} and {dmed['native_cpu']:.2f} CPU-s; ratio "
        f"{dask_wall / single_wall:.3f} (paired median {statistics.median(paired):.3f}); cluster start "
        f"{cluster.start_s:.2f} s, {cluster.start_cpu:.2f} CPU-s; first run {cold['wall']:.2f} s; "
        f"plan.shard {shard_s * 1000:.0f} ms; shards in sequence {parts_s:.2f} s; idle cluster "
        f"{idle['cpu'] / idle['wall']:.3f} + {idle['workers_cpu'] / idle['wall']:.3f} CPU-s/s; breakdown {steps}",
        file=sys.stderr,
    )
