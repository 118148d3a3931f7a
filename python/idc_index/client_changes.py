"""The method of :class:`~idc_index.IDCClient` that tells what IDC changed since an earlier
release: :meth:`ReleaseChanges.release_changes`. The versions and identifiers are checked, and
the query written, by :mod:`idc_index.query.changes`; the client runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idc_index.query.changes import PRIOR_VERSIONS, changes_sql, check_versions, selection_condition
from idc_index.selection import Selection

if TYPE_CHECKING:
    import pandas as pd

    from idc_index.query.lookup import IndexLookup


class ReleaseChanges:
    """``release_changes`` of IDCClient; it reads the indices through ``_lookup`` and ``sql_query``."""

    _lookup: IndexLookup
    idc_version: str

    if TYPE_CHECKING:

        def sql_query(self, sql_query: str, params: Any = None) -> pd.DataFrame: ...

        def fetch_index(self, index_name: str) -> None: ...

    def release_changes(
        self,
        from_version: int | str,
        to_version: int | str | None = None,
        collection_id: str | list[str] | None = None,
        patientId: str | list[str] | None = None,
        studyInstanceUID: str | list[str] | None = None,
        seriesInstanceUID: str | list[str] | None = None,
        *,
        by_collection: bool = False,
    ) -> pd.DataFrame:
        """The series that IDC added, revised and removed since release ``from_version``, in
        all of IDC or in a selection.

        A series is ``"added"`` when this release has it and ``from_version`` did not,
        ``"revised"`` when both have it but its files changed (a new ``crdc_series_uuid``), and
        ``"removed"`` when ``from_version`` had it and this release does not. Read from the main
        index (``series_init_idc_version``, ``series_revised_idc_version``) and
        ``prior_versions_index`` (fetched if it is not installed).

        Args:
            from_version: the earlier IDC release: a number (``20``) or a text (``"v20"``).
            to_version: the later release; None (default) or the release this client has open
                (``get_idc_version()``), whose indices hold the answer. For another one, open
                that release with ``IDCClient(release=...)``.
            collection_id: collection id(s) or the IDC portal's names, removed collections too.
            patientId: PatientID(s).
            studyInstanceUID: StudyInstanceUID(s).
            seriesInstanceUID: SeriesInstanceUID(s), those IDC removed too.
            by_collection: return the counts by collection instead of the series.

        The most specific identifier given selects, as in the download methods, the series it
        names in either release (a series that moved to another collection is in both); none:
        all of IDC.

        Returns:
            A pandas DataFrame with one row per changed series, added first, then revised, then
            removed, each by collection, patient, study and series: ``change``,
            ``collection_id``, ``PatientID``, ``StudyInstanceUID``, ``SeriesInstanceUID``,
            ``Modality``, ``change_idc_version`` (the release that added the series, revised it
            last, or first went without it), ``crdc_series_uuid`` and ``series_size_MB`` (the
            series as this release has it; empty for removed series), and
            ``previous_crdc_series_uuid`` and ``previous_series_size_MB`` (as ``from_version``
            had it; empty for added series, and for a revised series whose earlier version
            ``prior_versions_index`` does not list). With ``by_collection``: one row per
            collection with a change, by ``collection_id``: ``added``, ``revised``,
            ``removed`` (numbers of series) and ``download_MB`` (the size of the added and
            revised series, what downloading them again takes).

        Raises:
            TypeError: a version that is neither a number nor a text, or an identifier that is
                not a string or a list of strings.
            IDCVersionError: a version that is no IDC release, ``from_version`` after
                ``to_version``, or a ``to_version`` other than this client's release (the
                message names the valid range and what to open instead).
            UnknownIdentifierError: an identifier in neither this release nor an earlier one
                (with the closest ones).
            IndexFetchError: ``prior_versions_index`` is not installed and cannot be fetched.

        Examples:
            >>> changes = client.release_changes(from_version=20, collection_id="tcga_luad")
            >>> changes["change"].value_counts().to_dict()
            {'added': 1498, 'revised': 690, 'removed': 20}
            >>> client.release_changes("v24", by_collection=True).head(2)
                                 collection_id  added  revised  removed    download_MB
            0  bonemarrowwsi_pediatricleukemia      7        0        0   10095.093842
            1                            catch    350      303        0  487529.890842
            >>> fresh = changes.loc[changes["change"] != "removed", "SeriesInstanceUID"].tolist()
            >>> client.download_from_selection("data", seriesInstanceUID=fresh)
        """
        first = check_versions(from_version, to_version, int(self.idc_version.lstrip("v")))
        selection = Selection.of(
            collection_id=collection_id, patientId=patientId, studyInstanceUID=studyInstanceUID,
            seriesInstanceUID=seriesInstanceUID,
        )
        if not isinstance(by_collection, bool):
            raise TypeError(f"by_collection must be True or False, got {type(by_collection).__name__}")
        self.fetch_index(PRIOR_VERSIONS)
        condition = selection_condition(self._lookup, selection)
        return self.sql_query(changes_sql(first, condition, by_collection=by_collection))


__all__ = ["ReleaseChanges"]
