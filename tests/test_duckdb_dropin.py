"""What code written for idc-index 0.13's DuckDB relies on: bound parameters, DuckDB's column
names and pandas dtypes, the same rows on every run, and ``client._duckdb_conn``.

Each answer is checked against DuckDB over the same files (``query_catalog.duckdb_connection``).
"""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from idc_index import SQLError
from idc_index.cli import idc
from idc_index.query.connection import Connection
from query_catalog import duckdb_connection, table_paths


@pytest.fixture(scope="module")
def duck(client):
    return duckdb_connection(table_paths(client))


def _answer(con, sql, params=None):
    return con.execute(sql, params).df() if params is not None else con.execute(sql).df()


# -- parameters ----------------------------------------------------------------------------------
PARAMETERISED = [
    ("SELECT DISTINCT PatientID FROM index WHERE collection_id ILIKE ? AND Modality ILIKE ? ORDER BY 1",
     ["RIDER_PILOT", "ct"]),
    ("SELECT COUNT(*) AS n FROM index WHERE StudyDate >= ? AND StudyDate <= ?", ["2001-01-01", "2001-12-31"]),
    ("SELECT COUNT(*) AS n FROM index WHERE CAST(StudyDate AS DATE) >= ?", [datetime.date(2010, 1, 1)]),
    (("SELECT PatientID FROM index WHERE collection_id = $1 GROUP BY PatientID "
      "HAVING COUNT(DISTINCT StudyInstanceUID) >= $2 ORDER BY 1"), ("rider_pilot", 2)),
    (("SELECT collection_id, COUNT(*) AS n FROM index WHERE collection_id IN ($a, $b) AND instanceCount > $min "
      "GROUP BY 1 ORDER BY 1"), {"a": "rider_pilot", "b": "nlst", "min": 100}),
    ("SELECT ? AS text, ? AS number, ? AS ratio, ? AS flag, ? AS nothing", ["it's", 3, 0.5, True, None]),
]


@pytest.mark.parametrize("sql, params", PARAMETERISED)
def test_parameters_bind_as_duckdb_binds_them(client, duck, sql, params) -> None:
    ours = client.sql_query(sql, params)
    theirs = _answer(duck, sql, params)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    assert len(theirs)


def test_a_list_after_in_binds_its_elements(client, duck) -> None:
    uids = duck.execute("SELECT SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' ORDER BY 1 LIMIT 3").df()
    wanted = uids["SeriesInstanceUID"].tolist()
    ours = client.sql_query("SELECT SeriesInstanceUID FROM index WHERE SeriesInstanceUID IN ? ORDER BY 1", [wanted])
    assert ours["SeriesInstanceUID"].tolist() == wanted
    named = client.sql_query("SELECT COUNT(*) AS n FROM index WHERE SeriesInstanceUID NOT IN $uids", {"uids": wanted})
    assert named["n"][0] == duck.execute("SELECT COUNT(*) FROM index").fetchone()[0] - 3
    assert client.sql_query("SELECT COUNT(*) AS n FROM index WHERE SeriesInstanceUID IN ?", [[]])["n"][0] == 0


def test_a_value_is_never_sql(client) -> None:
    hostile = "x' OR '1'='1"
    assert client.sql_query("SELECT COUNT(*) AS n FROM index WHERE collection_id = ?", [hostile])["n"][0] == 0
    assert client.sql("SELECT $v AS v", {"v": hostile}).column("v") == [hostile]


@pytest.mark.parametrize("sql, params, message", [
    ("SELECT ?, ?", ["a"], "placeholder ? number 2 has no value"),
    ("SELECT ?", ["a", "b"], "1 ? placeholder(s) and 2 values"),
    ("SELECT $1", ["a", "b"], "values were given for $2"),
    ("SELECT $uid", {"id": "1"}, "placeholder $uid has no value: values were given for $id"),
    ("SELECT ?, $1", ["a"], "mixes placeholder styles"),
    ("SELECT ?", None, "no values were given"),
])
def test_a_wrong_count_names_the_placeholder(client, sql, params, message) -> None:
    with pytest.raises(SQLError, match=message.replace("$", r"\$").replace("?", r"\?").replace("(", r"\(")
                       .replace(")", r"\)")):
        client.sql(sql, params)


@pytest.mark.parametrize("params, message", [
    ("rider_pilot", "params must be a list or tuple"),
    ([{1, 2}], "value 1 .* a set cannot be bound"),
    ([["a", 1]], "mixes"),
    ({1: "a"}, "keys are placeholder names"),
])
def test_a_value_that_cannot_be_bound_is_a_type_error(client, params, message) -> None:
    with pytest.raises(TypeError, match=message):
        client.sql("SELECT ? AS v", params)


