"""The BigQuery path with the real google-cloud-bigquery library up to the network boundary.

``client.query(sql, job_config=...)`` is the boundary: a small stand-in answers dry runs with a
byte count and real runs with the rows the same SQL gives on the synthetic tables. Everything
before it (job configuration, rendering, the cost table and cap) is the code under test.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

bigquery = pytest.importorskip("google.cloud.bigquery")

from index_builder import fixture
from index_builder.backends import BigQueryBackend, DuckDBBackend
from index_builder.build import BuildOptions, build, estimate, render_queries
from index_builder.errors import CostLimitError
from index_builder.indices import INDICES
from index_builder.releases import newest_version
from index_builder.sqlfile import Datasets

GB = 10**9
TABLE_BYTES = {"dicom_all": 40 * GB, "auxiliary_metadata": 2 * GB, "dicom_metadata_curated": GB}


class DryRunJob:
    def __init__(self, total_bytes_processed):
        self.total_bytes_processed = total_bytes_processed


class ResultJob:
    def __init__(self, table):
        self._table = table

    def to_arrow(self):
        return self._table


def _fields(fields):
    """Arrow fields -> BigQuery's SchemaFields (lists as REPEATED, structs as RECORD)."""
    out = []
    for f in fields:
        typ, mode = f.type, "NULLABLE"
        if pa.types.is_list(typ):
            typ, mode = typ.value_type, "REPEATED"
        if pa.types.is_struct(typ):
            out.append(bigquery.SchemaField(f.name, "RECORD", mode=mode, fields=_fields(list(typ))))
        else:
            kind = ("STRING" if pa.types.is_string(typ) else "INT64" if pa.types.is_integer(typ) else
                    "FLOAT64" if pa.types.is_floating(typ) else "DATE" if pa.types.is_date(typ) else
                    "TIME" if pa.types.is_time(typ) else "BOOL")
            out.append(bigquery.SchemaField(f.name, kind, mode=mode))
    return out


class BoundaryClient:
    """What BigQuery answers: bytes for a dry run (by the tables a query reads), rows otherwise."""

    def __init__(self, offline: DuckDBBackend | None = None):
        self.offline = offline
        self.calls = []

    def get_table(self, table):
        """The table's metadata (what a dry run reads too): the schema of the synthetic table."""
        name = table.rsplit(".", 1)[1]
        if self.offline is not None:
            schema = pq.read_schema(self.offline.source / f"{name}.parquet")
        else:
            schema = getattr(fixture, name.upper())
        return bigquery.Table(table, schema=_fields(schema))

    def query(self, sql, job_config=None):
        assert isinstance(job_config, bigquery.QueryJobConfig)
        self.calls.append((sql, job_config))
        if job_config.dry_run:
            tables = re.findall(r"`bigquery-public-data\.[\w]+\.(\w+)`", sql)
            return DryRunJob(sum(TABLE_BYTES.get(t, 10**6) for t in tables))
        return ResultJob(self.offline.fetch(sql))


def test_dry_run_job_config():
    backend = BigQueryBackend(BoundaryClient(), max_bytes_billed=5 * 10**11)
    cfg = backend.job_config(dry_run=True)
    assert cfg.dry_run is True
    assert cfg.use_query_cache is False  # a cached dry run would report 0 bytes
    assert cfg.use_legacy_sql is False
    assert cfg.maximum_bytes_billed == 5 * 10**11
    assert cfg.labels["tool"] == "idc-index-builder"
    api = cfg.to_api_repr()
    assert api["dryRun"] is True and api["query"]["maximumBytesBilled"] == str(5 * 10**11)


def test_run_job_config_keeps_the_cap():
    cfg = BigQueryBackend(BoundaryClient(), max_bytes_billed=10**12).job_config(dry_run=False)
    assert not cfg.dry_run and cfg.maximum_bytes_billed == 10**12 and cfg.use_query_cache is True


def test_queries_sent_name_the_release_dataset():
    queries = render_queries(list(INDICES), Datasets.for_release(25, prior=tuple(range(1, 25))))
    for name, sql in queries.items():
        assert "{" not in sql, name
        assert "bigquery-public-data.idc_v25" in sql, name
    assert "`bigquery-public-data.idc_v25_clinical.column_metadata`" in queries["clinical_index"]
    assert queries["prior_versions_index"].count("UNION ALL") == 23
    current = render_queries(["idc_index"], Datasets.for_release("current"))["idc_index"]
    assert "`bigquery-public-data.idc_current.dicom_all`" in current


def test_estimate_prints_each_query_and_the_total():
    client = BoundaryClient()
    backend = BigQueryBackend(client, max_bytes_billed=None)
    queries = render_queries(["idc_index", "ct_index"], Datasets.for_release(25))
    lines = []
    sizes = estimate(backend, queries, None, lines.append)
    assert sizes == {"idc_index": 43 * GB, "ct_index": 40 * GB}
    assert all(cfg.dry_run for _, cfg in client.calls) and len(client.calls) == 2
    assert any(line.startswith("idc_index") and "43.0 GB" in line for line in lines)
    assert lines[-1].startswith("total") and "83.0 GB" in lines[-1]


def test_cost_cap_refuses_before_any_query_runs(tmp_path):
    client = BoundaryClient()
    backend = BigQueryBackend(client, max_bytes_billed=50 * GB)
    opts = BuildOptions(idc_version=25, out=tmp_path / "out", indices=["idc_index", "ct_index"], max_bytes_billed=50 * GB)
    # idc_index 43 GB, ct_index 40 GB, the checks of dicom_all 40 GB
    with pytest.raises(CostLimitError, match=r"123\.0 GB .* more than --max-bytes-billed 50\.0 GB.*largest is idc_index"):
        build(backend, opts, log=lambda m: None)
    assert all(cfg.dry_run for _, cfg in client.calls)  # nothing was billed
    assert not (tmp_path / "out").exists()


