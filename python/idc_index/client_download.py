"""The download methods of :class:`~idc_index.IDCClient` (idc-index 0.13's API).

Every method reads straight down the same path: the bucket location is checked, the client's
:class:`~idc_index.download.selector.Selector` turns the selection (or manifest) into plan items, a
:class:`~idc_index.download.plan.Plan` creates the download directory and measures the disk, and the
plan runs through the native downloader (:mod:`idc_index.download`). Every method returns the
:class:`~idc_index.download.DownloadReport` (on a dry run: the plan's sizes only, logged as
idc-index 0.13 logged them, and nothing created on disk) and raises
:class:`~idc_index.errors.DownloadFailedError`, carrying the report, when a file could not be
downloaded. Identifiers that match nothing raise
:class:`~idc_index.errors.UnknownIdentifierError` before anything is transferred.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from idc_index._arrow import bools
from idc_index.arguments import as_bool
from idc_index.download.destinations import DOWNLOAD_HIERARCHY_DEFAULT
from idc_index.download.locations import SourceLocation, check_location
from idc_index.download.plan import Plan
from idc_index.download.references import References
from idc_index.download.report import DownloadReport
from idc_index.download.s5cmd import read_manifest
from idc_index.download.selector import Selector
from idc_index.download.sharding import parse_shard, part_numbers
from idc_index.download.transfer import ProgressCallback
from idc_index.selection import Selection

if TYPE_CHECKING:
    import pyarrow as pa

F = TypeVar("F", bound=Callable[..., Any])


def _options_of(source: Callable[..., Any]) -> Callable[[F], F]:
    """Show in a shortcut method's signature (``help()``, tab completion) the keyword-only
    options of ``source`` that its ``**options`` passes on, and refuse any other keyword with
    the method's name and those options."""
    options = [p for p in inspect.signature(source).parameters.values() if p.kind is p.KEYWORD_ONLY]
    names = {p.name for p in options}

    def decorate(method: F) -> F:
        own = [p for p in inspect.signature(method).parameters.values() if p.kind is not p.VAR_KEYWORD]
        allowed = names | {p.name for p in own}

        @functools.wraps(method)
        def checked(*args: Any, **kwargs: Any) -> Any:
            unknown = sorted(k for k in kwargs if k not in allowed)
            if unknown:
                raise TypeError(
                    f"{method.__name__}() got an unexpected keyword argument {unknown[0]!r}; its download "
                    f"options are {', '.join(sorted(names))} (see download_from_selection)"
                )
            return method(*args, **kwargs)

        checked.__signature__ = inspect.signature(method).replace(parameters=own + options)  # type: ignore[attr-defined]
        return cast(F, checked)

    return decorate


