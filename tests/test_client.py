"""The idc-index 0.13 API on the real v25 index, and what it does better."""

from __future__ import annotations

import idc_index
import pytest
from idc_index import IDCClient, UnknownIdentifierError, UnknownIndexError

NSCLC_PATIENT = "LUNG1-001"


@pytest.fixture(scope="module")
def study(client) -> str:
    return client.get_dicom_studies(NSCLC_PATIENT, outputFormat="list")[0]


@pytest.fixture(scope="module")
def series(client, study) -> str:
    return client.get_dicom_series(study, outputFormat="list")[0]


def test_0_13_import_paths() -> None:
    from idc_index import index

    assert index.IDCClient is IDCClient
    assert index.IDCClientInsufficientDiskSpaceError is idc_index.IDCClientInsufficientDiskSpaceError
    assert issubclass(idc_index.IDCClientInsufficientDiskSpaceError, idc_index.IDCError)
    err = idc_index.IDCClientInsufficientDiskSpaceError("2 GB", "1 GB")
    assert (err.disk_space_needed, err.disk_space_available) == ("2 GB", "1 GB")
    assert IDCClient.DOWNLOAD_HIERARCHY_DEFAULT == "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"


def test_0_13_endpoint_names() -> None:
    from idc_index import index

    assert index.aws_endpoint_url == "https://s3.amazonaws.com"
    assert index.gcp_endpoint_url == "https://storage.googleapis.com"


def test_every_exception_class_is_in_idc_index_errors() -> None:
    import importlib
    import pkgutil

    from idc_index import errors

    for name in ("InvalidTemplateError", "EmptySelectionError", "ManifestError", "InvalidLocationError"):
        cls = getattr(errors, name)
        assert issubclass(cls, idc_index.IDCError) and issubclass(cls, ValueError)
        assert name in errors.__all__
    modules = list(pkgutil.walk_packages(idc_index.__path__, "idc_index."))
    assert {"idc_index.query.lookup", "idc_index.download.plan", "idc_index.releases.catalog"} <= {m.name for m in modules}
    for info in modules:
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__.startswith("idc_index"):
                assert obj.__module__ == "idc_index.errors", f"{obj.__qualname__} in {obj.__module__}"


def test_singleton(cache_dir) -> None:
    IDCClient._client = None
    try:
        assert IDCClient.client() is IDCClient.client()
    finally:
        IDCClient._client = None


def test_idc_version_on_class_and_instance(client) -> None:
    assert IDCClient.get_idc_version() == "v25"
    assert client.get_idc_version() == "v25"
    assert client.idc_version == "v25"


def test_collections(client) -> None:
    collections = client.get_collections()
    assert len(collections) == len(set(collections)) > 150
    assert "nsclc_radiomics" in collections and collections == sorted(collections)


def test_patients_by_id_or_portal_name(client) -> None:
    by_id = client.get_patients("nsclc_radiomics", outputFormat="list")
    by_name = client.get_patients("NSCLC-Radiomics", outputFormat="list")
    assert by_id == by_name and len(by_id) == 422 and NSCLC_PATIENT in by_id
    assert client.get_patients("Nsclc Radiomics", outputFormat="list") == by_id
    records = client.get_patients(["nsclc_radiomics", "rider_pilot"])
    assert set(records[0]) == {"PatientID", "PatientSex", "PatientAge"}
    df = client.get_patients("rider_pilot", outputFormat="df")
    assert list(df.columns) == ["PatientID", "PatientSex", "PatientAge"]
    assert len(df) == len(client.get_patients("rider_pilot", outputFormat="list"))


def test_mistyped_collection_suggests_the_right_one(client) -> None:
    with pytest.raises(UnknownIdentifierError) as info:
        client.get_patients("nsclc_radiomic")
    assert "nsclc_radiomics" in str(info.value)
    assert info.value.suggestions["nsclc_radiomic"][0] == "nsclc_radiomics"
    assert isinstance(info.value, ValueError)  # 0.13 code catching ValueError keeps working


