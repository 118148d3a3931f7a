"""3D Slicer's IDC browser (ImagingDataCommons/SlicerIDCBrowser, ``IDCBrowser/IDCBrowser.py``)
makes these calls on idc-index, in this order, as a user browses; each is made here as it is
written there, on the bundled index, and its answer checked against DuckDB over the same files.

The module itself needs Slicer's Qt and cannot run here; its calls are copied with their
arguments, and its SQL with its string building (``queryReferencedSeriesUIDs``).
"""

from __future__ import annotations

import pytest
from idc_index import IDCClient
from query_catalog import duckdb_connection, table_paths


@pytest.fixture(scope="module")
def duck(full_client):
    return duckdb_connection(table_paths(full_client))


def test_the_browser_starts(full_client) -> None:
    """``setup()``: it logs the s5cmd path and sets the index path, both as strings."""
    message = "s5cmd path: " + full_client.s5cmdPath
    assert message.startswith("s5cmd path: ")
    full_client.IDCIndexPath = "/somewhere/idc_index.parquet"
    assert "IDCIndexPath" in vars(full_client)
    assert IDCClient.get_idc_version() == full_client.get_idc_version() == "v25"


def test_browsing_collection_patient_study_series(full_client, duck) -> None:
    """``populateCollectionsTreeView`` / ``collectionSelected`` / ``patientSelected`` /
    ``studySelected``: each level's getter, with the keyword names the browser uses."""
    collections = full_client.get_collections()
    assert collections == [r[0] for r in duck.execute("SELECT DISTINCT collection_id FROM index ORDER BY 1").fetchall()]
    collection = "rider_pilot"
    assert collection in full_client.collection_summary.index
    summary = full_client.collection_summary.loc[collection]
    (size,) = duck.execute("SELECT SUM(series_size_MB) FROM index WHERE collection_id = ?", [collection]).fetchone()
    assert summary["series_size_MB"] == pytest.approx(size)

    patients = full_client.get_patients(collection_id=collection)
    expected = {r[0] for r in duck.execute("SELECT DISTINCT PatientID FROM index WHERE collection_id = ?",
                                           [collection]).fetchall()}
    assert {p["PatientID"] for p in patients} == expected
    patient = min(expected)

    studies = full_client.get_dicom_studies(patientId=patient)
    expected = {r[0] for r in duck.execute("SELECT DISTINCT StudyInstanceUID FROM index WHERE PatientID = ?",
                                           [patient]).fetchall()}
    assert {s["StudyInstanceUID"] for s in studies} == expected
    study = min(expected)

    series = full_client.get_dicom_series(studyInstanceUID=study)
    expected = {r[0] for r in duck.execute("SELECT SeriesInstanceUID FROM index WHERE StudyInstanceUID = ?",
                                           [study]).fetchall()}
    assert {s["SeriesInstanceUID"] for s in series} == expected
    uid = min(expected)
    (mb,) = duck.execute("SELECT series_size_MB FROM index WHERE SeriesInstanceUID = ?", [uid]).fetchone()
    assert full_client.get_series_size(uid) == pytest.approx(mb)


def test_searching_by_identifier_filters_the_index(full_client, duck) -> None:
    """``onSearchTextChanged``: the index DataFrame filtered by PatientID, StudyInstanceUID or
    SeriesInstanceUID."""
    index = full_client.index
    patient, study, series = duck.execute(
        "SELECT PatientID, StudyInstanceUID, SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' "
        "ORDER BY SeriesInstanceUID LIMIT 1").fetchone()
    for column, value in (("PatientID", patient), ("StudyInstanceUID", study), ("SeriesInstanceUID", series)):
        (count,) = duck.execute(f"SELECT COUNT(*) FROM index WHERE {column} = ?", [value]).fetchone()
        assert len(index[index[column] == value]) == count


def test_a_segmentation_brings_its_source_series(full_client, duck) -> None:
    """``queryReferencedSeriesUIDs``: the browser quotes the UIDs into the SQL itself."""
    seg = [r[0] for r in duck.execute("SELECT SeriesInstanceUID FROM seg_index ORDER BY 1 LIMIT 3").fetchall()]

    def quote_sql_string(value):
        return "'" + str(value).replace("'", "''") + "'"

    table_name, reference_column = "seg_index", "segmented_SeriesInstanceUID"
    full_client.fetch_index(table_name)
    query = """
        SELECT SeriesInstanceUID, {referenceColumn}
        FROM {tableName}
        WHERE SeriesInstanceUID IN ({quotedSeriesUIDs})
          AND {referenceColumn} IS NOT NULL
          AND {referenceColumn} != ''
      """.format(referenceColumn=reference_column, tableName=table_name,
                 quotedSeriesUIDs=", ".join(quote_sql_string(uid) for uid in seg))
    results = full_client.sql_query(query)
    pairs = sorted((str(row["SeriesInstanceUID"]), str(row[reference_column])) for _, row in results.iterrows())
    assert pairs == sorted(duck.execute(query).fetchall())
    assert len(pairs) == 3


def test_the_download_manifest_is_built_from_the_index(full_client) -> None:
    """``downloadSelectedSeries``: the queue merged with the index DataFrame for each series'
    ``series_aws_url``, written as ``cp`` lines."""
    import pandas as pd

    uids = full_client.sql("SELECT SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' LIMIT 2").column(
        "SeriesInstanceUID")
    queue = {"SeriesInstanceUID": uids, "DownloadFolder": ["/tmp/a", "/tmp/b"]}
    manifest_df = pd.DataFrame.from_dict(queue).merge(full_client.index, on="SeriesInstanceUID", how="left")
    lines = [f"cp {url} {folder}" for url, folder in zip(manifest_df["series_aws_url"], manifest_df["DownloadFolder"])]
    assert all(line.startswith("cp s3://idc-open-data/") and line.count("/*") == 1 for line in lines)
