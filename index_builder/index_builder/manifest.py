"""``manifest.json`` and the ``<file>.sha256`` sidecars of a release directory.

The format (``idc-index-release/1``) is fixed by the client's catalog; see the README.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from index_builder import BUILDER_NAME, __version__
from index_builder.errors import ReleaseError
from index_builder.sqlfile import QueryDoc

FORMAT = "idc-index-release/1"
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def created_now() -> str:
    """UTC build time; ``SOURCE_DATE_EPOCH`` makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = time.gmtime(int(epoch)) if epoch else time.gmtime()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def _struct_of(t: pa.DataType) -> pa.StructType | None:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    return t if pa.types.is_struct(t) else None


def column_entries(fields: list[pa.Field] | pa.Schema, docs: dict[str, str], prefix: str = "") -> list[dict[str, Any]]:
    entries = []
    for f in fields:
        path = f"{prefix}{f.name}"
        entry: dict[str, Any] = {
            "name": f.name,
            "type": str(f.type),
            "nullable": f.nullable,
            "description": docs.get(path, ""),
        }
        st = _struct_of(f.type)
        if st is not None:
            entry["fields"] = column_entries(list(st), docs, prefix=f"{path}.")
        entries.append(entry)
    return entries


def index_entry(path: Path, doc: QueryDoc) -> dict[str, Any]:
    meta = pq.read_metadata(path)
    return {
        "file": path.name,
        "rows": meta.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "description": doc.table,
        "columns": column_entries(pq.read_schema(path), doc.columns),
    }


def write_sidecar(path: Path, digest: str) -> Path:
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return sidecar


def write_manifest(
    directory: Path,
    idc_version: int,
    release: str,
    docs: dict[str, QueryDoc],
    created: str | None = None,
) -> dict[str, Any]:
    """Describe every ``<index>.parquet`` in ``directory`` (those named in ``docs``)."""
    indices = {}
    for name, doc in docs.items():
        entry = index_entry(directory / f"{name}.parquet", doc)
        write_sidecar(directory / entry["file"], entry["sha256"])
        indices[name] = entry
    manifest = {
        "format": FORMAT,
        "idc_version": idc_version,
        "release": release,
        "created": created or created_now(),
        "builder": {"name": BUILDER_NAME, "version": __version__},
        "indices": indices,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ReleaseError(f"{directory} is not a release directory: no {MANIFEST} (build one with `python -m index_builder build`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ReleaseError(f"{path}: format is {manifest.get('format')!r}, this builder reads {FORMAT!r}")
    return manifest


def verify_release(directory: Path) -> dict[str, Any]:
    """Check that every index of the manifest is there, with the size, rows, hash and sidecar it states."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = []
    for key in ("idc_version", "release", "created", "builder", "indices"):
        if key not in manifest:
            problems.append(f"manifest has no {key!r}")
    for name, entry in manifest.get("indices", {}).items():
        path = directory / entry["file"]
        if not path.is_file():
            problems.append(f"{name}: {entry['file']} is missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(f"{name}: {entry['file']} has {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            problems.append(f"{name}: sha256 of {entry['file']} is {digest}, manifest says {entry['sha256']}")
        sidecar = path.with_name(path.name + ".sha256")
        if not sidecar.is_file() or sidecar.read_text(encoding="utf-8") != f"{entry['sha256']}  {entry['file']}\n":
            problems.append(f"{name}: {sidecar.name} is missing or does not match the manifest")
        rows = pq.read_metadata(path).num_rows
        if rows != entry["rows"]:
            problems.append(f"{name}: {entry['file']} has {rows} rows, manifest says {entry['rows']}")
    if problems:
        raise ReleaseError(f"release {directory} does not verify:\n  " + "\n  ".join(problems))
    return manifest
