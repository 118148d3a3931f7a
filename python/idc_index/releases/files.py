"""The files of an index release: their names, one index's entry, and fetching one into the cache.

The vocabulary that a release's ``manifest.json`` (docs/manifest.md), the catalog of the release
in use (:mod:`~idc_index.releases.catalog`) and the published releases
(:mod:`~idc_index.releases.published`) share, and the one way an index file is fetched: streamed
into a temporary file, checked against its size, sha256 and parquet footer, then renamed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idc_index.download import documents
from idc_index.download.transfer import fetch_file
from idc_index.errors import DownloadError, DownloadFailedError, IndexFetchError, IndexFileError, IndexIntegrityError
from idc_index.releases.stamps import write_stamp

logger = logging.getLogger("idc_index")

#: Where fetched indices are cached (default: the user cache directory).
CACHE_DIR_ENV = "IDC_INDEX_CACHE_DIR"
#: The most bytes an index file of unknown size may have (the largest, the main index, is about
#: 100 MB); a file whose manifest states its size may have exactly that many.
MAX_INDEX_BYTES = 8 << 30
DATA_PACKAGE = "idc_index_data"

MANIFEST_NAME = "manifest.json"

#: The manifest of the whole release that a data package built by index_builder also carries.
RELEASE_MANIFEST_NAME = "release_manifest.json"

MANIFEST_FORMAT = "idc-index-release/1"

#: Every index of an IDC release, as idc-index names them (the main index is ``index``; its
#: file and its other table name are ``idc_index``).
INDEX_NAMES = (
    "index",
    "prior_versions_index",
    "collections_index",
    "analysis_results_index",
    "version_metadata_index",
    "clinical_index",
    "sm_index",
    "sm_instance_index",
    "seg_index",
    "ann_index",
    "ann_group_index",
    "contrast_index",
    "volume_geometry_index",
    "rtstruct_index",
    "ct_index",
    "mr_index",
    "pt_index",
)

#: The idc-index name of the main index, and the stem of its file.
MAIN_INDEX = "index"

MAIN_INDEX_FILE_STEM = "idc_index"

def file_stem(name: str) -> str:
    """The file (and manifest key) name of index ``name``."""
    return MAIN_INDEX_FILE_STEM if name == MAIN_INDEX else name

def index_name(stem: str) -> str:
    """The idc-index name of the index stored as ``<stem>.parquet``."""
    return MAIN_INDEX if stem == MAIN_INDEX_FILE_STEM else stem

@dataclass
class IndexEntry:
    """One index of a release."""

    name: str
    file: str
    description: str = ""
    path: Path | None = None
    """The local parquet file, when the index is installed or cached."""
    url: str | None = None
    """Where the file is fetched from when it is not local."""
    rows: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    columns: list[dict[str, Any]] | None = None
    """Manifest columns (name, type, nullable, description, fields)."""
    schema_file: Path | None = None
    """A BigQuery-style ``<index>_schema.json`` (idc-index-data), read on demand."""

    @property
    def installed(self) -> bool:
        return self.path is not None

    def schema(self) -> dict[str, Any] | None:
        """The index schema in idc-index 0.13's format: table_description and columns."""
        if self.columns is not None:
            return {
                "table_description": self.description,
                "columns": [_column_v013(c) for c in self.columns],
            }
        if self.schema_file is not None and self.schema_file.is_file():
            with self.schema_file.open(encoding="utf-8") as f:
                loaded: dict[str, Any] = json.load(f)
            return loaded
        return None

def _column_v013(column: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": column["name"],
        "type": column.get("type", ""),
        "mode": "REPEATED" if str(column.get("type", "")).startswith(("list", "large_list")) else "NULLABLE",
        "description": column.get("description", ""),
    }
    if column.get("fields"):
        out["fields"] = [_column_v013(c) for c in column["fields"]]
    return out

