import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.errors import QualityGateError, SchemaChangeError, SchemaError
from index_builder.gates import Bounds, GateReport, check_against_previous
from index_builder.indices import INDICES
from index_builder.writer import conform

ROOT = Path(__file__).resolve().parents[1]


def broken_source(source_dir, tmp_path, change):
    """A copy of the synthetic tables with dicom_all changed by ``change(table) -> table``."""
    src = tmp_path / "src"
    shutil.copytree(source_dir, src)
    t = pq.read_table(src / "dicom_all.parquet")
    pq.write_table(change(t), src / "dicom_all.parquet")
    return src


def set_where(t, column, uid_prefix, value):
    mask = pc.starts_with(t.column("SeriesInstanceUID"), uid_prefix)
    col = t.column(column)
    new = pc.if_else(mask, pa.scalar(value, col.type), col)
    return t.set_column(t.schema.get_field_index(column), column, new)


def build_idc_index(src, out, **kw):
    return build(DuckDBBackend(src), BuildOptions(idc_version=25, out=out, indices=["idc_index"], **kw), log=lambda m: None)


def test_series_without_bucket_fails_the_build_and_publishes_nothing(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_where(t, "aws_bucket", "1.2.826.0.1.3680043.8.498.2.1", None))
    out = tmp_path / "out"
    with pytest.raises(QualityGateError, match=r"2 of 24 series have no aws_bucket"):
        build_idc_index(src, out)
    assert not out.exists()


def test_series_without_uuid_fails(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_where(t, "crdc_series_uuid", "1.2.826.0.1.3680043.8.498.3.1.1.1", None))
    with pytest.raises(QualityGateError, match="no crdc_series_uuid"):
        build_idc_index(src, tmp_path / "out")


def test_unmapped_sop_class_fails_and_names_the_uid(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_where(t, "SOPClassUID", "1.2.826.0.1.3680043.8.498.1.1.1.5", "1.2.3.4.5"))
    with pytest.raises(QualityGateError, match=r"unmapped '1\.2\.3\.4\.5'.*sop_class_name in queries/idc_index\.sql"):
        build_idc_index(src, tmp_path / "out")


def test_unmapped_transfer_syntax_in_one_instance_fails(source_dir, tmp_path):
    def change(t):
        mask = pc.equal(t.column("SOPInstanceUID"), "1.2.826.0.1.3680043.8.498.4.1.1.1.2")
        col = pc.if_else(mask, pa.scalar("1.2.840.99999"), t.column("TransferSyntaxUID"))
        return t.set_column(t.schema.get_field_index("TransferSyntaxUID"), "TransferSyntaxUID", col)

    with pytest.raises(QualityGateError, match="no transfer_syntax_name"):
        build_idc_index(broken_source(source_dir, tmp_path, change), tmp_path / "out")


def test_cli_exits_non_zero_with_the_exception_class(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_where(t, "aws_bucket", "1.2.826.0.1.3680043.8.498.2.1", None))
    done = subprocess.run([sys.executable, "-m", "index_builder", "build", "--backend", "duckdb", "--source", str(src),
                           "--idc-version", "25", "--out", str(tmp_path / "o"), "--index", "idc_index"],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "QualityGateError" in done.stderr and "aws_bucket" in done.stderr


def manifest_of(release_dir):
    return json.loads((release_dir / "manifest.json").read_text())


def test_rows_outside_bounds_of_previous_release_fail(release_dir):
    new = manifest_of(release_dir)
    previous = copy.deepcopy(new)
    previous["release"] = "24.0.0"
    previous["indices"]["idc_index"]["rows"] = 30  # 24 now: -20%
    report = GateReport()
    check_against_previous(new, previous, Bounds(max_shrink=0.05), set(), report)
    assert len(report.problems) == 1 and "idc_index: rows went from 30 to 24 (-20.0%)" in report.problems[0]
    with pytest.raises(QualityGateError):
        report.raise_if_failed()
    ok = GateReport()
    check_against_previous(new, previous, Bounds(max_shrink=0.25), set(), ok)
    assert not ok.problems


def test_schema_change_needs_to_be_declared(release_dir):
    new = manifest_of(release_dir)
    previous = copy.deepcopy(new)
    previous["indices"]["ct_index"]["columns"][1]["type"] = "large_string"
    previous["indices"]["mr_index"]["columns"].append({"name": "gone", "type": "int64", "nullable": True, "description": "x"})
    report = GateReport()
    check_against_previous(new, previous, Bounds(), set(), report)
    assert len(report.schema_problems) == 2
    assert any("ct_index" in p and "ImageType: large_string -> list<element: string>" in p for p in report.schema_problems)
    assert any("mr_index" in p and "removed ['gone']" in p for p in report.schema_problems)
    with pytest.raises(SchemaChangeError, match="--allow-schema-change"):
        report.raise_if_failed()
    declared = GateReport()
    check_against_previous(new, previous, Bounds(), {"ct_index", "mr_index"}, declared)
    declared.raise_if_failed()


def test_build_against_previous_release(source_dir, release_dir, tmp_path):
    # same data: passes; the same previous with idc_index's schema changed: refused, then declared
    build_idc_index(source_dir, tmp_path / "a", previous=release_dir)
    prev = tmp_path / "prev"
    shutil.copytree(release_dir, prev)
    m = manifest_of(prev)
    m["indices"]["idc_index"]["columns"][0]["type"] = "string"
    (prev / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SchemaChangeError, match="collection_id: string -> large_string"):
        build_idc_index(source_dir, tmp_path / "b", previous=prev)
    build_idc_index(source_dir, tmp_path / "c", previous=prev, allow_schema_change={"idc_index"})


def test_conform_rejects_a_wrong_type_and_missing_columns():
    spec = INDICES["version_metadata_index"]
    ok = conform(pa.table({"idc_version": pa.array([1], pa.int32()), "version_timestamp": ["2020-01-01"]}), spec)
    assert ok.schema.equals(spec.schema)
    with pytest.raises(SchemaError, match=r"version_timestamp: the query returns date32\[day\], declared large_string"):
        conform(pa.table({"idc_version": [1], "version_timestamp": pa.array([0], pa.date32())}), spec)
    with pytest.raises(SchemaError, match=r"missing \['version_timestamp'\]"):
        conform(pa.table({"idc_version": [1]}), spec)
