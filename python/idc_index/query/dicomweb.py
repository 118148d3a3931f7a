"""DICOMweb URLs of IDC studies, series and instances, checked against the indices.

IDC serves its DICOM files over DICOMweb from two stores (IDC's documentation, "DICOM stores":
https://learn.canceridc.dev/data/organization-of-data/dicom-stores, the page
data/organization-of-data/dicom-stores.md of github.com/ImagingDataCommons/IDC-Docs):

- ``"proxy"``: the store IDC maintains, behind IDC's public proxy. No login; it holds every
  series of the current IDC release; requests count against per-IP and overall daily quotas.
- ``"google"``: the store Google Healthcare maintains, one per IDC release
  (``.../dicomStores/idc-store-v<release>/dicomWeb``). It needs a Google account (OAuth), holds
  the series of the ``idc-open-data`` bucket only (about 96% of IDC), and may be published some
  time after the release.

A URL is the store's service root followed by ``/studies/<uid>[/series/<uid>[/instances/<uid>]]``
(DICOM PS3.18). :class:`DicomwebLocator` checks the UIDs first: the series must belong to the
study given, the instance to the series; a missing study (or series) is found from the index.

Example:
    >>> locator = DicomwebLocator(lookup, fetch_index, ["sm_instance_index"])  # doctest: +SKIP
    >>> locator.url(seriesInstanceUID="1.3.6.1.4.1.5962.99.1...")  # doctest: +SKIP
    'https://proxy.imaging.datacommons.cancer.gov/.../dicomWeb/studies/2.25.../series/1.3.6...'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from idc_index.arguments import as_one
from idc_index.errors import IndexFetchError, UnknownIdentifierError
from idc_index.query.lookup import IndexLookup
from idc_index.query.sql import ident, in_list, literal

logger = logging.getLogger("idc_index")

#: The service root of IDC's public DICOMweb proxy (the current IDC release; no login, daily
#: quotas). The "viewer-only-no-downloads" in it is a name kept from the past: the proxy serves
#: any DICOMweb client.
PROXY_DICOMWEB_URL = (
    "https://proxy.imaging.datacommons.cancer.gov/current/viewer-only-no-downloads-see-tinyurl-dot-com-slash-3j3d9jyp"
    "/dicomWeb"
)

#: The service root of the Google Healthcare DICOM store of IDC release ``{release}`` (a number);
#: see "DICOM store maintained by Google Healthcare" in IDC's documentation (module docstring)
#: and https://cloud.google.com/healthcare-api/docs/resources/public-datasets/idc.
GOOGLE_DICOMWEB_URL = (
    "https://healthcare.googleapis.com/v1/projects/nci-idc-data/locations/us-central1/datasets/idc"
    "/dicomStores/idc-store-v{release}/dicomWeb"
)

#: The bucket whose series the Google Healthcare store holds (the others are only behind the proxy).
GOOGLE_STORE_BUCKET = "idc-open-data"

#: The values of ``endpoint``.
DICOMWEB_ENDPOINTS = ("proxy", "google")


def dicomweb_root(endpoint: str, idc_version: str) -> str:
    """The service root of ``endpoint`` (``"proxy"`` or ``"google"``) for release ``idc_version``.

    Raises:
        ValueError: an unknown endpoint.

    Example:
        >>> dicomweb_root("google", "v25")
        'https://healthcare.googleapis.com/v1/projects/nci-idc-data/locations/us-central1/datasets/idc/dicomStores/idc-store-v25/dicomWeb'
    """
    if endpoint == "proxy":
        return PROXY_DICOMWEB_URL
    if endpoint == "google":
        return GOOGLE_DICOMWEB_URL.format(release=idc_version.lstrip("v"))
    raise ValueError(f"endpoint must be 'proxy' (IDC's public proxy) or 'google' (Google Healthcare), not {endpoint!r}")


def dicomweb_path(study: str, series: str | None = None, instance: str | None = None) -> str:
    """``/studies/<study>[/series/<series>[/instances/<instance>]]``.

    Example:
        >>> dicomweb_path("1.2", "1.2.3")
        '/studies/1.2/series/1.2.3'
    """
    path = f"/studies/{study}"
    if series is not None:
        path += f"/series/{series}"
        if instance is not None:
            path += f"/instances/{instance}"
    return path


@dataclass(frozen=True)
class DicomwebTarget:
    """A study, series or instance whose UIDs were checked, and the buckets of its series."""

    study: str
    series: str | None
    instance: str | None
    #: The bucket of each of its series (one for a series or instance).
    buckets: dict[str, str]


class DicomwebLocator:
    """Checks UIDs against the indices and builds the DICOMweb URL of what they name.

    Args:
        lookup: runs SQL over the client's indices and checks identifiers.
        fetch_index: makes an optional index queryable (an instance index, when an instance is
            given without its series).
        instance_indices: the indices of the release that list single instances
            (``SOPInstanceUID`` with ``SeriesInstanceUID``), such as ``sm_instance_index``.
    """

    def __init__(
        self, lookup: IndexLookup, fetch_index: Callable[[str], None], instance_indices: Sequence[str]
    ) -> None:
        self._lookup = lookup
        self._fetch_index = fetch_index
        self._instance_indices = list(instance_indices)

    def url(
        self,
        studyInstanceUID: object = None,
        seriesInstanceUID: object = None,
        sopInstanceUID: object = None,
        endpoint: str = "proxy",
    ) -> str:
        """The DICOMweb URL of a study, series or instance at ``endpoint`` (the service root
        when no UID is given). See :meth:`idc_index.IDCClient.get_dicomweb_URL`."""
        root = dicomweb_root(endpoint, self._lookup.idc_version)
        if studyInstanceUID is None and seriesInstanceUID is None and sopInstanceUID is None:
            return root
        target = self.locate(studyInstanceUID, seriesInstanceUID, sopInstanceUID)
        if endpoint == "google":
            self._warn_outside_google_store(target)
        return root + dicomweb_path(target.study, target.series, target.instance)

    def locate(self, studyInstanceUID: object, seriesInstanceUID: object, sopInstanceUID: object) -> DicomwebTarget:
        """Check the UIDs given and fill in those left out (the study of a series, the series
        of an instance).

        Raises:
            TypeError: a UID that is not a string.
            UnknownIdentifierError: a UID that is not in IDC, or not in the study (series) given.
            IndexFetchError: an instance given alone, and no instance index could be fetched.
        """
        study = None if studyInstanceUID is None else as_one(studyInstanceUID, "studyInstanceUID", "StudyInstanceUID")
        series = (
            None if seriesInstanceUID is None else as_one(seriesInstanceUID, "seriesInstanceUID", "SeriesInstanceUID")
        )
        instance = None if sopInstanceUID is None else as_one(sopInstanceUID, "sopInstanceUID", "SOPInstanceUID")
        series_from_instance = False
        if instance is not None:
            if series is None:
                series = self._series_of_instance(instance)
                series_from_instance = True
            else:
                self._check_instance_in_series(instance, series)
        if series is None:
            if study is None:
                raise ValueError("Give a studyInstanceUID, seriesInstanceUID or sopInstanceUID.")
            rows = self._lookup.rows(
                f"SELECT SeriesInstanceUID, aws_bucket FROM index WHERE {in_list('StudyInstanceUID', [study])}"
            )
            if not rows:
                self._lookup.require("StudyInstanceUID", [study])
            return DicomwebTarget(study, None, None, {r["SeriesInstanceUID"]: r["aws_bucket"] for r in rows})
        rows = self._lookup.rows(
            f"SELECT StudyInstanceUID, aws_bucket FROM index WHERE {in_list('SeriesInstanceUID', [series])} LIMIT 1"
        )
        if not rows:
            self._lookup.require("SeriesInstanceUID", [series])
        actual_study = rows[0]["StudyInstanceUID"]
        if study is not None and study != actual_study:
            kind, value = ("SOPInstanceUID", instance) if series_from_instance else ("SeriesInstanceUID", series)
            raise UnknownIdentifierError(
                kind, [str(value)], where=f"study {study!r} of IDC {self._lookup.idc_version}",
                hint=f"It belongs to study {actual_study!r}: pass that studyInstanceUID, or leave it out.",
            )
        return DicomwebTarget(actual_study, series, instance, {series: rows[0]["aws_bucket"]})

    # -- instances ---------------------------------------------------------------------------
    def _available_instance_indices(self) -> list[str]:
        return [name for name in self._instance_indices if self._lookup.has_table(name)]

    def _series_of_instance(self, instance: str) -> str:
        """The series of an instance, from the instance indices (one is fetched if none is there)."""
        tables = self._available_instance_indices()
        if not tables and self._instance_indices:
            name = self._instance_indices[0]
            try:
                self._fetch_index(name)
            except IndexFetchError as e:
                raise IndexFetchError(
                    f"{e} The series of SOPInstanceUID {instance!r} is looked up in {name}; to build the URL "
                    "without it, pass the instance's seriesInstanceUID too."
                ) from e
            tables = [name]
        for table in tables:
            found = self._lookup.values(
                f"SELECT SeriesInstanceUID FROM {ident(table)} WHERE SOPInstanceUID = {literal(instance)} LIMIT 1",
                "SeriesInstanceUID",
            )
            if found:
                return str(found[0])
        suggestions = {instance: self._lookup.closest("SOPInstanceUID", instance, tables[0])} if tables else {}
        listed = ", ".join(tables) or "no instance index in this release"
        raise UnknownIdentifierError(
            "SOPInstanceUID", [instance], suggestions, where=f"IDC {self._lookup.idc_version} ({listed})",
            hint="IDC lists the instances of slide microscopy series only (sm_instance_index): for an instance "
            "of another series, pass its seriesInstanceUID too.",
        )

    def _check_instance_in_series(self, instance: str, series: str) -> None:
        """Check an instance against the instance indices that are there (none is fetched for
        it), where they list the instances of ``series``; other instances cannot be checked."""
        for table in self._available_instance_indices():
            found = self._lookup.values(
                f"SELECT SeriesInstanceUID FROM {ident(table)} WHERE SOPInstanceUID = {literal(instance)} LIMIT 1",
                "SeriesInstanceUID",
            )
            if found and found[0] != series:
                raise UnknownIdentifierError(
                    "SOPInstanceUID", [instance], where=f"series {series!r} of IDC {self._lookup.idc_version}",
                    hint=f"It belongs to series {found[0]!r}: pass that seriesInstanceUID, or leave it out.",
                )
            if found:
                return
            lists_series = self._lookup.values(
                f"SELECT SeriesInstanceUID FROM {ident(table)} WHERE SeriesInstanceUID = {literal(series)} LIMIT 1",
                "SeriesInstanceUID",
            )
            if lists_series:
                closest = self._lookup.closest("SOPInstanceUID", instance, table)
                raise UnknownIdentifierError(
                    "SOPInstanceUID", [instance], {instance: closest},
                    where=f"series {series!r} of IDC {self._lookup.idc_version} ({table})",
                    hint=f"SELECT SOPInstanceUID FROM {table} WHERE SeriesInstanceUID = '{series}' lists its "
                    "instances.",
                )

    # -- stores ------------------------------------------------------------------------------
    def _warn_outside_google_store(self, target: DicomwebTarget) -> None:
        """Warn when series of ``target`` are in buckets the Google Healthcare store does not hold."""
        outside = sorted({b for b in target.buckets.values() if b != GOOGLE_STORE_BUCKET})
        if not outside:
            return
        what = (
            f"series {target.series}" if target.series is not None
            else f"{sum(b != GOOGLE_STORE_BUCKET for b in target.buckets.values())} of the "
            f"{len(target.buckets)} series of study {target.study}"
        )
        logger.warning(
            "The %s %s in %s, which the Google Healthcare DICOM store does not hold (it holds %s only): "
            "use endpoint='proxy' to read %s.",
            what, "is" if target.series is not None else "are", ", ".join(outside), GOOGLE_STORE_BUCKET,
            "it" if target.series is not None else "them",
        )


__all__ = [
    "DICOMWEB_ENDPOINTS",
    "GOOGLE_DICOMWEB_URL",
    "GOOGLE_STORE_BUCKET",
    "PROXY_DICOMWEB_URL",
    "DicomwebLocator",
    "DicomwebTarget",
    "dicomweb_path",
    "dicomweb_root",
]
