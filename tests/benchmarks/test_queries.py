"""Every query of the catalog (tests/query_catalog.py), timed through idc-index and through
DuckDB over the same parquet files in the same run.

idc-index runs on its optimised copy of the main index (what every client uses after the first),
with the optional indices fetched; a SQL query is timed to an Arrow table, a helper as called.
DuckDB runs the same SQL (for a helper, the SQL that gives its answer) to an Arrow table, once
over the main index as shipped and once over the optimised copy. The lookups that the 0.13.4
comparison always covered are also timed in idc-index 0.13.4's virtualenv, when it is there.

    python -m pytest tests/benchmarks/test_queries.py -o addopts="" --benchmark-only \\
        --benchmark-json /tmp/queries.json && python tests/benchmarks/report.py /tmp/queries.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench_paths import duckdb_median, real_index, rounds_for, run_v013, v013_available
from conftest_download import moto_s3  # noqa: F401  (fixture)
from query_catalog import CATALOG, OPTIONAL_INDICES, QUERIES, Helper, Query, catalog_params, sql_for, table_paths

#: The requests also timed in idc-index 0.13.4: its probe's operation, repeats, and arguments.
V013: dict[str, Callable[[dict[str, Any]], tuple[str, ...]]] = {
    "get_dicom_series": lambda p: ("get_dicom_series", "20", p["study"]),
    "get_series_size": lambda p: ("get_series_size", "20", p["series"]),
    # 0.13 registers its DataFrames with DuckDB on every sql_query: seconds each.
    "lookup_series": lambda p: ("sql", "5", sql_for(QUERIES["lookup_series"], p)),
    "lookup_study": lambda p: ("sql", "5", sql_for(QUERIES["lookup_study"], p)),
}


@pytest.fixture(scope="module")
def params(full_client, moto_s3) -> dict[str, Any]:
    return catalog_params(full_client, moto_s3)


@pytest.fixture(scope="module")
def duckdb_tables(full_client) -> tuple[dict[str, str], dict[str, str]]:
    """The tables for DuckDB: with the main index as shipped, and with the optimised copy."""
    optimised = table_paths(full_client)
    shipped = {**optimised, "index": str(real_index()), "idc_index": str(real_index())}
    assert optimised["index"] != shipped["index"]
    return shipped, optimised


@pytest.mark.parametrize("name", list(CATALOG))
def test_query(benchmark, full_client, params, duckdb_tables, name: str) -> None:
    from idc_index import IDCError

    benchmark.group = "queries"
    entry = CATALOG[name]
    if isinstance(entry, Helper):
        sql = sql_for(entry, params) if entry.against_duckdb and entry.sql else None

        def run() -> Any:
            return entry.call(full_client, params)
    else:
        sql = sql_for(entry, params)

        def run() -> Any:
            return full_client.sql(sql).to_arrow()

    t = time.perf_counter()
    try:
        run()  # the warm-up, as for DuckDB
    except IDCError as e:
        pytest.skip(f"idc-index cannot run it: {str(e).splitlines()[0]}")
    rounds = rounds_for(time.perf_counter() - t)
    benchmark.pedantic(run, rounds=rounds, iterations=1)

    extra: dict[str, Any] = {"kind": "helper" if isinstance(entry, Helper) else "sql", "rounds": rounds}
    if sql is not None:
        shipped, optimised = duckdb_tables
        extra["duckdb_median_s"] = duckdb_median(shipped, sql)
        extra["duckdb_optimized_copy_median_s"] = duckdb_median(optimised, sql)
    if name in V013 and v013_available():
        extra["v013_median_s"] = run_v013(*V013[name](params))["median_s"]
    benchmark.extra_info.update(extra)


def test_memory(benchmark, full_client, optional_release, params) -> None:
    """Resident memory in a process of its own (tests/benchmarks/memory_probe.py): after
    IDCClient(), and after every SQL query of the catalog, with the same cache and indices."""
    benchmark.group = "memory"
    sql = [sql_for(e, params) for e in CATALOG.values() if isinstance(e, Query)]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(sql, f)
        f.flush()
        cache_root = Path(full_client.indices_data_dir).parents[1]  # <root>/indices/<release>
        probe_script = Path(__file__).with_name("memory_probe.py")
        clinical = str(full_client.clinical_data_dir)
        cmd = [sys.executable, str(probe_script), str(cache_root), optional_release[1], clinical, f.name]

        def probe() -> dict[str, Any]:
            out = subprocess.run([*cmd, *OPTIONAL_INDICES], capture_output=True, text=True, check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        result = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
