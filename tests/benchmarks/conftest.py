"""Benchmark fixtures. The client under test and its cache directory are the test suite's
(`client`, `cache_dir` in tests/conftest.py); idc-index 0.13.4 runs in its own virtualenv
(`IDC_BENCH_V013_PYTHON`, default ~/.cache/idc-index/venv013)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sample(client) -> dict[str, str]:
    row = client.sql(
        "SELECT SeriesInstanceUID, StudyInstanceUID, PatientID FROM index "
        "WHERE collection_id = 'nlst' ORDER BY SeriesInstanceUID LIMIT 1 OFFSET 5000"
    ).to_pylist()[0]
    return row
