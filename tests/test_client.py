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

    from idc_index import errors, selection

    for name in ("InvalidTemplateError", "EmptySelectionError", "ManifestError"):
        cls = getattr(errors, name)
        assert getattr(selection, name) is cls  # the import path of earlier versions
        assert issubclass(cls, idc_index.IDCError) and issubclass(cls, ValueError)
        assert name in errors.__all__
    for info in pkgutil.iter_modules(idc_index.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"idc_index.{info.name}")
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
    with pytest.raises(UnknownIdentifierError, match="PatientID 'LUNG1-0001'.*LUNG1-001"):
        client.get_dicom_studies("LUNG1-0001")


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
