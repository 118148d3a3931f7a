"""Where the shipped index files are (idc-index-data), and how idc-index 0.13.4 is run."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

HERE = Path(__file__).parent
V013_PYTHON = Path(os.environ.get("IDC_BENCH_V013_PYTHON", Path.home() / ".cache/idc-index/venv013/bin/python"))


def real_index(stem: str = "idc_index") -> Path:
    spec = find_spec("idc_index_data")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / f"{stem}.parquet"


def run_v013(*args: str) -> dict[str, float]:
    """Run the 0.13 probe in its virtualenv; skips the benchmark when that venv is absent."""
    if not V013_PYTHON.is_file():
        pytest.skip(f"idc-index 0.13.4 virtualenv not found at {V013_PYTHON} (see scripts/bench.sh)")
    out = subprocess.run(
        [str(V013_PYTHON), str(HERE / "v013_probe.py"), *args],
        capture_output=True, text=True, check=True, cwd="/",
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def duckdb_median(path: str, sql: str, repeat: int = 7) -> float:
    """Median seconds of ``sql`` on DuckDB, with ``index`` a view over the parquet file ``path``."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW \"index\" AS SELECT * FROM read_parquet('{path}')")
    con.sql(sql).fetchall()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        con.sql(sql).fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
