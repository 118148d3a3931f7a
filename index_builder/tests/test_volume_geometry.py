"""volume_geometry_index, a port of idc-index-data 25.0.5's volume_geometry_index.sql: which series it
leaves out, and what it publishes for the instances on which upstream's BigQuery job fails.

The shared fixture has the series upstream's query handles without error (tests/test_parity.py
compares those column by column). The malformed orientations live only in ``edge_source``, a copy of
the fixture with a few series added, because upstream cannot compute them: BigQuery raises
"division by zero" for a zero cross-product magnitude and "array index out of bounds" for an
ImageOrientationPatient of fewer than six values, failing the whole job.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.fixture import IDC_VERSION, PRIOR, as_exported
from index_builder.indices import INDICES
from index_builder.sqlfile import Datasets
from index_builder.writer import conform

INDEX = "volume_geometry_index"

# series of the shared fixture (index_builder/fixture.py, LCT-002)
LOCALIZER = "1.2.826.0.1.3680043.8.498.1.2.1.6"  # ImageType ORIGINAL/PRIMARY/LOCALIZER, 1 slice
MIP = "1.2.826.0.1.3680043.8.498.1.2.1.7"  # ImageType DERIVED/SECONDARY/MIP, 4 slices
UNEVEN = "1.2.826.0.1.3680043.8.498.1.2.1.8"  # 6 axial slices 2.5 mm apart but for one gap of 3.0 mm

# series added by edge_source, copies of a regular axial CT series (LCT-003's first) with another orientation
TEMPLATE = "1.2.826.0.1.3680043.8.498.1.3.1.1"
EDGE = "1.2.826.0.1.3680043.8.498.98.3.1."  # a UID root the fixture does not use
ZERO = EDGE + "1"  # ImageOrientationPatient all zeros: no normal
PARALLEL = EDGE + "2"  # row and column direction cosines equal: no normal
SHORT = EDGE + "3"  # five orientation values
ONE_BAD = EDGE + "4"  # the lowest slice has all-zero orientation, the others are axial
SINGLE = EDGE + "5"  # one slice

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
EDGE_SERIES: dict[str, tuple[int, Any]] = {
    ZERO: (3, lambda k: [0.0] * 6),
    PARALLEL: (3, lambda k: [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
    SHORT: (3, lambda k: [1.0, 0.0, 0.0, 0.0, 1.0]),
    ONE_BAD: (4, lambda k: [0.0] * 6 if k == 0 else AXIAL),
    SINGLE: (1, lambda k: AXIAL),
}
# where upstream's BigQuery job fails; its DuckDB run divides 0 by 0 there instead, giving NaN
UPSTREAM_FAILS = {ZERO, PARALLEL}


def rows_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {r["SeriesInstanceUID"]: r for r in table.to_pylist()}


@pytest.fixture(scope="module")
def edge_source(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared fixture, plus the series of EDGE_SERIES in dicom_all."""
    src = tmp_path_factory.mktemp("edge") / "src"
    shutil.copytree(source_dir, src)
    dicom_all = pq.read_table(src / "dicom_all.parquet")
    template = sorted((r for r in dicom_all.to_pylist() if r["SeriesInstanceUID"] == TEMPLATE),
                      key=lambda r: r["ImagePositionPatient"][2])
    added = []
    for uid, (n, orientation) in EDGE_SERIES.items():
        for k, row in enumerate(template[:n]):
            added.append({**row, "SeriesInstanceUID": uid, "SOPInstanceUID": f"{uid}.{k + 1}",
                          "ImageOrientationPatient": orientation(k)})
    pq.write_table(pa.concat_tables([dicom_all, pa.Table.from_pylist([as_exported(r, dicom_all.schema) for r in added], schema=dicom_all.schema)]),
                   src / "dicom_all.parquet")
    return src


