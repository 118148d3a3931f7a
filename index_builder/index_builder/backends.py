"""Where the SQL runs: BigQuery (the real thing) or DuckDB over a directory of parquet files.

Both take the same BigQuery SQL (rendered by :mod:`index_builder.sqlfile`). The DuckDB backend
transpiles it with sqlglot and serves the tables under the very names BigQuery uses
(``"bigquery-public-data"."idc_v25"."dicom_all"``), so the rendered SQL is identical for both.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from index_builder import __version__
from index_builder.errors import BuilderError, SourceError, SqlFileError
from index_builder.source_columns import Layout
from index_builder.sqlfile import Datasets

PUBLIC_PROJECT = "bigquery-public-data"


class Backend(Protocol):
    name: str

    def prepare(self, datasets: Datasets) -> None: ...

    def prior_releases(self, version: int) -> tuple[int, ...]: ...

    def estimate(self, sql: str) -> int | None: ...

    def fetch(self, sql: str) -> pa.Table: ...

    def layout(self, table: str) -> Layout: ...


def transpile_to_duckdb(sql: str) -> str:
    """BigQuery SQL -> one DuckDB statement."""
    try:
        statements = sqlglot.transpile(sql, read="bigquery", write="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise SqlFileError(f"sqlglot cannot transpile this query to DuckDB: {exc}") from exc
    statements = [s for s in statements if s.strip()]
    if len(statements) != 1:
        raise SqlFileError(
            f"a query file must hold exactly one SELECT statement (got {len(statements)}); "
            "BigQuery scripting (DECLARE, SET, EXECUTE IMMEDIATE) does not transpile"
        )
    return statements[0]


# ----------------------------------------------------------------------------------------- DuckDB


class DuckDBBackend:
    """Runs the queries on ``source/``: ``<table>.parquet`` for the release being built,
    ``clinical/<table>.parquet`` for its clinical dataset and ``idc_vNN/<table>.parquet`` for
    earlier releases (read by prior_versions_index)."""

    name = "duckdb"

    def __init__(self, source: Path, threads: int = 2) -> None:
        import duckdb

        self.source = Path(source)
        if not (self.source / "dicom_all.parquet").is_file():
            raise SourceError(
                f"{self.source} has no dicom_all.parquet: point --source at a directory of parquet files "
                "named after the BigQuery tables (write a synthetic one with "
                "`python -m index_builder fixture --out DIR`)"
            )
        self.con = duckdb.connect(config={"threads": threads})
        self._attached: set[str] = set()
        self._files: dict[str, Path] = {}  # project.dataset.table -> its parquet file

    def _views(self, dataset: str, directory: Path) -> None:
        project, schema = dataset.split(".", 1)
        if project not in self._attached:
            self.con.execute(f"ATTACH ':memory:' AS {_quote(project)}")
            self._attached.add(project)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(project)}.{_quote(schema)}")
        for file in sorted(directory.glob("*.parquet")):
            self._files[f"{dataset}.{file.stem}"] = file
            path = str(file).replace("'", "''")
            self.con.execute(
                f"CREATE OR REPLACE VIEW {_quote(project)}.{_quote(schema)}.{_quote(file.stem)} AS "
                f"SELECT * FROM read_parquet('{path}')"
            )

    def prepare(self, datasets: Datasets) -> None:
        self._views(datasets.dataset, self.source)
        self._views(datasets.clinical_dataset, self.source / "clinical")
        for version, dataset in datasets.prior_release_datasets:
            self._views(dataset, self.source / f"idc_v{version}")

    def prior_releases(self, version: int) -> tuple[int, ...]:
        found = []
        for d in self.source.iterdir():
            m = re.fullmatch(r"idc_v(\d+)", d.name)
            if m and d.is_dir() and int(m.group(1)) < version and (d / "dicom_all.parquet").is_file():
                found.append(int(m.group(1)))
        return tuple(sorted(found))

    def estimate(self, sql: str) -> int | None:
        # a dry run: transpiled and bound (tables and columns resolved), not executed
        self._run(lambda: self.con.execute("EXPLAIN " + transpile_to_duckdb(sql)))
        return None

    def layout(self, table: str) -> Layout:
        if table not in self._files:
            raise SourceError(f"offline source {self.source} has no table {table}")
        return _arrow_layout(pq.read_schema(self._files[table]))

    def fetch(self, sql: str) -> pa.Table:
        def run() -> pa.Table:
            rel = self.con.sql(transpile_to_duckdb(sql))
            return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()

        return self._run(run)

    def _run(self, step: Any) -> Any:
        import duckdb

        try:
            return step()
        except duckdb.CatalogException as exc:
            raise SourceError(f"offline source {self.source} lacks a table the query reads: {exc}") from exc
        except duckdb.BinderException as exc:
            raise SourceError(f"offline source {self.source} lacks a column the query reads: {exc}") from exc
        except duckdb.Error as exc:
            raise SourceError(f"DuckDB failed on the transpiled query: {exc}") from exc


def _arrow_layout(schema: pa.Schema) -> Layout:
    layout: Layout = {"": schema.names}

    def walk(prefix: str, typ: pa.DataType) -> None:
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            typ = typ.value_type
        if pa.types.is_struct(typ):
            layout[prefix] = [f.name for f in typ]
            for f in typ:
                walk(f"{prefix}.{f.name}", f.type)

    for f in schema:
        walk(f.name, f.type)
    return layout


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------- BigQuery


class BigQueryBackend:
    """Runs the queries in BigQuery. ``client`` is a ``google.cloud.bigquery.Client``."""

    name = "bigquery"

    def __init__(self, client: Any, max_bytes_billed: int | None = None, labels: dict[str, str] | None = None) -> None:
        self.client = client
        self.max_bytes_billed = max_bytes_billed
        self.labels = {"tool": "idc-index-builder", "builder-version": __version__.replace(".", "-")}
        self.labels.update(labels or {})

    @classmethod
    def connect(cls, project: str | None, max_bytes_billed: int | None, location: str = "US") -> BigQueryBackend:
        bigquery = _bigquery()
        try:
            client = bigquery.Client(project=project, location=location)
        except Exception as exc:  # google.auth raises several unrelated types
            raise SourceError(
                f"cannot create a BigQuery client ({type(exc).__name__}: {exc}); run "
                "`gcloud auth application-default login` and pass --project <billing project>"
            ) from exc
        return cls(client, max_bytes_billed)

    def job_config(self, dry_run: bool) -> Any:
        bigquery = _bigquery()
        return bigquery.QueryJobConfig(
            dry_run=dry_run,
            # a cached dry run reports 0 bytes: estimates must not come from the cache
            use_query_cache=not dry_run,
            use_legacy_sql=False,
            maximum_bytes_billed=self.max_bytes_billed,
            labels=dict(self.labels),
        )

    def prepare(self, datasets: Datasets) -> None:
        pass  # the datasets are public; nothing to set up

    def prior_releases(self, version: int) -> tuple[int, ...]:
        return tuple(range(1, version))

    def estimate(self, sql: str) -> int:
        job = self.client.query(sql, job_config=self.job_config(dry_run=True))
        processed = job.total_bytes_processed
        if processed is None:
            raise BuilderError("BigQuery's dry run reported no byte count; cannot check the cost cap")
        return int(processed)

    def fetch(self, sql: str) -> pa.Table:
        job = self.client.query(sql, job_config=self.job_config(dry_run=False))
        return job.to_arrow()

    def layout(self, table: str) -> Layout:
        layout: Layout = {}

        def walk(prefix: str, fields: Any) -> None:
            layout[prefix] = [f.name for f in fields]
            for f in fields:
                if f.field_type in ("RECORD", "STRUCT"):
                    walk(f"{prefix}.{f.name}" if prefix else f.name, f.fields)

        walk("", self.client.get_table(table).schema)
        return layout


def _bigquery() -> Any:
    try:
        from google.cloud import bigquery
    except ImportError as exc:
        raise BuilderError(
            "the BigQuery backend needs google-cloud-bigquery: pip install 'idc-index-builder[bigquery]' "
            "(or build offline with --backend duckdb --source DIR)"
        ) from exc
    return bigquery