class DownloadMethods:
    """The ``download_*`` methods of IDCClient; they select through ``_selector``."""

    _selector: Selector

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
        shard: str | tuple[int, int] | None = None,
        max_bandwidth: int | str | None = None,
        with_references: bool = False,
    ) -> DownloadReport[Plan]:
        """Download the DICOM files of a selection into ``downloadDir``.

        The most specific identifier given selects (crdc_series_uuid, then sopInstanceUID,
        seriesInstanceUID, studyInstanceUID, patientId, collection_id), as in idc-index 0.13;
        ``analysis_result_id`` / ``analysis_results`` then narrow it: ``"include"`` (default)
        keeps everything, ``"exclude"`` only original images, ``"only"`` only analysis results.

        Args:
            downloadDir: the directory to download into (created if needed). Nothing is ever
                written outside it, whatever the template or the index values contain.
            dry_run: only measure: return a report whose ``plan`` has the total size, the bytes
                already present and the free space (even when it does not fit), and log them
                (INFO) as idc-index 0.13 did. Nothing is created, not even ``downloadDir``.
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
            concurrency: at most this many requests in flight (default 256); below it, the
                number follows the network (grows while throughput grows, halves on throttling).
            progress_callback: ``f(done_bytes, total_bytes, "B", description)``, called as the
                download progresses (replaces the progress bar).
            checksums: check each file against the cheapest checksum its bucket states (default).
                False checks sizes only, of downloaded files and of files already present,
                which saves CPU time on very fast links.
            shard: ``"I/N"`` or ``(I, N)``: download only part ``I`` (0 to N-1) of the
                selection split into ``N`` parts of about equal bytes, whole series to the
                lightest part (one part per machine or job). Unlike
                :meth:`~idc_index.download.plan.Plan.shard`, a series larger than a part is
                not split into its instances.
            max_bandwidth: the most bytes per second the download may take from the link (a
                shared link): a number, or a text with a suffix as curl's ``--limit-rate``
                (``"500k"``, ``"25M"``, ``"1G"``: binary multiples). Default: no limit.
            with_references: also download the image series that the selection's
                segmentations (SEG), structure sets (RTSTRUCT) and slide annotations (ANN)
                reference, each once, placed by the same ``dirTemplate``. The index that names
                them (``seg_index``, ``rtstruct_index``, ``ann_index``) is fetched once, only
                for the modalities the selection has. ``report.plan.references`` says which
                series came in as references and which series referenced them; a reference
                to a series this release does not have is logged as a warning and listed
                there (``references.missing``), not downloaded.

        Returns:
            DownloadReport: every file on disk (``report.paths``), bytes, seconds.

        Raises:
            UnknownIdentifierError: an identifier matches nothing (with the closest ones);
                raised before anything is transferred.
            IDCClientInsufficientDiskSpaceError: the files still missing do not fit on the disk.
            DownloadFailedError: some files could not be downloaded (``e.report`` says which).
            IndexFetchError: ``with_references`` needs an index that cannot be fetched.

        Examples:
            >>> report = client.download_from_selection("data", collection_id="rider_pilot",
            ...                                         dirTemplate="%PatientID/%Modality_%SeriesInstanceUID")
            >>> report.paths[:1]
            ['data/RIDER-1007893286/CT_1.3.6.1.4.1.9328.50.1.../0a1b....dcm']
            >>> report = client.download_from_selection("data", seriesInstanceUID=seg_uid, with_references=True)
            >>> report.plan.references.added   # the image series the segmentation was drawn on
            ('1.3.6.1.4.1.14519.5.2.1.7310.5101.1603...',)
        """
        del quiet, use_s5cmd_sync  # resume is always on; the downloader prints nothing itself
        selection = Selection.of(
            collection_id=collection_id, patientId=patientId, studyInstanceUID=studyInstanceUID,
            seriesInstanceUID=seriesInstanceUID, sopInstanceUID=sopInstanceUID, crdc_series_uuid=crdc_series_uuid,
            analysis_result_id=analysis_result_id, analysis_results=analysis_results, with_references=with_references,
        )
        return self._download(
            selection, downloadDir, dry_run=dry_run, show_progress_bar=show_progress_bar, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, endpoint_url=endpoint_url, concurrency=concurrency,
            progress_callback=progress_callback, checksums=checksums, shard=shard, max_bandwidth=max_bandwidth,
        )

    def _download_one_level(
        self,
        argument: str,
        value: object,
        downloadDir: str | os.PathLike[str],
        dry_run: bool,
        show_progress_bar: bool,
        dirTemplate: str | None,
        source_bucket_location: str,
        analysis_results: str = "include",
        analysis_result_id: object = None,
        with_references: object = False,
        **options: Any,
    ) -> DownloadReport[Plan]:
        """The ``download_dicom_series`` kind of method: ``value`` of ``argument`` is the selection
        (None is refused, not taken as no selection); ``options`` as :meth:`download_from_selection`."""
        given = {"analysis_result_id": analysis_result_id, argument: value}
        selection = Selection.of(
            **given, analysis_results=analysis_results, with_references=with_references, required=argument
        )
        return self._download(
            selection, downloadDir, dry_run=dry_run, show_progress_bar=show_progress_bar, dirTemplate=dirTemplate,
            source_bucket_location=source_bucket_location, **options,
        )

    def _download(
        self,
        selection: Selection,
        downloadDir: str | os.PathLike[str],
        *,
        dry_run: bool,
        show_progress_bar: bool,
        dirTemplate: str | None,
        source_bucket_location: str,
        endpoint_url: str | None = None,
        concurrency: int | None = None,
        progress_callback: ProgressCallback | None = None,
        checksums: bool = True,
        shard: str | tuple[int, int] | None = None,
        max_bandwidth: int | str | None = None,
    ) -> DownloadReport[Plan]:
        """Download a checked selection: the one path of every selection download method."""
        location = check_location(source_bucket_location)
        table = self._selector.selection_table(selection, location=location, dirTemplate=dirTemplate)
        references = None
        if selection.with_references:
            table, references = self._selector.add_references(table, location=location, dirTemplate=dirTemplate)
        return _carry_out(
            table, location, downloadDir, dry_run, endpoint_url=endpoint_url, concurrency=concurrency,
            checksums=checksums, show_progress_bar=show_progress_bar, progress_callback=progress_callback,
            shard=shard, max_bandwidth=max_bandwidth, references=references,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download one or more series (SeriesInstanceUIDs); see :meth:`download_from_selection`
        for the options (``endpoint_url``, ``concurrency``, ``progress_callback`` too).

        Examples:
            >>> client.download_dicom_series("1.3.6.1.4.1.14519.5.2.1.6279.6001.1...", "data")
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "seriesInstanceUID", seriesInstanceUID, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, **options,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download every series of one or more studies (StudyInstanceUIDs); see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_studies("1.3.6.1.4.1.14519.5.2.1.6279.6001.2...", "data")
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "studyInstanceUID", studyInstanceUID, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, **options,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download every series of one or more patients (PatientIDs); see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_patients(["LUNG1-001", "LUNG1-002"], "data")
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "patientId", patientId, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, **options,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download single instances (SOPInstanceUIDs) listed in ``sm_instance_index`` (fetched
        on first use). Large slides are fetched in parallel ranges. See
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_dicom_instance("1.3.6.1.4.1.5962.99.1.3206...", "slides")
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "sopInstanceUID", sopInstanceUID, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, **options,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download one or more whole collections (ids or portal names such as
        ``"NSCLC-Radiomics"``); see :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_collection("rider_pilot", "data", dry_run=True).plan.bytes_total
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "collection_id", collection_id, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, analysis_results=analysis_results, **options,
        )

    @_options_of(download_from_selection)
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
    ) -> DownloadReport[Plan]:
        """Download every series of one or more analysis results; see
        :meth:`download_from_selection` for the options.

        Examples:
            >>> client.download_analysis_result("nlst_sybil", "data", dry_run=True)
        """
        del quiet, use_s5cmd_sync
        return self._download_one_level(
            "analysis_result_id", analysis_result_id, downloadDir, dry_run, show_progress_bar, dirTemplate,
            source_bucket_location, **options,
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
        shard: str | tuple[int, int] | None = None,
        max_bandwidth: int | str | None = None,
        with_references: bool = False,
    ) -> DownloadReport[Plan]:
        """Download the series of an IDC portal manifest (AWS or GCS).

        A manifest has ``# ...`` comment lines and one ``cp s3://<bucket>/<crdc_series_uuid>/* .``
        line per series. Series of earlier IDC releases are found through
        ``prior_versions_index`` and downloaded as they were in that release. Every command must
        resolve before anything is transferred. Lines that are not commands (a stray word, a
        pasted header) are skipped, as idc-index 0.13 skipped them: each is named in a warning
        on the ``idc_index`` logger and in ``report.skipped_manifest_lines``.

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
            shard: as in :meth:`download_from_selection`.
            max_bandwidth: as in :meth:`download_from_selection`.
            with_references: as in :meth:`download_from_selection`: the series that the
                manifest's SEG, RTSTRUCT and ANN series reference, as this release has them.

        Raises:
            ManifestError: no copy command at all, a malformed one (``cp`` with a bad URL), or
                mixed AWS and GCS buckets.
            UnknownIdentifierError: series that are in no IDC release (naming their lines).
            IDCClientInsufficientDiskSpaceError, DownloadFailedError: as for selections.

        Examples:
            >>> report = client.download_from_manifest("cohort_manifest.s5cmd", "data")
            >>> print(report.summary())
        """
        del quiet, use_s5cmd_sync
        references_wanted = as_bool(with_references, "with_references")
        manifest = read_manifest(manifestFile)
        table, location = self._selector.manifest_table(
            manifest, dirTemplate=dirTemplate, check_buckets=validate_manifest
        )
        references = None
        if references_wanted:
            table, references = self._selector.add_references(table, location=location, dirTemplate=dirTemplate)
        return _carry_out(
            table, location, downloadDir, dry_run, endpoint_url=endpoint_url, concurrency=concurrency,
            checksums=checksums, show_progress_bar=show_progress_bar, progress_callback=progress_callback,
            skipped_manifest_lines=manifest.skipped, shard=shard, max_bandwidth=max_bandwidth, references=references,
        )

    def plan_download(
        self,
        downloadDir: str | os.PathLike[str] = ".",
        collection_id: str | list[str] | None = None,
        patientId: str | list[str] | None = None,
        studyInstanceUID: str | list[str] | None = None,
        seriesInstanceUID: str | list[str] | None = None,
        sopInstanceUID: str | list[str] | None = None,
        crdc_series_uuid: str | list[str] | None = None,
        dirTemplate: str | None = DOWNLOAD_HIERARCHY_DEFAULT,
        source_bucket_location: str = "aws",
        analysis_result_id: str | list[str] | None = None,
        analysis_results: str = "include",
        *,
        manifestFile: str | os.PathLike[str] | None = None,
        validate_manifest: bool = True,
        with_references: bool = False,
    ) -> Plan:
        """The plan of a download, without downloading: a selection (the arguments of
        :meth:`download_from_selection`) or an IDC manifest (``manifestFile``), measured under
        ``downloadDir`` (created if needed).

        The plan is a value to hold, look at and split: ``plan.table`` (its items as an Arrow
        table), ``plan.bytes_total`` and the other counts, ``plan.to_manifest(path)`` (an
        s5cmd manifest), ``plan.shard(n)`` (``n`` plans of about equal bytes) and
        ``plan.run()`` (download it, returning a DownloadReport). A dry run's ``report.plan``
        is the same kind of value. With ``with_references`` (as in
        :meth:`download_from_selection`) the plan holds the series that the selection's SEG,
        RTSTRUCT and ANN series reference too, and ``plan.references`` says which came in so.

        Raises:
            UnknownIdentifierError, ManifestError, InvalidTemplateError: as the download
                methods, before anything is transferred.
            ValueError: no selection, or both a selection and ``manifestFile``.
            IndexFetchError: ``with_references`` needs an index that cannot be fetched.

        Examples:
            >>> plan = client.plan_download(collection_id="nlst")
            >>> [part.bytes_total for part in plan.shard(4)]
            [...]
            >>> client.plan_download(seriesInstanceUID=seg_uid, with_references=True).references
            References(1 series added, 0 already selected, 0 not in the index, 0 with no reference known)
        """
        selection = Selection.of(
            collection_id=collection_id, patientId=patientId, studyInstanceUID=studyInstanceUID,
            seriesInstanceUID=seriesInstanceUID, sopInstanceUID=sopInstanceUID, crdc_series_uuid=crdc_series_uuid,
            analysis_result_id=analysis_result_id, analysis_results=analysis_results, with_references=with_references,
        )
        if manifestFile is not None:
            if selection.names_identifiers:
                raise ValueError("Give either a selection or manifestFile, not both.")
            table, location = self._selector.manifest_table(
                read_manifest(manifestFile), dirTemplate=dirTemplate, check_buckets=validate_manifest,
            )
        else:
            location = check_location(source_bucket_location)
            table = self._selector.selection_table(selection, location=location, dirTemplate=dirTemplate)
        references = None
        if selection.with_references:
            table, references = self._selector.add_references(table, location=location, dirTemplate=dirTemplate)
        return Plan.measure(
            table, downloadDir, location, instance_source=self._selector.series_instances, references=references
        )


