"""Published index releases: which there are, and fetching one into the cache.

IDC publishes every index release under a releases URL (``IDC_RELEASES_URL``; by default
IDC's public bucket), one directory per release and ``current`` for the newest::

    <releases url>/releases.json                          the listing (see docs/manifest.md)
    <releases url>/<release>/release_artifacts/manifest.json
    <releases url>/<release>/release_artifacts/<index>.parquet
    <releases url>/current/release_artifacts/...          the newest release

A release is opened from the cache when it is there, without the network. Otherwise its
manifest is read, its main indices (the main index, and those that the installed
``idc-index-data`` package carries, where the release has them) are downloaded and verified
into ``<cache>/indices/<release>/``, and its manifest is written there last: a cached
release is a release directory, and one whose fetch failed leaves nothing behind. Its other
indices are fetched on demand from the same place.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idc_index.download import documents
from idc_index.errors import DownloadError, IndexFileError, ReleaseFetchError, UnknownReleaseError
from idc_index.releases.data_package import data_package_dir, data_package_version
from idc_index.releases.files import (
    CACHE_DIR_ENV,
    MAIN_INDEX_FILE_STEM,
    MANIFEST_NAME,
    IndexEntry,
    default_cache_dir,
    download_verified,
    file_sha256,
    index_name,
    read_json,
    safe_component,
    validate_release_manifest,
)
from idc_index.releases.stamps import stamp_path

logger = logging.getLogger("idc_index")

#: Where IDC publishes its index releases.
RELEASES_URL = "https://storage.googleapis.com/idc-index-data-artifacts"
RELEASES_URL_ENV = "IDC_RELEASES_URL"
#: The listing of the published releases, next to their directories.
LISTING_NAME = "releases.json"
#: Bounds on a listing or a manifest read from a server: bytes (a listing of 10^5 releases is
#: about 10 MB) and seconds for the whole document (each read also times out on its own).
MAX_JSON_BYTES = 64 << 20
JSON_DEADLINE_SECONDS = 120.0
LISTING_FORMAT = "idc-index-releases/1"
CURRENT = "current"
ARTIFACTS_DIR = "release_artifacts"
#: What a release is called: a version such as ``26.0.0`` (a directory name, nothing more).
_RELEASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class OpenedRelease:
    """A published release, in the cache and ready to use."""

    release: str
    directory: Path
    """``<cache>/indices/<release>``: its manifest and the indices fetched so far."""
    base_url: str
    """Where its other indices are fetched from."""
    source: str
    """How ``idc version`` names it."""
    manifest: dict[str, Any] | None = None
    """The release's manifest, when it is read where it is published (not fetched into the cache)."""


@dataclass
class ReleaseInfo:
    """One row of :func:`list_releases`."""

    release: str
    idc_version: int | None = None
    current: bool = False
    published: bool = False
    cached: bool = False
    bundled: bool = False


def releases_url(url: str | None = None) -> str:
    """The releases URL: the argument, else ``IDC_RELEASES_URL``, else IDC's bucket."""
    return (url or os.environ.get(RELEASES_URL_ENV) or RELEASES_URL).rstrip("/")


def release_url(base: str, release: str) -> str:
    """Where the files of ``release`` are published."""
    return f"{base}/{release}/{ARTIFACTS_DIR}"


def version_key(release: str) -> tuple[tuple[int, ...], str]:
    """Sort key of release strings: numerically by their numbers (``25.0.10`` after ``25.0.9``)."""
    return tuple(int(n) for n in re.findall(r"\d+", release)), release


# -- the cache ------------------------------------------------------------------------------
def cached_release_dir(cache_root: Path, release: str) -> Path:
    return cache_root / "indices" / safe_component(release)


