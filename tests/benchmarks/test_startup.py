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
