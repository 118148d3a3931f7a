"""Which IDC index release is in use, and where each of its index files lives.

A release comes from one of:

- the ``idc-index-data`` package (the default; it works offline right after install),
- a local release directory written by ``index_builder``: parquet files plus ``manifest.json``
  (``IDC_INDEX_DATA_DIR`` or the ``data_dir`` argument), see ``docs/manifest.md``,
- a published release (the ``release`` argument), fetched into the cache by
  :mod:`idc_index.releases.published`, which is then a release directory.

Indices that a release lists but does not carry locally are fetched on demand from a release
base URL (``IDC_RELEASE_BASE_URL``), checked against their expected size and sha256 where
known, and cached under a versioned directory (``IDC_INDEX_CACHE_DIR``). Nothing here reads
index data; the query engine registers the files.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idc_index.errors import IndexFetchError, IndexFileError, UnknownIndexError
from idc_index.releases.data_package import data_package_dir, data_package_version
from idc_index.releases.files import (
    CACHE_DIR_ENV,
    INDEX_NAMES,
    MAIN_INDEX,
    MANIFEST_NAME,
    RELEASE_MANIFEST_NAME,
    IndexEntry,
    default_cache_dir,
    download_verified,
    file_stem,
    has_parquet_ends,
    index_name,
    read_json,
    safe_component,
    validate_release_manifest,
)
from idc_index.releases.published import main_index_stems, open_release

logger = logging.getLogger("idc_index")

RELEASE_ASSETS_URL = "https://github.com/ImagingDataCommons/idc-index-data/releases/download/{release}"


#: The environment variables that choose the release and where its files are.
DATA_DIR_ENV = "IDC_INDEX_DATA_DIR"
RELEASE_BASE_URL_ENV = "IDC_RELEASE_BASE_URL"


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
                :mod:`idc_index.releases.published`. Not with ``data_dir``.
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
        cache_root = Path(cache_dir or os.environ.get(CACHE_DIR_ENV) or default_cache_dir())
        base_url = release_base_url or os.environ.get(RELEASE_BASE_URL_ENV) or None
        if release is not None:
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
        package_dir = data_package_dir()
        if package_dir is None:
            raise IndexFileError(
                "The idc-index-data package is not installed, and no release directory was "
                "given. Install it (pip install idc-index-data) or point IDC_INDEX_DATA_DIR "
                "at a release directory written by index_builder."
            )
        release = data_package_version(package_dir)
        if release is None:
            raise IndexFileError(
                f"The idc-index-data package at {package_dir} has no installed metadata to tell "
                "its release. Reinstall it (pip install --force-reinstall idc-index-data)."
            )
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
            manifest = read_json(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFileError(f"cannot read {manifest_path}: {e}") from e
        problems = validate_release_manifest(manifest)
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
            cache_dir=cache_root / "indices" / safe_component(release),
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
        """Indices fetched earlier for this release are installed too; a cached file that is not
        whole (cut short by a crash or a full disk) is removed, to be fetched again on demand."""
        for entry in self.indices.values():
            cached = self.cache_dir / entry.file
            if entry.path is not None or not cached.is_file():
                continue
            if (entry.bytes is None or cached.stat().st_size == entry.bytes) and has_parquet_ends(cached):
                entry.path = cached
            else:
                logger.warning("the cached index %s is damaged (not whole); it was removed and will be fetched again",
                               cached)
                cached.unlink(missing_ok=True)

    @property
    def cache_root(self) -> Path:
        """The cache directory (``IDC_INDEX_CACHE_DIR``, ``cache_dir=``, or the user cache
        directory), of which ``<root>/indices/<release>`` is this release's ``cache_dir``."""
        return self.cache_dir.parent.parent

    @property
    def main_indices(self) -> list[str]:
        """The indices a release opens with (the others are fetched on demand)."""
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


def _schema_description(schema_file: Path) -> str:
    if not schema_file.is_file():
        return ""
    try:
        with schema_file.open(encoding="utf-8") as f:
            return str(json.load(f).get("table_description", ""))
    except (OSError, json.JSONDecodeError):
        return ""


