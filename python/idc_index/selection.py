"""What a user selected: identifiers at one or more levels, checked once where they enter the API.

The download methods, :meth:`~idc_index.IDCClient.plan_download` and
:meth:`~idc_index.IDCClient.citations_from_selection` take the same identifier arguments as
idc-index 0.13 (``collection_id``, ``patientId``, ``studyInstanceUID``, ``seriesInstanceUID``,
``sopInstanceUID``, ``crdc_series_uuid``, ``analysis_result_id``, and ``analysis_results``), and
the download methods ``with_references`` too. Each builds one :class:`Selection` from them,
which checks every argument given (a string or a list of strings) and the options; the value
then travels to the SQL that finds what it names, unchanged.

Example:
    >>> Selection.of(collection_id="rider_pilot", analysis_results="exclude")
    Selection(collection_id=('rider_pilot',), analysis_results='exclude')
    >>> Selection.of(patientId=["LUNG1-001", "LUNG1-002"], collection_id="nsclc_radiomics").level()
    ('PatientID', ('LUNG1-001', 'LUNG1-002'))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from idc_index.arguments import as_bool, as_list

AnalysisResults = Literal["include", "exclude", "only"]
#: The values of the ``analysis_results`` option: keep everything, only original images, or only
#: the series of analysis results.
ANALYSIS_RESULTS: tuple[AnalysisResults, ...] = ("include", "exclude", "only")

#: The levels of the IDC hierarchy, most specific first: (argument, index column).
LEVELS = (
    ("seriesInstanceUID", "SeriesInstanceUID"),
    ("studyInstanceUID", "StudyInstanceUID"),
    ("patientId", "PatientID"),
    ("collection_id", "collection_id"),
)


#: The fields of a :class:`Selection` that are options, not identifiers.
_OPTIONS = ("analysis_results", "with_references")


@dataclass(frozen=True)
class Selection:
    """Identifiers a user selected, each argument as a tuple (empty: not given), checked.

    The most specific identifier given selects, as in idc-index 0.13: ``crdc_series_uuid``, then
    ``sopInstanceUID``, then the levels of :data:`LEVELS`; ``analysis_result_id`` and
    ``analysis_results`` then narrow it. ``with_references`` adds the image series that the
    selection's segmentations (SEG), structure sets (RTSTRUCT) and annotations (ANN) reference
    (see :mod:`idc_index.download.references`).
    """

    collection_id: tuple[str, ...] = ()
    patientId: tuple[str, ...] = ()
    studyInstanceUID: tuple[str, ...] = ()
    seriesInstanceUID: tuple[str, ...] = ()
    sopInstanceUID: tuple[str, ...] = ()
    crdc_series_uuid: tuple[str, ...] = ()
    analysis_result_id: tuple[str, ...] = ()
    analysis_results: AnalysisResults = "include"
    with_references: bool = False

    @classmethod
    def of(
        cls,
        *,
        collection_id: object = None,
        patientId: object = None,
        studyInstanceUID: object = None,
        seriesInstanceUID: object = None,
        sopInstanceUID: object = None,
        crdc_series_uuid: object = None,
        analysis_result_id: object = None,
        analysis_results: str = "include",
        with_references: object = False,
        required: str | None = None,
    ) -> Selection:
        """The selection of these arguments (None: not given), every one checked.

        Args:
            required: the argument that must be given (the ``download_dicom_series`` kind of
                method, whose first argument is the selection: None is refused, not taken as
                no selection).

        Raises:
            TypeError: an argument that is not a string or a list of strings (naming it), a
                ``with_references`` that is not True or False.
            ValueError: an empty list, an unknown ``analysis_results``, ``analysis_result_id``
                with ``analysis_results="exclude"``.
        """
        given = {
            "collection_id": collection_id, "patientId": patientId, "studyInstanceUID": studyInstanceUID,
            "seriesInstanceUID": seriesInstanceUID, "sopInstanceUID": sopInstanceUID,
            "crdc_series_uuid": crdc_series_uuid, "analysis_result_id": analysis_result_id,
        }
        if required is not None:
            as_list(given[required], required)
        if analysis_results not in ANALYSIS_RESULTS:
            raise ValueError(
                f"analysis_results must be one of 'include', 'exclude' or 'only', not {analysis_results!r}"
            )
        if analysis_result_id is not None and analysis_results == "exclude":
            raise ValueError("analysis_result_id cannot be used when analysis_results is 'exclude'")
        references = as_bool(with_references, "with_references")
        values = {name: tuple(as_list(value, name)) for name, value in given.items() if value is not None}
        return cls(**values, analysis_results=analysis_results, with_references=references)

    def level(self) -> tuple[str, tuple[str, ...]] | None:
        """The index column and the values of the most specific level of :data:`LEVELS` given."""
        for argument, column in LEVELS:
            values: tuple[str, ...] = getattr(self, argument)
            if values:
                return column, values
        return None

    @property
    def names_identifiers(self) -> bool:
        """Whether any identifier argument was given."""
        return any(getattr(self, f.name) for f in fields(self) if f.name not in _OPTIONS)

    def __repr__(self) -> str:
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if getattr(self, f.name) and getattr(self, f.name) != f.default]
        return f"Selection({', '.join(shown)})"


__all__ = ["ANALYSIS_RESULTS", "LEVELS", "AnalysisResults", "Selection"]
