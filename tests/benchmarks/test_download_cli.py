"""Whole command-line downloads, side by side against s3s-fs (the Rust S3 server over a directory,
which stores ETags and checksums of what is uploaded through it), on loopback and through a
proxy that delays every response by 20 ms (the round trip each request takes grows by that much:
only the server's direction is delayed), optionally at a capped bandwidth:

- ``idc download-from-manifest`` verified (the default) and ``--sizes-only``;
- ``s5cmd run`` on the same manifest with its defaults and at our concurrency.

Each run is a fresh process (start-up, planning and listing included), timed from start to exit,
with its CPU seconds (user + system of the process and its children). The server's CPU is
reported apart: on a 2-core machine the two share the processor. Files are written to a
tmpfs (``/dev/shm``, or ``IDC_BENCH_DEST``): on ext4, creating 2,000 files right after deleting
the previous round's made the kernel's inode allocator (``recently_deleted``) half of every
tool's CPU, varying twofold between rounds. Run with
``scripts/bench.sh -k download_cli -s``; skipped without s3s-fs (scripts/bench.sh installs it)
or the delay proxy (built by scripts/bench.sh from tests/benchmarks/delay_proxy).

- small: 2,000 objects of 100-500 kB in 50 series (IDC's typical CT/MR instances);
- large: 4 objects of 256 MiB in one series (slide-microscopy sized), fetched in ranges.

Each round also records the most connections the tool held open to the server at once (sampled
from ``/proc/net/tcp`` every 10 ms): with connections reused from a pool, about the most requests
it had in flight. Knobs for the "network decides the concurrency" comparison (docs/benchmarks.md):
``IDC_BENCH_DELAY_MS`` (the round trip the proxy adds, default 20; a list such as ``20,80,150``
runs one proxy, and one set of rows, per value), ``IDC_BENCH_RATE_MBIT`` (the bandwidth of the
proxy's link in Mbit/s, shared by all connections of the run, server to client; default none; a
list such as ``200,1000`` multiplies the rows, 0 in it meaning no cap), ``IDC_BENCH_SMALL_SERIES``
(series of 40 small files, default 50), ``IDC_BENCH_CASES`` (e.g. ``small``),
``IDC_BENCH_ROUNDS`` (default 5), ``IDC_BENCH_BASELINE`` (a directory holding another build of
``idc_index``, run as the tool ``idc-index-baseline``). Through a capped link each tool's row
also says how full it kept the link: its MB/s (the files' bytes over the whole command's wall
time, start-up and listing included; HTTP headers not counted) over the link's.

A table at three round trips and two bandwidths, without the loopback rows::

    IDC_BENCH_DELAY_MS=20,80,150 IDC_BENCH_RATE_MBIT=200,1000 IDC_BENCH_TOOLS=$HOME/.cache/idc-index/tools \
    python -m pytest tests/benchmarks/test_download_cli.py -o addopts="" -p no:cacheprovider \
        --benchmark-only -s -k "not loopback"
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench_paths import real_index
from bench_s3s import (
    CHECKSUM,
    TARGET_DIR,
    anonymous_client,
    destination,
    executable,
    free_port,
    proc_cpu,
    put_object,
    start_s3s,
    wait_port,
)

BUCKET = "idc-open-data"
CASES = {"small": (int(os.environ.get("IDC_BENCH_SMALL_SERIES", "50")), 40, (100_000, 500_000)),
         "large": (1, 4, (256 << 20, 256 << 20))}
CASES = {k: v for k, v in CASES.items() if k in os.environ.get("IDC_BENCH_CASES", ",".join(CASES)).split(",")}
CONCURRENCY = 64
#: Round trips the delay proxy adds, in ms: it holds every piece of a response that long and
#: passes requests at once, so each request waits that much more for its answer.
DELAYS_MS = [int(d) for d in os.environ.get("IDC_BENCH_DELAY_MS", "20").split(",")]
#: Bandwidths of the proxy's link in Mbit/s (10^6 bits), all connections together; 0 = no cap.
RATES_MBIT = [float(r) for r in os.environ.get("IDC_BENCH_RATE_MBIT", "0").split(",")]


def _network(delay_ms: int, rate_mbit: float) -> str:
    return f"+{delay_ms} ms RTT" + (f", {rate_mbit:g} Mbit/s" if rate_mbit else "")


#: Each network through the proxy: its name, round trip added (ms) and bandwidth (Mbit/s, 0: none).
LINKS = {_network(d, r): (d, r) for d in DELAYS_MS for r in RATES_MBIT}
NETWORKS = ["loopback", *LINKS]
ROUNDS = int(os.environ.get("IDC_BENCH_ROUNDS", "5"))
BASELINE = os.environ.get("IDC_BENCH_BASELINE")


def _series_uuids(n_series: int, seed: int) -> list[str]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["crdc_series_uuid", "aws_bucket"])
    uuids = t.filter(pc.equal(t["aws_bucket"], BUCKET)).column("crdc_series_uuid").to_pylist()
    return random.Random(seed).sample(uuids, n_series)


@pytest.fixture(scope="session")
def s3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """s3s-fs on 127.0.0.1 holding both cases, uploaded through it with a CRC32 each (as S3 stores
    one for objects uploaded with a checksum), and a delay proxy in front of it per network."""
    proxy = executable("delay_proxy", TARGET_DIR / "release" / "delay_proxy")
    root = tmp_path_factory.mktemp("s3s")
    (root / BUCKET).mkdir()
    srv, endpoint = start_s3s(root)
    s3 = anonymous_client(endpoint)
    block = os.urandom(1 << 20)
    cases = {}
    for case, (n_series, per_series, sizes) in CASES.items():
        rnd = random.Random(case)
        series = _series_uuids(n_series, seed=list(CASES).index(case))
        nbytes = 0
        for uuid in series:
            for i in range(per_series):
                size = rnd.randint(*sizes)
                put_object(s3, BUCKET, f"{uuid}/{i:05d}.dcm", size, rnd, block)
                nbytes += size
        cases[case] = {"series": series, "files": n_series * per_series, "bytes": nbytes}
    endpoints, proxies = {"loopback": endpoint}, []
    for network, (delay_ms, rate_mbit) in LINKS.items():
        port = free_port()
        # delay_proxy LISTEN_PORT UPSTREAM DELAY_MS [RATE_MBIT]: no 4th argument, no cap.
        args = [proxy, str(port), endpoint.removeprefix("http://"), str(delay_ms)]
        proxies.append(subprocess.Popen(args + ([f"{rate_mbit:g}"] if rate_mbit else []),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(port, proxies[-1])
        endpoints[network] = f"http://127.0.0.1:{port}"
    yield {"endpoints": endpoints, "cases": cases, "server_pid": srv.pid}
    for p in (*proxies, srv):
        p.terminate()
        p.wait(10)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _connections(port: int) -> int:
    """Established TCP connections to 127.0.0.1:``port`` (the client's side of each)."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "01" and int(f[2].rsplit(":", 1)[1], 16) == port:
            n += 1
    return n


class _PeakConnections:
    """The most connections open to a port at once while the block runs, sampled every 10 ms."""

    def __init__(self, port: int) -> None:
        self.port, self.peak, self._stop = port, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _connections(self.port))

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _command(tool: str, endpoint: str, manifest: Path, s5_manifest: Path, dest: Path) -> list[str]:
    if tool.startswith("idc-index"):
        idc = Path(sys.executable).parent / "idc"
        cmd = [os.fspath(idc), "download-from-manifest", "--manifest-file", os.fspath(manifest),
               "--download-dir", os.fspath(dest), "--endpoint-url", endpoint, "--show-progress-bar", "False",
               "--dir-template", "%SeriesInstanceUID"]
        if tool == "idc-index-baseline":
            cmd = [sys.executable, "-c", "from idc_index.cli import idc; idc()", *cmd[1:],
                   *os.environ.get("IDC_BENCH_BASELINE_ARGS", "").split()]
        return cmd + (["--sizes-only"] if tool.endswith("sizes-only") else [])
    s5 = executable("s5cmd", Path(sysconfig.get_paths()["purelib"]) / "s5cmd" / "bin" / "s5cmd")
    workers = ["--numworkers", str(CONCURRENCY)] if tool == "s5cmd-same-concurrency" else []
    return [s5, "--endpoint-url", endpoint, "--no-sign-request", *workers, "run", os.fspath(s5_manifest)]


