"""The download methods of :class:`~idc_index.IDCClient` (idc-index 0.13's API).

Each method turns a selection into rows of the indices (:mod:`idc_index.selection`), the rows
into a plan, checks the disk, and hands the plan to the native downloader
(:mod:`idc_index.download`). Every method returns the :class:`~idc_index.download.DownloadReport`
(on a dry run: the plan's sizes only) and raises
:class:`~idc_index.errors.DownloadFailedError`, carrying the report, when a file could not be
downloaded. Identifiers that match nothing raise
:class:`~idc_index.errors.UnknownIdentifierError` before anything is transferred.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _core
from ._sql import as_list, ident, in_list, literal, unique
from .download import (
    DownloadReport,
    PlanItem,
    PlanSummary,
    ProgressCallback,
    bucket_for,
    download,
    resolve_endpoint,
)
from .errors import DownloadFailedError, IDCError, UnknownIdentifierError
from .selection import (
    SERIES_COLUMNS,
    EmptySelectionError,
    ManifestError,
    check_disk_space,
    dedupe_series,
    format_size,
    free_bytes,
    instance_items,
    manifest_location,
    parse_manifest,
    parse_template,
    present_bytes,
    series_items,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .catalog import Catalog

logger = logging.getLogger("idc_index")

DOWNLOAD_HIERARCHY_DEFAULT = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"
CLINICAL_BUCKET = "idc-open-metadata"

_ANALYSIS_CHOICES = ("include", "exclude", "only")


def _check_location(location: str) -> None:
    if location not in ("aws", "gcs"):
        raise ValueError(f"source_bucket_location must be 'aws' or 'gcs', not {location!r}")


def _columns(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{ident(c)}" for c in SERIES_COLUMNS)


class DownloadMethods:
    """Mixed into IDCClient: every ``download_*`` method, ``get_series_file_URLs`` and the
    clinical tables that come with ``clinical_index``."""

    # Provided by IDCClient.
    idc_version: str
    clinical_data_dir: str | None
    _engine: _core.Engine
    _catalog: Catalog

    if TYPE_CHECKING:

        def _rows(self, sql: str) -> list[dict[str, Any]]: ...
        def _values(self, sql: str, column: str) -> list[Any]: ...
        def _require(self, column: str, values: list[str], table: str = ...) -> None: ...
        def _closest(self, column: str, value: str, table: str = ..., n: int = ...) -> list[str]: ...
        def _selection_level(self, c: Any, p: Any, st: Any, se: Any) -> tuple[str, list[str]]: ...
        def fetch_index(self, index_name: str) -> None: ...

    # -- rows ------------------------------------------------------------------------------
    def _analysis_filter(
        self, analysis_result_id: str | list[str] | None, analysis_results: str, column: str = '"SeriesInstanceUID"'
    ) -> str | None:
        """A condition on ``column`` (a SeriesInstanceUID) for the analysis-result options, or None."""
        if analysis_results not in _ANALYSIS_CHOICES:
            raise ValueError(f"analysis_results must be one of 'include', 'exclude' or 'only', not {analysis_results!r}")
        clauses = []
        if analysis_result_id is not None:
            if analysis_results == "exclude":
                raise ValueError("analysis_result_id cannot be used when analysis_results is 'exclude'")
            ids = as_list(analysis_result_id, "analysis_result_id")
            self._require("analysis_result_id", ids)
            clauses.append(f'{column} IN (SELECT "SeriesInstanceUID" FROM index WHERE {in_list("analysis_result_id", ids)})')
        if analysis_results in ("exclude", "only"):
            op = "NOT IN" if analysis_results == "exclude" else "IN"
            clauses.append(
                f'{column} {op} (SELECT "SeriesInstanceUID" FROM index WHERE analysis_result_id IS NOT NULL)'
            )
        return " AND ".join(clauses) or None

    def _series_by_crdc(self, uuids: list[str], extra: str | None = None) -> list[dict[str, Any]]:
        """Series rows of ``crdc_series_uuid`` values: the current release first, then earlier
        releases (``prior_versions_index``), each with its own bucket and uuid."""
        cond = in_list("crdc_series_uuid", uuids) + (f" AND {extra}" if extra else "")
        sql = f"SELECT {_columns()}, 0 AS prior FROM index WHERE {cond}"
        if "prior_versions_index" in self._engine.table_names():
            sql += f" UNION ALL SELECT {_columns()}, 1 AS prior FROM prior_versions_index WHERE {cond}"
        rows = self._rows(f"SELECT * FROM ({sql}) ORDER BY prior")
        return dedupe_series(rows)

    def _require_crdc(self, uuids: list[str], found: set[str], lines: dict[str, str] | None = None) -> None:
        missing = [u for u in unique(uuids) if u not in found]
        if not missing:
            return
        suggestions = {u: self._closest("crdc_series_uuid", u) for u in missing[:10]}
        where = f"IDC {self.idc_version} or its earlier releases (index, prior_versions_index)"
        if lines:
            where += "; manifest " + "; ".join(lines[u] for u in missing[:5] if u in lines)
        raise UnknownIdentifierError("crdc_series_uuid", missing, suggestions, where=where)

    def _selection_rows(
        self,
        collection_id: Any,
        patientId: Any,
        studyInstanceUID: Any,
        seriesInstanceUID: Any,
        sopInstanceUID: Any,
        crdc_series_uuid: Any,
        analysis_result_id: Any,
        analysis_results: str,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The rows of a selection and whether they are instances (else series). The most
        specific level given wins, as in idc-index 0.13."""
        analysis = self._analysis_filter(analysis_result_id, analysis_results)
        if crdc_series_uuid is not None:
            uuids = as_list(crdc_series_uuid, "crdc_series_uuid")
            rows = self._series_by_crdc(uuids)
            self._require_crdc(uuids, {r["crdc_series_uuid"] for r in rows})
            if analysis:
                rows = self._series_by_crdc(uuids, analysis)
            return rows, False
        if sopInstanceUID is not None:
            sops = as_list(sopInstanceUID, "sopInstanceUID")
            self.fetch_index("sm_instance_index")
            self._require("SOPInstanceUID", sops, table="sm_instance_index")
            cond = f'i."SOPInstanceUID" IN ({", ".join(literal(v) for v in sops)})'
            analysis_s = self._analysis_filter(analysis_result_id, analysis_results, 's."SeriesInstanceUID"')
            if analysis_s:
                cond += " AND " + analysis_s
            rows = self._rows(
                f"""SELECT {_columns('s')}, i."SOPInstanceUID", i.crdc_instance_uuid, i.instance_size
                    FROM sm_instance_index i JOIN index s ON i."SeriesInstanceUID" = s."SeriesInstanceUID"
                    WHERE {cond}"""
            )
            return rows, True
        given = [v is not None for v in (collection_id, patientId, studyInstanceUID, seriesInstanceUID)]
        level: tuple[str, list[str]] | None = None
        if any(given):
            level = self._selection_level(collection_id, patientId, studyInstanceUID, seriesInstanceUID)
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
        rows = self._rows(f"SELECT {_columns()} FROM index WHERE {where}")
        if level is not None:
            # The rows show which identifiers exist; only when some are absent (or filtered out
            # by the analysis options) is the index asked, to name them and their closest matches.
            column, values = level
            found = {r[column] for r in rows}
            if any(v not in found for v in values):
                self._require(column, values)
        return rows, False

    # -- running a plan ----------------------------------------------------------------------
    def _run_plan(
        self,
        items: Sequence[PlanItem],
        downloadDir: str | os.PathLike[str],
        *,
        dry_run: bool,
        show_progress_bar: bool,
        source_bucket_location: str,
        endpoint_url: str | None,
        concurrency: int | None,
        progress_callback: ProgressCallback | None,
        checksums: bool = True,
        desc: str = "Downloading",
    ) -> DownloadReport:
        root = Path(downloadDir).expanduser()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IDCError(f"the download directory {root} cannot be created: {e}; choose another one") from e
        plan = PlanSummary(
            series=sum(1 for i in items if i.prefix is not None),
            instances=sum(1 for i in items if i.key is not None),
            bytes_total=sum(i.size or 0 for i in items),
            bytes_present=present_bytes(root, items),
            bytes_free=free_bytes(root),
        )
        logger.info(
            "Disk size needed: %s (%s already present); available: %s",
            format_size(plan.bytes_total), format_size(plan.bytes_present), format_size(plan.bytes_free),
        )
        if dry_run:
            report = DownloadReport(plan=plan, dry_run=True)
            logger.info("%s. Rerun with dry_run=False to download the files.", report.summary())
            return report
        check_disk_space(root, plan.bytes_needed, plan.bytes_free)
        try:
            report = download(
                items,
                root,
                endpoint_url=endpoint_url,
                source_bucket_location=source_bucket_location,
                concurrency=concurrency,
                checksums=checksums,
                # Sizes only also for the files already present: not read back for their MD5.
                verify_existing=checksums,
                show_progress_bar=show_progress_bar and progress_callback is None,
                progress_callback=progress_callback,
                desc=desc,
            )
        except DownloadFailedError as e:
            if e.report is not None:
                e.report = replace(e.report, plan=plan)
            raise
        return replace(report, plan=plan)

    # -- public API --------------------------------------------------------------------------
    def download_from_selection(
        self,
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        collection_id: str | list[str] | None = None,
        patientId: str | list[str] | None = None,
        studyInstanceUID: str | list[str] | None = None,
        seriesInstanceUID: str | list[str] | None = None,
        sopInstanceUID: str | list[str] | None = None,
        crdc_series_uuid: str | list[str] | None = None,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        analysis_result_id: str | list[str] | None = None,
        analysis_results: str = "include",
        *,
        endpoint_url: str | None = None,
        concurrency: int | None = None,
        progress_callback: ProgressCallback | None = None,
        checksums: bool = True,
    ) -> DownloadReport:
        """Download the DICOM files of a selection into ``downloadDir``.

        The most specific identifier given selects (crdc_series_uuid, then sopInstanceUID,
        seriesInstanceUID, studyInstanceUID, patientId, collection_id), as in idc-index 0.13;
        ``analysis_result_id`` / ``analysis_results`` then narrow it: ``"include"`` (default)
        keeps everything, ``"exclude"`` only original images, ``"only"`` only analysis results.

        Args:
            downloadDir: the directory to download into (created if needed). Nothing is ever
                written outside it, whatever the template or the index values contain.
            dry_run: only measure: return a report whose ``plan`` has the total size, the bytes
                already present and the free space (even when it does not fit).
            collection_id: collection id(s), or the collection names the IDC portal shows.
            patientId: PatientID(s).
            studyInstanceUID: StudyInstanceUID(s).
            seriesInstanceUID: SeriesInstanceUID(s).
            sopInstanceUID: SOPInstanceUID(s) of instances listed in ``sm_instance_index``.
            crdc_series_uuid: crdc_series_uuid(s); one of an earlier IDC release downloads that
                release's version of the series.
            quiet: kept for idc-index 0.13 compatibility (the downloader prints nothing itself).
            show_progress_bar: show a tqdm progress bar.
            use_s5cmd_sync: accepted for compatibility; files already present and complete are
                always skipped, so a rerun fetches only what is missing.
            dirTemplate: the folders under ``downloadDir``, from ``%collection_id``,
                ``%PatientID``, ``%StudyInstanceUID``, ``%Modality``, ``%SeriesInstanceUID`` joined
                by ``/``, ``-``, ``_``; None puts every file directly in ``downloadDir``. Files are
                named ``<crdc_instance_uuid>.dcm``.
            source_bucket_location: ``"aws"`` (default) or ``"gcs"``.
            analysis_result_id: analysis result(s) whose series to keep.
            analysis_results: ``"include"``, ``"exclude"`` or ``"only"``.
            endpoint_url: an S3-compatible endpoint for every bucket (a mirror, a proxy);
                default ``IDC_ENDPOINT_URL``, else AWS or GCS.
            concurrency: requests in flight (default: the downloader's).
            progress_callback: ``f(done_bytes, total_bytes, "B", description)``, called as the
                download progresses (replaces the progress bar).
            checksums: check each file against the MD5 or CRC32C its bucket states (default).
                False checks sizes only, of downloaded files and of files already present,
                which saves CPU time on very fast links.

        Returns:
            DownloadReport: every file on disk (``report.paths``), bytes, seconds.

        Raises:
            UnknownIdentifierError: an identifier matches nothing (with the closest ones);
                raised before anything is transferred.
            IDCClientInsufficientDiskSpaceError: the files still missing do not fit on the disk.
            DownloadFailedError: some files could not be downloaded (``e.report`` says which).

        Examples:
            >>> report = client.download_from_selection("data", collection_id="rider_pilot",
            ...                                         dirTemplate="%PatientID/%Modality_%SeriesInstanceUID")
            >>> report.paths[:1]
            ['data/RIDER-1007893286/CT_1.3.6.1.4.1.9328.50.1.../0a1b....dcm']
        """
        del quiet, use_s5cmd_sync  # resume is always on; the downloader prints nothing itself
        _check_location(source_bucket_location)
        tokens = parse_template(dirTemplate)
        rows, instances = self._selection_rows(
            collection_id, patientId, studyInstanceUID, seriesInstanceUID, sopInstanceUID, crdc_series_uuid,
            analysis_result_id, analysis_results,
        )
        if not rows:
            if analysis_results == "exclude":
                raise EmptySelectionError(
                    "All series in the selection belong to analysis results, nothing left to download with "
                    "analysis_results='exclude'."
                )
            if analysis_results == "only":
                raise EmptySelectionError(
                    "None of the series in the selection belong to analysis results, nothing left to download "
                    "with analysis_results='only'."
                )
            raise EmptySelectionError(
                f"No series from analysis_result_id {analysis_result_id} found in the selection."
                if analysis_result_id is not None
                else "The selection has no series to download."
            )
        items = (instance_items if instances else series_items)(rows, tokens, source_bucket_location)
        return self._run_plan(
            items, downloadDir, dry_run=dry_run, show_progress_bar=show_progress_bar,
            source_bucket_location=source_bucket_location, endpoint_url=endpoint_url,
            concurrency=concurrency, progress_callback=progress_callback, checksums=checksums,
        )

    def download_dicom_series(
        self,
        seriesInstanceUID: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        **options: Any,
    ) -> DownloadReport:
        """Download one or more series (SeriesInstanceUIDs); see :meth:`download_from_selection`
        for the options (``endpoint_url``, ``concurrency``, ``progress_callback`` too).

        Examples:
            >>> client.download_dicom_series("1.3.6.1.4.1.14519.5.2.1.6279.6001.1...", "data")
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, seriesInstanceUID=seriesInstanceUID, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def download_dicom_studies(
        self,
        studyInstanceUID: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        **options: Any,
    ) -> DownloadReport:
        """Download every series of one or more studies (StudyInstanceUIDs); see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_studies("1.3.6.1.4.1.14519.5.2.1.6279.6001.2...", "data")
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, studyInstanceUID=studyInstanceUID, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def download_dicom_patients(
        self,
        patientId: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        **options: Any,
    ) -> DownloadReport:
        """Download every series of one or more patients (PatientIDs); see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_patients(["LUNG1-001", "LUNG1-002"], "data")
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, patientId=patientId, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def download_dicom_instance(
        self,
        sopInstanceUID: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        **options: Any,
    ) -> DownloadReport:
        """Download single instances (SOPInstanceUIDs) listed in ``sm_instance_index`` (fetched
        on first use). Large slides are fetched in parallel ranges. See
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_instance("1.3.6.1.4.1.5962.99.1.3206...", "slides")
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, sopInstanceUID=sopInstanceUID, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def download_collection(
        self,
        collection_id: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        analysis_results: str = "include",
        **options: Any,
    ) -> DownloadReport:
        """Download one or more whole collections (ids or portal names such as
        ``"NSCLC-Radiomics"``); see :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_collection("rider_pilot", "data", dry_run=True).plan.bytes_total
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, collection_id=collection_id, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, analysis_results=analysis_results, **options,
        )

    def download_analysis_result(
        self,
        analysis_result_id: str | list[str],
        downloadDir: str | os.PathLike[str],
        dry_run: bool = False,
        quiet: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        **options: Any,
    ) -> DownloadReport:
        """Download every series of one or more analysis results; see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_analysis_result("nlst_sybil", "data", dry_run=True)
        """
        return self.download_from_selection(
            downloadDir, dry_run=dry_run, analysis_result_id=analysis_result_id, quiet=quiet,
            show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def download_from_manifest(
        self,
        manifestFile: str | os.PathLike[str],
        downloadDir: str | os.PathLike[str],
        quiet: bool = True,
        validate_manifest: bool = True,
        show_progress_bar: bool = True,
        use_s5cmd_sync: bool = False,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        progress_callback: ProgressCallback | None = None,
        *,
        dry_run: bool = False,
        endpoint_url: str | None = None,
        concurrency: int | None = None,
        checksums: bool = True,
    ) -> DownloadReport:
        """Download the series of an IDC portal manifest (AWS or GCS).

        A manifest has ``# ...`` comment lines and one ``cp s3://<bucket>/<crdc_series_uuid>/* .``
        line per series. Series of earlier IDC releases are found through
        ``prior_versions_index`` and downloaded as they were in that release. Every line must
        resolve before anything is transferred.

        Args:
            manifestFile: the manifest file.
            downloadDir: the directory to download into (created if needed).
            validate_manifest: check that each line's bucket is the one the index records for
                its series (and that AWS and GCS buckets are not mixed); when False the buckets
                are used as written.
            quiet: accepted for idc-index 0.13 compatibility.
            show_progress_bar: show a tqdm progress bar.
            use_s5cmd_sync: accepted for compatibility; files already present and complete are
                always skipped.
            dirTemplate: as in :meth:`download_from_selection`.
            progress_callback: as in :meth:`download_from_selection`.
            dry_run: as in :meth:`download_from_selection`.
            endpoint_url: as in :meth:`download_from_selection`.
            concurrency: as in :meth:`download_from_selection`.
            checksums: as in :meth:`download_from_selection`.

        Raises:
            ManifestError: lines that are not copy commands, or mixed AWS and GCS buckets.
            UnknownIdentifierError: series that are in no IDC release (naming their lines).
            IDCClientInsufficientDiskSpaceError, DownloadFailedError: as for selections.

        Examples:
            >>> report = client.download_from_manifest("cohort_manifest.s5cmd", "data")
            >>> print(report.summary())
        """
        del quiet, use_s5cmd_sync
        tokens = parse_template(dirTemplate)
        lines = parse_manifest(manifestFile)
        location = manifest_location(lines)
        uuids = unique([line.crdc_series_uuid for line in lines])
        rows = self._series_by_crdc(uuids)
        described: dict[str, str] = {}
        for line in lines:
            described.setdefault(line.crdc_series_uuid, f"line {line.number}: {line.text[:100]!r}")
        self._require_crdc(uuids, {r["crdc_series_uuid"] for r in rows}, described)
        items = series_items(rows, tokens, location)
        wanted = {line.crdc_series_uuid: line.bucket for line in lines}
        if validate_manifest:
            wrong = [
                f"line {line.number}: s3://{line.bucket}/{line.crdc_series_uuid} (IDC has it in s3://{i.bucket})"
                for line in lines
                for i in items
                if i.prefix == line.crdc_series_uuid + "/" and i.bucket != line.bucket
            ]
            if wrong:
                raise ManifestError(
                    f"{manifestFile}: {len(wrong)} line(s) name a bucket that does not hold the series at "
                    f"{location.upper()}: {'; '.join(wrong[:3])}. Pass validate_manifest=False to use the "
                    "buckets as written."
                )
        else:
            items = [replace(i, bucket=wanted.get((i.prefix or "").rstrip("/"), i.bucket)) for i in items]
        return self._run_plan(
            items, downloadDir, dry_run=dry_run, show_progress_bar=show_progress_bar,
            source_bucket_location=location, endpoint_url=endpoint_url, concurrency=concurrency,
            progress_callback=progress_callback, checksums=checksums,
        )

    def get_series_file_URLs(
        self, seriesInstanceUID: str, source_bucket_location: str = "aws", *, endpoint_url: str | None = None
    ) -> list[str]:
        """The bucket URLs (``s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm``) of
        every file of a series, listed from the bucket.

        Raises:
            UnknownIdentifierError: no such series (with the closest ones).
            DownloadError: the bucket could not be listed (the message says why).

        Examples:
            >>> client.get_series_file_URLs("1.3.6.1.4.1.14519.5.2.1.6279.6001.1...")[:1]
            ['s3://idc-open-data/0a1b.../3c4d....dcm']
        """
        _check_location(source_bucket_location)
        if not isinstance(seriesInstanceUID, str):
            raise TypeError(f"seriesInstanceUID must be a string, not {type(seriesInstanceUID).__name__}")
        rows = self._rows(
            f"SELECT aws_bucket, crdc_series_uuid FROM index WHERE {in_list('SeriesInstanceUID', [seriesInstanceUID])} LIMIT 1"
        )
        if not rows:
            self._require("SeriesInstanceUID", [seriesInstanceUID])
        bucket = bucket_for(rows[0]["aws_bucket"], source_bucket_location)
        prefix = rows[0]["crdc_series_uuid"] + "/"
        endpoint = resolve_endpoint(endpoint_url, source_bucket_location)
        listed = _core.list_objects(bucket, prefix, endpoint)
        return [f"s3://{bucket}/{o['key']}" for o in listed if o["key"].endswith(".dcm")]

    # -- clinical data -----------------------------------------------------------------------
    def _fetch_clinical_data(self, endpoint_url: str | None = None) -> str:
        """Download the clinical tables of the release (``s3://idc-open-metadata/bigquery_export/
        idc_v<N>_clinical/*``) into the cache and point ``clinical_data_dir`` at them."""
        release = f"idc_{self.idc_version}_clinical"
        target = Path(self._catalog.cache_dir) / "clinical_data" / release
        try:
            download(
                [PlanItem.series(CLINICAL_BUCKET, f"bigquery_export/{release}", ".")],
                target,
                endpoint_url=endpoint_url,
                show_progress_bar=False,
                quiet=True,
            )
        except DownloadFailedError as e:
            raise IDCError(
                f"The clinical tables of IDC {self.idc_version} could not be downloaded from "
                f"s3://{CLINICAL_BUCKET}/bigquery_export/{release}/ into {target}: {e}"
            ) from e
        if not any(target.iterdir()):
            raise IDCError(f"s3://{CLINICAL_BUCKET}/bigquery_export/{release}/ holds no clinical tables")
        self.clinical_data_dir = str(target)
        logger.info("IDC clinical data downloaded to %s", target)
        return str(target)


__all__ = ["DOWNLOAD_HIERARCHY_DEFAULT", "DownloadMethods"]
