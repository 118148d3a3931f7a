"""The method of :class:`~idc_index.IDCClient` that lists what was derived from an image series:
:meth:`DerivedSeries.get_derived_series`, the segmentations (SEG), structure sets (RTSTRUCT) and
slide annotations (ANN) that reference it. The indices that say so and the query are those of
:mod:`idc_index.download.references`, which downloads ``with_references`` follow the other way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idc_index.arguments import as_list
from idc_index.download.references import DERIVED, derived_series_sql, fetch_for

if TYPE_CHECKING:
    import pandas as pd

    from idc_index.query.lookup import IndexLookup


class DerivedSeries:
    """``get_derived_series`` of IDCClient; it reads the indices through ``_lookup`` and ``sql_query``."""

    _lookup: IndexLookup

    if TYPE_CHECKING:

        def sql_query(self, sql_query: str, params: Any = None) -> pd.DataFrame: ...

        def fetch_index(self, index_name: str) -> None: ...

    def get_derived_series(self, seriesInstanceUID: str | list[str]) -> pd.DataFrame:
        """The segmentations (SEG), structure sets (RTSTRUCT) and slide annotations (ANN) that
        reference one or more image series: what ``with_references=True`` on a download follows
        the other way.

        Read from ``seg_index`` (``segmented_SeriesInstanceUID``), ``rtstruct_index`` and
        ``ann_index`` (``referenced_SeriesInstanceUID``), each fetched once if it is not
        installed, with the main index.

        Args:
            seriesInstanceUID: SeriesInstanceUID(s) of image series (CT, MR, SM, ...).

        Returns:
            A pandas DataFrame, one row per derived series, by referenced series, index and
            series: ``referenced_SeriesInstanceUID`` (the series given), ``SeriesInstanceUID``,
            ``Modality``, ``collection_id``, ``PatientID``, ``StudyInstanceUID``,
            ``analysis_result_id``, ``SeriesDescription`` and ``series_size_MB`` of the
            derived series, and ``index_name`` (the index that lists it). Empty when nothing
            references the series.

        Raises:
            TypeError: ``seriesInstanceUID`` is not a string or a list of strings.
            UnknownIdentifierError: a series that is not in the index (with the closest ones).
            IndexFetchError: one of the three indices cannot be fetched.

        Examples:
            >>> derived = client.get_derived_series("1.3.6.1.4.1.14519.5.2.1.7310.5101.1603...")
            >>> derived[["SeriesInstanceUID", "Modality", "index_name"]]
            >>> client.download_dicom_series(derived["SeriesInstanceUID"].tolist(), "data", with_references=True)
        """
        series = as_list(seriesInstanceUID, "seriesInstanceUID")
        self._lookup.require("SeriesInstanceUID", series)
        for _, index_name, _ in DERIVED:
            fetch_for(self.fetch_index, index_name, "series derived from the image series given")
        return self.sql_query(derived_series_sql(series))


__all__ = ["DerivedSeries"]