@pytest.fixture(scope="module")
def edge_index(edge_source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("edge_release") / "25.0.0"
    build(DuckDBBackend(edge_source), BuildOptions(idc_version=IDC_VERSION, out=out, indices=[INDEX]),
          log=lambda m: None)
    return rows_of(pq.read_table(out / f"{INDEX}.parquet"))


# ----------------------------------------------------------------------------- the shared fixture


def test_localizer_and_mip_series_are_left_out(release_dir):
    geometry = rows_of(pq.read_table(release_dir / f"{INDEX}.parquet"))
    ct = rows_of(pq.read_table(release_dir / "ct_index.parquet"))
    for uid in (LOCALIZER, MIP):
        assert uid in ct  # CT Image Storage series like the others
        assert uid not in geometry
    assert UNEVEN in geometry


def test_a_gap_beyond_one_percent_of_the_expected_spacing_is_not_uniform(release_dir):
    row = rows_of(pq.read_table(release_dir / f"{INDEX}.parquet"))[UNEVEN]
    # slices from z = -100 to -87: expected spacing 13 / 5 = 2.6 mm; the 2.5 mm gaps are 0.1 mm off, beyond 1%
    assert row["uniform_slice_spacing"] is False and row["regularly_spaced_3d_volume"] is False
    assert all(row[c] is True for c in ("single_orientation", "orthogonal_orientation", "unique_slice_positions",
                                        "consistent_in_plane_row", "consistent_in_plane_col",
                                        "consistent_pixel_spacing", "consistent_image_dimensions"))
    assert row["obliquity_degrees"] == 0.0
    assert row["origin_patient"] == [] and row["ImageOrientationPatient"] == [] and row["slice_spacing_mm"] is None


# ------------------------------------------------------------- where upstream's BigQuery job fails


@pytest.mark.parametrize("uid", [ZERO, PARALLEL])
def test_an_orientation_without_a_normal_gets_null_obliquity_and_is_not_orthogonal(edge_index, uid):
    row = edge_index[uid]
    assert row["obliquity_degrees"] is None  # upstream: 0 / 0, a division-by-zero error in BigQuery
    assert row["orthogonal_orientation"] is False  # the cross product has length 0
    assert row["single_orientation"] is True
    assert row["unique_slice_positions"] is False  # every slice projects to 0 on a zero normal
    assert row["uniform_slice_spacing"] is False
    assert row["regularly_spaced_3d_volume"] is False
    assert row["origin_patient"] == [] and row["ImageOrientationPatient"] == [] and row["slice_spacing_mm"] is None


def test_fewer_than_six_orientation_values_give_nulls_not_an_error(edge_index):
    row = edge_index[SHORT]
    # upstream: y_vector[OFFSET(2)] is out of range, an error in BigQuery
    assert row["obliquity_degrees"] is None and row["orthogonal_orientation"] is None
    assert row["consistent_in_plane_row"] is True  # the row direction is complete
    assert row["consistent_in_plane_col"] is None and row["uniform_slice_spacing"] is None
    assert row["unique_slice_positions"] is False and row["regularly_spaced_3d_volume"] is False


def test_obliquity_comes_from_an_instance_with_a_normal(edge_index):
    row = edge_index[ONE_BAD]
    # the lowest slice has no normal: upstream's ANY_VALUEs may pick it (and fail) or another (0);
    # ours ranks the instances without a normal last
    assert row["obliquity_degrees"] == 0.0
    assert row["single_orientation"] is False and row["orthogonal_orientation"] is False
    assert row["regularly_spaced_3d_volume"] is False


def test_a_single_slice_has_no_spacing_so_its_verdict_is_null(edge_index):
    row = edge_index[SINGLE]
    assert row["uniform_slice_spacing"] is None and row["regularly_spaced_3d_volume"] is None  # as upstream
    assert row["orthogonal_orientation"] is True and row["obliquity_degrees"] == 0.0
    assert row["origin_patient"] == [] and row["slice_spacing_mm"] is None


def test_upstream_differs_only_where_bigquery_would_fail(edge_source, edge_index):
    """Upstream's SQL on the same rows (through DuckDB, which does not raise): every column equal,
    except obliquity_degrees where BigQuery raises and DuckDB gives NaN, and where upstream's choice
    of instance is arbitrary."""
    upstream = pytest.importorskip("upstream", reason="tests/upstream.py needs idc-index-data 25.0.5 installed")
    pytest.importorskip("idc_index_data", reason="idc-index-data 25.0.5 is not installed")
    backend = DuckDBBackend(edge_source)
    backend.prepare(Datasets.for_release(IDC_VERSION, prior=PRIOR))
    theirs = rows_of(conform(upstream.run_upstream(backend, INDEX, IDC_VERSION, PRIOR), INDICES[INDEX]))
    assert theirs.keys() == edge_index.keys()
    differing = set()
    for uid, mine in edge_index.items():
        for column, value in mine.items():
            other = theirs[uid][column]
            if value != other and not (isinstance(value, float) and math.isclose(value, other)):
                differing.add((uid, column))
    assert differing - {(ONE_BAD, "obliquity_degrees")} == {(uid, "obliquity_degrees") for uid in UPSTREAM_FAILS}
    assert all(math.isnan(theirs[uid]["obliquity_degrees"]) for uid in UPSTREAM_FAILS)
