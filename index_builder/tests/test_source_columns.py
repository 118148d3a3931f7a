"""A release whose DICOM export lacks a column that only some releases have: the optional columns this
builder adds are published as NULL with a warning; any other missing column stops the build in its dry
run, before anything runs or is written."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.errors import SourceError
from index_builder.source_columns import OPTIONAL


def without(table: pa.Table, paths: list[str]) -> pa.Table:
    """``table`` without these columns (``Seq.Field``: a field of a sequence's records), as an export of
    a release in which no instance has them."""
    for path in paths:
        parent, _, name = path.rpartition(".")
        if not parent:
            table = table.drop_columns([name])
            continue
        column = table.column(parent).combine_chunks()
        records = column.values
        kept = [f for f in records.type if f.name != name]
        rebuilt = pa.StructArray.from_arrays([records.field(f.name) for f in kept], fields=kept, mask=records.is_null())
        new = pa.ListArray.from_arrays(column.offsets, rebuilt, mask=column.is_null())
        table = table.set_column(table.schema.get_field_index(parent), parent, new)
    return table


def source_without(source_dir, tmp_path, paths):
    src = tmp_path / "src"
    shutil.copytree(source_dir, src)
    pq.write_table(without(pq.read_table(src / "dicom_all.parquet"), paths), src / "dicom_all.parquet")
    return src


def build_sm(src, out, log):
    return build(DuckDBBackend(src), BuildOptions(idc_version=25, out=out, indices=["sm_instance_index", "idc_index"]),
                 log=log)


def test_missing_optional_columns_are_published_as_null_with_a_warning(source_dir, release_dir, tmp_path):
    paths = list(OPTIONAL["dicom_all"])
    src = source_without(source_dir, tmp_path, paths)
    log: list[str] = []
    out = build_sm(src, tmp_path / "out", log.append)
    for path in paths:
        assert (f"warning: bigquery-public-data.idc_v25.dicom_all has no {path} (no instance of this release has it); "
                "the indices that read it publish NULL for it") in log
    got = pq.read_table(out / "sm_instance_index.parquet").to_pylist()
    full = {r["SOPInstanceUID"]: r for r in pq.read_table(release_dir / "sm_instance_index.parquet").to_pylist()}
    assert got and len(got) == len(full)
    for row in got:
        before = full[row["SOPInstanceUID"]]
        assert row["PyramidUID"] is None and row["PyramidLabel"] is None
        assert row["SpecimenUID"] is None and row["SpecimenIdentifier"] is None
        assert len(row["optical_paths"]) == len(before["optical_paths"])  # the records kept, in their order
        for path, was in zip(row["optical_paths"], before["optical_paths"]):
            assert path["OpticalPathIdentifier"] is None and path["IlluminationWaveLength"] is None
            assert path["illuminationColor_CodeMeaning"] is None
            assert path["illuminationType_CodeMeaning"] == was["illuminationType_CodeMeaning"]  # present: kept
            assert path["ObjectiveLensPower"] == was["ObjectiveLensPower"]
        same = {k: v for k, v in row.items() if k not in ("PyramidUID", "PyramidLabel", "SpecimenUID",
                                                           "SpecimenIdentifier", "optical_paths")}
        assert same == {k: before[k] for k in same}
    # idc_index reads none of them: its query is not wrapped, and its rows are those of the full release
    assert pq.read_table(out / "idc_index.parquet").equals(pq.read_table(release_dir / "idc_index.parquet"))


def test_a_release_with_every_optional_column_warns_of_nothing(source_dir, tmp_path):
    log: list[str] = []
    build_sm(source_dir, tmp_path / "out", log.append)
    assert not [line for line in log if line.startswith("warning:")]


def test_any_other_missing_column_fails_in_the_dry_run_before_anything_is_written(source_dir, tmp_path):
    src = source_without(source_dir, tmp_path, ["ContainerIdentifier"])
    with pytest.raises(SourceError, match="lacks a column the query reads.*ContainerIdentifier"):
        build_sm(src, tmp_path / "out", lambda m: None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
