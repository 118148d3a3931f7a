"""A published release queried where it is (`remote=True`) against downloading it first: the
real v25 indices in the builder's release layout, served by nginx on 127.0.0.1 (Range requests),
directly and through a proxy that delays every packet by 20 ms. Each round opens a client on an
empty cache, then runs two lookups by UID, a filtered count and a scan of the whole index; the
server's log gives the bytes sent. Wall and CPU seconds (the client's threads) per step."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench_s3s import TARGET_DIR, executable, free_port, wait_port

pytest.importorskip("index_builder.writer", reason="index_builder builds the release layout")
from release_site import publish_v25

RELEASE = "25.0.5"
DELAY_MS = 20
STEPS = {
    "lookup": "SELECT * FROM index WHERE SeriesInstanceUID = '{uid1}'",
    "second lookup": "SELECT * FROM index WHERE SeriesInstanceUID = '{uid2}'",
    "filtered count": "SELECT COUNT(*) AS n, SUM(series_size_MB) AS mb FROM index "
                      "WHERE collection_id = 'nlst' AND Modality = 'CT'",
    "scan": "SELECT collection_id, COUNT(*) AS n FROM index GROUP BY collection_id",
}


@pytest.fixture(scope="module")
def release_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    exe = executable("nginx", Path("/usr/sbin/nginx"))
    proxy = executable("delay_proxy", TARGET_DIR / "release" / "delay_proxy")
    root = publish_v25(tmp_path_factory.mktemp("releases"), RELEASE)
    work = tmp_path_factory.mktemp("nginx")
    port, delayed = free_port(), free_port()
    log = work / "bytes.log"
    (work / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log error;
events {{ worker_connections 1024; }}
http {{
    log_format sent '$body_bytes_sent';
    access_log {log} sent;
    sendfile on;
    default_type application/octet-stream;
    client_body_temp_path {work}/tmp-body;
    proxy_temp_path {work}/tmp-proxy;
    fastcgi_temp_path {work}/tmp-fcgi;
    uwsgi_temp_path {work}/tmp-uwsgi;
    scgi_temp_path {work}/tmp-scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; disable_symlinks off; }}
}}
""")
    srv = subprocess.Popen([exe, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.DEVNULL)
    wait_port(port, srv)
    prx = subprocess.Popen([proxy, str(delayed), f"127.0.0.1:{port}", str(DELAY_MS)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(delayed, prx)
    yield {"urls": {"loopback": f"http://127.0.0.1:{port}", f"+{DELAY_MS} ms": f"http://127.0.0.1:{delayed}"},
           "log": log}
    for p in (prx, srv):
        p.terminate()
        p.wait(10)


def _bytes_sent(log: Path) -> int:
    time.sleep(0.05)  # nginx writes a request's line when the request ends
    return sum(int(line) for line in log.read_text().split())


@pytest.mark.parametrize("network", ["loopback", f"+{DELAY_MS} ms"])
@pytest.mark.parametrize("mode", ["remote", "download first"])
def test_remote_release(benchmark, release_server, plain_client, tmp_path: Path, network: str, mode: str) -> None:
    from idc_index import IDCClient

    uids = plain_client.sql(
        "SELECT SeriesInstanceUID FROM index WHERE collection_id = 'nlst' ORDER BY SeriesInstanceUID LIMIT 2 OFFSET 777"
    ).column("SeriesInstanceUID")
    url, log = release_server["urls"][network], release_server["log"]
    rounds: list[dict[str, float]] = []

    def one_round() -> None:
        cache = tmp_path / f"cache-{len(rounds)}"
        times: dict[str, float] = {}
        sent = _bytes_sent(log)
        wall, cpu = time.perf_counter(), time.process_time()
        client = IDCClient(release=RELEASE, releases_url=url, cache_dir=cache, remote=mode == "remote",
                           optimize_index=False)
        steps = {"open": lambda: client}
        steps.update({name: (lambda sql=sql: client.sql(sql.format(uid1=uids[0], uid2=uids[1])).to_pylist())
                      for name, sql in STEPS.items()})
        for name, step in steps.items():
            if name != "open":
                sent = _bytes_sent(log)
                wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[f"{name} s"] = time.perf_counter() - wall
            times[f"{name} cpu_s"] = time.process_time() - cpu
            times[f"{name} MB"] = (_bytes_sent(log) - sent) / 1e6
        rounds.append(times)

    benchmark.pedantic(one_round, rounds=3, iterations=1)
    best = min(rounds, key=lambda r: sum(v for k, v in r.items() if k.endswith(" s")))
    benchmark.extra_info.update(best)