def download_verified(entry: IndexEntry, destination: Path, timeout: float = 60.0) -> Path:
    """Download ``entry.url`` to ``destination`` through the native downloader, as a download
    fetches an object (retried, in parallel ranges when large, written under a temporary name
    and renamed), checked against the entry's size and sha256 (where known) and for a readable
    parquet footer, then stamped as checked (:mod:`idc_index.releases.stamps`). ``timeout``
    seconds without a byte end an attempt. A failed or corrupt download leaves nothing behind."""
    assert entry.url is not None
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IndexFileError(
            f"cannot create the index cache directory {destination.parent}: {e}. "
            "Set IDC_INDEX_CACHE_DIR to a writable directory."
        ) from e
    logger.info("Fetching index %s from %s", entry.name, entry.url)

    def bounded(done: int, total: int, unit: str, desc: str) -> None:
        # A file of stated size is bounded by the downloader; one of unknown size, here.
        if done > MAX_INDEX_BYTES:
            raise IndexIntegrityError(
                f"{entry.url} sent more than the {MAX_INDEX_BYTES} bytes an index file of unknown size can "
                "hold: the server is not serving the index file. Nothing was cached; check IDC_RELEASE_BASE_URL."
            )

    try:
        fetch_file(entry.url, destination, size=entry.bytes, sha256=entry.sha256, stall_timeout=timeout,
                   progress_callback=None if entry.bytes is not None else bounded)
    except IndexIntegrityError:
        # The bound above, checked as progress is read: the transfer may have ended meanwhile.
        destination.unlink(missing_ok=True)
        raise
    except DownloadFailedError as e:
        raise _fetch_error(entry, e) from None
    except DownloadError as e:
        raise IndexFetchError(f"index {entry.name!r} cannot be fetched from {entry.url}: {e}") from None
    if not _looks_like_parquet(destination):
        destination.unlink(missing_ok=True)
        raise IndexIntegrityError(
            f"{entry.url} did not return a parquet file (no readable parquet footer). "
            "Nothing was cached; check IDC_RELEASE_BASE_URL."
        )
    write_stamp(destination)
    return destination


def _fetch_error(entry: IndexEntry, error: DownloadFailedError) -> IndexFetchError | IndexIntegrityError | IndexFileError:
    """What a failed fetch of an index file means to its user, with what to do."""
    failed = error.report.failed
    if not failed:  # cancelled or stopped before the file was tried
        return IndexFetchError(f"fetching index {entry.name!r} from {entry.url} stopped: {error}")
    kind, reason = failed[0].kind, failed[0].reason
    if kind in ("integrity", "protocol"):
        return IndexIntegrityError(
            f"index {entry.name!r} is not the published file: {reason}. Nothing was cached; try again, "
            "or set IDC_RELEASE_BASE_URL to another mirror."
        )
    if kind in ("local_io", "disk_full", "unsafe_path"):
        return IndexFileError(
            f"index {entry.name!r} cannot be written to the cache: {reason}. "
            "Set IDC_INDEX_CACHE_DIR to a writable directory with free space."
        )
    if kind == "network":
        return IndexFetchError(
            f"could not fetch index {entry.name!r}: {reason}. Check the network connection, or set "
            "IDC_RELEASE_BASE_URL to a reachable mirror. Nothing was cached."
        )
    return IndexFetchError(
        f"fetching index {entry.name!r} failed: {reason}. Check that the release is published there, "
        "or set IDC_RELEASE_BASE_URL to a mirror that has it. Nothing was cached."
    )


def check_remote_file(entry: IndexEntry, timeout: float = 30.0) -> str:
    """The URL of an index read where it is published, once a HEAD request shows it there with
    the size its manifest states.

    Raises:
        IndexFetchError: no URL is known, the server cannot be reached, or it does not serve the file.
        IndexIntegrityError: the file's size is not the manifest's.
    """
    if entry.url is None:
        raise IndexFetchError(f"index {entry.name!r} has no URL to read it from; open the release without remote=True.")
    try:
        doc = documents.get(entry.url, max_bytes=0, deadline=timeout, stall_timeout=timeout, head=True)
    except DownloadError as e:
        raise IndexFetchError(
            f"could not reach {entry.url}: {e}. Remote queries need the network; "
            "open the release without remote=True to query a cached copy."
        ) from None
    if not doc.published:
        raise IndexFetchError(
            f"index {entry.name!r} is not served at {entry.url}: HTTP {doc.status}. Check that the "
            "release is published there (IDC_RELEASES_URL), or open it without remote=True."
        )
    length = {k.lower(): v for k, v in doc.headers.items()}.get("content-length")
    if entry.bytes is not None and length is not None and int(length) != entry.bytes:
        raise IndexIntegrityError(
            f"index {entry.name!r} at {entry.url} is {length} bytes, its release's manifest says {entry.bytes}: "
            "the file was replaced or damaged. Open the release without remote=True to fetch and verify it."
        )
    return entry.url

