"""Which release to build: the newest IDC release against the index releases already published.

Index releases are published under their release string (``25.0.0``, ``25.0.1``: the IDC release,
then a rebuild counter) as tags of a GitHub repository, and as that version of the data package on
PyPI; a leading ``v`` is accepted. The build workflow lists those tags, asks BigQuery for the newest
IDC release (:func:`newest_version`) and lets :func:`plan` decide whether to build, what, and against
which previous release.

A published version is never built again under the same name: PyPI keeps the first file uploaded
for a version, so replacing only the GitHub assets would make the two differ. A forced rebuild of a
published release is a new post-release instead (``25.0.0.post1``, then ``.post2``...).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index_builder.backends import Backend
from index_builder.build import resolve_version
from index_builder.errors import BuilderError, ReleaseError
from index_builder.sqlfile import Datasets

_RELEASE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?")

#: (IDC release, minor, rebuild) or, for a post-release, (IDC release, minor, rebuild, post); tuples
#: order as the versions do: 25.0.0 < 25.0.0.post1 < 25.0.1
Release = tuple[int, ...]


def parse_release(text: str) -> Release | None:
    """``"25.0.1"`` or ``"v25.0.1"`` -> ``(25, 0, 1)``, ``"25.0.1.post2"`` -> ``(25, 0, 1, 2)``;
    anything else (other tags) -> None."""
    m = _RELEASE.fullmatch(text.strip())
    if not m:
        return None
    base = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return base + (int(m.group(4)),) if m.group(4) is not None else base


def format_release(release: Release) -> str:
    return ".".join(str(p) for p in release[:3]) + (f".post{release[3]}" if len(release) > 3 else "")


def next_post_release(release: Release, published: Iterable[Release]) -> Release:
    """The first post-release of ``release``'s base version that is not published."""
    base = release[:3]
    posts = [r[3] for r in published if r[:3] == base and len(r) > 3]
    return base + (max(posts, default=0) + 1,)


def newest_version(backend: Backend) -> int:
    """The newest IDC release the backend serves (``idc_current`` is an alias of it)."""
    datasets = Datasets.for_release("current")
    backend.prepare(datasets)
    return resolve_version(backend, datasets)


@dataclass(frozen=True)
class Plan:
    build: bool
    reason: str
    idc_version: int | None = None
    release: str | None = None
    #: the newest published release older than ``release``: the gates and the diff compare with it
    previous: str | None = None
    #: the tag exactly as published (with or without ``v``), to download its assets
    previous_tag: str | None = None

    def outputs(self) -> dict[str, str]:
        """``key=value`` pairs for ``$GITHUB_OUTPUT``; absent values are empty strings."""
        return {
            "build": "true" if self.build else "false",
            "reason": self.reason,
            "idc_version": "" if self.idc_version is None else str(self.idc_version),
            "release": self.release or "",
            "previous": self.previous or "",
            "previous_tag": self.previous_tag or "",
        }