def test_studies_and_series(client, study, series) -> None:
    studies = client.get_dicom_studies(NSCLC_PATIENT)
    assert set(studies[0]) == {"StudyInstanceUID", "StudyDate", "StudyDescription", "SeriesCount"}
    assert study in {s["StudyInstanceUID"] for s in studies}
    records = client.get_dicom_series(study)
    assert records[0]["Collection"] == "nsclc_radiomics"
    assert set(records[0]) == {
        "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesDate", "Collection", "BodyPartExamined",
        "SeriesDescription", "Manufacturer", "ManufacturerModelName", "series_size_MB", "SeriesNumber",
        "instance_count", "ImageCount",
    }
    assert series in {r["SeriesInstanceUID"] for r in records}
    assert sum(r["instance_count"] for r in records) > 0
    df = client.get_dicom_series([study], outputFormat="df")
    assert len(df) == len(records)


def test_mistyped_uid_suggests_the_existing_one(client, series) -> None:
    typo = series[:-1] + ("1" if series[-1] != "1" else "2")
    with pytest.raises(UnknownIdentifierError) as info:
        client.get_series_size(typo)
    assert series in info.value.suggestions[typo]
    assert typo in str(info.value)
    with pytest.raises(UnknownIdentifierError, match="'LUNG1-0001' \\(closest: 'LUNG1-001'"):
        client.get_dicom_studies("LUNG1-0001")


def test_unknown_identifiers_start_with_the_0_13_sentence(client, series) -> None:
    # Scripts written for 0.13 match on its sentence; ours follows: the closest, where to look.
    with pytest.raises(UnknownIdentifierError) as info:
        client.get_dicom_studies(["LUNG1-0001"])
    assert str(info.value) == (
        "No data found for the PatientID with the values ['LUNG1-0001']. 'LUNG1-0001' (closest: 'LUNG1-001', "
        "'LUNG1-002', 'LUNG1-003') is not in IDC v25 (index). get_patients(collection_id) lists the patients "
        "of a collection."
    )
    with pytest.raises(UnknownIdentifierError) as info:
        client.get_patients("nsclc-radiomix")
    assert str(info.value).startswith(
        "No data found for the collection_id with the values ['nsclc-radiomix']. 'nsclc-radiomix' (closest: "
        "'nsclc_radiomics'"
    )
    assert str(info.value).endswith("get_collections() lists the collection ids (the IDC portal's names work too).")
    # Several values: those that match nothing are listed, each with its closest.
    with pytest.raises(UnknownIdentifierError) as info:
        client.get_dicom_series([series[:-3], "1.2.3.4"], outputFormat="list")
    assert str(info.value).startswith(
        f"No data found for the StudyInstanceUID with the values ['{series[:-3]}', '1.2.3.4']. "
    )
    assert "are not in IDC v25 (index). get_dicom_studies(patientId) lists the studies of a patient." in str(info.value)


def test_series_size(client, series) -> None:
    size = client.get_series_size(series)
    expected = client.sql(f"SELECT series_size_MB FROM index WHERE SeriesInstanceUID = '{series}'").column(
        "series_size_MB"
    )[0]
    assert size == expected > 0


def test_output_format_and_argument_types_are_checked(client) -> None:
    with pytest.raises(ValueError, match="outputFormat"):
        client.get_patients("nsclc_radiomics", outputFormat="csv")
    with pytest.raises(TypeError, match="collection_id must be a string or list of strings"):
        client.get_patients(42)


