"""`import idc_index` + `IDCClient()`: time and resident memory, against idc-index 0.13.4."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_paths import run_v013

PROBE = """
import json, time
t = time.perf_counter()
from idc_index import IDCClient
c = IDCClient(cache_dir={cache!r})
elapsed = time.perf_counter() - t
status = dict(l.split(':', 1) for l in open('/proc/self/status'))
rss, peak = (int(status[k].split()[0]) / 1024 for k in ('VmRSS', 'VmHWM'))  # HWM: reset by exec
print(json.dumps({{"startup_s": elapsed, "rss_mb": rss, "peak_rss_mb": peak}}))
"""


def test_startup(benchmark, client, cache_dir: Path) -> None:
    # `client` has written the optimised main index into cache_dir: this is every start
    # after the first.
    runs: list[dict[str, float]] = []

    def start() -> None:
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(cache=str(cache_dir))], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))

    benchmark.pedantic(start, rounds=7, iterations=1, warmup_rounds=1)
    v013 = [run_v013("startup") for _ in range(3)]
    ours = statistics.median(r["startup_s"] for r in runs)
    theirs = statistics.median(r["startup_s"] for r in v013)
    benchmark.extra_info.update(
        {
            "in_process_s": ours,
            "rss_mb": statistics.median(r["rss_mb"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "v013_in_process_s": theirs,
            "v013_rss_mb": statistics.median(r["rss_mb"] for r in v013),
            "v013_peak_rss_mb": max(r["peak_rss_mb"] for r in v013),
            "ratio_v013_over_ours": theirs / ours,
        }
    )


FIRST_RUN = """
import json, time
t = time.perf_counter()
from idc_index import IDCClient
c = IDCClient()
c.get_collections()
client_s = time.perf_counter() - t
series = c.sql_query("SELECT SeriesInstanceUID FROM index ORDER BY SeriesInstanceUID LIMIT 1")["SeriesInstanceUID"][0]
t = time.perf_counter()
c.get_series_size(series)
lookup_s = time.perf_counter() - t
print(json.dumps({"client_and_getter_s": client_s, "lookup_s": lookup_s, "series": series}))
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a whole process, and its stdout."""
    import os
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, **env})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024, out.stdout


def test_first_run(benchmark, tmp_path: Path) -> None:
    """A fresh container: an empty IDC_INDEX_CACHE_DIR for every round, the bundled index."""
    rounds: list[dict[str, float]] = []

    def first_run() -> None:
        cache = tmp_path / f"cache{len(rounds)}"
        env = {"IDC_INDEX_CACHE_DIR": str(cache)}
        wall, cpu, peak, out = _timed([sys.executable, "-c", FIRST_RUN], env)
        probe = json.loads(out)
        cache_cli = tmp_path / f"cli{len(rounds)}"
        cli = [sys.executable, "-m", "idc_index.cli", "download", probe["series"], "--download-dir",
               str(tmp_path / "dl"), "--dry-run", "True"]
        cli_wall, cli_cpu, _, _ = _timed(cli, {"IDC_INDEX_CACHE_DIR": str(cache_cli)})
        rounds.append({"process_s": wall, "process_cpu_s": cpu, "client_and_getter_s": probe["client_and_getter_s"],
                       "lookup_s": probe["lookup_s"], "cli_dry_run_s": cli_wall, "cli_dry_run_cpu_s": cli_cpu,
                       "peak_rss_mb": peak})

    benchmark.pedantic(first_run, rounds=3, iterations=1)
    for key in rounds[0]:
        benchmark.extra_info[key] = statistics.median(r[key] for r in rounds)
    benchmark.extra_info["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rounds)  # of any child process so far
