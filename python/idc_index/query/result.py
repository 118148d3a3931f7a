"""Query results: Arrow-native, converted only when asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from idc_index import _core


#: Results with more rows than this are converted to pandas on several threads.
_THREADED_ROWS = 10_000


class QueryResult:
    """The rows of :meth:`IDCClient.sql`.

    It implements the Arrow PyCapsule stream protocol (``__arrow_c_stream__``), so
    ``pyarrow.table(r)``, ``polars.DataFrame(r)`` and ``duckdb.sql("SELECT * FROM r")`` take it.
    The rows cross from the native core through the Arrow C stream interface, without a copy;
    every consumer shares the same buffers.

    Examples:
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
        if self._table is not None:
            # pyarrow-stubs leave Table.__arrow_c_stream__ unannotated
            return self._table.__arrow_c_stream__(requested_schema)  # type: ignore[no-untyped-call]
        return self._core.__arrow_c_stream__(requested_schema)

    def to_arrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` (built once, then shared)."""
        if self._table is None:
            import pyarrow as pa

            self._table = pa.RecordBatchReader.from_stream(self._core).read_all()
        return self._table

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a ``pandas.DataFrame``."""
        import pyarrow as pa

        table = self.to_arrow()
        # pyarrow converts string views inside lists and structs to pandas only as plain
        # strings; top-level views convert as they are.
        if any(pa.types.is_nested(f.type) for f in table.schema):
            wanted = [_without_nested_views(f.type, top=True) for f in table.schema]
            if any(w != f.type for w, f in zip(wanted, table.schema)):
                table = table.cast(pa.schema([f.with_type(w) for f, w in zip(table.schema, wanted)]))
        # Threads pay off for large results only; a lookup's few rows convert faster without.
        return table.to_pandas(use_threads=table.num_rows > _THREADED_ROWS)

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as a list of dicts, without importing pyarrow."""
        return self._core.to_pylist()

    def column(self, name: str) -> list[Any]:
        """One column as a list of Python values."""
        return self._core.column(name)


def _without_nested_views(t: pa.DataType, top: bool = False) -> pa.DataType:
    """``t`` with every string/binary view below the top level as a large string/binary."""
    import pyarrow as pa

    if pa.types.is_string_view(t):
        return t if top else pa.large_string()
    if pa.types.is_binary_view(t):
        return t if top else pa.large_binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        item = t.value_field
        new = item.with_type(_without_nested_views(item.type))
        return pa.large_list(new) if pa.types.is_large_list(t) else pa.list_(new)
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_without_nested_views(t.field(i).type)) for i in range(t.num_fields)])
    return t
