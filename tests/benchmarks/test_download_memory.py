"""Peak memory of a whole command-line download against its number of files: N tiny objects
(1-2 kB each, 1,000 per series of the index, the series taken from IDC's three AWS buckets in
turn) fetched by ``idc download-from-manifest`` (verified,
the default) and by ``s5cmd run`` with its defaults on the same series, each a fresh process into
an empty directory, for N in ``IDC_BENCH_MEMORY_FILES`` (default ``10000,100000``; add
``1000000`` for a million). The goal: a download's peak memory does not grow with its number of
files (the listing streamed into the transfers, each file's record kept compactly).

Measured per run: the process's peak resident memory (its ``ru_maxrss``, by GNU time: both
tools are one process), wall and CPU seconds (user + system), and the server's CPU apart. Per N, the peak bytes per file beyond a baseline: the smallest N's peak of the same
tool (the slope between the two sizes), and for idc-index also its ``--dry-run`` of the same
manifest (start-up and planning from the index, no listing, no transfer).

The objects are written as files straight into the directory that s3s-fs serves (bucket =
directory, object = file under it; a million PUTs would take far longer than the downloads).
s3s-fs serves such files: without the sidecar file it keeps for objects uploaded through it, a
listing states no ETag and a GET states the MD5 of the file (read once more to compute it) as
its ETag and no CRC, so these are objects that state only an MD5, as most of IDC's on AWS:
idc-index verifies each by MD5, s5cmd verifies nothing. s3s-fs walks the whole bucket for every
listing page (it filters by prefix afterwards), so the server's listing cost grows as N squared
over 1,000 (a page per series); spreading the series over three buckets divides it by three
(a page of 10^5 files in one bucket took 0.13 s on a 2-core machine).

Sources and destinations are on a tmpfs (``/dev/shm``) when it has room for them (4 kB a file
each, twice), else on the temporary directory's disk; ``IDC_BENCH_DEST`` picks the
destinations' directory, ``IDC_BENCH_MEMORY_SOURCE`` the sources'. ``IDC_BENCH_ROUNDS``
(default 1) rounds per tool and N; ``IDC_BENCH_MEMORY_PER_SERIES`` files per series (default
1,000: one listing page each). Only correctness is asserted: every file arrived, with every
byte. Run with::

    IDC_BENCH_TOOLS=$HOME/.cache/idc-index/tools \
    python -m pytest tests/benchmarks/test_download_memory.py -o addopts="" -p no:cacheprovider \
        --benchmark-only -s
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bench_paths import real_index
from bench_s3s import DEST_DIR, destination, proc_cpu, start_s3s
from test_download_cli import _command

SIZES = sorted(int(n) for n in os.environ.get("IDC_BENCH_MEMORY_FILES", "10000,100000").split(","))
BUCKETS = ("idc-open-data", "idc-open-data-two", "idc-open-data-cr")
PER_SERIES = int(os.environ.get("IDC_BENCH_MEMORY_PER_SERIES", "1000"))
ROUNDS = int(os.environ.get("IDC_BENCH_ROUNDS", "1"))
#: The dry run first: it is idc-index's baseline at the same N.
TOOLS = ["idc-index-dry-run", "idc-index", "s5cmd-defaults"]
#: Bytes a tmpfs takes per file of 1-2 kB (one page), for the space check.
TMPFS_PER_FILE = 4096
#: Peak resident bytes of each (tool, N) measured in this session, for the per-file slopes.
PEAKS: dict[tuple[str, int], int] = {}


def _series(n_series: int) -> list[tuple[str, str]]:
    """``n_series`` series of the index, the smallest of each of IDC's AWS buckets in turn (small,
    so that the disk-space check, which uses the index's sizes, passes): (bucket, crdc_series_uuid)
    of each. Three buckets rather than one divide s3s-fs's listing work by three (it walks the
    whole bucket for each listing page)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["crdc_series_uuid", "aws_bucket", "series_size_MB"])
    by_bucket = [t.filter(pc.equal(t["aws_bucket"], b)).sort_by("series_size_MB").column("crdc_series_uuid")
                 for b in BUCKETS]
    series = [(BUCKETS[i % 3], by_bucket[i % 3][i // 3].as_py()) for i in range(n_series)]
    assert len(set(series)) == n_series
    return series


def _write_objects(root: Path, series: list[tuple[str, str]], per_series: int) -> int:
    """``per_series`` objects of 1,000-2,000 bytes under each series prefix of its bucket, named
    as IDC's (``<series uuid>/<instance uuid>.dcm``); their total bytes."""
    rnd = random.Random(len(series))
    block = os.urandom(4096)
    total = 0
    for bucket, s in series:
        d = root / bucket / s
        d.mkdir(parents=True)
        for _ in range(per_series):
            size = rnd.randint(1000, 2000)
            start = rnd.randrange(len(block) - size)
            with open(d / f"{uuid.UUID(int=rnd.getrandbits(128), version=4)}.dcm", "wb") as f:
                f.write(block[start:start + size])
            total += size
    return total


def _room(path: str | None, files: int) -> bool:
    """Whether the file system of ``path`` has space and inodes for ``files`` more tiny files."""
    if not path or not os.path.isdir(path):
        return False
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize > files * TMPFS_PER_FILE * 1.2 and st.f_favail > files * 1.2


def _on_disk(root: Path) -> tuple[int, int]:
    """Files and bytes under ``root``, two levels deep (series directory, file)."""
    files = nbytes = 0
    with os.scandir(root) as series:
        for s in series:
            with os.scandir(s.path) as entries:
                for e in entries:
                    files += 1
                    nbytes += e.stat(follow_symlinks=False).st_size
    return files, nbytes


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], dict[str, object]]]:
    """``served(n)``: s3s-fs on 127.0.0.1 serving ``n`` tiny objects in ``n / PER_SERIES`` series.
    One set is kept at a time (the previous one's server stopped and files removed), so that a
    million files and their copy fit on the tmpfs."""
    current: dict[str, object] = {}

    def drop() -> None:
        if current:
            current["proc"].terminate()  # type: ignore[attr-defined]
            current["proc"].wait(10)  # type: ignore[attr-defined]
            shutil.rmtree(current["root"], ignore_errors=True)  # type: ignore[arg-type]
            current.clear()

    def serve(n: int) -> dict[str, object]:
        if current.get("files") == n:
            return current
        drop()
        assert n % PER_SERIES == 0, f"{n} files do not make series of {PER_SERIES}"
        where = os.environ.get("IDC_BENCH_MEMORY_SOURCE") or (DEST_DIR if _room(DEST_DIR, 2 * n) else None)
        root = Path(tempfile.mkdtemp(prefix="idc-bench-src-", dir=where or tmp_path_factory.getbasetemp()))
        series = _series(n // PER_SERIES)
        t = time.perf_counter()
        nbytes = _write_objects(root, series, PER_SERIES)
        print(f"\n{n:,} objects ({nbytes / 1e6:,.0f} MB) written under {root} in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
        proc, endpoint = start_s3s(root)
        current.update(files=n, bytes=nbytes, series=series, root=root, proc=proc,
                       endpoint=endpoint, server_pid=proc.pid)
        return current

    yield serve
    drop()


def _gnu_time() -> str:
    exe = shutil.which("time") or "/usr/bin/time"
    if not os.path.exists(exe):
        pytest.skip("GNU time is not installed (apt-get install time): it measures each tool's peak memory")
    return exe


def _run(cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path | None) -> tuple[int, float]:
    """Run ``cmd`` to its end under GNU time; its peak resident bytes and CPU seconds (user +
    system). GNU time forks the tool from its own small process: a tool started straight from
    this one would have this process's peak (the index read to pick the series, hundreds of MB)
    in its ``ru_maxrss``, which exec carries over from the address space it replaces."""
    usage = cwd / "usage.txt"
    with open(stdout or os.devnull, "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        proc = subprocess.run([_gnu_time(), "-f", "%M %U %S", "-o", os.fspath(usage), *cmd],
                              check=False, stdout=out, stderr=err, env=env, cwd=cwd, timeout=3600)
    if proc.returncode:
        pytest.fail(f"{cmd[:3]} exited with {proc.returncode}: {(cwd / 'stderr.txt').read_text()[-2000:]}")
    max_kb, user, system = usage.read_text().split()[-3:]
    return int(max_kb) * 1024, float(user) + float(system)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("n", SIZES)
def test_download_memory(benchmark, served, tmp_path: Path, n: int, tool: str) -> None:
    data = served(n)
    dest = destination() / "dest"
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text("".join(f"cp s3://{b}/{u}/* .\n" for b, u in data["series"]))
    s5_manifest = tmp_path / "s5.manifest"
    s5_manifest.write_text("".join(f"cp s3://{b}/{u}/* {dest}/{u}/\n" for b, u in data["series"]))
    dry_run = tool.endswith("dry-run")
    cmd = _command(tool.removesuffix("-dry-run"), data["endpoint"], manifest, s5_manifest, dest)
    cmd += ["--dry-run", "True"] if dry_run else []
    env = dict(os.environ, IDC_ENDPOINT_URL="")
    # s5cmd prints a line per file; ours one summary line, kept to show how files were checked.
    stdout = tmp_path / "stdout.txt" if tool.startswith("idc-index") else None
    peaks: list[int] = []
    walls: list[float] = []
    cpus: list[float] = []
    server_cpus: list[float] = []

    def setup() -> tuple[tuple[()], dict[str, object]]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (), {}

    def run() -> None:
        srv0, t0 = proc_cpu(data["server_pid"]), time.perf_counter()
        peak, cpu = _run(cmd, env, tmp_path, stdout)
        walls.append(time.perf_counter() - t0)
        peaks.append(peak)
        cpus.append(cpu)
        server_cpus.append(proc_cpu(data["server_pid"]) - srv0)

    benchmark.group = f"peak memory: {n:,} files of 1-2 kB"
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    files, nbytes = _on_disk(dest)
    shutil.rmtree(dest.parent)
    expected = (0, 0) if dry_run else (n, data["bytes"])
    assert (files, nbytes) == expected, f"{files} files, {nbytes} bytes on disk; {expected} expected"

    peak = max(peaks)
    PEAKS[(tool, n)] = peak
    wall, cpu = min(walls), statistics.median(cpus)
    extra: dict[str, object] = {
        "files": n, "bytes": data["bytes"], "peak_mb": peak / 2**20, "wall_s": wall, "cpu_s": cpu,
        "server_cpu_s": statistics.median(server_cpus), "files_per_s": 0.0 if dry_run else n / wall,
    }
    # Beyond a baseline: the same tool's peak at the smallest N (the slope between the sizes)...
    smallest = SIZES[0]
    if n > smallest and (tool, smallest) in PEAKS:
        extra["bytes_per_file_over_smallest"] = (peak - PEAKS[(tool, smallest)]) / (n - smallest)
    # ...and, for idc-index, its dry run of the same manifest (no listing, no transfer).
    if tool == "idc-index" and ("idc-index-dry-run", n) in PEAKS:
        extra["bytes_per_file_over_dry_run"] = (peak - PEAKS[("idc-index-dry-run", n)]) / n
    benchmark.extra_info.update(extra)
    summary = stdout.read_text().strip().splitlines()[-1] if stdout else ""
    per_file = ", ".join(f"{k.removeprefix('bytes_per_file_')}: {v:,.0f} B/file" for k, v in extra.items()
                         if k.startswith("bytes_per_file"))
    print(f"\n{benchmark.group} {tool}: peak {peak / 2**20:,.1f} MB{' (' + per_file + ')' if per_file else ''}, "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU (server {extra['server_cpu_s']:.2f} s), "
          f"{extra['files_per_s']:,.0f} files/s; peaks {[round(p / 2**20, 1) for p in peaks]} MB; {summary}",
          file=sys.stderr)
