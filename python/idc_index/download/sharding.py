"""Splitting the items of a download plan into parts of about equal bytes.

The parts are for machines (or jobs) that each download one of them. Items are taken largest
first (ties broken by bucket, prefix or key, and destination) and each goes to the part that
holds the fewest bytes so far (ties: the lowest part number), so the same items and number of
parts always give the same parts, whatever order the items came in. The items are the rows of
a plan table (:data:`idc_index.download.plan_table.PLAN_COLUMNS`); the ordering is done on whole columns.

A series is one item and stays whole: its size comes from the index (``series_size_MB``).
Only a series larger than a part's share, and only when its instances can be listed with their
sizes (a callable over an instance index such as ``sm_instance_index``), is split into its
instances; without one every series stays whole.

Example:
    >>> balance([5, 3, 3, 2, 1], 2)
    [0, 1, 1, 0, 1]
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from idc_index._arrow import arange, compute, int64s, scalar, to_numpy
from idc_index.download.plan_table import PlanItem, items_table, table_items

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: The instance items of a series item (an empty list when they are not known).
InstanceSource = Callable[[PlanItem], Sequence[PlanItem]]


def balance(sizes: Sequence[int], n: int) -> list[int]:
    """The part (0 to ``n - 1``) of each item, for items given largest first: each goes to the
    part with the fewest bytes so far, the lowest part number among equals."""
    heap = [(0, part) for part in range(n)]
    parts = [0] * len(sizes)
    for j, size in enumerate(sizes):
        load, part = heap[0]
        parts[j] = part
        heapq.heapreplace(heap, (load + size, part))
    return parts


def check_count(items: int, n: int) -> None:
    """Refuse a number of shards that is less than 1 or larger than the number of ``items``."""
    if n < 1 or n > max(1, items):
        raise ValueError(f"cannot split a plan of {items} item(s) into {n} shards; ask for 1 to {max(1, items)} shards")


def part_numbers(table: pa.Table, n: int) -> np.ndarray:
    """The part (0 to ``n - 1``) of each row of the plan ``table`` (see :func:`balance`).

    Raises:
        ValueError: ``n`` is less than 1 or larger than the number of items.
    """
    import numpy as np
    import pyarrow as pa
    pc = compute()

    check_count(table.num_rows, n)
    sizes = pc.fill_null(table["size"], scalar(0))
    order = pc.sort_indices(
        pa.table({
            "size": sizes,
            "name": pc.coalesce(table["prefix"], table["key"], scalar("")),
            "bucket": table["bucket"].combine_chunks(),
            "destination": table["destination"].combine_chunks(),
        }),
        sort_keys=[("size", "descending"), ("bucket", "ascending"), ("name", "ascending"),
                   ("destination", "ascending")],
    )
    parts = np.empty(table.num_rows, dtype=np.int64)
    parts[to_numpy(order)] = balance(sizes.take(order).to_pylist(), n)
    return parts


def shard_tables(table: pa.Table, n: int) -> list[pa.Table]:
    """The plan ``table`` split into ``n`` parts (see :func:`balance`), each keeping the rows'
    order.

    Raises:
        ValueError: ``n`` is less than 1 or larger than the number of items.
    """
    import numpy as np

    parts = part_numbers(table, n)
    # One take into part order (a stable sort keeps each part's rows in order), then slices.
    grouped = table.take(int64s(np.argsort(parts, kind="stable")))
    counts = np.bincount(parts, minlength=n).tolist()
    starts = [0, *np.cumsum(counts).tolist()[:-1]]
    return [grouped.slice(start, count) for start, count in zip(starts, counts)]


def parse_shard(text: str | tuple[int, int]) -> tuple[int, int]:
    """``(index, count)`` of a shard given as ``"I/N"`` (``I`` from 0 to ``N - 1``) or a pair.

    Raises:
        ValueError: not of that form, or ``I`` is not in 0..N-1.

    Example:
        >>> parse_shard("2/8")
        (2, 8)
    """
    try:
        if isinstance(text, str):
            index, count = (int(part) for part in text.split("/"))
        else:
            index, count = (int(part) for part in text)
    except (TypeError, ValueError):
        raise ValueError(f"a shard is given as I/N, for example 0/8 (I from 0 to N-1), not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: N must be at least 1 and I from 0 to N-1")
    return index, count


def split_large_series(table: pa.Table, n: int, instances: InstanceSource) -> pa.Table:
    """The plan ``table`` with every series larger than ``1/n`` of the total replaced by its
    instances (when ``instances`` knows them), each with its series' collection_id."""
    import pyarrow as pa
    pc = compute()

    share = (pc.sum(table["size"]).as_py() or 0) / n
    large = pc.and_(pc.is_valid(table["prefix"]), pc.greater(pc.fill_null(table["size"], scalar(0)), scalar(share)))
    positions = pc.indices_nonzero(large).to_pylist()
    if not positions:
        return table
    rows = table.take(int64s(positions))
    series_items = table_items(rows)
    replaced: list[int] = []
    pieces = []
    for position, item, collection in zip(positions, series_items, rows["collection_id"].to_pylist()):
        parts = list(instances(item))
        if parts:
            replaced.append(position)
            pieces.append(items_table(parts, [collection] * len(parts)))
    if not replaced:
        return table
    keep = pc.invert(pc.is_in(arange(table.num_rows), value_set=int64s(replaced)))
    return pa.concat_tables([table.filter(keep), *pieces])


__all__ = [
    "InstanceSource", "balance", "check_count", "parse_shard", "part_numbers", "shard_tables", "split_large_series",
]
