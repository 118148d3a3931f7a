"""Which IDC index release is in use, and where each of its index files lives.

A release comes from one of:

- the ``idc-index-data`` package (the default; it works offline right after install),
- a local release directory written by ``index_builder``: parquet files plus ``manifest.json``
  (``IDC_INDEX_DATA_DIR`` or the ``data_dir`` argument), see ``docs/manifest.md``,
- a published release (the ``release`` argument), fetched into the cache by
  :mod:`idc_index.releases`, which is then a release directory.

Indices that a release lists but does not carry locally are fetched on demand from a release
base URL (``IDC_RELEASE_BASE_URL``), checked against their expected size and sha256 where
known, and cached under a versioned directory (``IDC_INDEX_CACHE_DIR``). Nothing here reads
index data; the query engine registers the files.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from .errors import IndexFetchError, IndexFileError, IndexIntegrityError, UnknownIndexError

logger = logging.getLogger("idc_index")

DATA_PACKAGE = "idc_index_data"
MANIFEST_NAME = "manifest.json"
#: The manifest of the whole release that a data package built by index_builder also carries.
RELEASE_MANIFEST_NAME = "release_manifest.json"
MANIFEST_FORMAT = "idc-index-release/1"
RELEASE_ASSETS_URL = "https://github.com/ImagingDataCommons/idc-index-data/releases/download/{release}"

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
MAIN_INDEX = "index"
MAIN_INDEX_FILE_STEM = "idc_index"

#: The environment variables that choose the release and where its files are.
DATA_DIR_ENV = "IDC_INDEX_DATA_DIR"
CACHE_DIR_ENV = "IDC_INDEX_CACHE_DIR"
RELEASE_BASE_URL_ENV = "IDC_RELEASE_BASE_URL"


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


@dataclass
class Catalog:
    """The indices of one IDC release and where their files are."""

    idc_version: int
    release: str
    source: str
    cache_dir: Path
    indices: dict[str, IndexEntry] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def resolve(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        release_base_url: str | None = None,
        release: str | None = None,
        releases_url: str | None = None,
        remote: bool = False,
    ) -> Catalog:
        """The release chosen by the arguments, then the environment, then the default.

        Args:
            data_dir: a release directory (parquet files + manifest.json); default
                ``IDC_INDEX_DATA_DIR``, else the installed ``idc-index-data`` package.
            cache_dir: where fetched indices are cached; default ``IDC_INDEX_CACHE_DIR``,
                else the user cache directory.
            release_base_url: where optional indices are fetched from; default
                ``IDC_RELEASE_BASE_URL``, else the release's published assets.
            release: a published index release (``"current"`` for the newest, or a version
                such as ``"26.0.0"``), fetched into the cache on first use; see
                :mod:`idc_index.releases`. Not with ``data_dir``.
            releases_url: where index releases are published; default ``IDC_RELEASES_URL``,
                else IDC's bucket.
            remote: read the published ``release`` where it is: only its manifest is fetched,
                and indices not in the cache are left at their URLs (``IndexEntry.url``).
        """
        if remote and release is None:
            raise IndexFileError(
                "remote=True reads a published release where it is: give release='current' or a version "
                "such as '26.0.0' (`idc releases` lists them)."
            )
        if release is not None and data_dir is not None:
            raise IndexFileError(
                f"give either a release directory ({data_dir}) or a published release ({release!r}), not both."
            )
        data_dir = data_dir or (None if release is not None else os.environ.get(DATA_DIR_ENV)) or None
        cache_root = Path(cache_dir or os.environ.get(CACHE_DIR_ENV) or _default_cache_dir())
        base_url = release_base_url or os.environ.get(RELEASE_BASE_URL_ENV) or None
        if release is not None:
            from .releases import open_release

            opened = open_release(release, cache_root, releases_url, remote=remote)
            if opened.manifest is not None:
                catalog = cls.from_manifest(opened.manifest, None, cache_root, opened.base_url)
            else:
                catalog = cls.from_release_dir(opened.directory, cache_root, opened.base_url)
            catalog.source = opened.source
        elif data_dir is not None:
            catalog = cls.from_release_dir(Path(data_dir), cache_root, base_url)
        else:
            catalog = cls.from_data_package(cache_root, base_url)
        catalog._adopt_cached_files()
        return catalog

    @classmethod
    def from_data_package(cls, cache_root: Path, base_url: str | None) -> Catalog:
        spec = find_spec(DATA_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise IndexFileError(
                "The idc-index-data package is not installed, and no release directory was "
                "given. Install it (pip install idc-index-data) or point IDC_INDEX_DATA_DIR "
                "at a release directory written by index_builder."
            )
        package_dir = Path(next(iter(spec.submodule_search_locations)))
        release = metadata.version("idc-index-data")
        idc_version = int(release.split(".")[0])
        base = (base_url or RELEASE_ASSETS_URL.format(release=release)).rstrip("/")
        for manifest in (RELEASE_MANIFEST_NAME, MANIFEST_NAME):
            if (package_dir / manifest).is_file():
                # A data package built by index_builder carries the manifest of its whole release:
                # column descriptions, and the size and sha256 that the indices it does not hold
                # are checked against when they are fetched.
                catalog = cls.from_release_dir(package_dir, cache_root, base, manifest)
                catalog.source = f"idc-index-data {release}"
                return catalog
        catalog = cls(
            idc_version=idc_version,
            release=release,
            source=f"idc-index-data {release}",
            cache_dir=cache_root / "indices" / release,
        )
        for name in INDEX_NAMES:
            stem = file_stem(name)
            parquet = package_dir / f"{stem}.parquet"
            schema_file = package_dir / f"{stem}_schema.json"
            if not parquet.is_file() and not schema_file.is_file():
                continue
            catalog.indices[name] = IndexEntry(
                name=name,
                file=f"{stem}.parquet",
                description=_schema_description(schema_file),
                path=parquet if parquet.is_file() else None,
                url=None if parquet.is_file() else f"{base}/{stem}.parquet",
                schema_file=schema_file if schema_file.is_file() else None,
            )
        if MAIN_INDEX not in catalog.indices or not catalog.indices[MAIN_INDEX].installed:
            raise IndexFileError(
                f"idc-index-data {release} at {package_dir} has no idc_index.parquet: "
                "reinstall it (pip install --force-reinstall idc-index-data)."
            )
        return catalog

    @classmethod
    def from_release_dir(
        cls, directory: Path, cache_root: Path, base_url: str | None, manifest_name: str = MANIFEST_NAME
    ) -> Catalog:
        manifest_path = directory / manifest_name
        if not manifest_path.is_file():
            raise IndexFileError(
                f"{directory} is not an index release directory: it has no {MANIFEST_NAME}. "
                "Point IDC_INDEX_DATA_DIR (or data_dir) at a directory written by "
                "`python -m index_builder build`."
            )
        try:
            with manifest_path.open(encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise IndexFileError(f"cannot read {manifest_path}: {e}") from e
        problems = validate_manifest(manifest)
        if problems:
            raise IndexFileError(f"{manifest_path} is not a valid release manifest: {'; '.join(problems)}")
        catalog = cls.from_manifest(manifest, directory, cache_root, base_url)
        if not catalog.indices[MAIN_INDEX].installed:
            raise IndexFileError(f"release directory {directory} has no idc_index.parquet beside its manifest.")
        return catalog

    @classmethod
    def from_manifest(
        cls, manifest: dict[str, Any], directory: Path | None, cache_root: Path, base_url: str | None
    ) -> Catalog:
        """The catalog of a (validated) release manifest: indices found in ``directory`` are
        installed, the others are at ``base_url``."""
        release = str(manifest["release"])
        catalog = cls(
            idc_version=int(manifest["idc_version"]),
            release=release,
            source=str(directory) if directory is not None else str(base_url),
            cache_dir=cache_root / "indices" / _safe_component(release),
        )
        for stem, entry in manifest["indices"].items():
            name = index_name(stem)
            local = directory / entry["file"] if directory is not None else None
            catalog.indices[name] = IndexEntry(
                name=name,
                file=entry["file"],
                description=entry.get("description", ""),
                path=local if local is not None and local.is_file() else None,
                url=f"{base_url.rstrip('/')}/{entry['file']}" if base_url else None,
                rows=entry.get("rows"),
                bytes=entry.get("bytes"),
                sha256=entry.get("sha256"),
                columns=entry.get("columns"),
            )
        if MAIN_INDEX not in catalog.indices:
            raise IndexFileError(f"release {release} ({catalog.source}) has no idc_index in its manifest.")
        return catalog

    def _adopt_cached_files(self) -> None:
        """Indices fetched earlier for this release are installed too."""
        for entry in self.indices.values():
            cached = self.cache_dir / entry.file
            if entry.path is None and cached.is_file() and (entry.bytes is None or cached.stat().st_size == entry.bytes):
                entry.path = cached

    @property
    def main_indices(self) -> list[str]:
        """The indices a release opens with (the others are fetched on demand)."""
        from .releases import main_index_stems

        return [index_name(stem) for stem in main_index_stems([file_stem(name) for name in self.indices])]

    # -- lookups ----------------------------------------------------------------------------
    def entry(self, name: str) -> IndexEntry:
        """The entry of index ``name``; ``idc_index`` is accepted for ``index``."""
        entry = self.indices.get(index_name(name))
        if entry is None:
            import difflib

            close = difflib.get_close_matches(name, list(self.indices), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownIndexError(
                f"IDC release {self.release} has no index named {name!r}.{hint} "
                f"Available: {', '.join(self.indices)}."
            )
        return entry

    # -- fetching ---------------------------------------------------------------------------
    def fetch(self, name: str, timeout: float = 60.0) -> Path:
        """Make index ``name`` local: download it into the cache unless it is there already.

        The download is streamed into a temporary file beside its final name, checked against
        the expected size and sha256 (or, where those are unknown, for a parquet footer), and
        only then renamed; a failed or corrupt download leaves nothing behind.
        """
        entry = self.entry(name)
        if entry.path is not None:
            return entry.path
        if entry.url is None:
            raise IndexFetchError(
                f"index {entry.name!r} is not in {self.source}, and no place to fetch it from "
                "is known: set IDC_RELEASE_BASE_URL (or release_base_url) to where the "
                "release's files are published."
            )
        entry.path = download_verified(entry, self.cache_dir / entry.file, timeout)
        return entry.path


def download_verified(entry: IndexEntry, destination: Path, timeout: float = 60.0) -> Path:
    """Download ``entry.url`` to ``destination``: streamed into a temporary file beside it,
    checked against the entry's size and sha256 (where known) and for a readable parquet
    footer, and only then renamed. A failed or corrupt download leaves nothing behind."""
    assert entry.url is not None
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IndexFileError(
            f"cannot create the index cache directory {destination.parent}: {e}. "
            "Set IDC_INDEX_CACHE_DIR to a writable directory."
        ) from e
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    logger.info("Fetching index %s from %s", entry.name, entry.url)
    try:
        size, digest = _download(entry.url, partial, timeout)
        _verify(entry, partial, size, digest)
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination


def check_remote_file(entry: IndexEntry, timeout: float = 30.0) -> str:
    """The URL of an index read where it is published, once a HEAD request shows it there with
    the size its manifest states.

    Raises:
        IndexFetchError: no URL is known, the server cannot be reached, or it does not serve the file.
        IndexIntegrityError: the file's size is not the manifest's.
    """
    if entry.url is None:
        raise IndexFetchError(f"index {entry.name!r} has no URL to read it from; open the release without remote=True.")
    request = urllib.request.Request(entry.url, method="HEAD", headers={"User-Agent": "idc-index"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as e:
        raise IndexFetchError(
            f"index {entry.name!r} is not served at {entry.url}: HTTP {e.code} {e.reason}. Check that the "
            "release is published there (IDC_RELEASES_URL), or open it without remote=True."
        ) from e
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        raise IndexFetchError(
            f"could not reach {entry.url}: {getattr(e, 'reason', e)}. Remote queries need the network; "
            "open the release without remote=True to query a cached copy."
        ) from e
    if entry.bytes is not None and length is not None and int(length) != entry.bytes:
        raise IndexIntegrityError(
            f"index {entry.name!r} at {entry.url} is {length} bytes, its release's manifest says {entry.bytes}: "
            "the file was replaced or damaged. Open the release without remote=True to fetch and verify it."
        )
    return entry.url


def validate_manifest(manifest: Any) -> list[str]:
    """What is wrong with a release manifest (empty when it is valid)."""
    if not isinstance(manifest, dict):
        return ["the top level is not an object"]
    problems = []
    if manifest.get("format") != MANIFEST_FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if not isinstance(manifest.get("idc_version"), int):
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
        elif Path(entry["file"]).name != entry["file"]:
            problems.append(f"index {stem!r} file {entry['file']!r} is not a plain file name")
    return problems


def _download(url: str, partial: Path, timeout: float) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": "idc-index"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                sha.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise IndexFetchError(
            f"fetching {url} failed: HTTP {e.code} {e.reason}. Check that the release is "
            "published there, or set IDC_RELEASE_BASE_URL to a mirror that has it."
        ) from e
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise IndexFetchError(
            f"could not reach {url}: {reason}. Check the network connection, or set "
            "IDC_RELEASE_BASE_URL to a reachable mirror."
        ) from e
    except http.client.HTTPException as e:
        raise IndexFetchError(
            f"fetching {url} failed: the server cut the download short ({type(e).__name__}). "
            "Nothing was cached; try again."
        ) from e
    except OSError as e:
        raise IndexFileError(f"cannot write {partial}: {e}. Set IDC_INDEX_CACHE_DIR to a writable directory with free space.") from e
    return size, sha.hexdigest()


def _verify(entry: IndexEntry, partial: Path, size: int, digest: str) -> None:
    if entry.bytes is not None and size != entry.bytes:
        raise IndexIntegrityError(
            f"index {entry.name!r} from {entry.url} is {size} bytes, expected {entry.bytes}: "
            "the download was truncated or the file was replaced. Nothing was cached; try again."
        )
    if entry.sha256 is not None and digest != entry.sha256.lower():
        raise IndexIntegrityError(
            f"index {entry.name!r} from {entry.url} has sha256 {digest}, expected "
            f"{entry.sha256}: the file is corrupt or not the published one. Nothing was cached."
        )
    if not _looks_like_parquet(partial):
        raise IndexIntegrityError(
            f"{entry.url} did not return a parquet file (no readable parquet footer). "
            "Nothing was cached; check IDC_RELEASE_BASE_URL."
        )


def _looks_like_parquet(path: Path) -> bool:
    """Whether the file starts and ends as parquet and its footer (the file metadata) reads."""
    size = path.stat().st_size
    if size < 12:
        return False
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(size - 4)
        if head != b"PAR1" or f.read(4) != b"PAR1":
            return False
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, ValueError):  # pyarrow's errors for a footer that is not parquet metadata
        return False
    return True


def _schema_description(schema_file: Path) -> str:
    if not schema_file.is_file():
        return ""
    try:
        with schema_file.open(encoding="utf-8") as f:
            return str(json.load(f).get("table_description", ""))
    except (OSError, json.JSONDecodeError):
        return ""


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("idc-index", "IDC"))


def _safe_component(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "release"


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()
