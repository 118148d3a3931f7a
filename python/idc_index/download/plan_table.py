"""The Arrow table of a download plan: one row per item, the value every step of a download passes on.

The selector writes it, the plan measures and splits it, the native downloader reads it; no
step makes a Python object per item unless asked for items (:func:`table_items`).

Example:
    >>> items_table([PlanItem.series("idc-open-data", "0a1b", "c/p")]).column_names  # doctest: +SKIP
    ['bucket', 'prefix', 'key', 'size', 'destination', 'collection_id', 'SeriesInstanceUID', 'SOPInstanceUID']
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from idc_index import _core
from idc_index._arrow import arange, compute, int64s, scalar, strings

if TYPE_CHECKING:
    import pyarrow as pa

#: One unit of a download, one row of a plan table: a series prefix (listed, then fetched into a
#: folder) or one object key (fetched to a file). See :class:`idc_index._core.PlanItem`.
PlanItem = _core.PlanItem

#: The columns of a plan's table: ``bucket``, ``prefix`` (a series, ``<crdc_series_uuid>/``) or
#: ``key`` (one object), ``size`` (bytes, null when not known), ``destination`` (relative to the
#: download directory), ``collection_id``, ``SeriesInstanceUID``, ``SOPInstanceUID``.
PLAN_COLUMNS = ("bucket", "prefix", "key", "size", "destination", "collection_id", "SeriesInstanceUID",
                "SOPInstanceUID")


@functools.cache
def plan_schema() -> pa.Schema:
    """The Arrow schema of :data:`PLAN_COLUMNS` (``size`` int64, the others strings)."""
    import pyarrow as pa

    return pa.schema([(name, pa.int64() if name == "size" else pa.string()) for name in PLAN_COLUMNS])


def items_table(items: Sequence[PlanItem], collections: Sequence[str | None] = ()) -> pa.Table:
    """The plan table of ``items``; ``collections`` gives each item's collection_id (empty: unknown)."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {
        "bucket": [i.bucket for i in items],
        "prefix": [i.prefix for i in items],
        "key": [i.key for i in items],
        "size": [i.size for i in items],
        "destination": [i.destination for i in items],
        "collection_id": list(collections) or [None] * len(items),
        "SeriesInstanceUID": [i.series_instance_uid for i in items],
        "SOPInstanceUID": [i.sop_instance_uid for i in items],
    }
    arrays = {name: int64s(values) if name == "size" else strings(values) for name, values in columns.items()}
    return pa.table(arrays, schema=plan_schema())


def first_rows(rows: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``rows`` without those whose ``keys`` repeat an earlier row's (the first one wins; NULL
    equals NULL).

    Computed with hash lookups on whole columns, not ``Table.group_by``: that one runs in
    pyarrow's query engine (``pyarrow.acero``), whose import imports pandas.
    """
    pc = compute()

    n = rows.num_rows
    if not n or not keys:
        return rows
    first = None  # of each row, the position of the first row with the same keys so far
    for name in keys:
        position = _first_positions(rows[name])
        if first is not None:
            position = _first_positions(pc.add(pc.multiply(first, scalar(n)), position))
        first = position
    keep = pc.equal(first, arange(n))
    if pc.all(keep).as_py():
        return rows
    return rows.filter(keep)


def _first_positions(values: Any) -> Any:
    """Of each value, the position (int64) of its first occurrence in ``values``; NULL equals NULL.

    ``index_in`` looks each value up in ``values`` themselves, where a repeated value maps to its
    first occurrence.
    """
    import pyarrow as pa
    pc = compute()

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.cast(pc.index_in(values, value_set=values), pa.int64())


def unique_items(tables: Sequence[pa.Table]) -> pa.Table:
    """The items of several plan tables, each object or series prefix once (the first wins)."""
    import pyarrow as pa

    return first_rows(pa.concat_tables(tables), ["bucket", "prefix", "key"])


def table_items(table: pa.Table) -> list[PlanItem]:
    """The :class:`~idc_index.download.PlanItem` of each row of a plan table, in order."""
    columns = [table[name].to_pylist() for name in
               ("bucket", "destination", "prefix", "key", "size", "SeriesInstanceUID", "SOPInstanceUID")]
    return [
        PlanItem(bucket, destination, prefix=prefix, key=key, size=size, series_instance_uid=series,
                 sop_instance_uid=sop)
        for bucket, destination, prefix, key, size, series, sop in zip(*columns)
    ]



__all__ = ["PLAN_COLUMNS", "PlanItem", "first_rows", "items_table", "plan_schema", "table_items", "unique_items"]
