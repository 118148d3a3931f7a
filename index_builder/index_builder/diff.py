"""Differences between two release directories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from index_builder.manifest import read_manifest


def _collections(directory: Path, manifest: dict[str, Any]) -> set[str] | None:
    entry = manifest["indices"].get("idc_index") or manifest["indices"].get("collections_index")
    if entry is None:
        return None
    column = pq.read_table(directory / entry["file"], columns=["collection_id"]).column("collection_id")
    return {v for v in pc.unique(column).to_pylist() if v is not None}


def diff_releases(old_dir: Path, new_dir: Path) -> dict[str, Any]:
    old, new = read_manifest(old_dir), read_manifest(new_dir)
    result: dict[str, Any] = {
        "old": {"release": old["release"], "idc_version": old["idc_version"]},
        "new": {"release": new["release"], "idc_version": new["idc_version"]},
        "indices_added": sorted(set(new["indices"]) - set(old["indices"])),
        "indices_removed": sorted(set(old["indices"]) - set(new["indices"])),
        "indices": {},
    }
    for name in sorted(set(old["indices"]) & set(new["indices"])):
        o, n = old["indices"][name], new["indices"][name]
        ocols = {c["name"]: c["type"] for c in o["columns"]}
        ncols = {c["name"]: c["type"] for c in n["columns"]}
        result["indices"][name] = {
            "columns_added": [c for c in ncols if c not in ocols],
            "columns_removed": [c for c in ocols if c not in ncols],
            "columns_retyped": {c: [ocols[c], ncols[c]] for c in ncols if c in ocols and ocols[c] != ncols[c]},
            "rows": [o["rows"], n["rows"]],
            "bytes": [o["bytes"], n["bytes"]],
        }
    oc, nc = _collections(Path(old_dir), old), _collections(Path(new_dir), new)
    if oc is not None and nc is not None:
        result["collections_added"] = sorted(nc - oc)
        result["collections_removed"] = sorted(oc - nc)
    return result


def _change(pair: list[int]) -> str:
    o, n = pair
    if o == n:
        return f"{n} (unchanged)"
    pct = f", {(n - o) / o:+.1%}" if o else ""
    return f"{o} -> {n} ({n - o:+d}{pct})"


def format_diff(d: dict[str, Any]) -> str:
    lines = [(f"release {d['old']['release']} (IDC v{d['old']['idc_version']}) -> "
              f"{d['new']['release']} (IDC v{d['new']['idc_version']})")]
    if d["indices_added"]:
        lines.append(f"indices added: {', '.join(d['indices_added'])}")
    if d["indices_removed"]:
        lines.append(f"indices removed: {', '.join(d['indices_removed'])}")
    for name, x in d["indices"].items():
        lines.append(f"{name}:")
        lines.append(f"  rows  {_change(x['rows'])}")
        lines.append(f"  bytes {_change(x['bytes'])}")
        for c in x["columns_added"]:
            lines.append(f"  + column {c}")
        for c in x["columns_removed"]:
            lines.append(f"  - column {c}")
        for c, (a, b) in x["columns_retyped"].items():
            lines.append(f"  ~ column {c}: {a} -> {b}")
    if "collections_added" in d:
        lines.append(f"collections added ({len(d['collections_added'])}): {', '.join(d['collections_added']) or '-'}")
        lines.append(f"collections removed ({len(d['collections_removed'])}): {', '.join(d['collections_removed']) or '-'}")
    return "\n".join(lines)