def validate_release_manifest(manifest: Any) -> list[str]:
    """What is wrong with a release manifest (empty when it is valid): every field it is read
    for, with the JSON type it must have."""
    if not isinstance(manifest, dict):
        return ["the top level is not an object"]
    problems = []
    if manifest.get("format") != MANIFEST_FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if not _is_int(manifest.get("idc_version")):
        problems.append("idc_version is missing or not an integer")
    if not isinstance(manifest.get("release"), str) or not manifest.get("release"):
        problems.append("release is missing or not a string")
    indices = manifest.get("indices")
    if not isinstance(indices, dict) or not indices:
        problems.append("indices is missing or empty")
        return problems
    for stem, entry in indices.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(f"index {stem!r} has no file name")
            continue
        if Path(entry["file"]).name != entry["file"]:
            problems.append(f"index {stem!r} file {entry['file']!r} is not a plain file name")
        for field in ("rows", "bytes"):
            if entry.get(field) is not None and not (_is_int(entry[field]) and entry[field] >= 0):
                problems.append(f"index {stem!r} {field} is {entry[field]!r}, not a count")
        sha = entry.get("sha256")
        if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha)):
            problems.append(f"index {stem!r} sha256 is {sha!r}, not 64 hexadecimal digits")
        if entry.get("description") is not None and not isinstance(entry["description"], str):
            problems.append(f"index {stem!r} description is not a string")
        columns = entry.get("columns")
        if columns is not None and not (isinstance(columns, list) and all(
                isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns)):
            problems.append(f"index {stem!r} columns is not a list of objects with a name")
    return problems


def read_json(text: str | bytes) -> Any:
    """A JSON document, or ValueError for anything that is not one, however it fails (a syntax
    error, or nesting too deep to read)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply to be a JSON document idc-index reads") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def has_parquet_ends(path: Path) -> bool:
    """Whether the file starts and ends as a parquet file, with a footer that fits in it: a
    file cut short fails this. Reads 12 bytes."""
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with path.open("rb") as f:
            head = f.read(4)
            f.seek(size - 8)
            tail = f.read(8)
    except OSError:
        return False
    footer = int.from_bytes(tail[:4], "little")
    return head == b"PAR1" and tail[4:] == b"PAR1" and footer + 12 <= size


def _looks_like_parquet(path: Path) -> bool:
    """Whether the file starts and ends as parquet and its footer (the file metadata) reads."""
    if not has_parquet_ends(path):
        return False
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, ValueError):  # pyarrow's errors for a footer that is not parquet metadata
        return False
    return True

def default_cache_dir() -> Path:
    """The user cache directory of idc-index (``IDC_INDEX_CACHE_DIR`` overrides it)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("idc-index", "IDC"))

def safe_component(text: str) -> str:
    """``text`` as one safe directory name (a release version in the cache)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "release"

def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


__all__ = [
    "CACHE_DIR_ENV",
    "DATA_PACKAGE",
    "INDEX_NAMES",
    "MAIN_INDEX",
    "MAIN_INDEX_FILE_STEM",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "MAX_INDEX_BYTES",
    "RELEASE_MANIFEST_NAME",
    "IndexEntry",
    "check_remote_file",
    "default_cache_dir",
    "download_verified",
    "file_sha256",
    "file_stem",
    "has_parquet_ends",
    "index_name",
    "read_json",
    "safe_component",
    "validate_release_manifest",
]
