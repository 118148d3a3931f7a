import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from index_builder import fixture
from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.errors import BuilderError, CollectionRemovedError, QualityGateError, SchemaChangeError, SchemaError
from index_builder.gates import (
    SOURCE_CHECKS,
    Bounds,
    GateReport,
    check_against_previous,
    check_files,
    check_source,
    mapped_values,
)
from index_builder.indices import INDICES
from index_builder.writer import conform

ROOT = Path(__file__).resolve().parents[1]


def broken_source(source_dir, tmp_path, change, table="dicom_all"):
    """A copy of the synthetic tables with one table (dicom_all by default) changed by
    ``change(table) -> table``."""
    src = tmp_path / "src"
    shutil.copytree(source_dir, src)
    t = pq.read_table(src / f"{table}.parquet")
    pq.write_table(change(t), src / f"{table}.parquet")
    return src


def set_where(t, column, uid_prefix, value):
    mask = pc.starts_with(t.column("SeriesInstanceUID"), uid_prefix)
    col = t.column(column)
    new = pc.if_else(mask, pa.scalar(value, col.type), col)
    return t.set_column(t.schema.get_field_index(column), column, new)


def set_rows(t, column, mask, value):
    """``column`` set to ``value`` on the rows of ``mask``."""
    col = t.column(column)
    new = pc.if_else(mask, pa.scalar(value, col.type), col)
    return t.set_column(t.schema.get_field_index(column), column, new)


def instance(t, uid):
    return pc.equal(t.column("SOPInstanceUID"), uid)


def series(t, uid):
    return pc.equal(t.column("SeriesInstanceUID"), uid)


def build_idc_index(src, out, indices=("idc_index",), **kw):
    return build(DuckDBBackend(src), BuildOptions(idc_version=25, out=out, indices=list(indices), **kw), log=lambda m: None)


def gate_failure(src, tmp_path, indices=("idc_index",), error=QualityGateError, **kw):
    """Build with a defect: the build fails, publishes nothing, and the message is returned."""
    out = tmp_path / "out"
    with pytest.raises(error) as info:
        build_idc_index(src, out, indices, **kw)
    assert not out.exists()
    return str(info.value)


CT = fixture.CT_SERIES  # 8 instances, 1.2.826.0.1.3680043.8.498.1.1.1.1.1 ... .8
SLIDE = "1.2.826.0.1.3680043.8.498.4.1.1.1"  # an SM series: 4 instances, JPEG 2000 and JPEG baseline
TABLE = r"bigquery-public-data\.idc_v25\.dicom_all"
# series of the synthetic dicom_all (several tests add some: counting them keeps these tests right)
SERIES = len({r["SeriesInstanceUID"] for r in fixture.generate()["gen"].instances})
SM_INSTANCES = sum(r["Modality"] == "SM" for r in fixture.generate()["gen"].instances)
BREAST_SERIES = len({r["SeriesInstanceUID"] for r in fixture.generate()["gen"].instances if r["collection_id"] == "breast_sm_demo"})


def test_series_without_bucket_fails_the_build_and_publishes_nothing(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_where(t, "aws_bucket", "1.2.826.0.1.3680043.8.498.2.1", None))
    out = tmp_path / "out"
    with pytest.raises(QualityGateError, match=rf"2 of {SERIES} series have no aws_bucket"):
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
    before = SERIES + SERIES // 4  # a shrink of about 20%
    previous["indices"]["idc_index"]["rows"] = before
    report = GateReport()
    check_against_previous(new, previous, Bounds(max_shrink=0.05), set(), report)
    shrink = f"-{100 * (before - SERIES) / before:.1f}%"
    assert len(report.problems) == 1 and f"idc_index: rows went from {before} to {SERIES} ({shrink})" in report.problems[0]
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


# --------------------------------------------------- defects of dicom_all that aggregation hides


