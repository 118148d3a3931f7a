"""A release as a pure-data wheel (like idc-index-data: a package holding the parquet files) and the
list of files to attach to the release as assets.

The wheel is written with the standard library only: a zip with ``<pkg>/`` and
``<dist>-<version>.dist-info/`` (METADATA, WHEEL, top_level.txt and RECORD). ``<pkg>/`` holds the
parquet files, ``manifest.json`` describing exactly the files in the wheel, ``release_manifest.json``
describing the whole release (so a client can verify indices fetched from the release assets), the
schema ``<index>_schema.json`` and query ``<index>.sql`` of every index of the release, and an
``__init__.py`` with the public names of idc-index-data: the wheel is a drop-in replacement of it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from index_builder import BUILDER_NAME, __version__
from index_builder.errors import ReleaseError
from index_builder.manifest import MANIFEST, verify_release

INIT_TEMPLATE = '''"""NCI Imaging Data Commons index release {release} (IDC data release v{idc_version}), packaged by {builder}.

A drop-in replacement of the idc-index-data package: the same public names with the same meanings
(IDC_INDEX_PARQUET_FILEPATH, PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH, INDEX_METADATA, ...), plus the
manifests of the indices in this package (MANIFEST) and of the whole release (RELEASE_MANIFEST).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._version import version as __version__

__all__ = [
    "IDC_INDEX_CSV_ARCHIVE_FILEPATH",
    "IDC_INDEX_PARQUET_FILEPATH",
    "IDC_VERSION",
    "INDEX_FILEPATHS",
    "INDEX_METADATA",
    "MANIFEST",
    "PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH",
    "RELEASE_MANIFEST",
    "__version__",
]

IDC_VERSION = {idc_version}
RELEASE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = RELEASE_DIR / "manifest.json"
RELEASE_MANIFEST_PATH = RELEASE_DIR / "release_manifest.json"
#: the indices whose parquet files are in this package
MANIFEST: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
#: every index of the release; those not in this package are assets of the release
RELEASE_MANIFEST: dict[str, Any] = json.loads(RELEASE_MANIFEST_PATH.read_text(encoding="utf-8"))


def _here(name: str) -> Path | None:
    path = RELEASE_DIR / name
    return path if path.is_file() else None


def _load_json(path: Path | None) -> dict[str, object] | None:
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))


def _load_text(path: Path | None) -> str | None:
    return None if path is None else path.read_text(encoding="utf-8")


#: paths of the parquet files in this package, by index name
INDEX_FILEPATHS: dict[str, Path] = {{name: RELEASE_DIR / entry["file"] for name, entry in MANIFEST["indices"].items()}}
#: the main index as a zipped CSV: not part of this release (None), as in idc-index-data 25
IDC_INDEX_CSV_ARCHIVE_FILEPATH: Path | None = _here("idc_index.csv.zip")
IDC_INDEX_PARQUET_FILEPATH: Path | None = INDEX_FILEPATHS.get("idc_index")
PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH: Path | None = INDEX_FILEPATHS.get("prior_versions_index")
#: for every index of the release: its parquet file (None when it is not in this package), its
#: schema (BigQuery JSON schema with the column descriptions) and the SQL that built it
INDEX_METADATA: dict[str, dict[str, Path | dict[str, object] | str | None]] = {{
    name: {{
        "parquet_filepath": INDEX_FILEPATHS.get(name),
        "schema_path": _here(f"{{name}}_schema.json"),
        "schema": _load_json(_here(f"{{name}}_schema.json")),
        "sql_path": _here(f"{{name}}.sql"),
        "sql": _load_text(_here(f"{{name}}.sql")),
    }}
    for name in RELEASE_MANIFEST["indices"]
}}
'''

VERSION_TEMPLATE = '''# the release of the IDC indices this package holds
from __future__ import annotations

