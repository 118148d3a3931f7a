"""From a user's selection to the objects that hold it: SQL over the indices, rows, plan items.

A :class:`Selector` takes what a download method was given (collection ids or portal names,
patients, studies, series, SOP instances, crdc_series_uuids, analysis results, or an IDC
portal manifest), checks that every identifier exists (naming the closest ones when it does
not), and returns the :class:`~idc_index.download.PlanItem` values to fetch, placed by the
``dirTemplate``, as a plan table (:data:`idc_index.download.plan_table.PLAN_COLUMNS`), with the series
that its segmentations, structure sets and annotations reference when asked
(:meth:`Selector.add_references`). It also finds where one series or instance is, for the URL getters.

Example:
    >>> selector = Selector(IndexLookup(engine, "v25"), client.fetch_index)  # doctest: +SKIP
    >>> table = selector.selection_table(Selection.of(collection_id="rider_pilot"), location="aws")  # doctest: +SKIP
    >>> table["prefix"][0]  # doctest: +SKIP
    <pyarrow.StringScalar: '0a1b.../'>
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from idc_index._arrow import compute, runs_of, scalar, strings, system_allocator
from idc_index.arguments import as_one
from idc_index.download.destinations import (
    DOWNLOAD_HIERARCHY_DEFAULT,
    SERIES_COLUMNS,
    Token,
    dedupe_series,
    parse_template,
    plan_table,
    sanitize_component,
)
from idc_index.download.locations import SourceLocation, bucket_for
from idc_index.download.plan_table import PlanItem, plan_schema
from idc_index.download.references import References, follow_references
from idc_index.download.s5cmd import Manifest, manifest_location
from idc_index.errors import EmptySelectionError, IDCError, ManifestError, UnknownIdentifierError
from idc_index.query.lookup import IndexLookup
from idc_index.query.sql import ident, in_list, literal, unique
from idc_index.selection import Selection

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("idc_index")

#: Rows of the index planned at once: the query's batches (8,192 rows) are gathered to this many,
#: so that the plan's Arrow work runs on long columns and the rows held stay a few MB.
_PLAN_ROWS = 65_536


def _columns(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{ident(c)}" for c in SERIES_COLUMNS)


class Selector:
    """Turns selections and manifests into plan tables, reading the indices through ``lookup``.

    Args:
        lookup: runs SQL over the client's indices and checks identifiers.
        fetch_index: makes an optional index queryable (``sm_instance_index`` for instances).
    """

    def __init__(self, lookup: IndexLookup, fetch_index: Callable[[str], None]) -> None:
        self._lookup = lookup
        self._fetch_index = fetch_index
        self._instances_unavailable = False

    # -- selections ----------------------------------------------------------------------------
    def selection_table(
        self, selection: Selection, *, location: SourceLocation, dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT
    ) -> pa.Table:
        """The plan table of a selection in the buckets at ``location``.

        The most specific level given selects, as in idc-index 0.13; the analysis-result
        options then narrow it. Instances (``sopInstanceUID``) are single objects, everything
        else whole series.

        Raises:
            InvalidTemplateError: a ``dirTemplate`` that is not attributes and separators.
            UnknownIdentifierError: an identifier that matches nothing (with the closest ones).
            EmptySelectionError: the analysis-result options leave nothing.
            ValueError: no selection.
        """
        tokens = parse_template(dirTemplate)
        if selection.crdc_series_uuid or selection.sopInstanceUID:
            rows = self._crdc_rows(selection) if selection.crdc_series_uuid else self._instance_rows(selection)
            table = plan_table(rows, tokens, location)
        else:
            table = self._series_plan(selection, tokens, location)
        if not table.num_rows:
            raise EmptySelectionError(_empty_message(selection))
        return table

    def _crdc_rows(self, selection: Selection) -> pa.Table:
        """The series rows of a selection by ``crdc_series_uuid`` (of this release or earlier ones)."""
        uuids = list(selection.crdc_series_uuid)
        rows = self._series_by_crdc(uuids)
        self._require_crdc(uuids, set(rows["crdc_series_uuid"].to_pylist()))
        analysis = self._analysis_filter(selection)
        return self._series_by_crdc(uuids, analysis) if analysis else rows

    def _series_plan(self, selection: Selection, tokens: list[Token] | None, location: SourceLocation) -> pa.Table:
        """The plan table of the series a selection names by level (collections, patients,
        studies, series) or by its analysis options alone, planned as the index's rows come, a
        few batches at a time: a selection of all of IDC is never held as rows."""
        import pyarrow as pa

        analysis = self._analysis_filter(selection)
        level = self._lookup.selection_level(selection)
        if level is not None:
            where = in_list(*level)
        elif analysis:
            where = "TRUE"
        else:
            raise ValueError(
                "Give a selection: collection_id, patientId, studyInstanceUID, seriesInstanceUID, "
                "sopInstanceUID, crdc_series_uuid or analysis_result_id."
            )
        if analysis:
            where = f"({where}) AND {analysis}"
        column = level[0] if level is not None else None

        def plan(batches: Iterator[pa.Table]) -> tuple[pa.Table, set[str]]:
            parts = [pa.Table.from_batches([], schema=plan_schema())]
            found: set[str] = set()  # at most the values given
            for rows in runs_of(batches, _PLAN_ROWS):
                if column is not None:
                    found.update(compute().unique(rows[column]).to_pylist())
                parts.append(plan_table(rows, tokens, location))
            return pa.concat_tables(parts), found

        with system_allocator():
            table, found = self._lookup.fold(f"SELECT {_columns()} FROM index WHERE {where}", plan)
        if level is not None:
            # The rows show which identifiers exist; only when some are absent (or filtered out
            # by the analysis options) is the index asked, to name them and their closest matches.
            column, values = level
            if any(v not in found for v in values):
                self._lookup.require(column, values)
        return table

    def _instance_rows(self, selection: Selection) -> pa.Table:
        """Instance rows (from ``sm_instance_index``, fetched if needed) with their series' columns."""
        sops = list(selection.sopInstanceUID)
        self._fetch_index("sm_instance_index")
        self._lookup.require("SOPInstanceUID", sops, table="sm_instance_index")
        cond = f'i."SOPInstanceUID" IN ({", ".join(literal(v) for v in sops)})'
        analysis = self._analysis_filter(selection, 's."SeriesInstanceUID"')
        if analysis:
            cond += " AND " + analysis
        return self._lookup.table(
            f"""SELECT {_columns('s')}, i."SOPInstanceUID", i.crdc_instance_uuid, i.instance_size
                FROM sm_instance_index i JOIN index s ON i."SeriesInstanceUID" = s."SeriesInstanceUID"
                WHERE {cond}"""
        )

    def _analysis_filter(self, selection: Selection, column: str = '"SeriesInstanceUID"') -> str | None:
        """A condition on ``column`` (a SeriesInstanceUID) for the analysis-result options, or None."""
        clauses = []
        if selection.analysis_result_id:
            ids = list(selection.analysis_result_id)
            self._lookup.require("analysis_result_id", ids)
            clauses.append(
                f'{column} IN (SELECT "SeriesInstanceUID" FROM index WHERE {in_list("analysis_result_id", ids)})'
            )
        if selection.analysis_results in ("exclude", "only"):
            op = "NOT IN" if selection.analysis_results == "exclude" else "IN"
            clauses.append(
                f'{column} {op} (SELECT "SeriesInstanceUID" FROM index WHERE analysis_result_id IS NOT NULL)'
            )
        return " AND ".join(clauses) or None

    # -- references ----------------------------------------------------------------------------
    def add_references(
        self, table: pa.Table, *, location: SourceLocation, dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT
    ) -> tuple[pa.Table, References]:
        """The plan ``table`` with the series that its SEG, RTSTRUCT and ANN series reference
        added (placed by ``dirTemplate``), and the references found; see
        :func:`~idc_index.download.references.follow_references`."""
        return follow_references(self._lookup, self._fetch_index, table, parse_template(dirTemplate), location)

    # -- crdc_series_uuid and manifests --------------------------------------------------------
    def manifest_table(
        self,
        manifest: Manifest,
        *,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        check_buckets: bool = True,
    ) -> tuple[pa.Table, SourceLocation]:
        """The plan table of an IDC portal manifest (read by
        :func:`~idc_index.download.s5cmd.read_manifest`), and the bucket location its lines name.

        With ``check_buckets`` each line's bucket must be the one the index records for its
        series; without it, the buckets are used as written.

        Raises:
            InvalidTemplateError: a ``dirTemplate`` that is not attributes and separators.
            ManifestError: mixed AWS and GCS buckets, or (when validating) a bucket that does
                not hold its series.
            UnknownIdentifierError: series that are in no IDC release (naming their lines).
        """
        import pyarrow as pa

        pc = compute()
        tokens = parse_template(dirTemplate)
        lines = manifest.lines
        location = manifest_location(lines)
        uuids = unique([line.crdc_series_uuid for line in lines])
        rows = self._series_by_crdc(uuids)
        described: dict[str, str] = {}
        for line in lines:
            described.setdefault(line.crdc_series_uuid, f"line {line.number}: {line.text[:100]!r}")
        self._require_crdc(uuids, set(rows["crdc_series_uuid"].to_pylist()), described)
        # Whole series, then single instances of the series not fetched whole.
        whole = unique([line.crdc_series_uuid for line in lines if line.instance_file is None])
        listed_whole = pc.is_in(rows["crdc_series_uuid"], strings(whole))
        parts = [plan_table(rows.filter(listed_whole), tokens, location)]
        fetched_whole = set(whole)
        single = unique([f"{line.crdc_series_uuid}/{line.instance_file}" for line in lines
                         if line.instance_file is not None and line.crdc_series_uuid not in fetched_whole])
        if single:
            parts.append(plan_table(self._instances_of_keys(single, rows), tokens, location))
        table = pa.concat_tables(parts)
        # Each item's series: its bucket as the index records it, and as its manifest line names it.
        series = pc.list_element(
            pc.split_pattern(pc.coalesce(table["prefix"], table["key"]), "/", max_splits=1), scalar(0)
        )
        pairs = list(zip(series.to_pylist(), table["bucket"].to_pylist()))
        if not check_buckets:
            written: dict[str | None, str] = {line.crdc_series_uuid: line.bucket for line in lines}
            buckets = [written.get(u, b) for u, b in pairs]
            return table.set_column(0, "bucket", strings(buckets)), location
        recorded = dict(pairs)
        wrong = [
            f"line {line.number}: s3://{line.bucket}/{line.crdc_series_uuid} (IDC has it in s3://{bucket})"
            for line in lines
            if (bucket := recorded.get(line.crdc_series_uuid)) is not None and bucket != line.bucket
        ]
        if wrong:
            raise ManifestError(
                f"{manifest.path}: {len(wrong)} line(s) name a bucket that does not hold the series at "
                f"{location.upper()}: {'; '.join(wrong[:3])}. Pass validate_manifest=False to use the "
                "buckets as written."
            )
        return table, location

    def _instances_of_keys(self, keys: list[str], series_rows: pa.Table) -> pa.Table:
        """Instance rows of object keys (``<crdc_series_uuid>/<crdc_instance_uuid>.dcm``) with
        their series' columns; sizes and SOPInstanceUIDs from ``sm_instance_index`` when it is
        registered (else unknown: the downloader learns each size from the server)."""
        import pyarrow as pa

        series_uuids, instance_uuids = zip(*(key.removesuffix(".dcm").split("/", 1) for key in keys))
        instances = pa.table({
            "crdc_series_uuid": strings(series_uuids),
            "crdc_instance_uuid": strings(instance_uuids),
        })
        known_types: dict[str, pa.DataType] = {
            "crdc_instance_uuid": pa.string(), "instance_size": pa.int64(), "SOPInstanceUID": pa.string(),
        }
        known_schema = pa.schema(known_types)
        known = pa.Table.from_batches([], schema=known_schema)  # Schema.empty_table() imports pandas
        if self._lookup.has_table("sm_instance_index"):
            known = self._lookup.table(
                f"""SELECT crdc_instance_uuid, instance_size, "SOPInstanceUID" FROM sm_instance_index
                    WHERE {in_list("crdc_instance_uuid", list(instance_uuids))}"""
            ).cast(known_schema)
        series = series_rows.select(list(SERIES_COLUMNS)).cast(
            pa.schema([pa.field(c, pa.float64() if c == "series_size_MB" else pa.string()) for c in SERIES_COLUMNS])
        )
        # Joined by lookups, not Table.join (pyarrow's query engine, whose import imports pandas):
        # the series rows have one row per crdc_series_uuid and sm_instance_index one per
        # crdc_instance_uuid, so each instance meets at most one of each, and keeps its order.
        pc = compute()
        at = pc.index_in(instances["crdc_series_uuid"], value_set=series["crdc_series_uuid"])
        found = pc.is_valid(at)
        instances, at = instances.filter(found), at.filter(found)
        for name in series.column_names:
            if name != "crdc_series_uuid":
                instances = instances.append_column(series.field(name), series[name].take(at))
        at = pc.index_in(instances["crdc_instance_uuid"], value_set=known["crdc_instance_uuid"])
        for name in ("instance_size", "SOPInstanceUID"):
            instances = instances.append_column(known.field(name), known[name].take(at))
        return instances

    def _series_by_crdc(self, uuids: list[str], extra: str | None = None) -> pa.Table:
        """Series rows of ``crdc_series_uuid`` values: the current release first, then earlier
        releases (``prior_versions_index``), each with its own bucket and uuid."""
        cond = in_list("crdc_series_uuid", uuids) + (f" AND {extra}" if extra else "")
        sql = f"SELECT {_columns()}, 0 AS prior FROM index WHERE {cond}"
        if self._lookup.has_table("prior_versions_index"):
            sql += f" UNION ALL SELECT {_columns()}, 1 AS prior FROM prior_versions_index WHERE {cond}"
        return dedupe_series(self._lookup.table(f"SELECT * FROM ({sql}) ORDER BY prior"))

    def _require_crdc(self, uuids: list[str], found: set[str | None], lines: dict[str, str] | None = None) -> None:
        """Raise UnknownIdentifierError for the ``uuids`` not ``found`` (naming their manifest lines)."""
        missing = [u for u in unique(uuids) if u not in found]
        if not missing:
            return
        suggestions = {u: self._lookup.closest("crdc_series_uuid", u) for u in missing[:10]}
        where = f"IDC {self._lookup.idc_version} or its earlier releases (index, prior_versions_index)"
        if lines:
            where += "; manifest " + "; ".join(lines[u] for u in missing[:5] if u in lines)
        raise UnknownIdentifierError("crdc_series_uuid", missing, suggestions, where=where)

    # -- instances of large series ------------------------------------------------------------
    def series_instances(self, item: PlanItem) -> list[PlanItem]:
        """The instance items of a slide microscopy series item, from ``sm_instance_index``
        (fetched on the first such series), each into the series' folder; empty for other
        series, or when the index cannot be fetched (the series then stays whole)."""
        if item.prefix is None or self._instances_unavailable:
            return []
        uuid = literal(item.prefix.rstrip("/"))
        if self._lookup.values(f"SELECT Modality FROM index WHERE crdc_series_uuid = {uuid}", "Modality") != ["SM"]:
            return []  # only slide microscopy series are listed in sm_instance_index
        try:
            self._fetch_index("sm_instance_index")
        except IDCError as e:
            self._instances_unavailable = True
            logger.warning("large slide series stay whole: sm_instance_index cannot be fetched (%s)", e)
            return []
        rows = self._lookup.rows(
            f"""SELECT i."SOPInstanceUID", i.crdc_instance_uuid, i.instance_size
                FROM sm_instance_index i JOIN index s ON i."SeriesInstanceUID" = s."SeriesInstanceUID"
                WHERE s.crdc_series_uuid = {uuid}"""
        )
        folder = "" if item.destination in ("", ".") else item.destination.rstrip("/") + "/"
        return [
            PlanItem.instance(
                item.bucket, f"{item.prefix}{r['crdc_instance_uuid']}.dcm",
                folder + sanitize_component(f"{r['crdc_instance_uuid']}.dcm"), size=r["instance_size"],
                series_instance_uid=item.series_instance_uid, sop_instance_uid=r["SOPInstanceUID"],
            )
            for r in rows
        ]

    # -- single objects ------------------------------------------------------------------------
    def series_prefix(self, seriesInstanceUID: str, location: SourceLocation) -> tuple[str, str]:
        """The bucket at ``location`` and the prefix (``<crdc_series_uuid>/``) of one series.

        Raises:
            TypeError: ``seriesInstanceUID`` is not a string.
            UnknownIdentifierError: no such series (with the closest ones).
        """
        seriesInstanceUID = as_one(seriesInstanceUID, "seriesInstanceUID", "SeriesInstanceUID")
        where = in_list("SeriesInstanceUID", [seriesInstanceUID])
        rows = self._lookup.rows(f"SELECT aws_bucket, crdc_series_uuid FROM index WHERE {where} LIMIT 1")
        if not rows:
            self._lookup.require("SeriesInstanceUID", [seriesInstanceUID])
        return bucket_for(rows[0]["aws_bucket"], location), rows[0]["crdc_series_uuid"] + "/"

    def instance_key(self, sopInstanceUID: str, location: SourceLocation) -> tuple[str, str]:
        """The bucket at ``location`` and the key (``<crdc_series_uuid>/<crdc_instance_uuid>.dcm``)
        of one instance of ``sm_instance_index`` (fetched if needed).

        Raises:
            TypeError: ``sopInstanceUID`` is not a string.
            UnknownIdentifierError: the instance is not in ``sm_instance_index``.
        """
        sopInstanceUID = as_one(sopInstanceUID, "sopInstanceUID", "SOPInstanceUID")
        self._fetch_index("sm_instance_index")
        rows = self._lookup.rows(
            f"""SELECT i.crdc_instance_uuid, s.aws_bucket, s.crdc_series_uuid
                FROM sm_instance_index i JOIN index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
                WHERE i.SOPInstanceUID = {literal(sopInstanceUID)}
                LIMIT 1"""
        )
        if not rows:
            self._lookup.require("SOPInstanceUID", [sopInstanceUID], table="sm_instance_index")
        row = rows[0]
        return bucket_for(row["aws_bucket"], location), f"{row['crdc_series_uuid']}/{row['crdc_instance_uuid']}.dcm"


def _empty_message(selection: Selection) -> str:
    """Why a selection left nothing to download."""
    if selection.analysis_results == "exclude":
        return (
            "All series in the selection belong to analysis results, nothing left to download with "
            "analysis_results='exclude'."
        )
    if selection.analysis_results == "only":
        return (
            "None of the series in the selection belong to analysis results, nothing left to download "
            "with analysis_results='only'."
        )
    if selection.analysis_result_id:
        ids = list(selection.analysis_result_id)
        return f"No series from analysis_result_id {ids[0] if len(ids) == 1 else ids} found in the selection."
    return "The selection has no series to download."


__all__ = ["Selector"]
