"""Benchmark fixtures: the client under test, DuckDB over the same parquet, and idc-index
0.13.4 in its own virtualenv (`IDC_BENCH_V013_PYTHON`, default ~/.cache/idc-index/venv013)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
V013_PYTHON = Path(os.environ.get("IDC_BENCH_V013_PYTHON", Path.home() / ".cache/idc-index/venv013/bin/python"))


def run_v013(*args: str) -> dict[str, float]:
    """Run the 0.13 probe in its virtualenv; skips the benchmark when that venv is absent."""
    if not V013_PYTHON.is_file():
        pytest.skip(f"idc-index 0.13.4 virtualenv not found at {V013_PYTHON} (see scripts/bench.sh)")
    out = subprocess.run(
        [str(V013_PYTHON), str(HERE / "v013_probe.py"), *args],
        capture_output=True, text=True, check=True, cwd="/",
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="session")
def client(bench_cache: Path):
    from idc_index import IDCClient

    c = IDCClient(cache_dir=bench_cache)
    assert c._engine.wait_optimized("index") is not None
    return c


@pytest.fixture(scope="session")
def sample(client) -> dict[str, str]:
    row = client.sql(
        "SELECT SeriesInstanceUID, StudyInstanceUID, PatientID FROM index "
        "WHERE collection_id = 'nlst' ORDER BY SeriesInstanceUID LIMIT 1 OFFSET 5000"
    ).to_pylist()[0]
    return row
