"""Parity with idc-index-data: our queries and the SQL that idc-index-data 25.0.5 ships (tests/upstream.py
says how it is made to run offline) on the same fixture, through the same DuckDB, compared column by
column. Every difference is either gone or listed in ``DIFFERENCES`` with its reason, and the builder's
README lists the same ones; a listed difference that no longer occurs fails too, so the list stays true.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from index_builder import sqlfile
from index_builder.backends import DuckDBBackend
from index_builder.fixture import IDC_VERSION, PRIOR
from index_builder.indices import INDICES, IndexSpec
from index_builder.sqlfile import Datasets
from index_builder.writer import conform

upstream = pytest.importorskip("upstream", reason="tests/upstream.py needs idc-index-data 25.0.5 installed")
pytest.importorskip("idc_index_data", reason="idc-index-data 25.0.5 is not installed (pip install -e '.[test]')")

README = Path(__file__).resolve().parents[1] / "README.md"

# The columns that tell rows apart in each index.
KEYS: dict[str, tuple[str, ...]] = {
    "idc_index": ("SeriesInstanceUID",),
    "prior_versions_index": ("crdc_series_uuid", "gcs_bucket", "min_idc_version"),
    "collections_index": ("collection_id",),
    "analysis_results_index": ("analysis_result_id",),
    "version_metadata_index": ("idc_version",),
    "clinical_index": ("collection_id", "table_name", "column"),
    "sm_instance_index": ("SOPInstanceUID",),
    "ann_group_index": ("SeriesInstanceUID", "AnnotationGroupNumber"),
}

# (index, column) -> why ours differs from upstream's on the same rows. "<rows>" is the set of keys.
_CUT_MEANING = ("upstream splits 'meaning:scheme:value' at its first ':', which cuts a meaning that contains ':' "
                "(e.g. \"Hematoxylin: Mayer's\"); ours keeps it whole")
_CUT_CODE = ("upstream splits 'meaning:scheme:value' at its first ':', so the rest of a meaning that contains ':' "
             "lands in the code; ours gives scheme:value")
DIFFERENCES: dict[tuple[str, str], str] = {
    ("sm_index", "staining_usingSubstance_CodeMeaning"): _CUT_MEANING,
    ("sm_index", "staining_usingSubstance_code_designator_value_str"): _CUT_CODE,
    ("sm_index", "admittingDiagnosis_CodeMeaning"):
        "upstream takes the third ':'-separated part of 'scheme:value:meaning', which cuts a meaning that contains ':'; "
        "ours keeps it whole",
    ("sm_instance_index", "staining_usingSubstance_CodeMeaning"): _CUT_MEANING,
    ("sm_instance_index", "staining_usingSubstance_code_designator_value_str"): _CUT_CODE,
}


@pytest.fixture(scope="module")
def backend(source_dir: Path) -> DuckDBBackend:
    b = DuckDBBackend(source_dir)
    b.prepare(Datasets.for_release(IDC_VERSION, prior=PRIOR))
    return b


def ours(backend: DuckDBBackend, index: str) -> pa.Table:
    sql = sqlfile.render(sqlfile.load(index), Datasets.for_release(IDC_VERSION, prior=PRIOR))
    return conform(backend.fetch(sql), INDICES[index])


def theirs(backend: DuckDBBackend, index: str) -> pa.Table:
    table = upstream.run_upstream(backend, index, IDC_VERSION, PRIOR)
    spec = INDICES[index]
    columns = [c for c in spec.schema.names if c in table.schema.names]
    assert columns == [c for c in table.schema.names if c in columns], f"{index}: upstream's column order differs"
    sub = IndexSpec(index, pa.schema([spec.schema.field(c) for c in columns]))
    return conform(table.select(columns), sub)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def differences(index: str, mine: pa.Table, up: pa.Table) -> dict[str, list[str]]:
    """column -> examples of rows where ours and upstream's differ ("<rows>": keys on one side only)."""
    key = KEYS.get(index, ("SeriesInstanceUID",))
    a = {tuple(r[k] for k in key): r for r in mine.to_pylist()}
    b = {tuple(r[k] for k in key): r for r in up.to_pylist()}
    assert len(a) == mine.num_rows and len(b) == up.num_rows, f"{index}: {key} does not tell rows apart"
    found: dict[str, list[str]] = {}
    if a.keys() != b.keys():
        found["<rows>"] = [f"only ours: {sorted(a.keys() - b.keys())}", f"only upstream's: {sorted(b.keys() - a.keys())}"]
    for k in a.keys() & b.keys():
        for column in up.schema.names:
            if not same(a[k][column], b[k][column]):
                found.setdefault(column, []).append(f"{k}: ours {a[k][column]!r}, upstream {b[k][column]!r}")
    return found


@pytest.mark.parametrize("index", list(INDICES))
def test_our_index_equals_what_the_upstream_sql_gives(backend, index):
    assert index in upstream.upstream_indices(), f"idc-index-data ships no {index}.sql"
    up = theirs(backend, index)
    mine = ours(backend, index)
    assert mine.num_rows > 0, f"{index}: the fixture gives no rows; the comparison would prove nothing"
    found = differences(index, mine, up)
    listed = {column for (i, column) in DIFFERENCES if i == index}
    unexplained = {c: v[:3] for c, v in found.items() if c not in listed}
    assert not unexplained, f"{index}: ours differs from upstream's, and DIFFERENCES does not say why: {unexplained}"
    gone = listed - found.keys()
    assert not gone, f"{index}: listed differences no longer occur on the fixture (remove them): {sorted(gone)}"


def test_every_upstream_index_is_built():
    assert set(upstream.upstream_indices()) == set(INDICES)


def test_the_readme_lists_each_difference_with_its_reason():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Differences from idc-index-data's SQL", 1)
    assert len(section) == 2, "README.md has no section '## Differences from idc-index-data's SQL'"
    table = section[1].split("\n## ", 1)[0]
    rows = {tuple(c.strip(" `") for c in line.strip("|").split("|")[:2])
            for line in table.splitlines() if line.startswith("|") and not re.match(r"^\|\s*-", line)}
    assert set(DIFFERENCES) <= rows, f"README lacks {sorted(set(DIFFERENCES) - rows)}"