@pytest.mark.parametrize("column", ["collection_id", "PatientID", "StudyInstanceUID"])
def test_identifier_missing_on_one_instance_fails(source_dir, tmp_path, column):
    # ANY_VALUE() over the series would publish the other instances' value: the series looks fine
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, column, instance(t, f"{CT}.3"), None))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"idc_index: {column} is NULL or empty on 1 instance in 1 series of {TABLE} "
                     rf"\(e\.g\. series {re.escape(CT)}, instance {re.escape(CT)}\.3\).*check {column} of these "
                     rf"instances in {TABLE}", msg)
    assert f"of {SERIES} series have no" not in msg  # the published series itself would have one


@pytest.mark.parametrize("column", ["collection_id", "PatientID", "StudyInstanceUID"])
def test_identifier_missing_on_a_whole_series_fails(source_dir, tmp_path, column):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, column, series(t, CT), ""))
    msg = gate_failure(src, tmp_path)
    assert f"{column} is NULL or empty on 8 instances in 1 series" in msg
    assert f"idc_index: 1 of {SERIES} series have no {column} (e.g. SeriesInstanceUID '{CT}')" in msg


def test_instance_without_size_fails(source_dir, tmp_path):
    # SUM() skips the NULL: series_size_MB would be published too small
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "instance_size", instance(t, f"{CT}.5"), None))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"instance_size is NULL, 0 or negative on 1 instance in 1 series of {TABLE} "
                     rf"\(e\.g\. series {re.escape(CT)}, instance {re.escape(CT)}\.5\); series_size_MB", msg)


def test_series_without_any_size_fails_in_the_index_too(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "instance_size", series(t, CT), None))
    msg = gate_failure(src, tmp_path)
    assert "instance_size is NULL, 0 or negative on 8 instances in 1 series" in msg
    assert f"idc_index: 1 of {SERIES} series have no series_size_MB, or a negative one (e.g. SeriesInstanceUID '{CT}')" in msg


def test_series_row_without_an_instance_fails(source_dir, tmp_path):
    # a CT series whose only row names no instance (and no size): idc_index would count 0 instances,
    # ct_index and volume_geometry_index would describe it
    empty = "1.2.826.0.1.3680043.8.498.1.1.1.99"

    def add(t):
        row = t.filter(instance(t, f"{CT}.1"))
        row = set_rows(set_rows(row, "SeriesInstanceUID", pc.is_valid(row.column("SeriesInstanceUID")), empty),
                       "SOPInstanceUID", pc.is_valid(row.column("SOPInstanceUID")), None)
        row = set_rows(row, "instance_size", pc.is_valid(row.column("SeriesInstanceUID")), None)
        return pa.concat_tables([t, row])

    msg = gate_failure(broken_source(source_dir, tmp_path, add), tmp_path,
                       indices=("idc_index", "ct_index", "volume_geometry_index"))
    assert re.search(rf"SOPInstanceUID is NULL or empty on 1 row in 1 series of {TABLE} \(e\.g\. series "
                     rf"{re.escape(empty)}\).*reaches ct_index and volume_geometry_index; check these rows", msg)
    assert f"idc_index: 1 of {SERIES + 1} series have no instance (instanceCount 0, e.g. SeriesInstanceUID '{empty}')" in msg


def test_instance_listed_twice_fails(source_dir, tmp_path):
    # the copy would inflate instanceCount and series_size_MB, and repeat a row of sm_instance_index
    twice = f"{SLIDE}.2"
    src = broken_source(source_dir, tmp_path, lambda t: pa.concat_tables([t, t.filter(instance(t, twice))]))
    msg = gate_failure(src, tmp_path, indices=("idc_index", "sm_instance_index"))
    assert re.search(rf"idc_index: {TABLE} has 1 row repeating an instance already listed in its series \(1 series, "
                     rf"e\.g\. instance {re.escape(twice)} of series {re.escape(SLIDE)}\); instanceCount", msg)
    assert f"sm_instance_index: SOPInstanceUID is not unique: 1 value on more than one row (1 extra row; e.g. '{twice}')" in msg


