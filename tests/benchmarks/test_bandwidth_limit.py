"""How closely ``idc download-from-manifest --limit-rate`` holds its limit over a 30 s transfer,
against s3s-fs on 127.0.0.1, directly and through the delay proxy with a capped link (the cap
above the limit, so that the limit is what holds the transfer back).

The rate is the bytes the run fetched over the transfer's own seconds (the summary line's, which
leave out start-up and planning), against the limit asked for; the wall time and CPU seconds of
the whole command are printed beside it. Run with ``scripts/bench.sh -k bandwidth_limit -s``;
skipped without s3s-fs or the delay proxy. ``IDC_BENCH_LIMIT`` (default ``10M``: 10 MiB/s, as
curl reads it) and ``IDC_BENCH_LIMIT_SECONDS`` (default 30) set the run.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench_paths import real_index
from bench_s3s import (
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
from idc_index.arguments import parse_rate

BUCKET = "idc-open-data"
LIMIT = os.environ.get("IDC_BENCH_LIMIT", "10M")
SECONDS = float(os.environ.get("IDC_BENCH_LIMIT_SECONDS", "30"))
#: Objects of 4 MB: many requests in flight share the limit, as in a real download.
OBJECT = 4_000_000
#: The capped link: round trip added (ms) and bandwidth (Mbit/s), well above the limit.
LINK = (40, 200)


def _series_uuid() -> str:
    """A real series of the bucket (the manifest's series must be in the index)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["crdc_series_uuid", "aws_bucket"])
    return str(t.filter(pc.equal(t["aws_bucket"], BUCKET)).column("crdc_series_uuid")[0])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    proxy = executable("delay_proxy", TARGET_DIR / "release" / "delay_proxy")
    root = tmp_path_factory.mktemp("s3s")
    (root / BUCKET).mkdir()
    srv, endpoint = start_s3s(root)
    s3 = anonymous_client(endpoint)
    rnd, block = random.Random(7), os.urandom(1 << 20)
    n = int(parse_rate(LIMIT) * SECONDS / OBJECT) + 1  # type: ignore[operator]
    uuid = _series_uuid()
    for i in range(n):
        put_object(s3, BUCKET, f"{uuid}/{i:05d}.dcm", OBJECT, rnd, block)
    port = free_port()
    prx = subprocess.Popen([proxy, str(port), endpoint.removeprefix("http://"), str(LINK[0]), str(LINK[1])],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, prx)
    yield {"endpoints": {"loopback": endpoint, f"+{LINK[0]} ms RTT, {LINK[1]} Mbit/s": f"http://127.0.0.1:{port}"},
           "bytes": n * OBJECT, "server_pid": srv.pid, "uuid": uuid}
    for p in (prx, srv):
        p.terminate()
        p.wait(10)


@pytest.mark.parametrize("network", ["loopback", f"+{LINK[0]} ms RTT, {LINK[1]} Mbit/s"])
def test_bandwidth_limit(benchmark, served, tmp_path: Path, network: str) -> None:
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text(f"cp s3://{BUCKET}/{served['uuid']}/* .\n")
    dest = destination()
    idc = Path(sys.executable).parent / "idc"
    cmd = [os.fspath(idc), "download-from-manifest", "--manifest-file", os.fspath(manifest), "--download-dir",
           os.fspath(dest), "--endpoint-url", served["endpoints"][network], "--show-progress-bar", "False",
           "--limit-rate", LIMIT]
    runs: list[dict[str, float]] = []

    def run() -> None:
        r0, srv0, t0 = os.times(), proc_cpu(served["server_pid"]), time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=SECONDS * 4,
                             env=dict(os.environ, IDC_ENDPOINT_URL=""))
        wall, r1 = time.perf_counter() - t0, os.times()
        # The transfer's own seconds, from the summary line: start-up and planning left out.
        seconds = float(re.search(r" in ([\d.]+) s", out.stdout).group(1))  # type: ignore[union-attr]
        runs.append({"wall_s": wall, "transfer_s": seconds, "server_cpu_s": proc_cpu(served["server_pid"]) - srv0,
                     "cpu_s": (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)})

    benchmark.group = f"bandwidth limit {LIMIT}, {network}"
    benchmark.pedantic(run, rounds=1, iterations=1)
    shutil.rmtree(dest)
    (r,) = runs
    limit = parse_rate(LIMIT)
    assert limit is not None
    rate = served["bytes"] / r["transfer_s"]
    benchmark.extra_info.update({**r, "bytes": served["bytes"], "limit_B_per_s": limit, "B_per_s": rate,
                                 "fraction_of_limit": rate / limit})
    print(f"\nbandwidth limit {LIMIT} ({limit / 1e6:.2f} MB/s), {served['bytes'] / 1e6:.0f} MB, {network}: "
          f"{rate / 1e6:.2f} MB/s over the transfer's {r['transfer_s']:.1f} s = {rate / limit:.3f} of the limit; "
          f"whole command {r['wall_s']:.1f} s wall, {r['cpu_s']:.2f} CPU-s (server {r['server_cpu_s']:.2f} CPU-s)",
          file=sys.stderr)
