"""BigQuery constructs that sqlglot does not transpile faithfully to DuckDB, and what the queries
use instead. Each trap test shows the wrong (or failing) DuckDB result; each remedy test shows the
construct we use gives BigQuery's answer."""

import re

import duckdb
import pytest
import sqlglot

from index_builder import sqlfile
from index_builder.backends import transpile_to_duckdb
from index_builder.errors import SqlFileError
from index_builder.indices import INDICES

ALL_SQL = {name: sqlfile.load(name) for name in INDICES}


def run(bigquery_sql):
    return duckdb.sql(transpile_to_duckdb(bigquery_sql)).fetchall()


def code_of(sql):
    """The SQL without comments (the queries explain the traps in their comments)."""
    return "\n".join(line.split("--")[0] for line in sql.splitlines())


# 1. UNNEST ... WITH OFFSET: BigQuery's offset is 0-based, DuckDB's ORDINALITY is 1-based
def test_trap_with_offset_becomes_one_based_ordinality():
    sql = "SELECT x FROM UNNEST(['a', 'b', 'c']) AS x WITH OFFSET AS off WHERE off = 0"
    assert "ORDINALITY" in transpile_to_duckdb(sql)
    assert run(sql) == []  # BigQuery returns [('a',)]


def test_remedy_safe_offset_subscript_is_translated_to_one_based_index():
    assert run("SELECT ['a', 'b', 'c'][SAFE_OFFSET(0)], ['a', 'b'][SAFE_OFFSET(5)]") == [("a", None)]
    assert not any(re.search(r"WITH\s+OFFSET", code_of(s), re.IGNORECASE) for s in ALL_SQL.values())


# 2. FORMAT('%d', n): DuckDB's format() uses {} placeholders and returns the pattern unchanged
def test_trap_format_percent_d_is_not_translated():
    assert run("SELECT FORMAT('%d', 5)") == [("%d",)]  # BigQuery: '5'


def test_remedy_cast_and_concat():
    assert run("SELECT CONCAT('idc_v', CAST(5 AS STRING))") == [("idc_v5",)]
    assert not any(re.search(r"\bFORMAT\s*\(", code_of(s), re.IGNORECASE) for s in ALL_SQL.values())


# 3. DECLARE / SET: scripting has no DuckDB equivalent
def test_trap_declare_does_not_run():
    with pytest.raises((duckdb.Error, SqlFileError)):
        run("DECLARE v INT64 DEFAULT 25; SELECT v")


# 4. EXECUTE IMMEDIATE: dynamic SQL falls back to an opaque command
def test_trap_execute_immediate_does_not_run():
    with pytest.raises(duckdb.Error):
        duckdb.sql(sqlglot.transpile("EXECUTE IMMEDIATE 'SELECT 1'", read="bigquery", write="duckdb")[0])


def test_remedy_runner_expands_the_release_list_instead_of_scripting():
    for name, sql in ALL_SQL.items():
        code = code_of(sql)
        assert not re.search(r"\b(DECLARE|EXECUTE\s+IMMEDIATE)\b", code, re.IGNORECASE), name
    rendered = sqlfile.render(ALL_SQL["prior_versions_index"], sqlfile.Datasets.for_release(25, prior=(23, 24)))
    assert len(sqlglot.parse(rendered, read="bigquery")) == 1  # one plain SELECT


# 5. ERROR() inside a DISTINCT aggregate ordered by the same CASE (idc-index-data's idc_index.sql)
ERROR_IN_DISTINCT = """
SELECT STRING_AGG(DISTINCT CASE x WHEN 'a' THEN 'A' WHEN 'c' THEN 'C' ELSE ERROR(CONCAT('bad ', x)) END, ','
                  ORDER BY CASE x WHEN 'a' THEN 'A' WHEN 'c' THEN 'C' ELSE ERROR(CONCAT('bad ', x)) END)
FROM UNNEST(['c', 'a']) AS x
"""


def test_trap_error_inside_distinct_aggregate_fails_to_bind_even_when_all_values_map():
    with pytest.raises(duckdb.BinderException, match="DISTINCT"):
        run(ERROR_IN_DISTINCT)  # BigQuery returns 'A,C'