def test_instance_in_two_series_fails(source_dir, tmp_path):
    other = "1.2.826.0.1.3680043.8.498.1.1.1.2"
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "SOPInstanceUID", instance(t, f"{CT}.2"), f"{other}.1"))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"idc_index: {TABLE} has 1 SOPInstanceUID in more than one series \(e\.g\. instance "
                     rf"{re.escape(other)}\.1 in series {re.escape(CT)} and {re.escape(other)}\); .*check which series",
                     msg)


def test_series_in_two_buckets_fails(source_dir, tmp_path):
    # series_aws_url would name one bucket: the instances in the other could never be downloaded
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "aws_bucket", instance(t, f"{CT}.2"), "idc-open-data-cr"))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"idc_index: {TABLE} has 1 series whose 8 instances are in more than one bucket \(e\.g\. series "
                     rf"{re.escape(CT)} in idc-open-data,idc-open-data-cr\); series_aws_url names one bucket.*check "
                     r"aws_bucket", msg)


def test_series_under_two_uuids_fails(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path,
                        lambda t: set_rows(t, "crdc_series_uuid", instance(t, f"{CT}.2"), "00000000-0000-0000-0000-000000000000"))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"1 series whose 8 instances are under more than one crdc_series_uuid \(e\.g\. series {re.escape(CT)} "
                     r"under 00000000-0000-0000-0000-000000000000,", msg)


@pytest.mark.parametrize("column", ["aws_bucket", "crdc_series_uuid"])
def test_location_missing_on_one_instance_fails(source_dir, tmp_path, column):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, column, instance(t, f"{CT}.4"), None))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"idc_index: {column} is NULL or empty on 1 instance in 1 series of {TABLE} \(e\.g\. series "
                     rf"{re.escape(CT)}, instance {re.escape(CT)}\.4\); their files cannot be located; check {column}", msg)


def test_instances_without_series_uid_fail(source_dir, tmp_path):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, "SeriesInstanceUID", series(t, CT), None))
    msg = gate_failure(src, tmp_path)
    assert re.search(rf"SeriesInstanceUID is NULL or empty on 8 instances of {TABLE} \(e\.g\. instance "
                     rf"{re.escape(CT)}\.1\); all such instances would be published as one series", msg)
    assert f"idc_index: 1 of {SERIES} series have no SeriesInstanceUID (e.g. crdc_series_uuid '" in msg


@pytest.mark.parametrize(("column", "expected"), [
    ("instance_size", f"sm_instance_index: 1 of {SM_INSTANCES} instances have no instance_size, or a negative one (e.g. SOPInstanceUID "),
    ("crdc_instance_uuid", f"sm_instance_index: 1 of {SM_INSTANCES} instances have no crdc_instance_uuid (e.g. SOPInstanceUID "),
])
def test_sm_instance_without_size_or_object_key_fails(source_dir, tmp_path, column, expected):
    src = broken_source(source_dir, tmp_path, lambda t: set_rows(t, column, instance(t, f"{SLIDE}.3"), None))
    msg = gate_failure(src, tmp_path, indices=("sm_instance_index",))
    assert f"{expected}'{SLIDE}.3')" in msg


def test_prior_release_without_patient_fails(source_dir, tmp_path):
    def drop(t):
        return set_rows(t, "PatientID", pc.equal(t.column("SeriesInstanceUID"), fixture.REMOVED_SERIES), None)

    msg = gate_failure(broken_source(source_dir, tmp_path, drop, table="idc_v24/dicom_all"), tmp_path,
                       indices=("prior_versions_index",))
    assert re.search(r"prior_versions_index: 1 of 5 series versions have no PatientID \(e\.g\. crdc_series_uuid "
                     r"'[0-9a-f-]{36}'\); no instance of them has one: check PatientID in dicom_all of the releases "
                     r"min_idc_version\.\.max_idc_version", msg)


def test_a_series_on_two_rows_of_idc_index_fails(release_dir, tmp_path):
    t = pq.read_table(release_dir / "idc_index.parquet")
    pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), tmp_path / "idc_index.parquet")
    report = check_files({"idc_index": tmp_path / "idc_index.parquet"}, GateReport())
    uid = t.column("SeriesInstanceUID")[0].as_py()
    expected = (f"idc_index: SeriesInstanceUID is not unique: 1 value on more than one row (1 extra row; e.g. {uid!r}); "
                "check dicom_all for rows listed twice")
    assert report.problems == [expected]


