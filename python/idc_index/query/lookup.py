"""Identifier lookups over a client's indices: run SQL, check that identifiers exist, suggest
the closest ones when they do not, and resolve collection ids from the names the IDC portal shows.

The client's getters, the download selector and the citations all ask one :class:`IndexLookup`,
so an unknown identifier is reported the same way wherever it is given.

Example:
    >>> lookup = IndexLookup(engine, "v25")  # doctest: +SKIP
    >>> lookup.collection_ids("NSCLC-Radiomics")  # doctest: +SKIP
    ['nsclc_radiomics']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sized
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from idc_index.arguments import as_list
from idc_index.errors import UnknownIdentifierError
from idc_index.query.sql import ident, in_list, literal, unique
from idc_index.releases.files import MAIN_INDEX
from idc_index.selection import Selection

if TYPE_CHECKING:
    import pyarrow as pa

    from idc_index import _core

T = TypeVar("T", bound=Sized)
R = TypeVar("R")


class QuerySession(Protocol):
    """What runs the SQL: the core's ``Engine``, or the client's
    :class:`~idc_index.query.index_tables.IndexTables` (which replaces damaged index files)."""

    def sql(self, sql: str) -> _core.QueryResult: ...

    def fold(self, sql: str, consume: Callable[[Iterator[_core.QueryResult]], R]) -> R: ...

    def table_names(self) -> list[str]: ...

#: Where the existing values of each kind of identifier are listed (the end of its errors).
WHERE_TO_LOOK = {
    "collection_id": "get_collections() lists the collection ids (the IDC portal's names work too).",
    "PatientID": "get_patients(collection_id) lists the patients of a collection.",
    "StudyInstanceUID": "get_dicom_studies(patientId) lists the studies of a patient.",
    "SeriesInstanceUID": "get_dicom_series(studyInstanceUID) lists the series of a study.",
    "analysis_result_id": "SELECT analysis_result_id FROM analysis_results_index lists the analysis results.",
    "crdc_series_uuid": "The crdc_series_uuid of a series is in the index (and prior_versions_index).",
    "SOPInstanceUID": "sm_instance_index lists the instances of slide microscopy series; "
    "for other series, IDC lists series, not single instances.",
}


def normalize_collection(name: str) -> str:
    """The form collection ids and portal names are compared in: lower case, runs of spaces,
    ``_`` and ``-`` as one ``_``.

    Example:
        >>> normalize_collection("NSCLC-Radiomics")
        'nsclc_radiomics'
    """
    return re.sub(r"[\s_\-]+", "_", name.strip().lower())


class IndexLookup:
    """Runs SQL over the indices registered in ``engine`` and checks identifiers against them.

    Args:
        engine: the query session holding the indices as tables (or what runs SQL over it).
        idc_version: the IDC release (``"v25"``), named in the errors.
    """

    def __init__(self, engine: QuerySession, idc_version: str) -> None:
        self._engine = engine
        self.idc_version = idc_version
        self._collection_map: dict[str, str] | None = None

    # -- SQL ---------------------------------------------------------------------------------
    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of ``sql`` as dicts."""
        return self._engine.sql(sql).to_pylist()

    def table(self, sql: str) -> pa.Table:
        """The rows of ``sql`` as a pyarrow Table, string views as plain strings (which every
        pyarrow compute function takes)."""
        import pyarrow as pa

        return _plain_strings(pa.RecordBatchReader.from_stream(self._engine.sql(sql)).read_all())

    def fold(self, sql: str, consume: Callable[[Iterator[pa.Table]], R]) -> R:
        """``consume`` of the rows of ``sql`` as pyarrow Tables of one batch each, as the query
        computes them (string views as plain strings), so that a consumer that turns each batch
        into something smaller never holds the whole result. ``consume`` may be called again
        with the rows from the first: see :meth:`IndexTables.fold
        <idc_index.query.index_tables.IndexTables.fold>`."""
        import pyarrow as pa

        def tables(batches: Iterator[_core.QueryResult]) -> Iterator[pa.Table]:
            for batch in batches:
                yield _plain_strings(pa.RecordBatchReader.from_stream(batch).read_all())

        return self._engine.fold(sql, lambda batches: consume(tables(batches)))

    def values(self, sql: str, column: str) -> list[Any]:
        """The values of one ``column`` of the result of ``sql``."""
        return self._engine.sql(sql).column(column)

    def has_table(self, name: str) -> bool:
        """Whether the index ``name`` is registered (installed or fetched)."""
        return name in self._engine.table_names()

    # -- identifiers -------------------------------------------------------------------------
    def require(self, column: str, values: list[str], table: str = MAIN_INDEX) -> None:
        """Raise UnknownIdentifierError naming the values of ``column`` that ``table`` lacks."""
        found = set(
            self.values(
                f"SELECT DISTINCT {ident(column)} AS v FROM {ident(table)} WHERE {in_list(column, values)}",
                "v",
            )
        )
        missing = [v for v in unique(values) if v not in found]
        if missing:
            elsewhere = self.other_levels(column, missing) if table == MAIN_INDEX else {}
            # A value of another level names that level; only the others get near matches.
            suggestions = {v: self.closest(column, v, table) for v in missing if v not in elsewhere}
            hint = " ".join([*(f"{v!r} is a {level}, not a {column}." for v, level in elsewhere.items()),
                             WHERE_TO_LOOK.get(column, "")]).strip() or None
            raise UnknownIdentifierError(
                column, missing, suggestions, where=f"IDC {self.idc_version} ({table})", hint=hint
            )

    def other_levels(self, column: str, values: list[str]) -> dict[str, str]:
        """Of ``values`` (missing from ``column``), those that are identifiers of another level of
        the main index, and which (a SeriesInstanceUID given where a StudyInstanceUID is asked)."""
        found: dict[str, str] = {}
        for other in ("SeriesInstanceUID", "StudyInstanceUID", "PatientID", "collection_id"):
            left = [v for v in values if v not in found]
            if other == column or not left:
                continue
            sql = f"SELECT DISTINCT {ident(other)} AS v FROM {ident(MAIN_INDEX)} WHERE {in_list(other, left)}"
            found.update({v: other for v in self.values(sql, "v")})
        return found

    def existing(self, column: str, values: list[str], query: Callable[[], T]) -> T:
        """Run ``query`` for children of ``values``; raise if any of ``values`` does not exist.

        A non-empty answer for a single value proves it exists, so the common case is one
        query; otherwise the values are checked one by one.
        """
        result = query()
        if len(values) > 1 or len(result) == 0:
            self.require(column, values)
        return result

    def closest(self, column: str, value: str, table: str = MAIN_INDEX, n: int = 3) -> list[str]:
        """The existing values of ``column`` nearest to ``value`` in edit distance."""
        col = ident(column)
        prefilter = ""
        if len(value) > 16:
            # Long identifiers (DICOM UIDs): a typo leaves either end intact; compare only
            # values that share one, not a million.
            prefilter = (
                f"AND (starts_with({col}, {literal(value[:12])}) OR ends_with({col}, {literal(value[-8:])}))"
            )
        limit = max(2, len(value) // 3)
        sql = (
            f"SELECT v FROM (SELECT DISTINCT {col} AS v FROM {ident(table)} WHERE {col} IS NOT NULL {prefilter}) "
            f"WHERE levenshtein(lower(v), lower({literal(value)})) <= {limit} "
            f"ORDER BY levenshtein(lower(v), lower({literal(value)})), v LIMIT {n}"
        )
        return [str(v) for v in self.values(sql, "v")]

    # -- collections -------------------------------------------------------------------------
    def collection_ids(self, collection_id: str | list[str]) -> list[str]:
        """Collection ids for the given ids or portal names (``NSCLC-Radiomics``).

        Raises:
            UnknownIdentifierError: a value that is no collection (with the closest ids).
        """
        values = as_list(collection_id, "collection_id")
        mapping = self.collection_names()
        resolved, missing = [], []
        for value in values:
            found = mapping.get(normalize_collection(value))
            if found is None:
                missing.append(value)
            else:
                resolved.append(found)
        if missing:
            known = sorted(set(mapping.values()))
            suggestions = {
                v: difflib.get_close_matches(normalize_collection(v), known, n=3, cutoff=0.6) for v in missing
            }
            raise UnknownIdentifierError(
                "collection_id", missing, suggestions, where=f"IDC {self.idc_version}",
                hint=WHERE_TO_LOOK["collection_id"],
            )
        return unique(resolved)

    def collection_names(self) -> dict[str, str]:
        """Normalised collection ids and portal names -> collection id (read once)."""
        if self._collection_map is None:
            mapping: dict[str, str] = {}
            for cid in self.values("SELECT DISTINCT collection_id FROM index", "collection_id"):
                if cid is not None:
                    mapping[normalize_collection(cid)] = cid
            if self.has_table("collections_index"):
                for row in self.rows("SELECT collection_id, collection_name FROM collections_index"):
                    if row["collection_id"] and row["collection_name"]:
                        mapping.setdefault(normalize_collection(row["collection_name"]), row["collection_id"])
            self._collection_map = mapping
        return self._collection_map

    # -- selections --------------------------------------------------------------------------
    def selection_level(self, selection: Selection) -> tuple[str, list[str]] | None:
        """The column and values of the most specific level of ``selection`` (as idc-index 0.13
        applies them), collection ids resolved (portal names too) and checked; None when it names
        no level."""
        level = selection.level()
        if level is None:
            return None
        column, values = level
        if column == "collection_id":
            return column, self.collection_ids(list(values))
        return column, list(values)



def _plain_strings(table: pa.Table) -> pa.Table:
    """``table`` with its string views as plain strings, which every pyarrow compute function takes."""
    import pyarrow as pa

    if not any(pa.types.is_string_view(f.type) for f in table.schema):
        return table
    return table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_string_view(f.type) else f
                                 for f in table.schema]))


__all__ = ["WHERE_TO_LOOK", "IndexLookup", "normalize_collection"]
