"""From a user's selection to a download plan: SQL rows over the indices, folder templates,
safe path components, IDC portal manifests, and the disk-space check.

Nothing here transfers bytes: :mod:`idc_index.download` does. The client methods
(``download_from_selection`` and friends) call these helpers and hand the plan to the core.

Example:
    >>> from idc_index.selection import parse_template, render_destination
    >>> tokens = parse_template("%collection_id/%Modality_%SeriesInstanceUID")
    >>> render_destination(tokens, {"collection_id": "c", "Modality": "CT", "SeriesInstanceUID": "1.2"})
    'c/CT_1.2'
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .download import GCS_BUCKETS, PARTIAL_SUFFIX, PlanItem, bucket_for
from .errors import IDCClientInsufficientDiskSpaceError, IDCError

#: The index columns a ``dirTemplate`` may name (as in idc-index 0.13).
TEMPLATE_ATTRIBUTES = ("PatientID", "collection_id", "Modality", "StudyInstanceUID", "SeriesInstanceUID")
#: The literal characters a ``dirTemplate`` may contain between attributes.
TEMPLATE_SEPARATORS = ("_", "-", "/")

#: Columns every planned series row carries.
SERIES_COLUMNS = (
    "collection_id",
    "PatientID",
    "StudyInstanceUID",
    "Modality",
    "SeriesInstanceUID",
    "crdc_series_uuid",
    "aws_bucket",
    "series_size_MB",
)

_MAX_COMPONENT_BYTES = 200
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


class InvalidTemplateError(IDCError, ValueError):
    """A ``dirTemplate`` with something other than ``%<attribute>`` and ``_``, ``-``, ``/``."""


class EmptySelectionError(IDCError, ValueError):
    """A selection whose filters leave nothing to download (the message says which filter)."""


class ManifestError(IDCError, ValueError):
    """A manifest file that cannot be read or has lines that are not IDC copy commands."""


# -- templates and paths -------------------------------------------------------------------------
Token = tuple[bool, str]  # (is_attribute, text)


def parse_template(dirTemplate: str | None) -> list[Token] | None:
    """Split ``dirTemplate`` into attributes and literal separators; None (or "") is a flat layout.

    Raises:
        InvalidTemplateError: the template has anything but ``%<attribute>`` and ``_ - /``.

    Example:
        >>> parse_template("%PatientID-%Modality")
        [(True, 'PatientID'), (False, '-'), (True, 'Modality')]
    """
    if dirTemplate is None or dirTemplate == "":
        return None
    if not isinstance(dirTemplate, str):
        raise InvalidTemplateError(f"dirTemplate must be a string or None, not {type(dirTemplate).__name__}")
    # Longest names first so that no attribute is matched by a prefix of another.
    names = sorted(TEMPLATE_ATTRIBUTES, key=len, reverse=True)
    pattern = re.compile("%(" + "|".join(names) + ")")
    tokens: list[Token] = []
    pos = 0
    for m in pattern.finditer(dirTemplate):
        if m.start() > pos:
            tokens.append((False, dirTemplate[pos : m.start()]))
        tokens.append((True, m.group(1)))
        pos = m.end()
    if pos < len(dirTemplate):
        tokens.append((False, dirTemplate[pos:]))
    bad = "".join(t for is_attr, t in tokens if not is_attr and any(c not in TEMPLATE_SEPARATORS for c in t))
    if bad:
        leftover = "".join(c for c in bad if c not in TEMPLATE_SEPARATORS)
        raise InvalidTemplateError(
            f"Invalid download hierarchy template {dirTemplate!r}: {leftover!r} is not allowed. "
            f"Use attributes {', '.join('%' + a for a in TEMPLATE_ATTRIBUTES)} joined by "
            f"{', '.join(repr(s) for s in TEMPLATE_SEPARATORS)}, or None for no subdirectories."
        )
    return tokens


_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,150}")


@functools.lru_cache(maxsize=65536)
def sanitize_component(value: str) -> str:
    """One safe path component: no separators, control characters, NUL, ``.``/``..`` or
    names Windows reserves; at most 200 bytes.

    Example:
        >>> sanitize_component("../etc/passwd")
        '.._etc_passwd'
        >>> sanitize_component("..")
        '_'
    """
    if _PLAIN.fullmatch(value) and not value.endswith(".") and not _WINDOWS_RESERVED.match(value):
        return value
    text = unicodedata.normalize("NFC", str(value))
    text = _UNSAFE_CHARS.sub("_", text).strip()
    text = text.rstrip(". ") if text not in (".", "..") else text
    if text in ("", ".", "..") or set(text) <= {"."}:
        return "_"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > _MAX_COMPONENT_BYTES:
        text = encoded[:_MAX_COMPONENT_BYTES].decode("utf-8", errors="ignore")
    return text


def render_destination(tokens: list[Token] | None, row: Mapping[str, Any]) -> str:
    """The folder (relative to the download directory, ``/``-separated) of one row.

    ``/`` in the template separates folders; anything in a value is kept inside one component.
    Empty components are dropped, so a template can never name the download directory's parent
    or an absolute path. A missing (NULL) value is rendered as ``_``.

    Example:
        >>> render_destination(parse_template("%PatientID/%Modality"), {"PatientID": "../x", "Modality": "CT"})
        '.._x/CT'
    """
    if tokens is None:
        return ""
    text_parts: list[list[str]] = [[]]
    for is_attr, text in tokens:
        if is_attr:
            value = row.get(text)
            text_parts[-1].append(sanitize_component("" if value is None else str(value)))
        else:
            pieces = text.split("/")
            text_parts[-1].append(pieces[0])
            for piece in pieces[1:]:
                text_parts.append([piece])
    components = []
    for parts in text_parts:
        joined = "".join(parts)
        if joined == "":
            continue
        components.append(sanitize_component(joined))
    return "/".join(components)


# -- plans -------------------------------------------------------------------------------------
def series_items(rows: Iterable[Mapping[str, Any]], tokens: list[Token] | None, location: str) -> list[PlanItem]:
    """One prefix item per series row (``<bucket>/<crdc_series_uuid>/*``) into its folder."""
    items = []
    for r in rows:
        size_mb = r.get("series_size_MB")
        items.append(
            PlanItem.series(
                bucket_for(r["aws_bucket"], location),
                r["crdc_series_uuid"],
                render_destination(tokens, r) or ".",
                size=None if size_mb is None else round(float(size_mb) * 1e6),
                series_instance_uid=r.get("SeriesInstanceUID"),
            )
        )
    return items


def instance_items(rows: Iterable[Mapping[str, Any]], tokens: list[Token] | None, location: str) -> list[PlanItem]:
    """One object item per instance row: ``<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm``."""
    items = []
    for r in rows:
        folder = render_destination(tokens, r)
        name = sanitize_component(f"{r['crdc_instance_uuid']}.dcm")
        size = r.get("instance_size")
        items.append(
            PlanItem.instance(
                bucket_for(r["aws_bucket"], location),
                f"{r['crdc_series_uuid']}/{r['crdc_instance_uuid']}.dcm",
                f"{folder}/{name}" if folder else name,
                size=None if size is None else int(size),
                series_instance_uid=r.get("SeriesInstanceUID"),
                sop_instance_uid=r.get("SOPInstanceUID"),
            )
        )
    return items


def dedupe_series(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows without repeated ``crdc_series_uuid`` (the first one wins)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["crdc_series_uuid"], dict(r))
    return list(seen.values())


# -- manifests ---------------------------------------------------------------------------------
_MANIFEST_URL = re.compile(r"s3://([A-Za-z0-9._-]+)/([^/\s*]+)(/\*?)?(?=\s|$)")
_AWS_ONLY = {"idc-open-data-two", "idc-open-data-cr"}
_GCS_ONLY = {b for b in GCS_BUCKETS.values() if b not in GCS_BUCKETS}


@dataclass(frozen=True)
class ManifestLine:
    """One copy command of a manifest: ``cp s3://<bucket>/<crdc_series_uuid>/* <dest>``."""

    number: int
    text: str
    bucket: str
    crdc_series_uuid: str


def parse_manifest(path: str | os.PathLike[str]) -> list[ManifestLine]:
    """The copy commands of an IDC portal manifest (AWS or GCS); ``#`` lines are comments.

    Raises:
        ManifestError: the file cannot be read, has no command, or has lines that are not
            ``cp s3://<bucket>/<uuid>/* ...`` commands (the first ones are named).

    Example:
        >>> [l.crdc_series_uuid for l in parse_manifest("manifest.s5cmd")]  # doctest: +SKIP
        ['0a1b...', ...]
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"cannot read the manifest {path}: {e}") from e
    lines, bad = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _MANIFEST_URL.search(line)
        if m is None:
            bad.append(f"line {number}: {line[:120]!r}")
            continue
        lines.append(ManifestLine(number, line, m.group(1), m.group(2)))
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ManifestError(
            f"{path} has lines that are not IDC copy commands ('cp s3://<bucket>/<crdc_series_uuid>/* .'): "
            + "; ".join(bad[:3])
            + more
        )
    if not lines:
        raise ManifestError(f"{path} has no copy commands of the form 'cp s3://<bucket>/<crdc_series_uuid>/* .'")
    return lines


def manifest_location(lines: Sequence[ManifestLine]) -> str:
    """``"aws"`` or ``"gcs"``: where a manifest's buckets are (``idc-open-data`` is in both).

    Raises:
        ManifestError: a mix of AWS-only and GCS-only buckets.
    """
    buckets = {line.bucket for line in lines}
    aws, gcs = buckets & _AWS_ONLY, buckets & _GCS_ONLY
    if aws and gcs:
        raise ManifestError(
            f"the manifest mixes AWS buckets ({', '.join(sorted(aws))}) and GCS buckets "
            f"({', '.join(sorted(gcs))}); export it again for one provider"
        )
    return "gcs" if gcs else "aws"


# -- disk space --------------------------------------------------------------------------------
def free_bytes(directory: str | os.PathLike[str]) -> int:
    """Free bytes on the disk of ``directory`` (or of its nearest existing parent)."""
    path = Path(directory).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def present_bytes(root: Path, items: Sequence[PlanItem]) -> int:
    """Bytes of the plan already on disk, which a download will not fetch again.

    An object counts when a file of its size is at its destination. A series counts the files
    in its folder, up to the series' size (folders shared by several series are counted once,
    up to their sum).
    """
    credited = 0
    try:
        with os.scandir(root) as it:
            if next(it, None) is None:
                return 0
    except OSError:
        return 0
    per_dir: dict[Path, int] = defaultdict(int)
    for item in items:
        dest = root / item.destination
        if item.key is not None:
            try:
                if item.size is not None and dest.stat().st_size == item.size:
                    credited += item.size
            except OSError:
                pass
        elif item.size:
            per_dir[dest] += item.size
    for folder, expected in per_dir.items():
        on_disk = 0
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False) and not entry.name.endswith(PARTIAL_SUFFIX):
                        on_disk += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        credited += min(on_disk, expected)
    return credited


def format_size(n: float) -> str:
    """``n`` bytes for a person: ``12.3 MB``, ``1.20 GB``.

    Example:
        >>> format_size(1_234_567)
        '1.23 MB'
    """
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def check_disk_space(root: Path, needed: int, free: int) -> None:
    """Raise IDCClientInsufficientDiskSpaceError when ``needed`` bytes exceed ``free``."""
    if needed > free:
        raise IDCClientInsufficientDiskSpaceError(
            format_size(needed),
            format_size(free),
            f"Insufficient disk space in {root}: the download needs {format_size(needed)} more "
            f"(files already present are counted), but only {format_size(free)} is free. "
            "Free some space or choose another download directory.",
        )


__all__ = [
    "SERIES_COLUMNS",
    "TEMPLATE_ATTRIBUTES",
    "EmptySelectionError",
    "InvalidTemplateError",
    "ManifestError",
    "ManifestLine",
    "check_disk_space",
    "dedupe_series",
    "format_size",
    "free_bytes",
    "instance_items",
    "manifest_location",
    "parse_manifest",
    "parse_template",
    "present_bytes",
    "render_destination",
    "sanitize_component",
    "series_items",
]