def _carry_out(
    table: pa.Table,
    location: SourceLocation,
    download_dir: str | os.PathLike[str],
    dry_run: bool,
    *,
    endpoint_url: str | None,
    concurrency: int | None,
    checksums: bool,
    show_progress_bar: bool,
    progress_callback: ProgressCallback | None,
    skipped_manifest_lines: Sequence[tuple[int, str]] = (),
    shard: str | tuple[int, int] | None = None,
    max_bandwidth: int | str | None = None,
    references: References | None = None,
) -> DownloadReport[Plan]:
    """Measure the plan of ``table`` (only its part ``shard``, when given) under
    ``download_dir``, then report it (dry run) or run it; its report (also that of a
    DownloadFailedError) lists ``skipped_manifest_lines``, and its plan the ``references``
    that concern its series."""
    if shard is not None:
        index, count = parse_shard(shard)
        table = table.filter(bools(part_numbers(table, count) == index))
    # A dry run creates nothing, not even the download directory.
    plan = Plan.measure(
        table, download_dir, location, skipped_manifest_lines=skipped_manifest_lines, create=not dry_run,
        references=references,
    )
    if dry_run:
        return plan.dry_run()
    return plan.run(
        endpoint_url=endpoint_url, concurrency=concurrency, checksums=checksums,
        show_progress_bar=show_progress_bar, progress_callback=progress_callback, max_bandwidth=max_bandwidth,
    )


__all__ = ["DOWNLOAD_HIERARCHY_DEFAULT", "DownloadMethods"]
