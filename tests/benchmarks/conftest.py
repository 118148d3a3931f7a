"""Benchmark fixtures: the client under test, DuckDB over the same parquet, and idc-index
0.13.4 in its own virtualenv (`IDC_BENCH_V013_PYTHON`, default ~/.cache/idc-index/venv013)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
