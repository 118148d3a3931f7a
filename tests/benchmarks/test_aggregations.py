"""Aggregations and filters over the whole main index, against DuckDB reading the same
shipped parquet file (and DuckDB reading the optimised copy, for a like-for-like layout)."""

from __future__ import annotations

import pytest
from bench_paths import duckdb_median, real_index

QUERIES = {
    "collection_summary": """SELECT collection_id, COUNT(DISTINCT PatientID) AS patients, COUNT(*) AS series,
                                    SUM(series_size_MB) AS mb FROM index GROUP BY collection_id""",
    "modality_filter": """SELECT BodyPartExamined, COUNT(*) AS n, SUM(instanceCount) AS instances FROM index
                          WHERE Modality = 'CT' AND series_size_MB > 10 GROUP BY BodyPartExamined""",
    "distinct_studies": "SELECT COUNT(DISTINCT StudyInstanceUID) AS n FROM index",
    "like_scan": "SELECT COUNT(*) AS n FROM index WHERE SeriesDescription ILIKE '%lung%'",
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_aggregation(benchmark, client, name: str) -> None:
    sql = QUERIES[name]
    benchmark.pedantic(lambda: client.sql(sql), rounds=7, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(
        {
            "duckdb_median_s": duckdb_median(str(real_index()), sql),
            "duckdb_optimized_copy_median_s": duckdb_median(client._engine.table_path("index"), sql),
        }
    )