ONE_SERIES = "seriesInstanceUID must be one SeriesInstanceUID (a string)"
ACCEPTED = "(a tuple, numpy array or pandas Series of strings works too)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, d: c.get_series_size(None), f"{ONE_SERIES}, got None"),
        (lambda c, d: c.get_series_size(["1.2", "1.3"]), f"{ONE_SERIES}, got list ['1.2', '1.3']"),
        (lambda c, d: c.get_patients(None), f"collection_id must be a string or list of strings {ACCEPTED}, got None"),
        (
            lambda c, d: c.get_dicom_studies(["LUNG1-001", 7]),
            "patientId must be a string or list of strings, got list ['LUNG1-001', 7] whose item 1 is int 7",
        ),
        (
            lambda c, d: c.get_dicom_series({"a": 1}),
            f"studyInstanceUID must be a string or list of strings {ACCEPTED}, got dict {{'a': 1}}",
        ),
        (lambda c, d: c.get_viewer_URL(seriesInstanceUID=1.5), f"{ONE_SERIES}, got float 1.5"),
        (lambda c, d: c.get_viewer_URL(studyInstanceUID=b"1.2"), "studyInstanceUID must be one StudyInstanceUID"),
        (lambda c, d: c.get_instance_file_URL(None), "sopInstanceUID must be one SOPInstanceUID (a string), got None"),
        (lambda c, d: c.get_series_file_URLs(None), f"{ONE_SERIES}, got None"),
        (lambda c, d: c.get_dicomweb_URL(seriesInstanceUID=5), f"{ONE_SERIES}, got int 5"),
        (lambda c, d: c.citations_from_selection(patientId=5), "patientId must be a string or list of strings"),
        # Levels that do not select (a more specific one is given) are checked too, as in 0.13.
        (
            lambda c, d: c.citations_from_selection(patientId="LUNG1-001", studyInstanceUID=3.0),
            "studyInstanceUID must be a string or list of strings",
        ),
        (lambda c, d: c.download_dicom_series(None, d), "seriesInstanceUID must be a string or list of strings"),
        (lambda c, d: c.download_dicom_studies(1, d), "studyInstanceUID must be a string or list of strings"),
        (lambda c, d: c.download_dicom_patients(None, d), "patientId must be a string or list of strings"),
        (lambda c, d: c.download_dicom_instance(None, d), "sopInstanceUID must be a string or list of strings"),
        (lambda c, d: c.download_collection(None, d), "collection_id must be a string or list of strings"),
        (lambda c, d: c.download_analysis_result(None, d), "analysis_result_id must be a string or list of strings"),
        (
            lambda c, d: c.download_from_selection(d, collection_id=5, seriesInstanceUID="1.2"),
            "collection_id must be a string or list of strings",
        ),
        (
            lambda c, d: c.download_from_selection(d, crdc_series_uuid=[None]),
            "crdc_series_uuid must be a string or list of strings, got list [None] whose item 0 is None",
        ),
        (lambda c, d: c.fetch_index(None), "index_name must be a string (an index name such as 'sm_index'), got None"),
        (lambda c, d: c.get_index_schema(3), "index_name must be a string"),
        (lambda c, d: c.get_clinical_table(None), "table_name must be a string"),
        (lambda c, d: c.sql_query(None), "sql_query must be a string (one SQL query), got None"),
    ],
)
def test_wrong_types_say_what_was_given(client, tmp_path, call, message) -> None:
    import re

    with pytest.raises(TypeError, match=re.escape(message)):
        call(client, tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


def test_tuples_numpy_arrays_and_pandas_series_are_lists(client, study, series, tmp_path) -> None:
    import numpy as np
    import pandas as pd

    expected = client.get_dicom_series(study, outputFormat="list")
    assert client.get_dicom_series((study,), outputFormat="list") == expected
    assert client.get_dicom_series(np.array([study]), outputFormat="list") == expected
    patients = client.get_dicom_studies(pd.Series([NSCLC_PATIENT, "LUNG1-002"]), outputFormat="list")
    assert study in patients and len(patients) == 2
    assert client.get_patients(pd.Index(["NSCLC-Radiomics"]), outputFormat="list")[0] == NSCLC_PATIENT
    assert client.get_series_size(np.array([series])) == client.get_series_size(series)
    uids = client.sql_query(f"SELECT SeriesInstanceUID FROM index WHERE StudyInstanceUID = '{study}'")
    report = client.download_dicom_series(uids["SeriesInstanceUID"], tmp_path, dry_run=True)
    assert report.plan.series == len(expected)
    report = client.download_from_selection(tmp_path, seriesInstanceUID=uids["SeriesInstanceUID"].values, dry_run=True)
    assert report.plan.series == len(expected)
    with pytest.raises(UnknownIdentifierError) as info:  # numpy strings print as typed
        client.get_dicom_series(np.array(["1.2.3.4"]))
    assert str(info.value).startswith("No data found for the StudyInstanceUID with the values ['1.2.3.4'].")


def test_viewer_urls(client, study, series) -> None:
    base = "https://viewer.imaging.datacommons.cancer.gov"
    assert client.get_viewer_URL(seriesInstanceUID=series) == (
        f"{base}/v3/viewer/?StudyInstanceUIDs={study}&initialSeriesInstanceUID={series}"
    )
    assert client.get_viewer_URL(studyInstanceUID=study) == f"{base}/v3/viewer/?StudyInstanceUIDs={study}"
    assert client.get_viewer_URL(studyInstanceUID=study, viewer_selector="ohif_v2") == f"{base}/viewer/{study}"
    sm_series, sm_study = client.sql(
        "SELECT SeriesInstanceUID, StudyInstanceUID FROM index WHERE Modality = 'SM' LIMIT 1"
    ).to_pylist()[0].values()
    assert client.get_viewer_URL(seriesInstanceUID=sm_series) == f"{base}/slim/studies/{sm_study}/series/{sm_series}"
    with pytest.raises(ValueError, match="Either"):
        client.get_viewer_URL()
    with pytest.raises(ValueError, match="viewer_selector"):
        client.get_viewer_URL(seriesInstanceUID=series, viewer_selector="volview")
    with pytest.raises(UnknownIdentifierError):
        client.get_viewer_URL(studyInstanceUID="1.2.3.4")


def test_indices_overview_and_schema(client) -> None:
    overview = client.indices_overview
    assert overview["index"]["installed"] and overview["prior_versions_index"]["installed"]
    assert not overview["sm_index"]["installed"]
    assert overview["sm_index"]["url"].endswith("/25.0.5/sm_index.parquet")
    schema = client.get_index_schema("index")
    assert [c["name"] for c in schema["columns"]][:3] == ["collection_id", "analysis_result_id", "PatientID"]
    assert client.get_index_schema("sm_instance_index")["columns"]
    with pytest.raises(UnknownIndexError, match="sm_index"):
        client.get_index_schema("sm_indx")


def test_every_installed_index_is_queryable_at_once(client) -> None:
    tables = set(client._engine.table_names())
    assert {"index", "idc_index", "prior_versions_index", "collections_index", "analysis_results_index",
            "version_metadata_index"} <= tables


def test_0_13_dataframe_attributes(client) -> None:
    summary = client.collection_summary
    assert summary.loc["nsclc_radiomics", "series_size_MB"] > 0
    assert client.sm_index is None  # not installed, as in 0.13
    assert len(client.prior_versions_index) == client.sql("SELECT COUNT(*) AS n FROM prior_versions_index").column("n")[0]


def test_citations_work_offline_from_the_index(client) -> None:
    client_offline = client
    resolver = client_offline.DOI_RESOLVER_URL
    client_offline.DOI_RESOLVER_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port
    try:
        citations = client_offline.citations_from_selection(collection_id="nsclc_radiomics")
        bibtex = client_offline.citations_from_selection(
            collection_id="nsclc_radiomics", citation_format=IDCClient.CITATION_FORMAT_BIBTEX
        )
    finally:
        client_offline.DOI_RESOLVER_URL = resolver
    assert len(citations) >= 2
    assert any("Radiomics" in c or "radiomics" in c for c in citations)
    assert citations[-1].startswith("Fedorov, A.")
    assert all(b.startswith("@misc{") for b in bibtex)