def plan(newest: int | None, published: Iterable[str], release: str | None = None, force: bool = False) -> Plan:
    """Decide what to build.

    Args:
        newest: the newest IDC release in BigQuery (needed unless ``release`` is given).
        published: the tags of the index releases already published (other tags are ignored).
        release: build this release string instead (a rebuild, e.g. ``"25.0.1"``).
        force: build even if that release is already published: as its next post-release
            (``25.0.0`` -> ``25.0.0.post1``), never under the published version.
    """
    tags = {}
    for tag in published:
        parsed = parse_release(tag)
        if parsed is not None:
            tags[parsed] = tag.strip()
    if release:
        wanted = parse_release(release)
        if wanted is None:
            raise BuilderError(
                f"--release must look like 25.0.1 (IDC release, then a rebuild number) or 25.0.1.post1, got {release!r}"
            )
    else:
        if newest is None:
            raise BuilderError("give the newest IDC release (--newest N) or a release to build (--release X.Y.Z)")
        same = sorted(t for t in tags if t[0] == newest)
        wanted = same[-1] if same else (newest, 0, 0)
    rebuilt = None
    if wanted in tags and force:
        # never the published version again: PyPI would keep its old file while the assets change
        rebuilt, wanted = wanted, next_post_release(wanted, tags)
    older = sorted(t for t in tags if t < wanted)
    prev = older[-1] if older else None
    base = {
        "idc_version": wanted[0],
        "release": format_release(wanted),
        "previous": format_release(prev) if prev else None,
        "previous_tag": tags[prev] if prev else None,
    }
    newest_published = max(tags) if tags else None
    if rebuilt is not None:
        return Plan(True, f"{format_release(rebuilt)} is published; force builds it again as the new version "
                          f"{format_release(wanted)}, leaving what was published under {format_release(rebuilt)} "
                          "as it is", **base)
    if wanted in tags:
        why = f"{format_release(wanted)} is already published"
        if not release:
            why = f"IDC v{newest} is the newest release in BigQuery and {why}"
        return Plan(False, why + " (force builds it again as a new post-release)", **base)
    if not release and newest_published is not None and newest < newest_published[0]:
        return Plan(
            False,
            f"BigQuery's newest release is IDC v{newest}, older than the published {format_release(newest_published)}: "
            "check the billing project's view of bigquery-public-data",
            **base,
        )
    return Plan(True, f"{format_release(wanted)} is not published yet", **base)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Published:
    """What is already published under the version about to be published."""

    github: str  # "absent", "incomplete" (some assets, all equal to ours) or "same"
    pypi: str  # "absent" or "same"

    def outputs(self) -> dict[str, str]:
        return {"github": self.github, "pypi": self.pypi}


def check_published(dist: Path, github: Path | None = None, pypi_json: Path | None = None) -> Published:
    """Compare the files about to be published with those already published under their version.

    Args:
        dist: what ``package`` wrote: ``assets.txt`` and the files it lists (the wheel among them).
        github: the assets of the GitHub release of that version already published (any subset:
            the workflow downloads the ``.sha256`` sidecars, ``manifest.json`` and the wheel), or
            None / an empty directory if there is no such release.
        pypi_json: PyPI's JSON description of that version of the data package
            (``https://pypi.org/pypi/<name>/<version>/json``), or None if PyPI does not have it.

    Raises:
        ReleaseError: a published file differs from ours: publishing would leave the GitHub release
            and the PyPI package (or two uploads of one of them) with different content.
    """
    dist = Path(dist)
    listing = dist / "assets.txt"
    if not listing.is_file():
        raise ReleaseError(f"{dist} has no assets.txt: write it with `python -m index_builder package`")
    assets = [a for a in listing.read_text(encoding="utf-8").split() if a]
    wheels = [a for a in assets if a.endswith(".whl")]
    differ: list[str] = []
    github_state = "absent"
    published = sorted(p for p in Path(github).iterdir() if p.is_file()) if github and Path(github).is_dir() else []
    if published:
        for path in published:
            if path.name not in assets:
                differ.append(f"GitHub release asset {path.name} (not part of this build)")
            elif _sha256(path) != _sha256(dist / path.name):
                differ.append(f"GitHub release asset {path.name} differs from this build's")
        github_state = "same" if {p.name for p in published} >= set(assets) else "incomplete"
    pypi_state = "absent"
    if pypi_json is not None and Path(pypi_json).is_file():
        info = json.loads(Path(pypi_json).read_text(encoding="utf-8"))
        files = {u["filename"]: u.get("digests", {}).get("sha256") for u in info.get("urls", [])}
        version = info.get("info", {}).get("version", "?")
        for wheel in wheels:
            if files.get(wheel) != _sha256(dist / wheel):
                what = "has no file" if wheel not in files else "has another file"
                differ.append(f"PyPI {what} {wheel} for version {version} (files there: {sorted(files) or 'none'})")
        pypi_state = "same"
    if differ:
        raise ReleaseError(
            "this version is already published with other content; publishing it would make the GitHub "
            "release and the PyPI package differ:\n  " + "\n  ".join(differ) + "\nbuild it again as a new "
            "version instead (the build-indices workflow with force builds the next post-release)"
        )
    return Published(github_state, pypi_state)