def _cached_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of a complete cached release in ``directory``, else None."""
    try:
        manifest = read_json((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if validate_release_manifest(manifest):
        return None
    main = manifest["indices"].get(MAIN_INDEX_FILE_STEM)
    if not isinstance(main, dict):
        return None
    path = directory / main["file"]
    if not path.is_file() or (main.get("bytes") is not None and path.stat().st_size != main["bytes"]):
        return None
    return manifest  # type: ignore[no-any-return]


def cached_releases(cache_root: Path) -> dict[str, int]:
    """The published releases in the cache: release -> IDC version."""
    found: dict[str, int] = {}
    root = cache_root / "indices"
    if not root.is_dir():
        return found
    for directory in root.iterdir():
        manifest = _cached_manifest(directory) if directory.is_dir() else None
        if manifest is not None and directory.name == safe_component(str(manifest["release"])):
            found[str(manifest["release"])] = int(manifest["idc_version"])
    return found


def _bundled() -> tuple[str | None, Path | None]:
    """The version and directory of the installed idc-index-data package, if any."""
    package_dir = data_package_dir()
    if package_dir is None:
        return None, None
    return data_package_version(package_dir), package_dir


# -- the network ----------------------------------------------------------------------------
def _get_json(url: str, timeout: float) -> Any:
    """The JSON document at ``url``, or None when it is not published (HTTP 404, or 403 as a
    bucket answers for a missing key). Raises ReleaseFetchError when it cannot be fetched."""
    try:
        doc = documents.get(url, max_bytes=MAX_JSON_BYTES, deadline=JSON_DEADLINE_SECONDS, stall_timeout=timeout)
    except DownloadError as e:
        raise ReleaseFetchError(f"could not fetch {url}: {e}. Check the network and {RELEASES_URL_ENV}.") from None
    if not doc.published:
        return None
    try:
        document = read_json(doc.body)
    except ValueError as e:
        raise ReleaseFetchError(f"{url} is not JSON ({e}): check {RELEASES_URL_ENV}.") from e
    if document is None:
        raise ReleaseFetchError(f"{url} is the JSON document null: check {RELEASES_URL_ENV}.")
    return document


def fetch_listing(base: str, timeout: float = 30.0) -> dict[str, Any] | None:
    """The published listing (``releases.json``), or None when the server publishes none.

    Raises ReleaseFetchError when the server cannot be reached or the listing is invalid."""
    url = f"{base}/{LISTING_NAME}"
    listing = _get_json(url, timeout)
    if listing is None:
        return None
    problems = validate_listing(listing)
    if problems:
        raise ReleaseFetchError(f"{url} is not a valid release listing: {'; '.join(problems)}.")
    return listing  # type: ignore[no-any-return]


def validate_listing(listing: Any) -> list[str]:
    """What is wrong with a release listing (empty when it is valid)."""
    if not isinstance(listing, dict):
        return ["the top level is not an object"]
    problems = []
    if listing.get("format") != LISTING_FORMAT:
        problems.append(f"format is {listing.get('format')!r}, expected {LISTING_FORMAT!r}")
    releases = listing.get("releases")
    current = listing.get("current")
    if current is not None and not isinstance(current, str):
        problems.append(f"current is {current!r}, not a release string")
    if not isinstance(releases, list) or not all(isinstance(r, dict) and isinstance(r.get("release"), str) for r in releases):
        problems.append("releases is not a list of objects with a release string")
        return problems
    for r in releases:
        version = r.get("idc_version")
        if version is not None and not (isinstance(version, int) and not isinstance(version, bool)):
            problems.append(f"release {r['release']!r} idc_version is {version!r}, not an integer")
        if r.get("files_sha256") is not None and not isinstance(r["files_sha256"], str):
            problems.append(f"release {r['release']!r} files_sha256 is not a string")
    if isinstance(current, str) and current not in {r["release"] for r in releases}:
        problems.append(f"current {current!r} is not one of the releases")
    return problems


def list_releases(cache_dir: str | os.PathLike[str] | None = None, url: str | None = None,
                  timeout: float = 30.0) -> tuple[list[ReleaseInfo], str | None]:
    """Every release that is published, cached or bundled, oldest first, and why the published
    ones could not be listed (None when they were)."""
    base = releases_url(url)
    cache_root = Path(cache_dir or os.environ.get(CACHE_DIR_ENV) or default_cache_dir())
    rows: dict[str, ReleaseInfo] = {}
    problem = None
    try:
        listing = fetch_listing(base, timeout)
        if listing is None:
            problem = f"{base} publishes no {LISTING_NAME}"
        else:
            current = listing.get("current") or max((r["release"] for r in listing["releases"]), key=version_key, default=None)
            for r in listing["releases"]:
                rows[r["release"]] = ReleaseInfo(r["release"], r.get("idc_version"), current=r["release"] == current,
                                                 published=True)
    except ReleaseFetchError as e:
        problem = str(e)
    for release, idc_version in cached_releases(cache_root).items():
        info = rows.setdefault(release, ReleaseInfo(release, idc_version))
        info.cached = True
        info.idc_version = info.idc_version or idc_version
    bundled, _ = _bundled()
    if bundled is not None:
        info = rows.setdefault(bundled, ReleaseInfo(bundled, int(bundled.split(".")[0])))
        info.bundled = True
    return sorted(rows.values(), key=lambda r: version_key(r.release)), problem


def _available(base: str, cache_root: Path) -> str:
    """The releases to name in an error message."""
    names: list[str] = []
    try:
        listing = fetch_listing(base)
        if listing is not None:
            names = [r["release"] for r in listing["releases"]]
    except ReleaseFetchError:
        pass
    names = sorted(set(names) | set(cached_releases(cache_root)), key=version_key)
    return ", ".join(names) if names else f"none listed ({base}/{LISTING_NAME} is not published)"


# -- opening a release ----------------------------------------------------------------------
def open_release(
    release: str, cache_root: Path, url: str | None = None, timeout: float = 60.0, *, remote: bool = False
) -> OpenedRelease:
    """The published ``release`` (``"current"`` or a version), from the cache or fetched into it;
    with ``remote``, only its manifest is read (the indices stay where they are published).

    Raises:
        UnknownReleaseError: no such release is published (the message lists those that are).
        ReleaseFetchError: the release could not be fetched and is not cached.
        IndexFetchError, IndexIntegrityError: one of its main indices could not be downloaded
            or did not match the manifest; nothing was cached.
    """
    base = releases_url(url)
    release = release.strip()
    if not _RELEASE_NAME.fullmatch(release):
        raise UnknownReleaseError(
            f"{release!r} is not a release name: give 'current' or one of {_available(base, cache_root)}."
        )
    if release != CURRENT and not remote:
        directory = cached_release_dir(cache_root, release)
        if _cached_manifest(directory) is not None:
            logger.debug("release %s from the cache %s", release, directory)
            return OpenedRelease(release, directory, release_url(base, release), f"release {release} (cached)")
    manifest_url = f"{release_url(base, release)}/{MANIFEST_NAME}"
    try:
        manifest = _get_json(manifest_url, timeout)
    except ReleaseFetchError as e:
        if release == CURRENT and not remote:
            cached = cached_releases(cache_root)
            if cached:
                newest = max(cached, key=version_key)
                logger.warning("%s Using release %s, the newest in the cache.", e, newest)
                return OpenedRelease(newest, cached_release_dir(cache_root, newest), release_url(base, newest),
                                     f"release {newest} (cached; {base} unreachable)")
        if remote:
            raise ReleaseFetchError(
                f"{e} A release is read remotely over the network: check it and {RELEASES_URL_ENV} "
                f"({base}), or open the release without remote=True to use a cached copy."
            ) from e
        raise ReleaseFetchError(
            f"{e} No copy of release {release!r} is cached. Use the bundled index (no release "
            f"argument, no --release), or check the network and {RELEASES_URL_ENV} ({base})."
        ) from e
    if manifest is None:
        raise UnknownReleaseError(
            f"there is no index release {release!r} at {base} ({manifest_url} is not published). "
            f"Available: {_available(base, cache_root)}. `idc releases` lists them."
        )
    problems = validate_release_manifest(manifest)
    if problems:
        raise ReleaseFetchError(f"{manifest_url} is not a valid release manifest: {'; '.join(problems)}.")
    name = str(manifest["release"])
    if not _RELEASE_NAME.fullmatch(name) or name == CURRENT:
        raise ReleaseFetchError(f"{manifest_url} names release {name!r}, which is not a release name: check {RELEASES_URL_ENV}.")
    if release != CURRENT and name != release:
        raise ReleaseFetchError(f"{manifest_url} is the manifest of release {name!r}, not {release!r}: check {RELEASES_URL_ENV}.")
    directory = cached_release_dir(cache_root, name)
    files_url = release_url(base, name)
    if remote:
        return OpenedRelease(name, directory, files_url, f"release {name} (remote, {files_url})", manifest)
    if _cached_manifest(directory) is None:
        _fetch_into_cache(manifest, files_url, directory, timeout)
    return OpenedRelease(name, directory, files_url, f"release {name} ({files_url})")


def main_index_stems(stems: Iterable[str]) -> list[str]:
    """Of a release's index ``stems``, those it opens with: the main index, and those that the
    installed idc-index-data package carries too (the others are fetched on demand)."""
    _, package_dir = _bundled()
    bundled = {p.stem for p in package_dir.glob("*.parquet")} if package_dir is not None else set()
    return [stem for stem in stems if stem == MAIN_INDEX_FILE_STEM or stem in bundled]


def _fetch_into_cache(manifest: dict[str, Any], files_url: str, directory: Path, timeout: float) -> None:
    """Download and verify the main indices of a release into ``directory``, then write its
    manifest. On any failure the files written by this call are removed."""
    written: list[Path] = []
    created = not directory.exists()
    try:
        for stem in main_index_stems(manifest["indices"]):
            spec = manifest["indices"][stem]
            entry = IndexEntry(name=index_name(stem), file=spec["file"], url=f"{files_url}/{spec['file']}",
                               bytes=spec.get("bytes"), sha256=spec.get("sha256"))
            destination = directory / entry.file
            if destination.is_file() and _matches(destination, entry):
                continue
            download_verified(entry, destination, timeout)
            written.append(destination)
        partial = directory / f".{MANIFEST_NAME}.{os.getpid()}.partial"
        try:
            partial.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            os.replace(partial, directory / MANIFEST_NAME)
        except OSError as e:
            partial.unlink(missing_ok=True)
            raise IndexFileError(f"cannot write {directory / MANIFEST_NAME}: {e}. Set IDC_INDEX_CACHE_DIR to a writable directory.") from e
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
            stamp_path(path).unlink(missing_ok=True)
        if created and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        raise


def _matches(path: Path, entry: IndexEntry) -> bool:
    """Whether a file already in the cache is the one the manifest describes."""
    if entry.bytes is not None and path.stat().st_size != entry.bytes:
        return False
    return entry.sha256 is None or file_sha256(path) == entry.sha256.lower()
