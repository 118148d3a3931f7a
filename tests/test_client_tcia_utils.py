"""tcia_utils (kirbyju/tcia_utils, ``src/tcia_utils/idc.py``) runs unchanged on this client.

tcia_utils was written for idc-index 0.13: it binds parameters through 0.13's private
``client._duckdb_conn.execute(sql, params).df()`` and reads the result by column name. Each of
its IDC functions is called twice, as its users call it: once on our client, once on the
client 0.13 was (a real DuckDB connection with a view over each file our client reads), and
the two answers must be the same rows with the same columns.

The package is installed from PyPI without its dependencies (``scripts/test.sh`` and the CI
workflow): it requires ``idc-index``, which must stay this one.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

idc = pytest.importorskip("tcia_utils.idc", reason="tcia_utils is installed by scripts/test.sh")

from query_catalog import duckdb_connection, table_paths


class DuckDBClient:
    """What tcia_utils reads of an idc-index 0.13 client, answered by DuckDB over the same files."""

    def __init__(self, tables: dict[str, str]) -> None:
        self._duckdb_conn = duckdb_connection(tables)

    def sql_query(self, sql: str) -> Any:
        return self._duckdb_conn.execute(sql).df()

    def fetch_index(self, name: str) -> None:
        """Every index is a view already."""


@pytest.fixture(scope="module")
def clients(full_client):
    return {"ours": full_client, "0.13 (DuckDB)": DuckDBClient(table_paths(full_client))}


@pytest.fixture(scope="module")
def values(clients) -> dict[str, Any]:
    """Real values of the bundled index for the functions' arguments."""
    con = clients["0.13 (DuckDB)"]._duckdb_conn
    (patient,) = con.execute(
        "SELECT PatientID FROM index WHERE collection_id = 'rider_pilot' ORDER BY PatientID LIMIT 1").fetchone()
    (study,) = con.execute(
        "SELECT min(StudyInstanceUID) FROM index WHERE PatientID = ?", [patient]).fetchone()
    series = [r[0] for r in con.execute(
        "SELECT SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' ORDER BY 1 LIMIT 7").fetchall()]
    (seg,) = con.execute("SELECT min(SeriesInstanceUID) FROM seg_index").fetchone()
    return {"patient": patient, "study": study, "series": series, "seg": seg}


def _calls(v: dict[str, Any]) -> dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """tcia_utils' IDC functions, with arguments as its documentation shows them."""
    return {
        "collections by modality": ("getCollections", (), {"modality": "SM"}),
        "collections by body part and sex": ("getCollections", (), {"bodyPart": "chest", "sex": "F"}),
        "analysis results": ("getAnalysisResults", (), {"modality": "SEG"}),
        "body parts": ("getBodyPart", (), {"collection": "tcga_luad"}),
        "body part counts": ("getBodyPartCounts", (), {"modality": "CT"}),
        "modalities": ("getModality", (), {"collection": "rider_pilot"}),
        "modality counts": ("getModalityCounts", (), {"bodyPart": "LUNG"}),
        "patients": ("getPatient", (), {"collection": "rider_pilot"}),
        "patients by collection and modality": ("getPatientByCollectionAndModality", ("rider_pilot", "ct"), {}),
        "studies": ("getStudy", ("rider_pilot",), {"patientId": v["patient"]}),
        "study by UID": ("getStudy", ("RIDER_PILOT",), {"studyUid": v["study"]}),
        "series": ("getSeries", (), {"collection": "rider_pilot", "modality": "CT"}),
        "series list": ("getSeriesList", (v["series"],), {}),
        "manufacturers": ("getManufacturer", (), {"collection": "nlst"}),
        "manufacturer counts": ("getManufacturerCounts", (), {"modality": "MR", "bodyPart": "BRAIN"}),
        "simple search": ("getSimpleSearch", (), {
            "collections": ["rider_pilot", "nsclc_radiomics"], "modalities": ["CT", "SEG"], "modalityAnded": True,
            "size": 100_000}),
        "simple search by species, dates and studies": ("getSimpleSearch", (), {
            "species": ["human"], "bodyParts": ["CHEST"], "modalities": ["CT"], "fromDate": "2001/01/01",
            "toDate": "2001/12/31", "minStudies": 3, "size": 100_000}),
        "simple search by release date": ("getSimpleSearch", (), {
            "collections": ["nlst"], "releasedAfter": "2024/01/01", "size": 100_000}),
        "simple search by patients": ("getSimpleSearch", (), {"patients": [v["patient"]], "size": 100_000}),
        "new patients": ("getNewPatientsInCollection", ("nlst", "2023/06/01"), {}),
        "new studies": ("getNewStudiesInPatient", ("rider_pilot", v["patient"], "2020/01/01"), {}),
        "updated series": ("getUpdatedSeries", ("2025/01/01",), {}),
        "collection descriptions": ("getCollectionDescriptions", (), {}),
        "segmentation's source": ("getSegRefSeries", (v["seg"],), {}),
    }


CALLS = list(_calls({"patient": "", "study": "", "series": [], "seg": ""}))


def _call(monkeypatch, client: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    monkeypatch.setattr(idc, "_client", client)
    return getattr(idc, name)(*args, **{**kwargs, "format": "df"} if _takes_format(name) else kwargs)


def _takes_format(name: str) -> bool:
    return name not in ("getSegRefSeries",)


def _rows(answer: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names, and the rows as comparable tuples in a fixed order."""
    if not hasattr(answer, "columns"):
        return [], [(answer,)]
    rows = [tuple(_value(v) for v in row) for row in answer.itertuples(index=False)]
    return list(answer.columns), sorted(rows, key=repr)


def _value(v: Any) -> Any:
    if hasattr(v, "tolist"):  # numpy arrays and scalars
        v = v.tolist()
    if isinstance(v, float) and math.isnan(v):
        return None
    if type(v).__name__ == "NaTType":
        return None
    return v


@pytest.mark.parametrize("case", CALLS)
def test_a_function_of_tcia_utils_answers_as_on_0_13(monkeypatch, clients, values, case: str) -> None:
    name, args, kwargs = _calls(values)[case]
    ours = _call(monkeypatch, clients["ours"], name, args, kwargs)
    theirs = _call(monkeypatch, clients["0.13 (DuckDB)"], name, args, kwargs)
    ours_columns, ours_rows = _rows(ours)
    their_columns, their_rows = _rows(theirs)
    assert ours_columns == their_columns
    assert their_rows, f"{case}: the reference answer is empty, so the comparison shows nothing"
    assert ours_rows == their_rows


def test_parameters_go_through_the_private_connection_as_values(full_client) -> None:
    """tcia_utils' ILIKE filters take the user's text as a value: a quote cannot end the literal."""
    con = full_client._duckdb_conn
    assert con.execute("SELECT DISTINCT collection_id FROM index WHERE collection_id ILIKE ?", ["x' OR '1'='1"]).df().empty
    assert con.execute("SELECT ? AS v", ["it's"]).fetchall() == [("it's",)]
