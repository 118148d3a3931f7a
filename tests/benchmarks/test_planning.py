"""Planning a whole-IDC download (every collection, about a million series) and splitting it
into 64 shards: in process (`plan_download` + `Plan.shard`) and as a user runs it
(`idc plan --shards 64 --out DIR`, which also writes the 64 manifests). Wall and CPU seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SHARDS = 64


def test_plan_and_shard_all_of_idc(benchmark, client, tmp_path: Path) -> None:
    collections = client.get_collections()
    timings: list[dict[str, float]] = []

    def plan_and_shard() -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        plan = client.plan_download(tmp_path / "data", collection_id=collections)
        planned_wall, planned_cpu = time.perf_counter(), time.process_time()
        parts = plan.shard(SHARDS)
        timings.append({
            "plan_s": planned_wall - wall, "plan_cpu_s": planned_cpu - cpu,
            "shard_s": time.perf_counter() - planned_wall, "shard_cpu_s": time.process_time() - planned_cpu,
            "series": plan.series, "largest_over_mean": max(p.bytes_total for p in parts) * SHARDS / plan.bytes_total,
        })

    benchmark.pedantic(plan_and_shard, rounds=3, iterations=1, warmup_rounds=1)
    best = min(timings, key=lambda t: t["plan_s"] + t["shard_s"])
    benchmark.extra_info.update(best)


@pytest.mark.parametrize("tool", ["idc plan"])
def test_idc_plan_command_all_of_idc(benchmark, client, cache_dir: Path, tmp_path: Path, tool: str) -> None:
    """The command a job array starts from: 64 manifests and plan.json, process start included."""
    collections = ",".join(client.get_collections())
    idc = Path(sys.executable).with_name("idc")
    runs: list[dict[str, float]] = []

    def run() -> None:
        out = tmp_path / f"plan-{len(runs)}"
        before = os.times()
        wall = time.perf_counter()
        subprocess.run(
            [str(idc), "plan", collections, "--shards", str(SHARDS), "--out", str(out)],
            check=True, capture_output=True, text=True, env={**os.environ, "IDC_INDEX_CACHE_DIR": str(cache_dir)},
        )
        after = os.times()
        summary = json.loads((out / "plan.json").read_text())
        runs.append({
            "wall_s": time.perf_counter() - wall,
            "cpu_s": (after.children_user - before.children_user) + (after.children_system - before.children_system),
            "series": summary["series"], "manifests": len(summary["parts"]),
        })

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info.update(min(runs, key=lambda r: r["wall_s"]))
