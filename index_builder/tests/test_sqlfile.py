import re

import pyarrow as pa
import pytest
import sqlglot

from index_builder import sqlfile
from index_builder.errors import SqlFileError
from index_builder.indices import INDICES
from index_builder.sqlfile import Datasets


@pytest.mark.parametrize("name", list(INDICES))
def test_every_output_column_and_nested_field_is_documented(name):
    doc = sqlfile.parse_docs(sqlfile.load(name))
    sqlfile.check_docs(name, doc, INDICES[name].schema)  # raises on a gap
    assert len(doc.table) > 40


@pytest.mark.parametrize("name", list(INDICES))
def test_final_select_lists_the_declared_columns_in_order(name):
    rendered = sqlfile.render(sqlfile.load(name), Datasets.for_release(25, prior=(23, 24)))
    tree = sqlglot.parse_one(rendered, read="bigquery")
    assert tree.named_selects == INDICES[name].schema.names


@pytest.mark.parametrize("name", list(INDICES))
def test_no_release_is_hard_coded(name):
    sql = sqlfile.load(name)
    assert not re.search(r"idc_v\d+|idc_current|bigquery-public-data", sql), "use the {dataset} placeholder"


def test_render_fills_dataset_and_clinical_dataset():
    out = sqlfile.render("SELECT * FROM `{dataset}.dicom_all`, `{clinical_dataset}.column_metadata`",
                         Datasets.for_release(25))
    assert out == ("SELECT * FROM `bigquery-public-data.idc_v25.dicom_all`, "
                   "`bigquery-public-data.idc_v25_clinical.column_metadata`")
    cur = sqlfile.render("`{dataset}.x`", Datasets.for_release("current"))
    assert cur == "`bigquery-public-data.idc_current.x`"


def test_prior_release_block_expands_once_per_release_with_union_all():
    sql = sqlfile.load("prior_versions_index")
    out = sqlfile.render(sql, Datasets.for_release(25, prior=(1, 2, 24)))
    assert out.count("UNION ALL") == 2
    for v in (1, 2, 24):
        assert f"`bigquery-public-data.idc_v{v}.dicom_all`" in out
        assert f"{v} AS idc_version" in out
    assert "{release" not in out and "@for-each" not in out


def test_prior_release_block_without_releases_says_what_to_do():
    with pytest.raises(SqlFileError, match="idc_vNN/ subdirectories"):
        sqlfile.render(sqlfile.load("prior_versions_index"), Datasets.for_release(25))


def test_unknown_placeholder_is_an_error():
    with pytest.raises(SqlFileError, match="unknown placeholder"):
        sqlfile.render("SELECT * FROM `{datset}.dicom_all`", Datasets.for_release(25))


def test_docs_parser_reads_continuations_and_nested_paths():
    doc = sqlfile.parse_docs(
        "-- @table first line\n--   second line\n--\n-- not part of it\nSELECT\n"
        "  -- @column a: the a\n  --   column\n  x AS a,\n"
        "  -- @column s.f: a field\n  1 AS f\n"
    )
    assert doc.table == "first line second line"
    assert doc.columns == {"a": "the a column", "s.f": "a field"}


def test_docs_checker_reports_missing_nested_field():
    schema = pa.schema([("s", pa.struct([("f", pa.string()), ("g", pa.string())]))])
    doc = sqlfile.QueryDoc(table="t", columns={"s": "x", "s.f": "y"})
    with pytest.raises(SqlFileError, match=r"s\.g"):
        sqlfile.check_docs("demo", doc, schema)


def test_docs_parser_rejects_malformed_tag():
    with pytest.raises(SqlFileError, match="@column <name>: <description>"):
        sqlfile.parse_docs("-- @column no colon here\nSELECT 1")