def test_remedy_null_for_unmapped_names_and_a_quality_gate():
    mapped = """
    WITH t AS (SELECT x, CASE x WHEN 'a' THEN 'A' WHEN 'c' THEN 'C' END AS name FROM UNNEST(['c', 'a', 'q']) AS x)
    SELECT STRING_AGG(DISTINCT name, ',' ORDER BY name), COUNTIF(x IS NOT NULL AND name IS NULL) FROM t
    """
    assert run(mapped) == [("A,C", 1)]  # the gate sees the unmapped count (or NULL name) and stops the build
    assert not any(re.search(r"\bERROR\s*\(", code_of(s), re.IGNORECASE) for s in ALL_SQL.values())


# 6. ROUND(x, <non-literal digits>): DuckDB has no ROUND(DOUBLE, BIGINT)
def test_trap_round_with_computed_digits_does_not_bind():
    with pytest.raises(duckdb.BinderException):
        run("SELECT ROUND(x, CAST(1 - FLOOR(LOG10(x)) AS INT64)) FROM UNNEST([0.000251234]) AS x")


# ... and LOG10 of 0 (or of NaN, infinity) is an error in BigQuery, -inf (NaN) in DuckDB
def test_trap_log10_of_zero_does_not_fail_in_duckdb():
    assert run("SELECT LOG10(CAST(0 AS FLOAT64))") == [(float("-inf"),)]  # BigQuery: error


def test_remedy_int_digits_and_a_guard_give_two_significant_figures():
    # INT is BigQuery's INT64 and DuckDB's 32-bit INT, which ROUND(DOUBLE, INT) takes; the guard keeps
    # LOG10 and the cast away from 0, NaN and infinity (sm_index.min_PixelSpacing_2sf)
    sql = ("SELECT CASE WHEN x = 0 THEN 0 WHEN ABS(x) > 1e-300 AND ABS(x) < 1e300 "
           "THEN ROUND(x, CAST(2 - 1 - FLOOR(LOG10(ABS(x))) AS INT)) ELSE x END "
           "FROM UNNEST([CAST(0.000251234 AS FLOAT64), 0.0049, 12.34, -0.000487, 0, CAST('inf' AS FLOAT64)]) AS x")
    assert [r[0] for r in run(sql)] == [0.00025, 0.0049, 12.0, -0.00049, 0.0, float("inf")]
    assert "ROUND(s.min_spacing, CAST(2 - 1 - FLOOR(LOG10(ABS(s.min_spacing))) AS INT))" in ALL_SQL["sm_index"]


def test_every_query_transpiles_to_a_single_duckdb_statement():
    datasets = sqlfile.Datasets.for_release(25, prior=(23, 24))
    for name, sql in ALL_SQL.items():
        out = transpile_to_duckdb(sqlfile.render(sql, datasets))
        assert '"bigquery-public-data"."idc_v25"' in out or name == "clinical_index", name


# 6. Errors that BigQuery raises at run time and DuckDB does not: a release build would stop on one row.
def test_no_query_indexes_an_array_without_safe_offset_or_calls_error():
    for name, sql in ALL_SQL.items():
        code = code_of(sql)
        assert not re.search(r"\[\s*(OFFSET|ORDINAL)\s*\(", code, re.IGNORECASE), f"{name}: use [SAFE_OFFSET(i)]"
        assert not re.search(r"\bERROR\s*\(", code, re.IGNORECASE), f"{name}: ERROR() stops the whole job"


def test_trap_division_by_zero_is_not_an_error_in_duckdb():
    # BigQuery: "division by zero: 1 / 0"; the queries divide with SAFE_DIVIDE
    assert run("SELECT 1.0 / 0.0") in ([(None,)], [(float("inf"),)])


# 7. A decimal string cast to an integer: BigQuery's SAFE_CAST('20.0' AS INT64) is NULL, DuckDB's is 20
def test_trap_decimal_string_to_integer_succeeds_in_duckdb():
    assert run("SELECT SAFE_CAST('20.0' AS INT64)") == [(20,)]  # BigQuery: NULL


def test_remedy_a_decimal_string_is_read_as_a_number_first():
    assert run("SELECT SAFE_CAST(SAFE_CAST('20.0' AS FLOAT64) AS INT64)") == [(20,)]
    assert "SAFE_CAST(OpticalPathSequence[SAFE_OFFSET(0)].ObjectiveLensPower AS FLOAT64)" in ALL_SQL["sm_index"]
