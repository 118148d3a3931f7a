"""Value-level gates: a column whose missing values rise, whose distinct values collapse or whose range
jumps against the previous release stops the build, with a message naming the column and the flag that
accepts the change; the build log lists every column whose values changed."""

from __future__ import annotations

import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_gates import ROOT, broken_source, build_idc_index, gate_failure, set_rows

from index_builder.errors import BuilderError
from index_builder.values import ValueBounds, parse_value_bound, profile_column


def lung(t):
    return pc.equal(t.column("collection_id"), "lung_ct_demo")


def test_missing_values_rising_fail_and_name_the_flag_that_accepts_them(source_dir, release_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "BodyPartExamined", pc.invert(pc.is_null(
        t.column("BodyPartExamined"))), None), table="dicom_metadata_curated")
    msg = gate_failure(src, tmp_path, previous=release_dir)
    m = re.search(r"idc_index\.BodyPartExamined: missing values rose from (\d+\.\d)% to 100\.0% of rows "
                  r"\(\+(\d+\.\d) points, bound \+5\.0\); check BodyPartExamined in the source tables, or accept the "
                  r"change with --value-bound idc_index\.BodyPartExamined\.null_increase=(0\.\d+)", msg)
    assert m, msg
    assert float(m.group(1)) + float(m.group(2)) == pytest.approx(100.0, abs=0.11)
    bounds = ValueBounds(per_column={("idc_index", "BodyPartExamined", "null_increase"): float(m.group(3)),
                                     ("idc_index", "BodyPartExamined", "distinct_shrink"): 1.0})
    build_idc_index(src, tmp_path / "accepted", previous=release_dir, value_bounds=bounds)


def test_a_column_collapsing_to_one_value_fails(source_dir, release_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "SeriesDescription", pc.is_valid(
        t.column("SeriesDescription")), "series"))
    msg = gate_failure(src, tmp_path, previous=release_dir)
    m = re.search(r"idc_index\.SeriesDescription: distinct values fell from (\d+) to 1 \(-\d+\.\d%, bound -10%\); .*"
                  r"--value-bound idc_index\.SeriesDescription\.distinct_shrink=(0\.\d+)", msg)
    assert m and int(m.group(1)) > 2 and float(m.group(2)) > 0.5, msg


def test_a_change_of_units_fails_on_the_range(source_dir, release_dir, tmp_path):
    # instance sizes written in bytes*1000 in one collection: series_size_MB jumps by 1000x there
    src = broken_source(source_dir, tmp_path, lambda t: t.set_column(
        t.schema.get_field_index("instance_size"), "instance_size",
        pc.if_else(lung(t), pc.multiply(t.column("instance_size"), 1000), t.column("instance_size"))))
    msg = gate_failure(src, tmp_path, previous=release_dir)
    assert "idc_index.series_size_MB: values now span" in msg and "widened by range_factor 10)" in msg
    assert "--value-bound idc_index.series_size_MB.range_factor=" in msg


def test_the_build_log_lists_the_columns_whose_values_changed(source_dir, release_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "StudyDescription", lung(t), None))
    log: list[str] = []
    from index_builder.backends import DuckDBBackend
    from index_builder.build import BuildOptions, build
    build(DuckDBBackend(src), BuildOptions(idc_version=25, out=tmp_path / "out", indices=["idc_index"],
                                           previous=release_dir,
                                           value_bounds=ValueBounds(null_increase=1.0, distinct_shrink=1.0)),
          log=log.append)
    assert "values changed since release 25.0.0: 1 column(s)" in log
    changed = [line for line in log if line.startswith("  idc_index.")]
    assert len(changed) == 1 and re.fullmatch(r"  idc_index\.StudyDescription: missing 0\.0% -> \d+\.\d%; distinct 8 -> 5",
                                              changed[0]), changed


def test_the_same_release_changes_no_value(source_dir, release_dir, tmp_path):
    log: list[str] = []
    from index_builder.backends import DuckDBBackend
    from index_builder.build import BuildOptions, build
    build(DuckDBBackend(source_dir), BuildOptions(idc_version=25, out=tmp_path / "out", previous=release_dir),
          log=log.append)
    assert "values changed since release 25.0.0: 0 column(s)" in log


def test_profiles_count_empty_strings_and_lists_as_missing_and_ignore_nan_in_ranges():
    p = profile_column(pa.chunked_array([pa.array(["a", "", None, "a"])]))
    assert (p.rows, p.missing, p.distinct, p.low) == (4, 2, 2, None)  # '' is a value for distinct, missing for NULLs
    p = profile_column(pa.chunked_array([pa.array([[1.0], [], None])]))
    assert (p.missing, p.distinct) == (2, None)
    p = profile_column(pa.chunked_array([pa.array([1.0, float("nan"), float("inf"), 3.0])]))
    assert (p.missing, p.low, p.high) == (1, 1.0, 3.0)


@pytest.mark.parametrize("text", ["idc_index.BodyPartExamined=0.2", "idc_index.BodyPartExamined.nulls=0.2",
                                  "idc_index.BodyPartExamined.null_increase=lots",
                                  "idc_index.BodyPartExamined.null_increase=-1"])
def test_a_malformed_value_bound_says_how_to_write_it(text):
    with pytest.raises(BuilderError, match="--value-bound"):
        parse_value_bound(text)


def test_value_bounds_on_the_command_line(source_dir, release_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "SeriesDescription", pc.is_valid(
        t.column("SeriesDescription")), "series"))
    cmd = [sys.executable, "-m", "index_builder", "build", "--backend", "duckdb", "--source", str(src),
           "--idc-version", "25", "--index", "idc_index", "--previous", str(release_dir)]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "QualityGateError" in done.stderr and "idc_index.SeriesDescription" in done.stderr
    done = subprocess.run([*cmd, "--out", str(tmp_path / "b"), "--value-bound",
                           "idc_index.SeriesDescription.distinct_shrink=inf"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"idc_index\.SeriesDescription: distinct \d+ -> 1\n", done.stdout), done.stdout
    done = subprocess.run([*cmd, "--out", str(tmp_path / "c"), "--value-bound", "idc_index.x=1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "INDEX.COLUMN.KIND=VALUE" in done.stderr
