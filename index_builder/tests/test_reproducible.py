"""The same sources give the same release, byte for byte: parquet files, sidecars, queries, manifest
and data wheel; and the release builds pin the versions of what decides those bytes."""

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.indices import INDICES
from index_builder.package import package_release
from index_builder.writer import conform, write_index

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT.parent / ".github" / "workflows" / "build-indices.yml"


def build_all(source: Path, out: Path) -> Path:
    return build(DuckDBBackend(source), BuildOptions(idc_version=25, out=out), log=lambda m: None)


def reversed_rows(source_dir: Path, dest: Path) -> Path:
    """The same tables with their rows in another order (a query's row order is not part of its result)."""
    shutil.copytree(source_dir, dest)
    for path in dest.rglob("*.parquet"):
        t = pq.read_table(path)
        pq.write_table(t.take(list(range(t.num_rows))[::-1]), path)
    return dest


def test_two_builds_of_the_same_sources_are_byte_identical(source_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = build_all(source_dir, tmp_path / "first")
    second = build_all(reversed_rows(source_dir, tmp_path / "source"), tmp_path / "second")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"manifest.json", "idc_index.parquet", "idc_index.parquet.sha256", "idc_index.sql"} <= set(names)
    different = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    assert different == []
    assert json.loads((first / "manifest.json").read_text())["created"] == "2023-11-14T22:13:20Z"
    wheels = [package_release(d, tmp_path / f"dist-{d.name}")[0] for d in (first, second)]
    assert wheels[0].read_bytes() == wheels[1].read_bytes()


def test_release_builds_pin_pyarrow_duckdb_and_sqlglot():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    assert set(pins) == {"pyarrow", "duckdb", "sqlglot"}
    assert all(re.fullmatch(r"\d+(\.\d+)+", v) for v in pins.values()), pins
    # sqlglot is pinned by the package itself too (the offline backend depends on its transpilation)
    assert f'"sqlglot=={pins["sqlglot"]}"' in (ROOT / "pyproject.toml").read_text()
    if not WORKFLOW.is_file():
        pytest.skip("the build workflow is not in this checkout")
    installs = [line for line in WORKFLOW.read_text().splitlines() if "pip install" in line and "index_builder" in line]
    assert installs and all("-c index_builder/constraints.txt" in line for line in installs), installs


def test_rows_that_tie_on_the_sort_keys_are_written_in_one_order(tmp_path):
    # two clinical_index rows with the same collection, table and column (the sort keys)
    spec = INDICES["clinical_index"]
    rows = [{"collection_id": "c", "table_name": "t", "short_table_name": "t", "column": "x", "column_label": label,
             "values": []} for label in ("b", "a")]
    paths = []
    for n, ordered in enumerate((rows, rows[::-1])):
        table = conform(pa.Table.from_pylist(ordered, schema=spec.schema), spec)
        paths.append(write_index(table, spec, tmp_path / f"{n}.parquet", 25, "25.0.0"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert pq.read_table(paths[0]).column("column_label").to_pylist() == ["a", "b"]
