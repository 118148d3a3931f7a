"""Lookups by identifier: the get_* helpers and the equivalent SQL, against idc-index 0.13.4
(pandas in memory) and DuckDB over the same shipped parquet file."""

from __future__ import annotations

import pytest
from bench_paths import duckdb_median, real_index, run_v013


def test_get_dicom_series(benchmark, client, sample) -> None:
    study = sample["StudyInstanceUID"]
    benchmark(client.get_dicom_series, study)
    v013 = run_v013("get_dicom_series", "20", study)["median_s"]
    benchmark.extra_info.update({"v013_median_s": v013})


def test_get_series_size(benchmark, client, sample) -> None:
    series = sample["SeriesInstanceUID"]
    benchmark(client.get_series_size, series)
    v013 = run_v013("get_series_size", "20", series)["median_s"]
    benchmark.extra_info.update({"v013_median_s": v013})


def test_get_dicom_studies(benchmark, client, sample) -> None:
    benchmark(client.get_dicom_studies, sample["PatientID"])


@pytest.mark.parametrize("column", ["SeriesInstanceUID", "StudyInstanceUID"])
def test_sql_lookup(benchmark, client, sample, column: str) -> None:
    sql = f"SELECT * FROM index WHERE {column} = '{sample[column]}'"
    result = benchmark(lambda: client.sql(sql).to_arrow())
    assert result.num_rows >= 1
    v013 = run_v013("sql", "5", sql)["median_s"]  # 0.13 re-registers its DataFrames per query: seconds each
    benchmark.extra_info.update({"v013_median_s": v013, "duckdb_median_s": duckdb_median(str(real_index()), sql, repeat=15)})
