"""Query result -> parquet laid out for the client's lookups.

* the result is cast to the index's declared schema (strict: only lossless, same-kind casts);
* NULL arrays become empty arrays, as BigQuery returns them (DuckDB keeps NULL);
* rows sorted by collection, patient, study, series (where present), so min/max statistics prune;
* zstd, row groups of ``spec.row_group_size`` rows, statistics, page index, bloom filters on the
  UID columns; the release and builder version in the key-value metadata.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from index_builder import BUILDER_NAME, __version__
from index_builder.errors import SchemaError
from index_builder.indices import IndexSpec

ZSTD_LEVEL = 9
BLOOM_FPP = 0.01


def _kind(t: pa.DataType) -> str:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return "list"
    if pa.types.is_struct(t):
        return "struct"
    return str(t)


def compatible(got: pa.DataType, want: pa.DataType) -> bool:
    """Whether a result column of type ``got`` may be cast to the declared ``want`` without
    changing its meaning (string widths, integer widths, int/decimal -> double, NULL -> anything)."""
    g, w = _kind(got), _kind(want)
    if g == "null":
        return True
    if w == "float":
        return g in ("float", "int")
    if g != w:
        return False
    if w == "list":
        return compatible(got.value_type, want.value_type)
    if w == "struct":
        if [f.name for f in got] != [f.name for f in want]:
            return False
        return all(compatible(got.field(i).type, want.field(i).type) for i in range(want.num_fields))
    return True


def conform(table: pa.Table, spec: IndexSpec) -> pa.Table:
    """Cast a query result to the declared schema, or say exactly how it differs."""
    got, want = table.schema.names, spec.schema.names
    if got != want:
        missing = [c for c in want if c not in got]
        extra = [c for c in got if c not in want]
        detail = f"missing {missing}, unexpected {extra}" if (missing or extra) else "same columns, different order"
        raise SchemaError(
            f"{spec.name}: the query returns {len(got)} columns, the declared schema has {len(want)} "
            f"({detail}); fix queries/{spec.name}.sql or the schema in indices.py"
        )
    columns = []
    for name, field in zip(want, spec.schema):
        col = table.column(name)
        if not compatible(col.type, field.type):
            raise SchemaError(
                f"{spec.name}.{name}: the query returns {col.type}, declared {field.type}; "
                f"cast it in queries/{spec.name}.sql"
            )
        col = col.cast(field.type)
        if pa.types.is_list(field.type) and col.null_count:
            col = pc.fill_null(col, pa.scalar([], type=field.type))
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=spec.schema)


def sort(table: pa.Table, spec: IndexSpec) -> pa.Table:
    """Rows in the order of the index's sort keys, then of every other column that is not nested:
    a query's row order is not defined (BigQuery and a multi-threaded DuckDB vary it), so ties are
    broken by content, and the same result always gives the same file."""
    if table.num_rows == 0:
        return table
    keys = list(spec.sort_keys)
    keys += [f.name for f in table.schema if f.name not in keys and not pa.types.is_nested(f.type)]
    if not keys:
        return table
    return table.sort_by([(k, "ascending", "at_start") for k in keys])


def file_metadata(spec: IndexSpec, idc_version: int, release: str) -> dict[str, str]:
    return {
        "idc_index.index": spec.name,
        "idc_index.idc_version": str(idc_version),
        "idc_index.release": release,
        "idc_index.builder": f"{BUILDER_NAME} {__version__}",
        "idc_index.sort_keys": ",".join(spec.sort_keys),
    }


def write_index(
    table: pa.Table,
    spec: IndexSpec,
    path: Path,
    idc_version: int,
    release: str,
    row_group_size: int | None = None,
    bloom: bool = True,
) -> Path:
    """Write one index (already conformed) with the release layout; returns the path."""
    rg = row_group_size or spec.row_group_size
    table = sort(table, spec).replace_schema_metadata(file_metadata(spec, idc_version, release))
    ndv = max(1, min(rg, table.num_rows))
    sorting = (
        pq.SortingColumn.from_ordering(table.schema, [(k, "ascending") for k in spec.sort_keys], null_placement="at_start")
        if spec.sort_keys else None
    )
    pq.write_table(
        table,
        path,
        row_group_size=rg,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        write_statistics=True,
        write_page_index=True,
        # A CRC per page, which the client checks as it reads: bytes changed on disk in a way
        # that still decodes (a failing disk, a bad copy) are an error there, not wrong values.
        write_page_checksum=True,
        sorting_columns=sorting,
        bloom_filter_options={c: {"ndv": ndv, "fpp": BLOOM_FPP} for c in spec.bloom_columns} if bloom else None,
        store_schema=True,
    )
    return path
