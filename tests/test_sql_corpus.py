"""Each query of the published corpus (tests/sql_corpus.py) answers through ``IDCClient.sql_query``
what DuckDB answers over the same parquet files: the same column names, the same pandas dtypes,
and the same rows (in order when the query orders them all, else as a multiset; a LIMIT without
ORDER BY may select any rows of the unlimited answer)."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pytest
from query_catalog import Query as CatalogQuery
from query_catalog import duckdb_connection, has_limit, table_paths, without_limit
from sql_corpus import QUERIES, Query
from test_query_equivalence import compare, plain


@pytest.fixture(scope="module")
def engines(full_client):
    """Our client with every optional index fetched, and DuckDB with a view over each file it reads."""
    return full_client, duckdb_connection(table_paths(full_client))


def value(cell: Any) -> Any:
    """A cell of a DataFrame as plain Python; pandas' missing values (NA, NaT) as None."""
    if type(cell).__name__ == "ndarray":
        return tuple(value(v) for v in cell.tolist())
    if pd.api.types.is_scalar(cell) and pd.isna(cell):
        return None
    return plain(cell)


def rows_of_frame(frame: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    columns = [frame.iloc[:, i].tolist() for i in range(frame.shape[1])]
    return [str(c) for c in frame.columns], [tuple(value(v) for v in row) for row in zip(*columns)]


def dtypes(frame: pd.DataFrame, sql_types: list[str] | None = None) -> list[str]:
    """The pandas dtype of each column, text as ``str`` whether pandas holds it as its string
    dtype or as objects (DuckDB's ``df()`` gives either), and a column DuckDB types as HUGEINT
    (a SUM of integers, which pandas receives as a float) or INTEGER as ``int64``: ours stays a
    64-bit integer, as the dialect notes say."""
    out = []
    for i, t in enumerate(frame.dtypes):
        column = frame.iloc[:, i]
        if str(t) == "object" and all(isinstance(v, str) or value(v) is None for v in column):
            out.append("str")
        elif sql_types is not None and sql_types[i] == "HUGEINT" and str(t) == "float64":
            out.append("int64")
        elif sql_types is not None and sql_types[i] == "INTEGER" and str(t) == "int32":
            # An integer literal (SELECT 1) is a 32-bit INTEGER in DuckDB and 64-bit here.
            out.append("int64")
        else:
            out.append(str(t))
    return out


def without_nullability(types: list[str]) -> list[str]:
    """pandas' nullable integer and boolean dtypes as their plain forms."""
    return [{"Int64": "int64", "boolean": "bool"}.get(t, t) for t in types]


def as_catalog_entry(query: Query) -> CatalogQuery:
    """How :func:`test_query_equivalence.compare` is to compare the answers of ``query``."""
    return CatalogQuery(
        query.sql,
        ordered_by=(query.ordered_by or ("*",)) if query.ordered else (),
        sample=has_limit(query.sql) and not query.ordered,
        unordered_lists=query.unordered_lists,
    )


def _cases() -> list:
    return [pytest.param(q, id=f"{i:03d}-{q.source.split(':')[0].split('/')[1]}") for i, q in enumerate(QUERIES)]


@pytest.mark.parametrize("query", _cases())
def test_answer_equals_duckdb(engines, query: Query) -> None:
    client, duck = engines
    for name in query.needs:
        assert name in client._engine.table_names(), f"{name} was not fetched"
    try:
        relation = duck.sql(query.sql)
        theirs, sql_types = relation.df(), [str(t) for t in relation.types]
    except duckdb.Error as error:
        pytest.skip(f"DuckDB cannot answer it either: {type(error).__name__}: {str(error).splitlines()[0]}")
    ours = client.sql_query(query.sql)
    assert list(map(str, ours.columns)) == list(map(str, theirs.columns))
    entry = as_catalog_entry(query)
    ours_types, their_types = dtypes(ours), dtypes(theirs, sql_types)
    if entry.sample:
        # Rows picked by a LIMIT without ORDER BY may differ, and with them whether a NULL is
        # among them (pandas' nullable Int64 or plain int64, as DuckDB's df() picks too).
        ours_types, their_types = map(without_nullability, (ours_types, their_types))
    assert ours_types == their_types, f"dtypes of {list(theirs.columns)}"
    unlimited = rows_of_frame(duck.sql(without_limit(query.sql)).df())[1] if entry.sample else None
    compare(entry, rows_of_frame(ours), rows_of_frame(theirs), unlimited)