def test_build_through_the_bigquery_backend(source_dir, tmp_path):
    offline = DuckDBBackend(source_dir)
    offline.prepare(Datasets.for_release(25))
    client = BoundaryClient(offline)
    backend = BigQueryBackend(client, max_bytes_billed=10**12)
    opts = BuildOptions(idc_version=25, out=tmp_path / "rel", indices=["idc_index", "version_metadata_index"],
                        max_bytes_billed=10**12)
    lines = []
    build(backend, opts, log=lines.append)
    dry = [c for c in client.calls if c[1].dry_run]
    real = [c for c in client.calls if not c[1].dry_run]
    assert len(dry) == 3 and len(real) == 3  # the two indices and the checks of dicom_all
    assert any(line.startswith("source_checks") for line in lines)
    assert client.calls.index(dry[-1]) < client.calls.index(real[0])  # every estimate before any run
    assert all(cfg.maximum_bytes_billed == 10**12 for _, cfg in real)
    manifest = json.loads((tmp_path / "rel" / "manifest.json").read_text())
    assert manifest["indices"]["idc_index"]["rows"] == len({r["SeriesInstanceUID"] for r in fixture.generate()["gen"].instances})


def test_current_resolves_the_release_number_with_one_small_query(source_dir, tmp_path):
    offline = DuckDBBackend(source_dir)
    offline.prepare(Datasets.for_release("current"))
    client = BoundaryClient(offline)
    build(BigQueryBackend(client), BuildOptions(idc_version="current", out=tmp_path / "rel",
                                                indices=["version_metadata_index"]), log=lambda m: None)
    first_sql = client.calls[0][0]
    assert "MAX(idc_version)" in first_sql and "`bigquery-public-data.idc_current.version_metadata`" in first_sql
    assert json.loads((tmp_path / "rel" / "manifest.json").read_text())["idc_version"] == 25


def test_dry_run_build_bills_nothing_and_writes_nothing(tmp_path):
    client = BoundaryClient()
    opts = BuildOptions(idc_version=25, out=tmp_path / "out", indices=["idc_index", "ct_index"],
                        max_bytes_billed=10**12, dry_run=True)
    lines = []
    build(BigQueryBackend(client, max_bytes_billed=10**12), opts, log=lines.append)
    assert len(client.calls) == 3 and all(cfg.dry_run for _, cfg in client.calls)
    assert any(line.startswith("total") and "123.0 GB" in line for line in lines)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_dry_run_still_enforces_the_cap(tmp_path):
    opts = BuildOptions(idc_version=25, out=tmp_path / "out", indices=["idc_index"], max_bytes_billed=GB, dry_run=True)
    with pytest.raises(CostLimitError):
        build(BigQueryBackend(BoundaryClient(), max_bytes_billed=GB), opts, log=lambda m: None)


def test_newest_version_is_one_small_query_on_idc_current(source_dir):
    offline = DuckDBBackend(source_dir)
    offline.prepare(Datasets.for_release("current"))
    client = BoundaryClient(offline)
    assert newest_version(BigQueryBackend(client, max_bytes_billed=10**10)) == 25
    [(sql, cfg)] = client.calls
    assert not cfg.dry_run and cfg.maximum_bytes_billed == 10**10
    assert "MAX(idc_version)" in sql and "`bigquery-public-data.idc_current.version_metadata`" in sql


@pytest.mark.live
def test_live_dry_run_and_small_build(tmp_path):
    """Real BigQuery: dry-runs every query and builds version_metadata_index. Needs
    application-default credentials and IDC_BUILDER_PROJECT (the billed project)."""
    project = os.environ.get("IDC_BUILDER_PROJECT")
    if not project:
        pytest.skip("set IDC_BUILDER_PROJECT and Google credentials to run the live test")
    backend = BigQueryBackend.connect(project, max_bytes_billed=5 * 10**12)
    queries = render_queries(list(INDICES), Datasets.for_release(25, prior=tuple(range(1, 25))))
    sizes = estimate(backend, queries, 5 * 10**12, print)
    assert all(n and n > 0 for n in sizes.values())
    build(backend, BuildOptions(idc_version=25, out=tmp_path / "rel", indices=["version_metadata_index"]))
    assert (Path(tmp_path) / "rel" / "manifest.json").is_file()


def test_a_missing_optional_column_is_read_as_a_typed_null_in_bigquery_sql(source_dir, tmp_path):
    from test_source_columns import source_without

    src = source_without(source_dir, tmp_path, ["PyramidUID", "OpticalPathSequence.IlluminationWaveLength"])
    offline = DuckDBBackend(src)
    offline.prepare(Datasets.for_release(25))
    client = BoundaryClient(offline)
    lines: list[str] = []
    build(BigQueryBackend(client), BuildOptions(idc_version=25, out=tmp_path / "rel",
                                                indices=["sm_instance_index", "ct_index"]), log=lines.append)
    sent = {sql for sql, cfg in client.calls if not cfg.dry_run}
    sm = next(s for s in sent if "optical_paths" in s)
    assert "CAST(NULL AS STRING) AS `PyramidUID`" in sm and "CAST(NULL AS FLOAT64) AS `IlluminationWaveLength`" in sm
    assert "e.`OpticalPathIdentifier` AS `OpticalPathIdentifier`" in sm  # the fields it has, by name
    import sqlglot

    sqlglot.parse_one(sm, read="bigquery")  # valid BigQuery
    assert not any("AS `PyramidUID`" in s for s in sent if s is not sm)  # ct_index reads neither: not wrapped
    assert sum(line.startswith("warning:") for line in lines) == 2
