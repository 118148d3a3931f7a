"""From rows of the indices to plan items: where each selected series or instance lands.

A ``dirTemplate`` names the folders under the download directory; each row's values are made
into safe path components, so nothing is ever written outside it. The rows' AWS bucket names
are mapped to the bucket location chosen (``"aws"`` or ``"gcs"``). Nothing here queries the
indices (:mod:`idc_index.download.selector` does) or transfers bytes (:mod:`idc_index.download.transfer`
does).

Example:
    >>> import pyarrow as pa
    >>> from idc_index.download.destinations import parse_template, render_destinations
    >>> tokens = parse_template("%collection_id/%Modality_%SeriesInstanceUID")
    >>> rows = pa.table({"collection_id": ["c"], "Modality": ["CT"], "SeriesInstanceUID": ["1.2"]})
    >>> render_destinations(tokens, rows).to_pylist()
    ['c/CT_1.2']
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from idc_index._arrow import compute, repeat, scalar, strings
from idc_index.download.locations import SourceLocation, bucket_for
from idc_index.download.plan_table import first_rows, plan_schema
from idc_index.errors import InvalidTemplateError

if TYPE_CHECKING:
    import pyarrow as pa

#: The ``dirTemplate`` of idc-index 0.13: one folder per collection, patient, study and series.
DOWNLOAD_HIERARCHY_DEFAULT = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"

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


# -- templates and paths -------------------------------------------------------------------------
Token = tuple[bool, str]  # (is_attribute, text)
#: A pyarrow Array or ChunkedArray (pyarrow-stubs do not type the results of compute functions).
Column = Any


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


def render_destinations(tokens: list[Token] | None, rows: pa.Table) -> Column:
    """The folder (relative to the download directory, ``/``-separated) of every row.

    ``/`` in the template separates folders; anything in a value is kept inside one component.
    Empty components are dropped, so a template can never name the download directory's parent
    or an absolute path. A missing (NULL) value is rendered as ``_``. The work is done on whole
    columns: only values that are not plain names go through :func:`sanitize_component` one by one.

    Example:
        >>> import pyarrow as pa
        >>> rows = pa.table({"PatientID": ["../x", "p1"], "Modality": ["CT", None]})
        >>> render_destinations(parse_template("%PatientID/%Modality"), rows).to_pylist()
        ['.._x/CT', 'p1/_']
    """
    pc = compute()

    if tokens is None:
        return repeat("", rows.num_rows)
    components: list[Column | str] = []
    for folder in _folders(tuple(tokens)):
        if not any(is_attr for is_attr, _ in folder):
            if folder:  # literal text only: the same folder for every row
                components.append(sanitize_component("".join(text for _, text in folder)))
            continue
        parts = [safe_components(rows[text]) if is_attr else scalar(text) for is_attr, text in folder]
        joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, scalar(""))
        # A folder that is one attribute's value was made safe above already.
        components.append(joined if _single_attribute(folder) else safe_components(joined))
    if all(isinstance(c, str) for c in components):
        return repeat("/".join(str(c) for c in components), rows.num_rows)
    # No component is empty: a value renders as at least "_", and empty folders were dropped.
    if len(components) == 1:
        return components[0]
    return pc.binary_join_element_wise(*(scalar(c) if isinstance(c, str) else c for c in components), scalar("/"))


def safe_components(values: Column) -> Column:
    """:func:`sanitize_component` of every value (NULL is ``""``, rendered ``_``), computed once
    per distinct value that is not a plain name."""
    import pyarrow as pa
    pc = compute()

    text = pc.cast(values, pa.string())
    if text.null_count:
        text = pc.fill_null(text, scalar(""))
    plain = pc.and_(
        pc.match_substring_regex(text, "^" + _PLAIN.pattern + "$"),
        pc.invert(pc.or_(pc.ends_with(text, "."), pc.match_substring_regex(text, _WINDOWS_RESERVED.pattern,
                                                                           ignore_case=True))),
    )
    if pc.all(plain).as_py() is not False:
        return text
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    others = pc.unique(text.filter(pc.invert(plain)))
    fixed = strings([sanitize_component(v) for v in others.to_pylist()])
    return pc.if_else(plain, text, fixed.take(pc.index_in(text, value_set=others)))


Folder = tuple[Token, ...]


@functools.lru_cache(maxsize=64)
def _folders(tokens: tuple[Token, ...]) -> list[Folder]:
    """The folders of a template: its tokens split at each ``/``, empty literals dropped."""
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
    return [tuple(f) for f in folders]


def _single_attribute(folder: Folder) -> bool:
    """Whether a folder of a template is exactly one attribute (``%PatientID``)."""
    return len(folder) == 1 and folder[0][0]


# -- plan tables -------------------------------------------------------------------------------
def plan_table(rows: pa.Table, tokens: list[Token] | None, location: SourceLocation) -> pa.Table:
    """The plan items (see :data:`idc_index.download.plan_table.PLAN_COLUMNS`) of series rows, or of instance
    rows when ``rows`` has ``crdc_instance_uuid``.

    A series is one prefix item (``<bucket>/<crdc_series_uuid>/*``) into its folder, sized from
    ``series_size_MB``; an instance is one object item
    (``<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm``) to ``<folder>/<crdc_instance_uuid>.dcm``,
    sized from ``instance_size``. The rows' AWS buckets become those at ``location``.

    Raises:
        DownloadError: a bucket that has no copy at ``location``.
    """
    import pyarrow as pa
    pc = compute()

    n = rows.num_rows
    folder = render_destinations(tokens, rows)
    buckets = pc.cast(rows["aws_bucket"], pa.string())
    names = pc.unique(buckets)
    bucket = strings([bucket_for(b, location) for b in names.to_pylist()]).take(
        pc.index_in(buckets, value_set=names)
    )
    uuid = pc.cast(rows["crdc_series_uuid"], pa.string())
    sop = pc.cast(rows["SOPInstanceUID"], pa.string()) if "SOPInstanceUID" in rows.column_names else None
    if "crdc_instance_uuid" in rows.column_names:
        instance = pc.cast(rows["crdc_instance_uuid"], pa.string())
        dcm, empty, slash = scalar(".dcm"), scalar(""), scalar("/")
        name = safe_components(pc.binary_join_element_wise(instance, dcm, empty))
        prefix = pa.nulls(n, pa.string())
        key = pc.binary_join_element_wise(uuid, slash, instance, dcm, empty)
        destination = pc.if_else(pc.equal(folder, empty), name, pc.binary_join_element_wise(folder, name, slash))
        size = pc.cast(rows["instance_size"], pa.int64())
    else:
        prefix = pc.binary_join_element_wise(uuid, scalar("/"), scalar(""))
        key = pa.nulls(n, pa.string())
        destination = pc.if_else(pc.equal(folder, scalar("")), scalar("."), folder)
        megabytes = pc.cast(rows["series_size_MB"], pa.float64())
        size = pc.cast(pc.round(pc.multiply(megabytes, scalar(1e6))), pa.int64())
    columns = {
        "bucket": bucket,
        "prefix": prefix,
        "key": key,
        "size": size,
        "destination": destination,
        "collection_id": pc.cast(rows["collection_id"], pa.string()),
        "SeriesInstanceUID": pc.cast(rows["SeriesInstanceUID"], pa.string()),
        "SOPInstanceUID": sop if sop is not None else pa.nulls(n, pa.string()),
    }
    return pa.table(columns, schema=plan_schema())


def dedupe_series(rows: pa.Table) -> pa.Table:
    """Rows without repeated ``crdc_series_uuid`` (the first one wins)."""
    return first_rows(rows, ["crdc_series_uuid"])


__all__ = [
    "DOWNLOAD_HIERARCHY_DEFAULT",
    "SERIES_COLUMNS",
    "TEMPLATE_ATTRIBUTES",
    "dedupe_series",
    "parse_template",
    "plan_table",
    "render_destinations",
    "safe_components",
    "sanitize_component",
]
