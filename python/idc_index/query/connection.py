"""A DuckDB-shaped connection over the client's engine, for code written for idc-index 0.13.

idc-index 0.13 kept a DuckDB connection in ``client._duckdb_conn``, and tools reached for it to
bind parameters (``execute(sql, params).df()``) and to join their own DataFrames
(``register(name, df)``). :class:`Connection` is the part of DuckDB's connection that such code
uses, answered by this client: the same tables, the same SQL dialect as :meth:`IDCClient.sql`,
values bound as values. Anything else a DuckDB connection has is refused with an error that
says what to use instead.

Example:
    >>> con = client._duckdb_conn
    >>> con.execute("SELECT * FROM index WHERE collection_id ILIKE ?", ["nlst"]).df()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from idc_index.errors import SQLError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from typing_extensions import Self

    from idc_index.query.result import QueryResult
    from idc_index.query.sql import Params


class _Client(Protocol):
    """What the connection uses of :class:`~idc_index.IDCClient`."""

    def sql(self, sql: str, params: Params = None) -> QueryResult: ...
    def register_table(self, name: str, data: Any) -> None: ...
    def unregister_table(self, name: str) -> None: ...


class Connection:
    """DuckDB's ``execute`` / ``sql`` / ``register`` / ``df`` / ``fetchall`` over an
    :class:`~idc_index.IDCClient`.

    ``execute`` runs the query at once and returns the connection, whose ``fetch*`` methods
    read its rows, as DuckDB's do; ``sql`` and ``query`` return the result itself, which has
    ``df()``, ``fetchall()`` and ``arrow()`` too.
    """

    def __init__(self, client: _Client) -> None:
        self._client = client
        self._result: Result | None = None

    def __repr__(self) -> str:
        return "<idc_index DuckDB-compatible connection (client._duckdb_conn)>"

    def execute(self, query: str, parameters: Params = None) -> Connection:
        """Run ``query`` with ``parameters`` bound to its ``?``, ``$1`` or ``$name``."""
        self._result = self.sql(query, parameters)
        return self

    def sql(self, query: str, params: Params = None) -> Result:
        """The rows of ``query`` with ``params`` bound."""
        return Result(self._client.sql(query, params))

    query = sql

    def register(self, view_name: str, python_object: Any) -> Connection:
        """Make a DataFrame (pandas, polars, pyarrow) queryable as ``view_name``
        (:meth:`IDCClient.register_table`)."""
        self._client.register_table(view_name, python_object)
        return self

    def unregister(self, view_name: str) -> Connection:
        """Forget a table made by :meth:`register`."""
        self._client.unregister_table(view_name)
        return self

    def cursor(self) -> Connection:
        """A connection of its own over the same client (its results are its own)."""
        return Connection(self._client)

    def close(self) -> None:
        """Nothing to release: the engine belongs to the client."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _current(self) -> Result:
        if self._result is None:
            raise SQLError("no query has been run on this connection; call execute(sql, params) first")
        return self._result

    # DuckDB's result methods on the connection read the last executed query.
    def df(self) -> pd.DataFrame:
        """The rows of the last ``execute`` as a pandas DataFrame."""
        return self._current().df()

    fetchdf = fetch_df = df

    def arrow(self) -> pa.Table:
        """The rows of the last ``execute`` as a pyarrow Table."""
        return self._current().arrow()

    fetch_arrow_table = arrow

    def pl(self) -> Any:
        """The rows of the last ``execute`` as a polars DataFrame."""
        return self._current().pl()

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows of the last ``execute`` not fetched yet, as tuples."""
        return self._current().fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row of the last ``execute``, or None after the last."""
        return self._current().fetchone()

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """The next ``size`` rows of the last ``execute``."""
        return self._current().fetchmany(size)

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        """Per column of the last ``execute``: (name, type, None, None, None, None, None)."""
        return None if self._result is None else self._result.description

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"client._duckdb_conn.{name} is not available: idc-index no longer runs on DuckDB. The "
            "connection offers execute(sql, params), sql(), register(), unregister(), df(), "
            "fetchall(), fetchone(), arrow() and pl(); use client.sql(sql, params) directly, or hand "
            "its result to DuckDB (duckdb.sql('SELECT ... FROM result'))."
        )


class Result:
    """The rows of one query, with DuckDB's result methods."""

    def __init__(self, result: QueryResult) -> None:
        self._result = result
        self._rows: Iterator[tuple[Any, ...]] | None = None

    def __repr__(self) -> str:
        return repr(self._result)

    def _repr_html_(self) -> str:
        return self._result._repr_html_()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._result.__arrow_c_stream__(requested_schema)

    def df(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame."""
        return self._result.to_pandas()

    fetchdf = fetch_df = to_df = df

    def arrow(self) -> pa.Table:
        """The rows as a pyarrow Table."""
        return self._result.to_arrow()

    fetch_arrow_table = to_arrow_table = arrow

    def pl(self) -> Any:
        """The rows as a polars DataFrame."""
        import polars as pl

        return pl.DataFrame(self._result)

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return self._result.column_names

    @property
    def description(self) -> list[tuple[Any, ...]]:
        """Per column: (name, type, None, None, None, None, None), as DB-API describes it."""
        schema = self._result.to_arrow().schema
        return [(f.name, str(f.type), None, None, None, None, None) for f in schema]

    def _cursor(self) -> Iterator[tuple[Any, ...]]:
        if self._rows is None:
            table = self._result.to_arrow()
            columns = [column.to_pylist() for column in table.columns]
            self._rows = iter(zip(*columns)) if columns else iter(())
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows not fetched yet, as tuples."""
        return list(self._cursor())

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None after the last."""
        return next(self._cursor(), None)

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """The next ``size`` rows."""
        rows = self._cursor()
        return [row for _, row in zip(range(size), rows)]


__all__ = ["Connection", "Result"]
