"""The releases site: every published release under its version, ``current`` and ``releases.json``.

IDC publishes its index releases side by side under one releases URL, which the client reads
(``IDCClient(release=...)``, ``idc --release``; the formats are in docs/manifest.md)::

    <site>/releases.json                          the listing: every published release, and the current one
    <site>/<release>/release_artifacts/<files>    the release's files, as built
    <site>/current/release_artifacts/<files>      a copy of the newest release

:func:`publish_layout` adds one built release to a site directory; the build workflow then copies
that directory to the bucket. The listing it writes is the one it was given (``--listing``, the
published ``releases.json``) and the site's own, merged, plus this release: a release once listed
is published, so it is never dropped and never replaced by other files (the same files again are
fine: a rerun). Each listed release carries ``files_sha256``, the sha256 of the ``sha256sum``
lines (``"<hex>  <name>\\n"``, by name) of its published files, which is how other files under a
listed version are recognised.

Files are written through a temporary name and renamed, the manifest after the files it names and
the listing last, so an interrupted run leaves no half-written file, and a reader that finds a
manifest finds its files. Nothing is deleted: a site may hold other files next to the releases.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index_builder.errors import ReleaseError
from index_builder.manifest import MANIFEST, sha256_file, verify_release

LISTING = "releases.json"
LISTING_FORMAT = "idc-index-releases/1"
CURRENT = "current"
ARTIFACTS = "release_artifacts"
#: What the client accepts as a release name (a directory name, nothing more).
_RELEASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PARTIAL = ".partial"


def version_key(release: str) -> tuple[tuple[int, ...], str]:
    """Sort key of release strings, as the client sorts them: by their numbers (``25.0.10`` after
    ``25.0.9``, ``25.0.0.post1`` after ``25.0.0``)."""
    return tuple(int(n) for n in re.findall(r"\d+", release)), release


def release_files(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """The files of a release directory that are published: per index its parquet file, its
    sidecar and its query (when there is one), then ``manifest.json``, last."""
    names: list[str] = []
    for stem, entry in manifest["indices"].items():
        names += [entry["file"], entry["file"] + ".sha256"]
        if (Path(directory) / f"{stem}.sql").is_file():
            names.append(f"{stem}.sql")
    return [*names, MANIFEST]


def files_sha256(digests: dict[str, str]) -> str:
    """sha256 of the ``sha256sum`` lines of the files (name -> sha256), sorted by name."""
    lines = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def read_listing(path: Path) -> dict[str, Any]:
    """A release listing, checked as the client checks it, with no release listed twice."""
    path = Path(path)
    try:
        listing = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReleaseError(f"cannot read the release listing {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{path} is not valid JSON: {exc}") from exc
    problems = []
    if not isinstance(listing, dict):
        raise ReleaseError(f"{path} is not a release listing: the top level is not an object")
    if listing.get("format") != LISTING_FORMAT:
        problems.append(f"format is {listing.get('format')!r}, expected {LISTING_FORMAT!r}")
    releases = listing.get("releases")
    if not isinstance(releases, list) or not all(isinstance(r, dict) and isinstance(r.get("release"), str) for r in releases):
        problems.append("releases is not a list of objects with a release string")
    else:
        names = [r["release"] for r in releases]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{', '.join(twice)} listed more than once")
        if listing.get("current") is not None and listing["current"] not in names:
            problems.append(f"current {listing['current']!r} is not one of the releases")
    if problems:
        raise ReleaseError(f"{path} is not a valid release listing: {'; '.join(problems)}")
    return listing


def _merge(listings: list[tuple[Path, dict[str, Any]]]) -> tuple[dict[str, dict[str, Any]], str | None, dict[str, Any]]:
    """The releases of every listing (release -> entry), the current release of the last one that
    names one, and the other top-level keys (the last listing's win)."""
    releases: dict[str, dict[str, Any]] = {}
    where: dict[str, Path] = {}
    current = None
    extra: dict[str, Any] = {}
    for path, listing in listings:
        for entry in listing["releases"]:
            name = entry["release"]
            if name in releases and releases[name] != entry:
                raise ReleaseError(
                    f"{where[name]} and {path} list release {name} differently ({releases[name]} and {entry}): "
                    "make them agree, or give only the published listing"
                )
            releases[name], where[name] = entry, path
        current = listing.get("current") or current
        extra.update({k: v for k, v in listing.items() if k not in ("format", "current", "releases")})
    return releases, current, extra


def _write(dst: Path, src: Path | None = None, data: bytes | None = None) -> str:
    """Write ``src``'s bytes (or ``data``) to ``dst`` through a temporary file and a rename;
    returns the sha256 of what was written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for stale in dst.parent.glob(f".{glob.escape(dst.name)}.*{_PARTIAL}"):
        stale.unlink()  # left by a run that was killed
    partial = dst.with_name(f".{dst.name}.{os.getpid()}{_PARTIAL}")
    h = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            if src is not None:
                with open(src, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                        out.write(chunk)
            else:
                h.update(data or b"")
                out.write(data or b"")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, dst)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return h.hexdigest()


def _copy_release(source: Path, names: list[str], digests: dict[str, str], directory: Path) -> None:
    """Copy the release's files into ``directory``, checking each against the digest it had."""
    for name in names:
        if _write(directory / name, src=source / name) != digests[name]:
            raise ReleaseError(f"{source / name} changed while it was being published: publish the release again")


@dataclass(frozen=True)
class SiteUpdate:
    """What :func:`publish_layout` wrote."""

    release: str
    idc_version: int
    directory: Path
    """``<site>/<release>/release_artifacts``."""
    current: bool
    """Whether the release is the newest listed, copied to ``current/`` as well."""
    listing: dict[str, Any]

    def outputs(self) -> dict[str, str]:
        """``key=value`` pairs for ``$GITHUB_OUTPUT``."""
        return {
            "release": self.release,
            "idc_version": str(self.idc_version),
            "current": "true" if self.current else "false",
            "listed": " ".join(r["release"] for r in self.listing["releases"]),
        }


def publish_layout(release_dir: Path, site: Path, listing: Path | None = None) -> SiteUpdate:
    """Add a built release to the releases site in ``site``.

    Writes ``<site>/<release>/release_artifacts/`` (the release's files, byte for byte),
    ``<site>/current/release_artifacts/`` when the release is the newest listed, and
    ``<site>/releases.json``: every release of ``listing`` and of the site's own listing, and
    this one, sorted by version as the client sorts them.

    Args:
        release_dir: a release directory written by ``build`` (it is verified first).
        site: the site directory (created if absent).
        listing: the published ``releases.json`` to merge with; None for the site's own alone
            (none at all: the first release).

    Raises:
        ReleaseError: the release does not verify or has no usable name, a listing is invalid
            or missing, or the release is listed already with other files; nothing was written.
    """
    release_dir, site = Path(release_dir), Path(site)
    manifest = verify_release(release_dir)
    release, idc_version = str(manifest["release"]), manifest["idc_version"]
    if not _RELEASE_NAME.fullmatch(release) or release == CURRENT:
        raise ReleaseError(
            f"{release_dir}: release {release!r} cannot name a directory of the site; build it with --release like 25.0.0"
        )
    if not isinstance(idc_version, int):
        raise ReleaseError(f"{release_dir}: idc_version {idc_version!r} is not a number")
    names = release_files(release_dir, manifest)
    digests = {name: sha256_file(release_dir / name) for name in names}
    entry = {"release": release, "idc_version": idc_version, "files_sha256": files_sha256(digests)}

    listings = []
    if (site / LISTING).is_file():
        listings.append((site / LISTING, read_listing(site / LISTING)))
    if listing is not None:
        if not Path(listing).is_file():
            raise ReleaseError(f"the listing {listing} does not exist: omit --listing when no release is published yet")
        listings.append((Path(listing), read_listing(Path(listing))))
    releases, current, extra = _merge(listings)
    listed = releases.get(release)
    if listed is not None and (listed.get("files_sha256"), listed.get("idc_version")) != (entry["files_sha256"], idc_version):
        if "files_sha256" not in listed:
            why = "without files_sha256, so whether its files are these cannot be told"
        else:
            why = (f"with other files (IDC v{listed.get('idc_version')}, files_sha256 {listed['files_sha256']}; "
                   f"this build: IDC v{idc_version}, files_sha256 {entry['files_sha256']})")
        raise ReleaseError(
            f"release {release} is published already, {why}; a published release is never replaced: "
            "build it again as a new version (the build-indices workflow with force builds the next post-release)"
        )
    releases[release] = listed or entry
    ordered = sorted(releases.values(), key=lambda r: version_key(r["release"]))
    newest = ordered[-1]["release"] == release
    if newest:
        current = release

    directory = site / release / ARTIFACTS
    _copy_release(release_dir, names, digests, directory)
    if newest:
        _copy_release(release_dir, names, digests, site / CURRENT / ARTIFACTS)
    document: dict[str, Any] = {"format": LISTING_FORMAT}
    if current is not None:
        document["current"] = current
    document["releases"] = ordered
    document.update(extra)
    _write(site / LISTING, data=(json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return SiteUpdate(release, idc_version, directory, newest, document)
