"""What IDC changed between two of its releases: the series added, revised and removed.

Two tables hold the history. The main index gives each series its ``series_init_idc_version``
(the release it first appeared in) and ``series_revised_idc_version`` (the release its current
version appeared in). ``prior_versions_index`` lists the earlier versions of series that the
release in use no longer serves, each with the releases that served it (``min_idc_version`` to
``max_idc_version``). Between IDC ``F`` (``from_version``) and the release in use, a series is

- **added** when it is in the main index and was not served in ``F``:
  ``series_init_idc_version > F`` and no earlier version of it was served in ``F`` (a series
  that IDC removed and later added again was served in ``F`` if its old version was);
- **revised** when it is in the main index in a version newer than ``F``
  (``series_revised_idc_version > F``) and was served in ``F``;
- **removed** when a version of it was served in ``F`` (a ``prior_versions_index`` row with
  ``min_idc_version <= F <= max_idc_version``) and the main index does not have it.

A series with ``series_revised_idc_version <= F`` is unchanged since ``F``. A selection takes
the series that its identifiers name in the release in use or named in ``F`` (a series that
moved to another collection is a change of both). The client's
:meth:`~idc_index.IDCClient.release_changes` checks the versions (:func:`check_versions`) and the
identifiers (:func:`selection_condition`), and runs :func:`changes_sql`.

Example:
    >>> check_versions("v20", None, current=25)
    20
    >>> print(changes_sql(20, None, by_collection=True))  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import numbers
import re

from idc_index.arguments import describe, shorten
from idc_index.errors import IDCVersionError, UnknownIdentifierError
from idc_index.query.lookup import WHERE_TO_LOOK, IndexLookup, normalize_collection
from idc_index.query.sql import ident, in_list, unique
from idc_index.selection import Selection

#: The kinds of change, in the order the rows come.
CHANGES = ("added", "revised", "removed")

#: The columns of the list of changed series.
SERIES_COLUMNS = (
    "change", "collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "change_idc_version", "crdc_series_uuid", "previous_crdc_series_uuid", "series_size_MB",
    "previous_series_size_MB",
)

#: The earlier releases' table this needs.
PRIOR_VERSIONS = "prior_versions_index"

_VERSION = re.compile(r"[vV]?(\d{1,4})")


def idc_version_number(value: object, argument: str) -> int:
    """An IDC version given as a number (``20``) or a text (``"20"``, ``"v20"``), as a number.

    Raises:
        TypeError: neither an integer nor a text, naming the argument.
        IDCVersionError: a text that is no IDC version.

    Example:
        >>> idc_version_number("v20", "from_version"), idc_version_number(20, "from_version")
        (20, 20)
    """
    if isinstance(value, str):
        match = _VERSION.fullmatch(value.strip())
        if match is None:
            raise IDCVersionError(
                f"{argument}={shorten(value, 40)!r} is not an IDC version: write it as a number such as 20 or as "
                "'v20' (an index release such as '20.0.0' is opened with IDCClient(release=...) instead)"
            )
        return int(match.group(1))
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise TypeError(
        f"{argument} must be an IDC version, a number such as 20 or a text such as 'v20', got {describe(value)}"
    )


def check_versions(from_version: object, to_version: object, current: int) -> int:
    """``from_version`` as a number, once both versions are checked against the release in use
    (IDC ``current``): ``to_version`` must be that release (None means it), ``from_version`` a
    release from IDC's first (v1) to it.

    Raises:
        TypeError: a version that is neither a number nor a text.
        IDCVersionError: a version out of range, or ``to_version`` other than the release in
            use (the message says which release to open instead).
    """
    first = idc_version_number(from_version, "from_version")
    last = current if to_version is None else idc_version_number(to_version, "to_version")
    valid = f"IDC versions run from v1 (IDC's first release) to v{current} (the release this client has open)"
    if last > current:
        raise IDCVersionError(
            f"to_version=v{last} is newer than the release this client has open (v{current}). Open a newer "
            "index release with IDCClient(release='current') (on the command line: idc --release current), "
            "or a version that `idc releases` lists with its idc_version, and ask it; or leave to_version out."
        )
    if last < 1:
        raise IDCVersionError(f"to_version={last} is no IDC release: {valid}.")
    if last != current:
        raise IDCVersionError(
            f"to_version=v{last}: changes are read from the indices of the release they lead to, and this "
            f"client has v{current} open. Open an index release of IDC v{last} with IDCClient(release=...) "
            f"(on the command line: idc --release ...; `idc releases` lists them with their idc_version) and "
            f"ask it, or leave to_version out to compare with v{current}."
        )
    if first > last:
        raise IDCVersionError(
            f"from_version=v{first} is after to_version=v{last}: from_version is the earlier release ({valid})."
        )
    if first < 1:
        raise IDCVersionError(f"from_version={first} is no IDC release: {valid}.")
    return first


def selection_condition(lookup: IndexLookup, selection: Selection) -> str | None:
    """The SQL condition of the most specific level of ``selection`` (None: all of IDC), its
    values checked against the main index and ``prior_versions_index`` (a series, patient or
    collection that IDC removed can be named; the closest values of either are suggested for
    the others). Collection ids may be the IDC portal's names.

    Raises:
        UnknownIdentifierError: values that neither index has (with the closest ones).
    """
    level = selection.level()
    if level is None:
        return None
    column, values = level
    if column == "collection_id":
        return in_list(column, _collection_ids(lookup, list(values)))
    condition = in_list(column, values)
    found = set(lookup.values(
        f"SELECT DISTINCT {ident(column)} AS v FROM index WHERE {condition} "
        f"UNION SELECT DISTINCT {ident(column)} AS v FROM {PRIOR_VERSIONS} WHERE {condition}",
        "v",
    ))
    missing = [v for v in unique(list(values)) if v not in found]
    if missing:
        raise UnknownIdentifierError(
            column, missing,
            {v: lookup.closest(column, v) or lookup.closest(column, v, PRIOR_VERSIONS) for v in missing[:10]},
            where=f"IDC {lookup.idc_version} or its earlier releases (index, {PRIOR_VERSIONS})",
            hint=WHERE_TO_LOOK.get(column),
        )
    return condition


def _collection_ids(lookup: IndexLookup, values: list[str]) -> list[str]:
    """The collection ids of ``values`` (ids or portal names), those of removed collections too."""
    names = dict(lookup.collection_names())
    for cid in lookup.values(f"SELECT DISTINCT collection_id FROM {PRIOR_VERSIONS}", "collection_id"):
        if cid is not None:
            names.setdefault(normalize_collection(cid), cid)
    missing = [v for v in values if normalize_collection(v) not in names]
    if missing:
        known = sorted(set(names.values()))
        raise UnknownIdentifierError(
            "collection_id", missing,
            {v: difflib.get_close_matches(normalize_collection(v), known, n=3, cutoff=0.6) for v in missing},
            where=f"IDC {lookup.idc_version} or its earlier releases", hint=WHERE_TO_LOOK["collection_id"],
        )
    return unique([names[normalize_collection(v)] for v in values])


def changes_sql(first: int, condition: str | None, *, by_collection: bool = False) -> str:
    """The query of the series changed since IDC ``first`` (rows of :data:`SERIES_COLUMNS`,
    ordered by change, collection, patient, study, series), or of their counts by collection
    (``collection_id``, ``added``, ``revised``, ``removed``, and ``download_MB``: the size of the
    added and revised series; ordered by collection), narrowed by ``condition`` (a condition
    on the columns the main index and ``prior_versions_index`` share)."""
    where = f"WHERE {condition}" if condition else ""
    # A series is selected by what identifies it now or what identified it in `first` (a series
    # that moved to another collection is still one of its old collection's changes).
    in_selection = (
        f'WHERE {condition} OR "SeriesInstanceUID" IN (SELECT "SeriesInstanceUID" FROM at_from WHERE {condition})'
        if condition else ""
    )
    # at_from: the earlier version of each series that release `first` served. A version that
    # changed buckets in that release may have two rows there; one is kept.
    series = f"""
