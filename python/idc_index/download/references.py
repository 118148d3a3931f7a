"""The image series that segmentations, structure sets and annotations are drawn on.

A segmentation (Modality ``SEG``) labels the voxels of an image series, a structure set
(``RTSTRUCT``) outlines regions on one, a slide annotation (``ANN``) marks a slide; the optional
indices ``seg_index``, ``rtstruct_index`` and ``ann_index`` name that series (:data:`DERIVED`).

With ``with_references=True`` a download adds to its plan the series that its SEG, RTSTRUCT and
ANN series reference: :func:`follow_references` finds those series among the plan's, fetches
the index of each of these modalities it finds (only then), and appends the referenced series
that the plan does not hold yet, each placed by the same ``dirTemplate``. What it found is a
:class:`References` value, which the plan keeps (``plan.references``) and its report shows. One
level is followed: the references of a referenced series are not.

The other way round, :func:`derived_series_sql` lists the SEG, RTSTRUCT and ANN series that
reference given image series (``IDCClient.get_derived_series``).

Example:
    >>> table, references = follow_references(lookup, client.fetch_index, table, tokens, "aws")  # doctest: +SKIP
    >>> references  # doctest: +SKIP
    References(2 series added, 0 already selected, 0 not in the index, 0 with no reference known)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idc_index._arrow import compute, repeat, runs_of, scalar, strings
from idc_index.download.destinations import SERIES_COLUMNS, Token, plan_table
from idc_index.download.locations import SourceLocation
from idc_index.download.plan_table import first_rows
from idc_index.errors import IDCError, IndexFetchError
from idc_index.query.sql import ident, in_list, literal

if TYPE_CHECKING:
    import pyarrow as pa

    from idc_index.query.lookup import IndexLookup

logger = logging.getLogger("idc_index")

#: The series whose references are followed: (Modality, the optional index that lists them, its
#: column that names the image series each one references).
DERIVED = (
    ("SEG", "seg_index", "segmented_SeriesInstanceUID"),
    ("RTSTRUCT", "rtstruct_index", "referenced_SeriesInstanceUID"),
    ("ANN", "ann_index", "referenced_SeriesInstanceUID"),
)

#: The ``status`` of a reference: the series came into the plan as a reference.
ADDED = "added"
#: The selection held the referenced series already (it is in the plan once).
SELECTED = "selected"
#: The index names a series that the main index of the release does not have (a dangling
#: reference): nothing is added for it.
MISSING = "missing"
#: The index names no series for the referencing one (``SeriesInstanceUID`` is null).
UNKNOWN = "unknown"
STATUSES = (ADDED, SELECTED, MISSING, UNKNOWN)

#: The columns of :attr:`References.table`, one row per referencing series: the referenced
#: ``SeriesInstanceUID``, the series that references it (``referenced_by``), that series'
#: Modality (``referenced_by_modality``), the index that says so (``index_name``), and the
#: ``status`` (:data:`STATUSES`).
REFERENCE_COLUMNS = ("SeriesInstanceUID", "referenced_by", "referenced_by_modality", "index_name", "status")

#: Up to this many identifiers are looked up by value (``IN``); more are matched against the
#: whole column as the rows come, which costs one scan whatever their number.
LISTED = 2_000
#: Rows gathered before they are matched against many identifiers (a few tens of MB).
_MATCHED_ROWS = 262_144


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({name: pa.nulls(0, pa.string()) for name in REFERENCE_COLUMNS})


@dataclass(frozen=True)
class References:
    """The references a plan followed: :attr:`table`, one row per SEG, RTSTRUCT or ANN series of
    the selection, and what came of the series it references (:data:`REFERENCE_COLUMNS`).

    Example:
        >>> plan = client.plan_download(seriesInstanceUID=seg_uid, with_references=True)  # doctest: +SKIP
        >>> plan.references.added  # doctest: +SKIP
        ('1.3.6.1.4.1.14519.5.2.1.7310.5101.1603...',)
    """

    #: One row per referencing series (columns :data:`REFERENCE_COLUMNS`).
    table: pa.Table = field(default_factory=_empty_table, repr=False)

    def _with(self, status: str, column: str = "SeriesInstanceUID") -> tuple[str, ...]:
        """The distinct values of ``column`` in the rows of ``status``, in the order they come."""
        pc = compute()
        rows = self.table.filter(pc.equal(self.table["status"], scalar(status)))
        return tuple(pc.unique(rows[column]).to_pylist())

    @property
    def added(self) -> tuple[str, ...]:
        """The SeriesInstanceUIDs that came into the plan as references, in the order added."""
        return self._with(ADDED)

    @property
    def selected(self) -> tuple[str, ...]:
        """The referenced SeriesInstanceUIDs that the selection held already."""
        return self._with(SELECTED)

    @property
    def missing(self) -> tuple[str, ...]:
        """The referenced SeriesInstanceUIDs that are not in the release's main index (not
        downloaded; ``referenced_by`` in :attr:`table` names who references them)."""
        return self._with(MISSING)

    @property
    def unknown(self) -> tuple[str, ...]:
        """The referencing series for which the index names no referenced series."""
        return self._with(UNKNOWN, "referenced_by")

    def within(self, items: pa.Table) -> References:
        """The references that concern the series of the plan table ``items``: those whose
        referenced or referencing series it holds (a shard of a plan keeps these)."""
        pc = compute()
        if not self.table.num_rows:
            return self
        series = items["SeriesInstanceUID"]
        keep = pc.or_(
            pc.is_in(self.table["SeriesInstanceUID"], value_set=series),
            pc.is_in(self.table["referenced_by"], value_set=series),
        )
        if pc.all(keep).as_py():
            return self
        return References(self.table.filter(keep))

    def count_added(self, items: pa.Table) -> int:
        """How many series of the plan table ``items`` came in as references."""
        pc = compute()
        added = self.added
        if not added:
            return 0
        return len(pc.unique(items["SeriesInstanceUID"].filter(
            pc.is_in(items["SeriesInstanceUID"], value_set=strings(list(added))))))

    def __repr__(self) -> str:
        return (
            f"References({len(self.added)} series added, {len(self.selected)} already selected, "
            f"{len(self.missing)} not in the index, {len(self.unknown)} with no reference known)"
        )


def follow_references(
    lookup: IndexLookup,
    fetch_index: Callable[[str], None],
    items: pa.Table,
    tokens: list[Token] | None,
    location: SourceLocation,
) -> tuple[pa.Table, References]:
    """The plan table ``items`` with the series that its SEG, RTSTRUCT and ANN series reference
    appended (each once, unless ``items`` holds it already), placed by ``tokens`` (the parsed
    ``dirTemplate``) in the buckets at ``location``; and what was found.

    A dangling reference (a series the main index does not have) and a referencing series whose
    index names none are logged as warnings and recorded, never raised.

    Raises:
        IndexFetchError: the index of a modality found in ``items`` cannot be fetched (the
            message says which and what to do).
    """
    import pyarrow as pa
    pc = compute()

    planned = _distinct(items["SeriesInstanceUID"])
    derived = _matching(lookup, '"SeriesInstanceUID", "Modality"', "index", planned,
                        in_list("Modality", [modality for modality, _, _ in DERIVED]))
    parts = []
    for modality, index_name, column in DERIVED:
        uids = _distinct(derived.filter(pc.equal(derived["Modality"], scalar(modality)))["SeriesInstanceUID"])
        if not len(uids):
            continue
        fetch_for(fetch_index, index_name, f"the {len(uids)} {modality} series of the selection")
        rows = _matching(lookup, f'"SeriesInstanceUID", {ident(column)} AS referenced', index_name, uids)
        referenced = rows["referenced"].take(pc.index_in(uids, value_set=rows["SeriesInstanceUID"]))
        parts.append(pa.table({
            "SeriesInstanceUID": pc.cast(referenced, pa.string()),
            "referenced_by": uids,
            "referenced_by_modality": repeat(modality, len(uids)),
            "index_name": repeat(index_name, len(uids)),
        }))
    if not parts:
        return items, References()
    found = pa.concat_tables(parts)
    targets = _distinct(found["SeriesInstanceUID"])
    wanted = targets.filter(pc.invert(pc.is_in(targets, value_set=planned)))
    columns = ", ".join(ident(c) for c in SERIES_COLUMNS)
    series_rows = _matching(lookup, columns, "index", wanted) if len(wanted) else None
    added = series_rows["SeriesInstanceUID"] if series_rows is not None else strings([])
    target = found["SeriesInstanceUID"]
    status = pc.if_else(
        pc.is_null(target), scalar(UNKNOWN),
        pc.if_else(pc.is_in(target, value_set=planned), scalar(SELECTED),
                   pc.if_else(pc.is_in(target, value_set=added), scalar(ADDED), scalar(MISSING))),
    )
    references = References(found.append_column("status", status).select(list(REFERENCE_COLUMNS)))
    _warn(references)
    if series_rows is None or not series_rows.num_rows:
        return items, references
    return pa.concat_tables([items, plan_table(series_rows, tokens, location)]), references


def merge_references(parts: Sequence[References | None]) -> References | None:
    """The references of plans merged into one (each referencing series once, the first plan's
    row winning); None when no plan followed references."""
    import pyarrow as pa

    tables = [r.table for r in parts if r is not None]
    if not tables:
        return None
    return References(first_rows(pa.concat_tables(tables), ["referenced_by"]))


def fetch_for(fetch_index: Callable[[str], None], index_name: str, purpose: str) -> None:
    """Fetch ``index_name`` (a no-op when it is installed), which ``purpose`` needs.

    Raises:
        IndexFetchError: it cannot be fetched, saying what needed it and what to do.
    """
    try:
        fetch_index(index_name)
    except IDCError as e:
        raise IndexFetchError(
            f"{index_name} names the series that {purpose} reference, and it cannot be fetched: {e} "
            f"Once it can, run again (or leave with_references off to download the selection alone)."
        ) from e


def derived_series_sql(series: Sequence[str]) -> str:
    """The SQL of the SEG, RTSTRUCT and ANN series that reference the image ``series``: by
    referenced series, index and series, with their Modality, collection, patient, study,
    analysis result, description and size from the main index (every index of :data:`DERIVED`
    must be queryable)."""
    union = " UNION ALL ".join(
        f'SELECT {ident(column)} AS referenced, "SeriesInstanceUID", {literal(index_name)} AS index_name '
        f"FROM {ident(index_name)} WHERE {in_list(column, series)}"
        for _, index_name, column in DERIVED
    )
    return f"""SELECT d.referenced AS "referenced_SeriesInstanceUID", d."SeriesInstanceUID", i."Modality",
                   i.collection_id, i."PatientID", i."StudyInstanceUID", i.analysis_result_id,
                   i."SeriesDescription", i.series_size_MB, d.index_name
               FROM ({union}) d LEFT JOIN index i ON d."SeriesInstanceUID" = i."SeriesInstanceUID"
               ORDER BY d.referenced, d.index_name, d."SeriesInstanceUID"
           """


def _distinct(values: Any) -> Any:
    """The distinct non-null strings of a column, as one array."""
    pc = compute()
    return pc.unique(pc.drop_null(values))


def _matching(lookup: IndexLookup, columns: str, table: str, uids: Any, where: str = "TRUE") -> pa.Table:
    """The rows (``columns``, with ``"SeriesInstanceUID"``) of ``table`` where ``where`` holds whose
    SeriesInstanceUID is one of ``uids``: looked up by value when they are few
    (:data:`LISTED`), else matched as the rows come."""
    import pyarrow as pa
    pc = compute()

    if len(uids) <= LISTED:
        return lookup.table(f"SELECT {columns} FROM {ident(table)} WHERE {where} AND "
                            f"{in_list('SeriesInstanceUID', uids.to_pylist())}")

    def keep(batches: Iterator[pa.Table]) -> pa.Table:
        # The set of uids is hashed once per call of is_in: batches are gathered to long runs first.
        parts = [rows.filter(pc.is_in(rows["SeriesInstanceUID"], value_set=uids))
                 for rows in runs_of(batches, _MATCHED_ROWS)]
        return pa.concat_tables(parts) if parts else lookup.table(f"SELECT {columns} FROM {ident(table)} LIMIT 0")

    return lookup.fold(f"SELECT {columns} FROM {ident(table)} WHERE {where}", keep)


def _warn(references: References) -> None:
    """Log (WARNING) the references that bring nothing into the plan."""
    missing, unknown = references.missing, references.unknown
    if missing:
        logger.warning(
            "%d series referenced by the selection are not in the index of this IDC release and are not "
            "downloaded: %s%s (plan.references lists who references them)",
            len(missing), ", ".join(missing[:5]), ", ..." if len(missing) > 5 else "",
        )
    if unknown:
        logger.warning(
            "%d series of the selection have no referenced series in their index: %s%s",
            len(unknown), ", ".join(unknown[:5]), ", ..." if len(unknown) > 5 else "",
        )


__all__ = [
    "ADDED", "DERIVED", "LISTED", "MISSING", "REFERENCE_COLUMNS", "SELECTED", "STATUSES", "UNKNOWN", "References",
    "derived_series_sql", "fetch_for", "follow_references", "merge_references",
]
