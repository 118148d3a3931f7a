"""From rows of the indices to plan items: where each selected series or instance lands.

A ``dirTemplate`` names the folders under the download directory; each row's values are made
into safe path components, so nothing is ever written outside it. The rows' AWS bucket names
are mapped to the bucket location chosen (``"aws"`` or ``"gcs"``). Nothing here queries the
indices (:mod:`idc_index.selector` does) or transfers bytes (:mod:`idc_index.download` does).

Example:
    >>> from idc_index.selection import parse_template, render_destination
    >>> tokens = parse_template("%collection_id/%Modality_%SeriesInstanceUID")
    >>> render_destination(tokens, {"collection_id": "c", "Modality": "CT", "SeriesInstanceUID": "1.2"})
    'c/CT_1.2'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .download import PlanItem, SourceLocation, bucket_for
from .errors import EmptySelectionError, InvalidTemplateError, ManifestError
from .manifest import ManifestLine, manifest_location, parse_manifest
from .plan import check_disk_space, format_size, free_bytes, present_bytes

#: The ``dirTemplate`` of idc-index 0.13: one folder per collection, patient, study and series.
DOWNLOAD_HIERARCHY_DEFAULT = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"

#: The bucket locations a download can read from.
SOURCE_LOCATIONS: tuple[SourceLocation, ...] = ("aws", "gcs")

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


def check_location(source_bucket_location: str) -> SourceLocation:
    """``source_bucket_location`` as a bucket location, once checked.

    Raises:
        ValueError: it is neither ``"aws"`` nor ``"gcs"``.
    """
    for location in SOURCE_LOCATIONS:
        if source_bucket_location == location:
            return location
    raise ValueError(f"source_bucket_location must be 'aws' or 'gcs', not {source_bucket_location!r}")


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
    for parts, plain in zip(text_parts, _single_attributes(tuple(tokens))):
        joined = "".join(parts)
        if joined == "":
            continue
        # A component that is one attribute's value was made safe above already.
        components.append(joined if plain else sanitize_component(joined))
    return "/".join(components)


@functools.lru_cache(maxsize=64)
def _single_attributes(tokens: tuple[Token, ...]) -> list[bool]:
    """For each folder of a template, whether it is exactly one attribute (``%PatientID``)."""
    folders: list[list[Token]] = [[]]
    for is_attr, text in tokens:
        if is_attr:
            folders[-1].append((is_attr, text))
            continue
        pieces = text.split("/")
        if pieces[0]:
            folders[-1].append((False, pieces[0]))
        for piece in pieces[1:]:
            folders.append([(False, piece)] if piece else [])
    return [len(f) == 1 and f[0][0] for f in folders]


# -- plan items --------------------------------------------------------------------------------
def series_items(
    rows: Iterable[Mapping[str, Any]], tokens: list[Token] | None, location: SourceLocation
) -> list[PlanItem]:
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


def instance_items(
    rows: Iterable[Mapping[str, Any]], tokens: list[Token] | None, location: SourceLocation
) -> list[PlanItem]:
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


__all__ = [
    "DOWNLOAD_HIERARCHY_DEFAULT",
    "SERIES_COLUMNS",
    "SOURCE_LOCATIONS",
    "TEMPLATE_ATTRIBUTES",
    # Defined in idc_index.errors, idc_index.manifest and idc_index.plan; importable from here too.
    "EmptySelectionError",
    "InvalidTemplateError",
    "ManifestError",
    "ManifestLine",
    "check_disk_space",
    "check_location",
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
