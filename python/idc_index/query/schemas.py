"""Which index has a column like ...: the columns of every index of a release whose name (or,
if asked, description) matches a pattern, from the schemas the release ships, fetched or not.

Example:
    >>> find_columns(catalog, {"index"}, "slicethick")  # doctest: +SKIP
    [{'index': 'ct_index', 'column': 'SliceThickness', 'type': 'FLOAT', 'installed': False, ...}]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from typing import Any

from idc_index.releases.catalog import Catalog


def find_columns(catalog: Catalog, installed: Collection[str], pattern: str,
                 descriptions: bool = False) -> list[dict[str, Any]]:
    """The columns whose name holds ``pattern`` in any case (a shell pattern with ``*`` or ``?``
    matches the whole name), or whose description does with ``descriptions``; each as a dict of
    ``index``, ``column``, ``type``, ``installed`` (queryable now; else ``fetch_index`` it) and
    ``description``, in the release's order of indices and columns."""
    wildcard = any(c in pattern for c in "*?[")
    needle = pattern.lower()

    def matches(text: str) -> bool:
        text = text.lower()
        return fnmatch.fnmatchcase(text, needle) if wildcard else needle in text

    found = []
    for name, entry in catalog.indices.items():
        schema = entry.schema() or {}
        for column in schema.get("columns", []):
            description = " ".join(str(column.get("description") or "").split())
            if matches(column["name"]) or (descriptions and matches(description)):
                found.append({"index": name, "column": column["name"], "type": column.get("type"),
                              "installed": name in installed, "description": description})
    return found


__all__ = ["find_columns"]