WITH at_from AS (
    SELECT * FROM (
        SELECT "SeriesInstanceUID", collection_id, "PatientID", "StudyInstanceUID", "Modality",
               crdc_series_uuid, "series_size_MB",
               row_number() OVER (PARTITION BY "SeriesInstanceUID" ORDER BY max_idc_version DESC, crdc_series_uuid) AS n
        FROM {PRIOR_VERSIONS} WHERE min_idc_version <= {first} AND max_idc_version >= {first}
    ) WHERE n = 1
), last_seen AS (
    SELECT "SeriesInstanceUID", MAX(max_idc_version) AS last_version FROM {PRIOR_VERSIONS} GROUP BY "SeriesInstanceUID"
), in_index AS (
    SELECT collection_id, "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", crdc_series_uuid,
           "series_size_MB", series_init_idc_version, series_revised_idc_version,
           series_init_idc_version > {first} AS is_new
    FROM index {in_selection}
), changed AS (
    SELECT CASE WHEN c.is_new AND s."SeriesInstanceUID" IS NULL THEN 'added' ELSE 'revised' END AS change,
           c.collection_id, c."PatientID", c."StudyInstanceUID", c."SeriesInstanceUID", c."Modality",
           CASE WHEN c.is_new AND s."SeriesInstanceUID" IS NULL THEN c.series_init_idc_version
                ELSE c.series_revised_idc_version END AS change_idc_version,
           c.crdc_series_uuid, s.crdc_series_uuid AS previous_crdc_series_uuid,
           c."series_size_MB", s."series_size_MB" AS "previous_series_size_MB"
    FROM in_index c LEFT JOIN at_from s ON c."SeriesInstanceUID" = s."SeriesInstanceUID"
    WHERE c.series_revised_idc_version > {first}
    UNION ALL
    SELECT 'removed' AS change, s.collection_id, s."PatientID", s."StudyInstanceUID", s."SeriesInstanceUID",
           s."Modality", l.last_version + 1 AS change_idc_version, CAST(NULL AS VARCHAR) AS crdc_series_uuid,
           s.crdc_series_uuid AS previous_crdc_series_uuid, CAST(NULL AS DOUBLE) AS "series_size_MB",
           s."series_size_MB" AS "previous_series_size_MB"
    FROM (SELECT * FROM at_from {where}) s JOIN last_seen l ON s."SeriesInstanceUID" = l."SeriesInstanceUID"
    WHERE s."SeriesInstanceUID" NOT IN (SELECT "SeriesInstanceUID" FROM index)
)"""
    if by_collection:
        return series + """
SELECT collection_id,
       SUM(CASE WHEN change = 'added' THEN 1 ELSE 0 END) AS added,
       SUM(CASE WHEN change = 'revised' THEN 1 ELSE 0 END) AS revised,
       SUM(CASE WHEN change = 'removed' THEN 1 ELSE 0 END) AS removed,
       CAST(COALESCE(SUM("series_size_MB"), 0) AS DOUBLE) AS download_MB
FROM changed GROUP BY collection_id ORDER BY collection_id"""
    order = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(CHANGES))
    return series + f"""
SELECT {", ".join(ident(c) for c in SERIES_COLUMNS)} FROM changed
ORDER BY CASE change {order} END, collection_id, "PatientID", "StudyInstanceUID", "SeriesInstanceUID"
"""


__all__ = [
    "CHANGES",
    "PRIOR_VERSIONS",
    "SERIES_COLUMNS",
    "changes_sql",
    "check_versions",
    "idc_version_number",
    "selection_condition",
]
