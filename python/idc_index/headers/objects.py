"""The objects whose headers are read: each instance of a plan table (see
:data:`idc_index.download.plan_table.PLAN_COLUMNS`), a row that is one object as it is, a row
that is a series prefix (``<crdc_series_uuid>/``) as the ``.dcm`` objects listed under it.
Listings run a few at a time and are kept in the :class:`~idc_index.headers.cache.HeaderCache`
(a series prefix never changes its objects); a series that cannot be listed is one item with
its error, not an exception.

Example:
    >>> instances = plan_instances(plan.table, lambda bucket, prefix: [...], cache)  # doctest: +SKIP
    >>> instances[0].url  # doctest: +SKIP
    's3://idc-open-data/0a1b.../0c2d....dcm'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idc_index.errors import IDCError

if TYPE_CHECKING:
    import pyarrow as pa

    from idc_index.headers.cache import HeaderCache

logger = logging.getLogger("idc_index")

#: Listings in flight at once.
LISTINGS_AT_ONCE = 16

#: Lists the keys of the objects under a prefix of a bucket.
ListKeys = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class Instance:
    """One object to read (``key``), or a series prefix that could not be listed (``key`` is
    the prefix, ``error`` says why), with the identifiers the index gave it."""

    bucket: str
    key: str
    series_instance_uid: str | None
    sop_instance_uid: str | None = None
    error: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def plan_instances(table: pa.Table, list_keys: ListKeys, cache: HeaderCache | None = None) -> list[Instance]:
    """The instances of the rows of a plan ``table``, in its order (a series' by key)."""
    rows = table.select(["bucket", "prefix", "key", "SeriesInstanceUID", "SOPInstanceUID"]).to_pylist()
    prefixes = list(dict.fromkeys((r["bucket"], r["prefix"]) for r in rows if r["key"] is None and r["prefix"]))
    listed = _listings(prefixes, list_keys, cache)
    out: list[Instance] = []
    for r in rows:
        series = r["SeriesInstanceUID"]
        if r["key"] is not None:
            out.append(Instance(r["bucket"], r["key"], series, r["SOPInstanceUID"]))
            continue
        keys = listed.get((r["bucket"], r["prefix"]))
        if isinstance(keys, str):
            out.append(Instance(r["bucket"], r["prefix"], series, error=keys))
        elif keys is not None:
            out.extend(Instance(r["bucket"], key, series) for key in keys)
    return out


def _listings(
    prefixes: list[tuple[str, str]], list_keys: ListKeys, cache: HeaderCache | None
) -> dict[tuple[str, str], list[str] | str]:
    """Of each ``(bucket, prefix)``: its ``.dcm`` keys, sorted (from the cache when kept), or why
    there are none."""
    out: dict[tuple[str, str], list[str] | str] = {}
    missing = []
    for bucket, prefix in prefixes:
        kept = cache.listing(bucket, prefix) if cache is not None else None
        if kept is not None:
            out[(bucket, prefix)] = kept
        else:
            missing.append((bucket, prefix))

    def one(item: tuple[str, str]) -> list[str] | str:
        bucket, prefix = item
        try:
            keys = sorted(k for k in list_keys(bucket, prefix) if k.endswith(".dcm"))
        except IDCError as e:
            return f"cannot list s3://{bucket}/{prefix}: {e}"
        if not keys:  # not kept: a series prefix in IDC is never empty, an endpoint may be wrong
            return f"no DICOM objects (.dcm) under s3://{bucket}/{prefix}"
        if cache is not None:
            cache.put_listing(bucket, prefix, keys)
        return keys

    if missing:
        logger.debug("listing %d series prefix(es)", len(missing))
        with ThreadPoolExecutor(max_workers=min(LISTINGS_AT_ONCE, len(missing))) as pool:
            out.update(zip(missing, pool.map(one, missing)))
    return out


__all__ = ["Instance", "ListKeys", "plan_instances"]