@pytest.mark.parametrize(
    ("index", "key", "source"),
    [("collections_index", "collection_id", "original_collections_metadata"),
     ("analysis_results_index", "analysis_result_id", "analysis_results_metadata")],
)
def test_the_key_of_a_small_index_on_two_rows_or_missing_fails(release_dir, tmp_path, index, key, source):
    # idc-index declares these keys to its query planner, which relies on them
    t = pq.read_table(release_dir / f"{index}.parquet")
    assert not check_files({index: release_dir / f"{index}.parquet"}, GateReport()).problems
    pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), tmp_path / f"{index}.parquet")
    report = check_files({index: tmp_path / f"{index}.parquet"}, GateReport())
    value = t.column(key)[0].as_py()
    expected = (f"{index}: {key} is not unique: 1 value on more than one row (1 extra row; e.g. {value!r}); "
                f"check {source} for rows listed twice")
    assert report.problems == [expected]
    pq.write_table(set_rows(t, key, pc.equal(t.column(key), value), None), tmp_path / f"{index}.parquet")
    report = check_files({index: tmp_path / f"{index}.parquet"}, GateReport())
    assert report.problems == [f"{index}: 1 of {t.num_rows} rows have no {key}; check {key} in {source}"]


def test_source_checks_and_their_messages_stay_in_step(source_dir):
    backend = DuckDBBackend(source_dir)
    from index_builder import sqlfile
    from index_builder.sqlfile import Datasets

    backend.prepare(Datasets.for_release(25))
    result = backend.fetch(sqlfile.render(sqlfile.load("source_checks"), Datasets.for_release(25)))
    assert result.num_rows == 1
    assert not check_source(result, "dicom_all", GateReport()).failed  # the clean tables have no defect
    assert len(result.column_names) == 3 * len(SOURCE_CHECKS)
    with pytest.raises(QualityGateError, match="keep the query and SOURCE_CHECKS in gates.py in step"):
        check_source(result.drop_columns(["split_uuids_example"]), "dicom_all", GateReport())


# ------------------------------------------------------------------------- messages that lead


def test_mixed_transfer_syntaxes_name_only_the_unknown_uid(source_dir, tmp_path):
    # the slide mixes JPEG 2000 and JPEG baseline; one of its instances gets an unknown encoding
    src = broken_source(source_dir, tmp_path,
                        lambda t: set_rows(t, "TransferSyntaxUID", instance(t, f"{SLIDE}.2"), "1.2.840.99999"))
    msg = gate_failure(src, tmp_path)
    assert (f"idc_index: 1 of {SERIES} series have a TransferSyntaxUID with no transfer_syntax_name: unmapped "
            f"'1.2.840.99999' (e.g. SeriesInstanceUID '{SLIDE}'); add them to the CASE that computes "
            "transfer_syntax_name in queries/idc_index.sql") in msg
    assert "1.2.840.10008.1.2.4.50" not in msg and "1.2.840.10008.1.2.4.91" not in msg


def test_the_mapping_is_read_from_the_query():
    known = mapped_values("idc_index", "TransferSyntaxUID")
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.91"} <= known
    assert "1.2.840.10008.5.1.4.1.1.2" in mapped_values("idc_index", "SOPClassUID")


def test_prior_release_in_an_unmapped_gcs_bucket_names_the_bucket(source_dir, tmp_path):
    def move(t):
        removed = pc.equal(t.column("SeriesInstanceUID"), fixture.REMOVED_SERIES)
        urls = pc.replace_substring(t.column("gcs_url"), "gs://public-datasets-idc/", "gs://idc-open-new/")
        return t.set_column(t.schema.get_field_index("gcs_url"), "gcs_url", pc.if_else(removed, urls, t.column("gcs_url")))

    src = broken_source(source_dir, tmp_path, move, table="idc_v24/dicom_all")
    msg = gate_failure(src, tmp_path, indices=("prior_versions_index",))
    assert re.search(r"prior_versions_index: 1 of 5 series versions are in GCS bucket\(s\) 'idc-open-new' that the CASE "
                     r"computing aws_bucket in queries/prior_versions_index\.sql does not map \(e\.g\. crdc_series_uuid "
                     r"'[0-9a-f-]{36}'\); add each bucket's public AWS counterpart there", msg)
    assert "join" not in msg and "have no aws_bucket" not in msg and "series_aws_url" not in msg


