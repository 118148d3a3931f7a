"""Splitting the items of a download plan into parts of about equal bytes.

The parts are for machines (or jobs) that each download one of them. Items are taken largest
first (ties broken by bucket, prefix or key, and destination) and each goes to the part that
holds the fewest bytes so far (ties: the lowest part number), so the same items and number of
parts always give the same parts, whatever order the items came in.

A series is one item and stays whole: its size comes from the index (``series_size_MB``).
Only a series larger than a part's share, and only when its instances can be listed with their
sizes (a callable over an instance index such as ``sm_instance_index``), is split into its
instances; without one every series stays whole.

Example:
    >>> balance([5, 3, 3, 2, 1], [("a",), ("b",), ("c",), ("d",), ("e",)], 2)
    [[0, 3], [1, 2, 4]]
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from .download import PlanItem

#: The instance items of a series item (an empty list when they are not known).
InstanceSource = Callable[[PlanItem], Sequence[PlanItem]]

T = TypeVar("T")


def item_key(item: PlanItem) -> tuple[str, str, str]:
    """The stable order of items of the same size: bucket, prefix or key, destination."""
    return (item.bucket, item.prefix or item.key or "", item.destination)


def balance(sizes: Sequence[int], keys: Sequence[Hashable], n: int) -> list[list[int]]:
    """The positions of the items in each of ``n`` parts, each part in ascending order.

    ``sizes`` are bytes (an unknown size counts as 0); ``keys`` order items of equal size.

    Raises:
        ValueError: ``n`` is less than 1.
    """
    if n < 1:
        raise ValueError(f"the number of shards must be at least 1, not {n}")
    order = sorted(zip([-s for s in sizes], keys, range(len(sizes))))
    heap = [(0, part) for part in range(n)]
    parts: list[list[int]] = [[] for _ in range(n)]
    for _, _, j in order:
        load, part = heapq.heappop(heap)
        parts[part].append(j)
        heapq.heappush(heap, (load + sizes[j], part))
    return [sorted(p) for p in parts]


def check_count(items: Sequence[PlanItem], n: int) -> None:
    """Refuse a number of shards that is less than 1 or larger than the number of items."""
    if n < 1 or n > max(1, len(items)):
        raise ValueError(
            f"cannot split a plan of {len(items)} item(s) into {n} shards; ask for 1 to {max(1, len(items))} shards"
        )


def shard_positions(items: Sequence[PlanItem], n: int) -> list[list[int]]:
    """The positions of ``items`` in each of ``n`` parts (see :func:`balance`).

    Raises:
        ValueError: ``n`` is less than 1 or larger than the number of items.
    """
    check_count(items, n)
    return balance([i.size or 0 for i in items], [item_key(i) for i in items], n)


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


def split_large_series(
    items: Sequence[PlanItem], extra: Sequence[T], n: int, instances: InstanceSource
) -> tuple[list[PlanItem], list[T]]:
    """``items`` with every series larger than ``1/n`` of the total replaced by its instances
    (when ``instances`` knows them); ``extra`` holds one value per item, repeated for each of
    a series' instances."""
    share = sum(i.size or 0 for i in items) / n
    out: list[PlanItem] = []
    out_extra: list[T] = []
    for item, value in zip(items, extra):
        parts = list(instances(item)) if item.prefix is not None and (item.size or 0) > share else []
        parts = parts or [item]
        out.extend(parts)
        out_extra.extend([value] * len(parts))
    return out, out_extra


__all__ = [
    "InstanceSource", "balance", "check_count", "item_key", "parse_shard", "shard_positions", "split_large_series"
]
