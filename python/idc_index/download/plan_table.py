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
from idc_index._arrow import compute

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
    return pa.table(columns, schema=plan_schema())


def first_rows(rows: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``rows`` without those whose ``keys`` repeat an earlier row's (the first one wins)."""
    import pyarrow as pa
    pc = compute()

    numbered = rows.append_column("__position", pa.array(range(rows.num_rows), pa.int64()))
    first = numbered.group_by(list(keys), use_threads=False).aggregate([("__position", "min")])
    if first.num_rows == rows.num_rows:
        return rows
    positions = first["__position_min"]
    return rows.take(positions.take(pc.sort_indices(positions)))


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