# ---------------------------------------------------------------------------- removed collections


def without_collection(source_dir, tmp_path, collection):
    src = tmp_path / "src"
    shutil.copytree(source_dir, src)
    for name in ("dicom_all", "original_collections_metadata"):
        t = pq.read_table(src / f"{name}.parquet")
        pq.write_table(t.filter(pc.not_equal(t.column("collection_id"), collection)), src / f"{name}.parquet")
    return src


def test_a_removed_collection_is_named_and_must_be_declared(source_dir, release_dir, tmp_path):
    src = without_collection(source_dir, tmp_path, "petct_demo")
    kw = dict(previous=release_dir, bounds=Bounds(max_shrink=0.5))  # 4 series go: rows bounds aside
    msg = gate_failure(src, tmp_path, indices=("idc_index", "collections_index"), error=CollectionRemovedError, **kw)
    assert ("idc_index: 1 collection(s) of release 25.0.0 are not in this release: 'petct_demo' (4 series); if "
            "withdrawn on purpose, declare them with --allow-removed-collection petct_demo (build-indices workflow: "
            "input allow_removed_collections)") in msg
    build_idc_index(src, tmp_path / "declared", ("idc_index", "collections_index"),
                    allow_removed_collections={"petct_demo"}, **kw)
    msg = gate_failure(src, tmp_path / "x", indices=("idc_index",), error=CollectionRemovedError,
                       allow_removed_collections={"petct_demo", "lung_ct_demo", "petct_dem"}, **kw)
    assert "--allow-removed-collection lung_ct_demo: 'lung_ct_demo' is still in idc_index" in msg
    assert "--allow-removed-collection petct_dem: 'petct_dem' was not in idc_index of release 25.0.0" in msg


def test_removed_collection_declared_on_the_command_line(source_dir, release_dir, tmp_path):
    src = without_collection(source_dir, tmp_path, "breast_sm_demo")
    cmd = [sys.executable, "-m", "index_builder", "build", "--backend", "duckdb", "--source", str(src),
           "--idc-version", "25", "--index", "idc_index", "--previous", str(release_dir), "--max-shrink", "0.5"]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "a")], cwd=ROOT, check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "CollectionRemovedError" in done.stderr and f"'breast_sm_demo' ({BREAST_SERIES} series)" in done.stderr
    done = subprocess.run([*cmd, "--out", str(tmp_path / "b"), "--allow-removed-collection", "breast_sm_demo"], cwd=ROOT,
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_declaring_a_removed_collection_needs_the_previous_release(source_dir, tmp_path):
    with pytest.raises(BuilderError, match="--previous"):
        build_idc_index(source_dir, tmp_path / "out", allow_removed_collections={"petct_demo"})


# ----------------------------------------------------------------------------------- clean data


def test_clean_tables_pass_every_gate_against_themselves(source_dir, release_dir, tmp_path):
    out = tmp_path / "again"
    build(DuckDBBackend(source_dir), BuildOptions(idc_version=25, out=out, previous=release_dir), log=lambda m: None)
    assert (out / "manifest.json").is_file()
    assert not check_files({n: release_dir / f"{n}.parquet" for n in INDICES}, GateReport()).failed


def test_the_real_v25_files_pass_the_gates_of_their_indices(real_idc_index):
    """The indices of idc-index-data 25.0.5 that the file gates apply to have none of the defects."""
    names = ("prior_versions_index", "collections_index", "analysis_results_index")
    paths = {"idc_index": real_idc_index} | {n: real_idc_index.with_name(f"{n}.parquet") for n in names}
    report = check_files(paths, GateReport())
    assert report.problems == []