__version__ = version = "{version}"
__version_tuple__ = version_tuple = {version_tuple!r}
__commit_id__ = commit_id = None
'''

#: BigQuery's names for the arrow types of the indices (the JSON schemas of idc-index-data use them)
_BIGQUERY_TYPES = {"string": "STRING", "large_string": "STRING", "int64": "INTEGER", "int32": "INTEGER",
                   "double": "FLOAT", "float": "FLOAT", "bool": "BOOLEAN", "date32[day]": "DATE"}


def _bigquery_field(f: pa.Field, doc: dict[str, Any]) -> dict[str, Any]:
    typ, mode = f.type, "NULLABLE"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        typ, mode = typ.value_type, "REPEATED"
    kind = "RECORD" if pa.types.is_struct(typ) else _BIGQUERY_TYPES.get(str(typ), str(typ).upper())
    out: dict[str, Any] = {"name": f.name, "type": kind, "mode": mode, "description": doc.get("description", "")}
    if pa.types.is_struct(typ):
        docs = {c["name"]: c for c in doc.get("fields", [])}
        out["fields"] = [_bigquery_field(child, docs.get(child.name, {})) for child in typ]
    return out


def schema_json(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """The schema of one index as idc-index-data publishes it (``<index>_schema.json``): the table
    description and, per column, its BigQuery type, mode and description."""
    docs = {c["name"]: c for c in entry["columns"]}
    return {
        "table_description": entry["description"],
        "columns": [_bigquery_field(f, docs.get(f.name, {})) for f in pq.read_schema(path)],
    }


def _version_tuple(version: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip_time() -> tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01: reproducible wheels
    return time.gmtime(max(epoch, 315532800))[:6]


def package_release(
    release_dir: Path, out: Path, name: str = "idc-index-data", wheel_indices: list[str] | None = None
) -> tuple[Path, list[str]]:
    """Write ``<dist>-<release>-py3-none-any.whl`` and ``assets.txt`` into ``out``."""
    release_dir, out = Path(release_dir), Path(out)
    manifest = verify_release(release_dir)
    chosen = wheel_indices or list(manifest["indices"])
    unknown = [n for n in chosen if n not in manifest["indices"]]
    if unknown:
        raise ReleaseError(f"--wheel-index {unknown} not in the release; it has {', '.join(manifest['indices'])}")
    version = manifest["release"]
    if not re.fullmatch(r"\d+(\.\d+)*([abc]|rc)?\d*(\.post\d+)?(\.dev\d+)?", version):
        raise ReleaseError(f"release {version!r} is not a valid Python package version; pass --release like 25.0.0 to build")
    dist, pkg = _normalize(name), _normalize(name)
    info = f"{dist}-{version}.dist-info"
    wheel_manifest = copy.deepcopy(manifest)
    wheel_manifest["indices"] = {n: manifest["indices"][n] for n in chosen}

    files: list[tuple[str, bytes | Path]] = [
        (f"{pkg}/__init__.py", INIT_TEMPLATE.format(
            release=version, idc_version=manifest["idc_version"], builder=f"{BUILDER_NAME} {__version__}").encode()),
        (f"{pkg}/_version.py", VERSION_TEMPLATE.format(version=version, version_tuple=_version_tuple(version)).encode()),
        (f"{pkg}/{MANIFEST}", (json.dumps(wheel_manifest, indent=2) + "\n").encode()),
        (f"{pkg}/release_manifest.json", (release_dir / MANIFEST).read_bytes()),
        (f"{pkg}/py.typed", b""),
    ]
    # the schema and the query of every index of the release, as idc-index-data has them
    for n, entry in manifest["indices"].items():
        schema = schema_json(release_dir / entry["file"], entry)
        files.append((f"{pkg}/{n}_schema.json", (json.dumps(schema, indent=2) + "\n").encode()))
        if (release_dir / f"{n}.sql").is_file():
            files.append((f"{pkg}/{n}.sql", release_dir / f"{n}.sql"))
    files += [(f"{pkg}/{manifest['indices'][n]['file']}", release_dir / manifest["indices"][n]["file"]) for n in chosen]
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: NCI Imaging Data Commons index release {version} (IDC v{manifest['idc_version']})\n"
        "Requires-Python: >=3.8\n"
        "License: CC-BY-4.0\n"
        "\n"
        f"Parquet indices of IDC data release v{manifest['idc_version']}: {', '.join(chosen)}.\n"
    )
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: {BUILDER_NAME} {__version__}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel_meta.encode()),
              (f"{info}/top_level.txt", f"{pkg}\n".encode())]

    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{dist}-{version}-py3-none-any.whl"
    record_lines = []
    stamp = _zip_time()
    with zipfile.ZipFile(wheel, "w") as zf:
        for arcname, content in files:
            data = content.read_bytes() if isinstance(content, Path) else content
            zi = zipfile.ZipInfo(arcname, date_time=stamp)
            zi.external_attr = 0o644 << 16
            # parquet is already zstd-compressed: store it; deflate the text files
            zi.compress_type = zipfile.ZIP_STORED if arcname.endswith(".parquet") else zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
            record_lines.append(f"{arcname},{_record_hash(data)},{len(data)}")
        record_lines.append(f"{info}/RECORD,,")
        zi = zipfile.ZipInfo(f"{info}/RECORD", date_time=stamp)
        zi.external_attr = 0o644 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(zi, "\n".join(record_lines) + "\n")

    assets = []
    for entry in manifest["indices"].values():
        assets += [entry["file"], entry["file"] + ".sha256"]
    assets += [MANIFEST, wheel.name]
    for a in assets[:-1]:
        if not (out / a).exists() or (out / a).resolve() != (release_dir / a).resolve():
            shutil.copyfile(release_dir / a, out / a)
    (out / "assets.txt").write_text("\n".join(assets) + "\n", encoding="utf-8")
    return wheel, assets