def test_the_command_line_binds_named_values() -> None:
    result = CliRunner().invoke(idc, ["sql", "SELECT COUNT(*) AS n FROM index WHERE collection_id = $c",
                                      "--param", "c=rider_pilot", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] != "0"
    bad = CliRunner().invoke(idc, ["sql", "SELECT 1", "--param", "novalue"])
    assert bad.exit_code == 2 and "is not NAME=VALUE" in bad.output


# -- DuckDB's column names and dtypes --------------------------------------------------------------
EXPRESSIONS = [
    "COUNT(*)", "count(1)", "COUNT(DISTINCT PatientID)", "SUM(series_size_MB)", "min(i.StudyDate)", "1", "'a'",
    "2.5", "NULL", "TRUE", "instanceCount + 1", "-instanceCount", "CAST(instanceCount AS VARCHAR)",
    "instanceCount::DOUBLE", "COUNT(*) > 1", "ROUND(SUM(series_size_MB)/1000, 2)", "STRING_AGG(DISTINCT Modality)",
    "STRING_AGG(Modality, ';')", "LIST(DISTINCT Modality)", "Modality LIKE 'C%'", "Modality ILIKE 'c%'", "Modality NOT LIKE 'C%'",
    "Modality NOT ILIKE 'c%'",
    "CASE WHEN Modality='CT' THEN 1 ELSE 0 END", "COALESCE(Modality,'x')", "Modality IN ('CT','MR')",
    "Modality NOT IN ('CT')", "NOT (Modality = 'CT')", "count(*) FILTER (WHERE Modality='CT')", "Modality || 'x'",
    "instanceCount % 2", "Modality <> 'CT'", "Modality IS NOT NULL", "instanceCount BETWEEN 1 AND 2",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_an_unaliased_expression_is_named_as_duckdb_names_it(client, duck, expression) -> None:
    sql = f"SELECT {expression} FROM index i WHERE collection_id = 'rider_pilot'"
    assert client.sql(sql).column_names == [d[0] for d in duck.execute(sql).description]


def test_names_survive_order_by_having_and_union(client, duck) -> None:
    for sql in ("SELECT Modality, COUNT(*) FROM index GROUP BY Modality HAVING COUNT(*) > 1000 ORDER BY COUNT(*) DESC",
                "SELECT COUNT(*) FROM index UNION ALL SELECT 5 ORDER BY 1"):
        pd.testing.assert_frame_equal(client.sql_query(sql), duck.execute(sql).df(), check_dtype=False)


def test_integers_and_booleans_with_nulls_keep_their_kind_in_pandas(client, duck) -> None:
    sql = ("SELECT CASE WHEN Modality = 'CT' THEN instanceCount END AS n, "
           "CAST(CASE WHEN Modality = 'CT' THEN 1 END AS TINYINT) AS t, Modality = 'CT' OR NULL AS b, "
           "instanceCount FROM index WHERE collection_id = 'rider_pilot' ORDER BY SeriesInstanceUID")
    ours, theirs = client.sql_query(sql), duck.execute(sql).df()
    assert dict(ours.dtypes) == dict(theirs.dtypes)
    assert str(ours["n"].dtype) == "Int64" and str(ours["instanceCount"].dtype) == "int64"
    pd.testing.assert_frame_equal(ours, theirs)


# -- the same rows on every run --------------------------------------------------------------------
@pytest.mark.parametrize("sql", [
    "SELECT SeriesInstanceUID FROM index WHERE Modality = 'CT' LIMIT 10",
    "SELECT SeriesInstanceUID FROM index LIMIT 5 OFFSET 700000",
    "SELECT SeriesInstanceUID, Modality FROM index WHERE collection_id LIKE 'tcga%'",
])
@pytest.mark.parametrize("layout", ["client", "plain_client"])
def test_a_query_without_order_by_returns_the_rows_of_the_files_in_their_order(request, layout, sql) -> None:
    """Each answer is the first rows of the file that match, as DuckDB reads it in one thread."""
    ours = request.getfixturevalue(layout)
    path = table_paths(ours)["index"]
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(f"CREATE VIEW index AS SELECT * FROM read_parquet('{path}')")
    expected = con.execute(sql).fetchall()
    for _ in range(5):
        answer = ours.sql(sql)
        assert list(zip(*(answer.column(n) for n in answer.column_names))) == expected


# -- client._duckdb_conn -----------------------------------------------------------------------------
def test_the_private_connection_of_0_13_answers_duckdbs_calls(client, duck) -> None:
    con = client._duckdb_conn
    sql = "SELECT Modality, COUNT(*) AS n FROM index WHERE collection_id = ? GROUP BY 1 ORDER BY 1"
    pd.testing.assert_frame_equal(con.execute(sql, ["rider_pilot"]).df(), duck.execute(sql, ["rider_pilot"]).df(),
                                  check_dtype=False)
    assert con.execute(sql, ["rider_pilot"]).fetchall() == duck.execute(sql, ["rider_pilot"]).fetchall()
    con.execute(sql, ["rider_pilot"])
    first, rest = con.fetchone(), con.fetchall()
    assert [first, *rest] == duck.execute(sql, ["rider_pilot"]).fetchall()
    assert con.fetchone() is None
    assert [d[0] for d in con.description] == ["Modality", "n"]
    assert con.sql("SELECT 1").fetchall() == [(1,)]


def test_a_dataframe_registered_on_the_connection_joins_the_index(client) -> None:
    con = client._duckdb_conn
    uid = client.sql("SELECT SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' LIMIT 1").column(
        "SeriesInstanceUID")[0]
    con.register("labels", pd.DataFrame({"SeriesInstanceUID": [uid], "label": ["nodule"]}))
    try:
        joined = con.execute("SELECT l.label, i.collection_id FROM labels l JOIN index i USING (SeriesInstanceUID)").df()
        assert joined.values.tolist() == [["nodule", "rider_pilot"]]
    finally:
        con.unregister("labels")
    assert "labels" not in client._engine.user_table_names()


def test_what_the_connection_does_not_have_says_what_to_use(client) -> None:
    with pytest.raises(AttributeError, match="no longer runs on DuckDB.*client.sql"):
        client._duckdb_conn.install_extension("httpfs")
    with pytest.raises(SQLError, match="call execute"):
        Connection(client).df()


# -- DuckDB's idioms, DESCRIBE and SHOW TABLES ---------------------------------------------------------
IDIOMS = [
    "SELECT arg_max(SeriesInstanceUID, series_size_MB), arg_min(SeriesInstanceUID, series_size_MB) FROM index",
    ("SELECT collection_id, max_by(SeriesInstanceUID, series_size_MB), min_by(SeriesInstanceUID, series_size_MB) FROM index "
    "WHERE collection_id LIKE 'tcga%' GROUP BY ALL ORDER BY ALL"),
    "SELECT count_if(Modality = 'CT'), count_if(instanceCount > 100) FROM index",
    "SELECT DISTINCT Modality FROM index ORDER BY ALL",
    "SELECT Modality, COUNT(*) AS n FROM index GROUP BY ALL ORDER BY ALL DESC",
    ("SELECT strftime(CAST(StudyDate AS DATE), '%Y') AS y, COUNT(*) AS n FROM index WHERE StudyDate IS NOT NULL "
    "GROUP BY 1 ORDER BY 1"),
    "SELECT strptime('2020-01-02', '%Y-%m-%d') AS t",
    "SELECT first(Modality) AS f FROM index WHERE collection_id = 'rider_pilot' AND Modality = 'CT'",
    "SELECT list_value(1, 2) AS l, struct_extract({'a': 1}, 'a') AS v",
    "SELECT collection_id, list_transform(sources, x -> x['source_doi']) AS dois FROM collections_index ORDER BY 1",
    # a struct field of a lambda's parameter as DuckDB writes it, and DuckDB 1.3's lambda syntax
    "SELECT collection_id, list_transform(sources, x -> x.source_doi) AS dois FROM collections_index ORDER BY 1",
    ("SELECT collection_id, list_transform(list_filter(sources, lambda s: s.license.license_short_name LIKE 'CC%'), "
     "lambda s: s.source_doi) AS dois FROM collections_index ORDER BY 1"),
    # a lateral UNNEST in FROM, with or without the table's alias, through the alias or the column
    ("SELECT t.collection_id, u.s['source_doi'] AS doi FROM collections_index t, UNNEST(t.sources) AS u(s) "
     "ORDER BY 1, 2"),
    ("SELECT collection_id, s.license.license_short_name AS license, COUNT(*) AS n FROM collections_index "
     "CROSS JOIN UNNEST(collections_index.sources) AS u(s) GROUP BY ALL ORDER BY ALL"),
    # unnested rows of a keyed index: the key no longer determines the row (sorted and grouped by both)
    ("SELECT collection_id, s['source_doi'] AS doi FROM (SELECT collection_id, unnest(sources) AS s "
     "FROM collections_index) ORDER BY collection_id, doi"),
    ("SELECT COUNT(*) AS n FROM (SELECT collection_id, doi, COUNT(*) FROM (SELECT collection_id, "
     "unnest(sources)['source_doi'] AS doi FROM collections_index) GROUP BY 1, 2)"),
]


@pytest.mark.parametrize("sql", IDIOMS)
def test_a_duckdb_idiom_answers_as_duckdb(client, duck, sql) -> None:
    duck.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    ours, theirs = client.sql_query(sql), duck.execute(sql).df()
    assert list(ours.columns) == list(theirs.columns)
    # count_if is a HUGEINT in DuckDB, a float in pandas: compared as numbers
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


@pytest.mark.parametrize("table", ["index", "collections_index", "prior_versions_index", "version_metadata_index"])
def test_describe_has_duckdbs_columns_and_type_names(client, duck, table) -> None:
    ours, theirs = client.sql_query(f"DESCRIBE {table}"), duck.execute(f"DESCRIBE {table}").df()
    assert list(ours.columns) == list(theirs.columns) == ["column_name", "column_type", "null", "key", "default",
                                                          "extra"]
    assert ours[["column_name", "column_type"]].values.tolist() == theirs[["column_name", "column_type"]].values.tolist()


def test_show_tables_names_the_tables(client, duck) -> None:
    assert client.sql_query("SHOW TABLES")["name"].tolist() == duck.execute("SHOW TABLES").df()["name"].tolist()
    with pytest.raises(SQLError, match="not found. Tables you can query"):
        client.sql("DESCRIBE no_such_table")


#: A call of each function the dialect notes (docs/guide/querying.md) list as working.
FUNCTIONS = [
    ("SELECT variance(x) AS v, stddev(x) AS s, bool_or(x > 1) AS b, bool_and(x > 0) AS a, median(x) AS m, "
    "quantile_cont(x, 0.5) AS q, group_concat(CAST(x AS VARCHAR)) AS g, last(x) AS l FROM (VALUES (1), (2), (4)) t(x)"),
    ("SELECT trim('  a ') AS t, substr('abcdef', 2, 3) AS s, starts_with('abc', 'a') AS st, contains('abc', 'b') AS c, "
    "split_part('a.b', '.', 2) AS sp, lpad('1', 3, '0') AS l, concat_ws('-', 'a', 'b') AS cw, md5('a') AS m"),
    ("SELECT list_filter([1, 2, 3], x -> x > 1) AS f, list_sort([3, 1, 2]) AS s, list_slice([1, 2, 3], 1, 2) AS sl, "
    "array_length([1, 2]) AS al, array_to_string([1, 2], ',') AS ats, cardinality(list_distinct([1, 1, 2])) AS c"),
    ("SELECT year(CAST('2020-05-06' AS DATE)) AS y, quarter(DATE '2020-05-06') AS q, dayofweek(DATE '2020-05-06') AS w, "
    "date_trunc('month', DATE '2020-05-06') AS t, make_date(2020, 1, 2) AS m, "
    "date_part('epoch', TIMESTAMP '2020-01-01 00:00:00') AS e"),
    ("SELECT regexp_replace('abc', 'b', 'x') AS r, regexp_matches('abc', 'b') AS m, string_split('a,b', ',') AS s, "
    "len('abc') AS l, list_contains([1], 1) AS lc, list_distinct([1, 1]) AS ld"),
]


@pytest.mark.parametrize("sql", FUNCTIONS)
def test_the_functions_the_dialect_notes_list_answer_as_duckdb(client, duck, sql) -> None:
    duck.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    ours, theirs = client.sql_query(sql), duck.execute(sql).df()
    assert list(ours.columns) == list(theirs.columns)
    assert [str(v) for v in ours.iloc[0]] == [str(v) for v in theirs.iloc[0]]
    assert _kinds(ours) == _kinds(theirs)


def _kinds(frame: pd.DataFrame) -> list[str]:
    """The kind of each column's dtype: integers of any width alike (len() is a 32-bit integer
    here, a 64-bit one in DuckDB), text whether pandas holds it as str or as objects."""
    kinds = {"i": "integer", "u": "integer", "f": "float", "b": "bool", "M": "datetime", "O": "object"}
    out = []
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_string_dtype(dtype) and all(isinstance(v, str) for v in frame[column].dropna()):
            out.append("text")
        else:
            out.append(kinds.get(dtype.kind, str(dtype)))
    return out


@pytest.mark.parametrize("sql, instead", [
    ("SELECT mode(Modality) FROM index", "GROUP BY x ORDER BY COUNT(*) DESC LIMIT 1"),
    ("SELECT epoch(TIMESTAMP '2020-01-01')", "date_part('epoch', t)"),
    ("SELECT * FROM read_parquet('x.parquet')", "register_table"),
    ("SELECT u.s['source_doi'] FROM collections_index t, UNNEST(t.sources) AS u(s), UNNEST(t.sources) AS v(w)",
     "unnest in a subquery"),
])
def test_duckdb_sql_that_is_not_available_says_what_to_write_instead(client, sql, instead) -> None:
    with pytest.raises(SQLError) as error:
        client.sql(sql)
    assert instead in str(error.value)
