"""Query results: Arrow-native, converted only when asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from . import _core


class QueryResult:
    """The rows of :meth:`IDCClient.sql`.

    It implements the Arrow PyCapsule stream protocol (``__arrow_c_stream__``), so
    ``pyarrow.table(r)``, ``polars.DataFrame(r)`` and ``duckdb.sql("SELECT * FROM r")`` take it.
    The rows cross from the native core into pyarrow once (as an Arrow IPC stream); from there
    every consumer shares the same buffers.

    Example:
        >>> r = client.sql("SELECT collection_id, COUNT(*) AS n FROM index GROUP BY 1")
        >>> r.num_rows, r.column_names
        (179, ['collection_id', 'n'])
        >>> df = r.to_pandas()
    """

    def __init__(self, core: _core.QueryResult) -> None:
        self._core = core
        self._table: pa.Table | None = None

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return self._core.num_rows

    @property
    def column_names(self) -> list[str]:
        """Column names, in order."""
        return self._core.column_names

    def __len__(self) -> int:
        return self._core.num_rows

    def __repr__(self) -> str:
        return f"QueryResult({self.num_rows} rows; columns: {', '.join(self.column_names)})"

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def to_arrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` (built once, then shared)."""
        if self._table is None:
            import pyarrow as pa

            self._table = pa.ipc.open_stream(self._core.to_ipc()).read_all()
        return self._table

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a ``pandas.DataFrame``."""
        return self.to_arrow().to_pandas()

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as a list of dicts, without importing pyarrow."""
        return self._core.to_pylist()

    def column(self, name: str) -> list[Any]:
        """One column as a list of Python values."""
        return self._core.column(name)
