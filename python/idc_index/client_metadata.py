"""The method of :class:`~idc_index.IDCClient` that reads attributes no index carries from the
DICOM headers of the instances of a selection, without downloading the files:
:meth:`InstanceMetadata.get_instance_metadata`. The selection becomes a plan table as for a
download (:class:`~idc_index.download.selector.Selector`); its series are listed
(:mod:`idc_index.headers.objects`), each object's header read with growing Range requests
through the native core (:mod:`idc_index.headers.reader`) and cached by object
(:mod:`idc_index.headers.cache`), and the attributes asked for taken from it
(:mod:`idc_index.headers.attributes`) into one row per instance (:mod:`idc_index.headers.table`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Union, overload

from idc_index import _core
from idc_index.download.locations import check_location, resolve_endpoint
from idc_index.download.transfer import download_config
from idc_index.headers.attributes import parse_attributes
from idc_index.headers.cache import HeaderCache
from idc_index.headers.objects import plan_instances
from idc_index.headers.reader import Header, read_headers
from idc_index.headers.table import MetadataColumns, to_pandas
from idc_index.selection import Selection
from idc_index.units import format_size

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from idc_index.download.selector import Selector
    from idc_index.releases.catalog import Catalog

logger = logging.getLogger("idc_index")

#: The values of ``output``.
OUTPUTS = ("pandas", "arrow")
#: Headers read and parsed at once: their datasets are let go once their rows are taken.
HEADERS_AT_ONCE = 5_000

Identifiers = Union[str, list[str], None]


class InstanceMetadata:
    """``get_instance_metadata`` of IDCClient; it selects through ``_selector`` and caches under
    ``_catalog.cache_root``."""

    _selector: Selector
    _catalog: Catalog

    @overload
    def get_instance_metadata(
        self, collection_id: Identifiers = ..., patientId: Identifiers = ..., studyInstanceUID: Identifiers = ...,
        seriesInstanceUID: Identifiers = ..., sopInstanceUID: Identifiers = ..., crdc_series_uuid: Identifiers = ...,
        analysis_result_id: Identifiers = ..., analysis_results: str = ..., *, attributes: str | Sequence[str],
        source_bucket_location: str = ..., endpoint_url: str | None = ..., concurrency: int | None = ...,
        output: Literal["pandas"] = ...,
    ) -> pd.DataFrame: ...

    @overload
    def get_instance_metadata(
        self, collection_id: Identifiers = ..., patientId: Identifiers = ..., studyInstanceUID: Identifiers = ...,
        seriesInstanceUID: Identifiers = ..., sopInstanceUID: Identifiers = ..., crdc_series_uuid: Identifiers = ...,
        analysis_result_id: Identifiers = ..., analysis_results: str = ..., *, attributes: str | Sequence[str],
        source_bucket_location: str = ..., endpoint_url: str | None = ..., concurrency: int | None = ...,
        output: Literal["arrow"],
    ) -> pa.Table: ...

    def get_instance_metadata(
        self,
        collection_id: Identifiers = None,
        patientId: Identifiers = None,
        studyInstanceUID: Identifiers = None,
        seriesInstanceUID: Identifiers = None,
        sopInstanceUID: Identifiers = None,
        crdc_series_uuid: Identifiers = None,
        analysis_result_id: Identifiers = None,
        analysis_results: str = "include",
        *,
        attributes: str | Sequence[str],
        source_bucket_location: str = "aws",
        endpoint_url: str | None = None,
        concurrency: int | None = None,
        output: Literal["pandas", "arrow"] = "pandas",
    ) -> pd.DataFrame | pa.Table:
        """Attributes of the DICOM headers of the instances of a selection, one row per
        instance, read from the buckets without downloading the files.

        The selection is that of :meth:`download_from_selection`: the most specific identifier
        given selects, ``analysis_result_id`` / ``analysis_results`` narrow it. Each instance's
        header is read with Range requests from the start of its file: 64 KiB first, then, for
        the files whose header goes on, twice as much in each round (all files of a round in
        parallel) until the pixel data begin, up to 64 MiB. What was read is cached by object
        under the cache directory (``IDC_INDEX_CACHE_DIR``), with the series' listings: asking
        again for the same instances makes no request.

        Args:
            collection_id: collection id(s), or the collection names the IDC portal shows.
            patientId: PatientID(s).
            studyInstanceUID: StudyInstanceUID(s).
            seriesInstanceUID: SeriesInstanceUID(s).
            sopInstanceUID: SOPInstanceUID(s) of instances listed in ``sm_instance_index``
                (fetched on first use).
            crdc_series_uuid: crdc_series_uuid(s).
            analysis_result_id: analysis result(s) whose series to keep.
            analysis_results: ``"include"``, ``"exclude"`` or ``"only"``.
            attributes: the attributes to read, each a DICOM keyword (``"Rows"``), a tag
                (``"(0028,0010)"``, ``"00280010"``, ``"0x00280010"``; private tags too), or a
                path through sequences with the item to take (``[0]``, ``[-1]``, or ``[*]``
                for a list of every item's):
                ``"OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning"``. A
                sequence (or a sequence item) comes as a text in DICOM's JSON model; ``:json``
                after any attribute gives its element so (``"PixelSpacing:json"``).
            source_bucket_location: ``"aws"`` (default) or ``"gcs"``.
            endpoint_url: an S3-compatible endpoint for every bucket; default
                ``IDC_ENDPOINT_URL``, else AWS or GCS.
            concurrency: at most this many requests in flight (default 256).
            output: ``"pandas"`` (a DataFrame, default) or ``"arrow"`` (a ``pyarrow.Table``).

        Returns:
            One row per instance, by series and object key: ``SeriesInstanceUID`` (from the
            index), ``SOPInstanceUID`` (from the header), ``url`` (``s3://<bucket>/<key>``),
            a column per attribute, named as written, and ``error``. Values are numbers,
            texts, lists (an attribute that may have several values, ``ImageType``,
            ``PixelSpacing``, always comes as a list) or DICOM JSON texts; a missing one is
            None. ``error`` is None, or says why the row has no values: the file is not DICOM
            or is truncated, its header is larger than 64 MiB, it could not be read, or its
            series could not be listed (a row with the series' prefix as ``url``). The other
            rows are complete whatever happens to one.

        Raises:
            UnknownAttributeError: an attribute that is not a DICOM keyword, tag or path (with
                the closest keywords); raised before anything is read.
            MissingDependencyError: pydicom is not installed (``pip install "idc-index[metadata]"``).
            UnknownIdentifierError: an identifier matches nothing (with the closest ones).
            ValueError: no selection, or an unknown ``output``.
            DownloadError: invalid settings (``concurrency``).

        Examples:
            >>> slides = client.get_instance_metadata(
            ...     seriesInstanceUID="1.2.826.0.1.3680043.8.498.56046203939823473875129608016149951794",
            ...     attributes=["ContainerIdentifier", "TotalPixelMatrixRows", "ImageType",
            ...                 "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing",
            ...                 "OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning"])
            >>> slides[["SOPInstanceUID", "TotalPixelMatrixRows", "ImageType"]].head(2)
            >>> client.get_instance_metadata(collection_id="rider_pilot", attributes=["SliceThickness"],
            ...                              output="arrow")
        """
        specs = parse_attributes(attributes)
        if output not in OUTPUTS:
            raise ValueError(f"output must be 'pandas' or 'arrow', not {output!r}")
        selection = Selection.of(
            collection_id=collection_id, patientId=patientId, studyInstanceUID=studyInstanceUID,
            seriesInstanceUID=seriesInstanceUID, sopInstanceUID=sopInstanceUID, crdc_series_uuid=crdc_series_uuid,
            analysis_result_id=analysis_result_id, analysis_results=analysis_results,
        )
        location = check_location(source_bucket_location)
        plan = self._selector.selection_table(selection, location=location, dirTemplate=None)
        config = download_config(resolve_endpoint(endpoint_url, location), concurrency=concurrency)
        cache = HeaderCache(self._catalog.cache_root)

        def list_keys(bucket: str, prefix: str) -> list[str]:
            return [o.key for o in _core.list_objects(bucket, prefix, config)]

        instances = plan_instances(plan, list_keys, cache)
        columns = MetadataColumns(specs)
        cached = read = bytes_read = 0
        # A part at a time, so that the parsed headers of a large selection are not all held.
        for start in range(0, len(instances), HEADERS_AT_ONCE):
            part = instances[start:start + HEADERS_AT_ONCE]
            readable = [n for n, i in enumerate(part) if i.error is None]
            got = read_headers([(part[n].bucket, part[n].key) for n in readable],
                               lambda requests: _core.read_ranges(requests, config), cache)
            headers: list[Header | None] = [None] * len(part)
            for n, header in zip(readable, got):
                headers[n] = header
            columns.add(part, headers)
            cached += sum(h.cached for h in got)
            read += len(got)
            bytes_read += sum(h.bytes_read for h in got)
            logger.debug("headers of %d of %d instance(s) done", start + len(part), len(instances))
        logger.info("headers of %d instance(s): %d from the cache, %d read (%s)", read, cached, read - cached,
                    format_size(bytes_read))
        table = columns.table()
        return table if output == "arrow" else to_pandas(table)


__all__ = ["OUTPUTS", "InstanceMetadata"]
