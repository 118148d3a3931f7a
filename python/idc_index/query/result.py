"""Query results: Arrow-native, converted only when asked.

A result shows its first rows (``repr``, and an HTML table in notebooks), read from the
Arrow batches: at most :data:`PREVIEW_ROWS` rows and a bounded number of columns, each value
clipped, whatever the size of the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idc_index._display import rows_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from idc_index import _core


#: Results with more rows than this are converted to pandas on several threads.
_THREADED_ROWS = 10_000
#: The rows a preview shows (``repr`` and the notebook table).
PREVIEW_ROWS = 10
#: The columns a preview shows at most: the first and the last ones, "…" between them.
TEXT_COLUMNS = 6
HTML_COLUMNS = 20


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
        """The shape and the first :data:`PREVIEW_ROWS` rows, as a text table (values clipped,
        at most :data:`TEXT_COLUMNS` columns)."""
        header, rows = self._preview(TEXT_COLUMNS)
        lines = [f"QueryResult: {self._shape()}", *(text_table(header, rows) if header else [])]
        if self.num_rows > len(rows):
            lines.append(f"… {self.num_rows - len(rows)} more rows (to_arrow(), to_pandas() for all)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """An HTML table of the first :data:`PREVIEW_ROWS` rows (at most :data:`HTML_COLUMNS`
        columns), with the number of rows; every value escaped."""
        header, rows = self._preview(HTML_COLUMNS)
        note = self._shape()
        if self.num_rows > len(rows):
            note += f"; the first {len(rows)} shown"
        return rows_table(header, rows, note=note)

    def _shape(self) -> str:
        n, m = self.num_rows, len(self.column_names)
        return f"{n} row{'' if n == 1 else 's'} × {m} column{'' if m == 1 else 's'}"

    def _preview(self, max_columns: int) -> tuple[list[str], list[list[Any]]]:
        """The header and the first rows of the preview; the middle columns of a wide result
        are one column "…"."""
        names = self.column_names
        head = self._head(PREVIEW_ROWS)
        if len(names) <= max_columns:
            picked = list(range(len(names)))
        else:
            first = (max_columns + 1) // 2
            picked = [*range(first), -1, *range(len(names) - (max_columns - first), len(names))]
        columns = [head.column(i).to_pylist() if i >= 0 else ["…"] * head.num_rows for i in picked]
        header = [names[i] if i >= 0 else "…" for i in picked]
        return header, [list(row) for row in zip(*columns)] if columns else []

    def _head(self, n: int) -> pa.Table:
        """The first ``n`` rows, read from the first Arrow batches (not the whole result)."""
        import pyarrow as pa

        if self._table is not None:
            return self._table.slice(0, n)
        reader = pa.RecordBatchReader.from_stream(self._core)
        batches, rows = [], 0
        while rows < n:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch.slice(0, n - rows))
            rows += batches[-1].num_rows
        return pa.Table.from_batches(batches, schema=reader.schema)

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
        # Dates and timestamps become datetime64[us], as DuckDB's df() gives them (pyarrow would
        # make dates objects, and keep a timestamp's own unit).
        wanted = [_without_nested_views(f.type, top=True) for f in table.schema]
        wanted = [_as_duckdb_time(t) for t in wanted]
        if any(w != f.type for w, f in zip(wanted, table.schema)):
            table = table.cast(pa.schema([f.with_type(w) for f, w in zip(table.schema, wanted)]), safe=False)
        # Threads pay off for large results only; a lookup's few rows convert faster without.
        df = table.to_pandas(use_threads=table.num_rows > _THREADED_ROWS)
        # Integers and booleans with NULLs become pandas' nullable types, as DuckDB's df() gives
        # them (pyarrow would make integers floats and booleans objects).
        for i, column in enumerate(table.columns):
            if column.null_count and (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)):
                df.isetitem(i, column.to_pandas(types_mapper=_nullable_dtype).array)
        return df

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as a list of dicts, without importing pyarrow."""
        return self._core.to_pylist()

    def column(self, name: str) -> list[Any]:
        """One column as a list of Python values."""
        return self._core.column(name)


def _as_duckdb_time(t: pa.DataType) -> pa.DataType:
    """A top-level date or timestamp type as the microsecond timestamp DuckDB gives pandas."""
    import pyarrow as pa

    if pa.types.is_date(t):
        return pa.timestamp("us")
    if pa.types.is_timestamp(t) and t.unit != "us":
        return pa.timestamp("us", tz=t.tz)
    return t


def _nullable_dtype(t: pa.DataType) -> Any:
    """pandas' nullable dtype of an Arrow integer or boolean type (``Int64``, ``boolean``)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return pd.api.types.pandas_dtype(str(t).replace("int", "Int").replace("uInt", "UInt"))


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