TOOLS = ["idc-index", "idc-index-sizes-only", "s5cmd-defaults", "s5cmd-same-concurrency"]
if BASELINE:
    TOOLS.append("idc-index-baseline")


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("case", list(CASES))
def test_download_cli(benchmark, s3s, tmp_path: Path, case: str, network: str, tool: str) -> None:
    data = s3s["cases"][case]
    endpoint = s3s["endpoints"][network]
    dest = destination() / "dest"
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text("".join(f"cp s3://{BUCKET}/{u}/* .\n" for u in data["series"]))
    s5_manifest = tmp_path / "s5.manifest"
    s5_manifest.write_text("".join(f"cp s3://{BUCKET}/{u}/* {dest}/{u}/\n" for u in data["series"]))
    cmd = _command(tool, endpoint, manifest, s5_manifest, dest)
    env = dict(os.environ, IDC_ENDPOINT_URL="")
    if tool == "idc-index-baseline":
        env["PYTHONPATH"] = os.pathsep.join(p for p in (BASELINE, env.get("PYTHONPATH")) if p)
    port = int(endpoint.rsplit(":", 1)[1])
    peaks: list[int] = []
    walls: list[float] = []
    cpus: list[float] = []
    server_cpus: list[float] = []
    transfers: list[float] = []

    def setup() -> tuple[tuple[()], dict[str, object]]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (), {}

    def run() -> None:
        cpu0, srv0, t0 = _children_cpu(), proc_cpu(s3s["server_pid"]), time.perf_counter()
        peak = _PeakConnections(port)
        with peak:
            out = subprocess.run(cmd, check=True, capture_output=True, timeout=900, env=env, cwd=tmp_path)
        # Ours says how long the transfer itself took (start-up, planning and listing excluded):
        # "N files downloaded (X MB in Y s, ...)".
        said = re.search(rb"files downloaded \([^)]*? in ([0-9.]+) s", out.stdout + out.stderr)
        if said:
            transfers.append(float(said.group(1)))
        peaks.append(peak.peak)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
        server_cpus.append(proc_cpu(s3s["server_pid"]) - srv0)

    stated = ", objects stating only an MD5" if CHECKSUM == "md5" else ""
    benchmark.group = f"cli {case}: {data['files']:,} files, {data['bytes'] / 1e6:,.0f} MB, {network}{stated}"
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    on_disk = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    shutil.rmtree(dest.parent)
    assert on_disk == data["bytes"], f"{on_disk} bytes on disk, {data['bytes']} expected"
    # The best wall time (as every benchmark here), and the median CPU: on a shared 2-core
    # machine one round's CPU moves with what the kernel and the server do meanwhile.
    wall, cpu, server_cpu = min(walls), statistics.median(cpus), statistics.median(server_cpus)
    mb_per_s = data["bytes"] / 1e6 / wall
    delay_ms, rate_mbit = LINKS.get(network, (0, 0.0))
    # How full the tool kept the link: its files' bytes over the link's, for the whole command.
    link = {"link_Mbit": rate_mbit, "link_fill": mb_per_s * 8 / rate_mbit,
            "median_link_fill": data["bytes"] * 8 / 1e6 / statistics.median(walls) / rate_mbit} if rate_mbit else {}
    benchmark.extra_info.update({
        "rtt_added_ms": delay_ms, **link,
        "files": data["files"], "bytes": data["bytes"], "wall_s": wall, "cpu_s": cpu, "server_cpu_s": server_cpu,
        "files_per_s": data["files"] / wall, "MB_per_s": mb_per_s,
        "median_wall_s": statistics.median(walls), "peak_connections": max(peaks),
        "median_files_per_s": data["files"] / statistics.median(walls),
        **({"transfer_s": min(transfers), "transfer_MB_per_s": data["bytes"] / 1e6 / min(transfers)}
           if transfers else {}),
    })
    fill = f" = {link['link_fill']:.0%} of the {rate_mbit:g} Mbit/s link" if link else ""
    print(f"\n{benchmark.group} {tool}: {wall:.2f} s wall, {cpu:.2f} s CPU (server {server_cpu:.2f} s), "
          f"{mb_per_s:,.1f} MB/s{fill}; median {statistics.median(walls):.2f} s wall, "
          f"{data['files'] / statistics.median(walls):,.0f} files/s; walls {[round(w, 2) for w in walls]}, "
          f"CPU {[round(c, 2) for c in cpus]}; peak connections {peaks}", file=sys.stderr)
