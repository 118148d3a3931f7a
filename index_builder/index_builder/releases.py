"""Which release to build: the newest IDC release against the index releases already published.

Index releases are published under their release string (``25.0.0``, ``25.0.1``: the IDC release,
then a rebuild counter) as tags of a GitHub repository; a leading ``v`` is accepted. The build
workflow lists those tags, asks BigQuery for the newest IDC release (:func:`newest_version`) and
lets :func:`plan` decide whether to build, what, and against which previous release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from index_builder.backends import Backend
from index_builder.build import resolve_version
from index_builder.errors import BuilderError
from index_builder.sqlfile import Datasets

_RELEASE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")

Release = tuple[int, int, int]


def parse_release(text: str) -> Release | None:
    """``"25.0.1"`` or ``"v25.0.1"`` -> ``(25, 0, 1)``; anything else (other tags) -> None."""
    m = _RELEASE.fullmatch(text.strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def format_release(release: Release) -> str:
    return ".".join(str(p) for p in release)


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
        force: build even if that release is already published (it will be replaced).
    """
    tags = {}
    for tag in published:
        parsed = parse_release(tag)
        if parsed is not None:
            tags[parsed] = tag.strip()
    if release:
        wanted = parse_release(release)
        if wanted is None:
            raise BuilderError(f"--release must look like 25.0.1 (IDC release, then a rebuild number), got {release!r}")
    else:
        if newest is None:
            raise BuilderError("give the newest IDC release (--newest N) or a release to build (--release X.Y.Z)")
        same = sorted(t for t in tags if t[0] == newest)
        wanted = same[-1] if same else (newest, 0, 0)
    older = sorted(t for t in tags if t < wanted)
    prev = older[-1] if older else None
    base = {
        "idc_version": wanted[0],
        "release": format_release(wanted),
        "previous": format_release(prev) if prev else None,
        "previous_tag": tags[prev] if prev else None,
    }
    newest_published = max(tags) if tags else None
    if wanted in tags:
        if force:
            return Plan(True, f"{format_release(wanted)} is published; rebuilding it because of force", **base)
        why = f"{format_release(wanted)} is already published"
        if not release:
            why = f"IDC v{newest} is the newest release in BigQuery and {why}"
        return Plan(False, why + " (force rebuilds it)", **base)
    if not release and newest_published is not None and newest < newest_published[0]:
        return Plan(
            False,
            f"BigQuery's newest release is IDC v{newest}, older than the published {format_release(newest_published)}: "
            "check the billing project's view of bigquery-public-data",
            **base,
        )
    return Plan(True, f"{format_release(wanted)} is not published yet", **base)
