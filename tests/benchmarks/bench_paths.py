"""Where the shipped index files are (idc-index-data), how idc-index 0.13.4 is run, and how long
DuckDB takes for a query over the same files."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

import pytest

HERE = Path(__file__).parent
V013_PYTHON = Path(os.environ.get("IDC_BENCH_V013_PYTHON", Path.home() / ".cache/idc-index/venv013/bin/python"))


def real_index(stem: str = "idc_index") -> Path:
    spec = find_spec("idc_index_data")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / f"{stem}.parquet"


def v013_available() -> bool:
    """Whether idc-index 0.13.4's virtualenv is there (scripts/bench.sh makes it)."""
    return V013_PYTHON.is_file()


def run_v013(*args: str) -> dict[str, float]:
    """Run the 0.13 probe in its virtualenv; skips the benchmark when that venv is absent."""
    if not v013_available():
        pytest.skip(f"idc-index 0.13.4 virtualenv not found at {V013_PYTHON} (see scripts/bench.sh)")
    out = subprocess.run(
        [str(V013_PYTHON), str(HERE / "v013_probe.py"), *args],
        capture_output=True, text=True, check=True, cwd="/",
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def rounds_for(seconds: float, budget: float = 0.5, least: int = 5, most: int = 25) -> int:
    """How many timed rounds fit ``budget`` seconds when one takes ``seconds``, within
    [``least``, ``most``]: enough for a stable median of a fast query, few of a slow one."""
    return max(least, min(most, int(budget / max(seconds, 1e-6))))


def duckdb_median(tables: Mapping[str, str], sql: str, repeat: int | None = None) -> float:
    """Median seconds of ``sql`` on DuckDB, each table a view over its parquet file, the result
    read into Arrow (as ``client.sql(sql).to_arrow()`` does). One untimed run first; without
    ``repeat``, as many rounds as :func:`rounds_for` gives for it."""
    from query_catalog import duckdb_connection

    con = duckdb_connection(tables)
    t = time.perf_counter()
    con.sql(sql).to_arrow_table()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat or rounds_for(first)):
        t = time.perf_counter()
        con.sql(sql).to_arrow_table()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
