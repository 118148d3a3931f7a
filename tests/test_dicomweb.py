"""DICOMweb URLs of studies, series and instances of the real v25 index, at IDC's public proxy
and at the Google Healthcare store of the release: the UIDs are checked first, a study or series
left out is found from the indices. Instances are looked up in an sm_instance_index of real
slide-microscopy series, published by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from idc_index import IDCClient
from idc_index.errors import IndexFetchError, UnknownIdentifierError
from idc_testdata import REAL_INDEX, QuietHandler

PROXY = (
    "https://proxy.imaging.datacommons.cancer.gov/current/viewer-only-no-downloads-see-tinyurl-dot-com-slash-3j3d9jyp"
    "/dicomWeb"
)
GOOGLE = (
    "https://healthcare.googleapis.com/v1/projects/nci-idc-data/locations/us-central1/datasets/idc"
    "/dicomStores/idc-store-v25/dicomWeb"
)
ROOTS = {"proxy": PROXY, "google": GOOGLE}


def first(client: IDCClient, where: str) -> dict:
    return client.sql(
        f"SELECT StudyInstanceUID, SeriesInstanceUID, aws_bucket FROM index WHERE {where} "
        "ORDER BY SeriesInstanceUID LIMIT 1"
    ).to_pylist()[0]


@pytest.fixture(scope="module")
def ct(client) -> dict:
    """A CT series of the main index (in idc-open-data), with its study."""
    return first(client, "Modality = 'CT' AND aws_bucket = 'idc-open-data' AND collection_id = 'rider_pilot'")


@pytest.mark.parametrize("endpoint", ["proxy", "google"])
def test_study_and_series_urls_at_each_endpoint(client, ct, endpoint) -> None:
    root = ROOTS[endpoint]
    study, series = ct["StudyInstanceUID"], ct["SeriesInstanceUID"]
    assert client.get_dicomweb_URL(study, endpoint=endpoint) == f"{root}/studies/{study}"
    # The study of a series is found from the index; given, it is checked.
    assert client.get_dicomweb_URL(seriesInstanceUID=series, endpoint=endpoint) == (
        f"{root}/studies/{study}/series/{series}"
    )
    assert client.get_dicomweb_URL(study, series, endpoint=endpoint) == f"{root}/studies/{study}/series/{series}"
    # No UID: the service root, which DICOMweb clients take.
    assert client.get_dicomweb_URL(endpoint=endpoint) == root


def test_proxy_is_the_default_and_google_names_the_release(client, ct) -> None:
    url = client.get_dicomweb_URL(ct["StudyInstanceUID"])
    assert url.startswith(PROXY + "/studies/")
    assert client.get_dicomweb_URL(endpoint="google").endswith("/dicomStores/idc-store-v25/dicomWeb")
    with pytest.raises(ValueError, match="endpoint must be 'proxy' .* or 'google' .*, not 'aws'"):
        client.get_dicomweb_URL(ct["StudyInstanceUID"], endpoint="aws")


def test_a_series_must_belong_to_the_study_given(client, ct) -> None:
    other = first(client, "collection_id = 'tcga_luad'")
    with pytest.raises(UnknownIdentifierError) as e:
        client.get_dicomweb_URL(other["StudyInstanceUID"], ct["SeriesInstanceUID"])
    message = str(e.value)
    assert message.startswith(f"No data found for the SeriesInstanceUID with the values ['{ct['SeriesInstanceUID']}'].")
    assert f"is not in study '{other['StudyInstanceUID']}' of IDC v25" in message
    assert f"It belongs to study '{ct['StudyInstanceUID']}'" in message


def test_unknown_uids_name_the_closest(client, ct) -> None:
    typo = ct["StudyInstanceUID"] + "9"
    with pytest.raises(UnknownIdentifierError) as e:
        client.get_dicomweb_URL(typo)
    assert ct["StudyInstanceUID"] in e.value.suggestions[typo]
    series_typo = ct["SeriesInstanceUID"][:-1] + ("1" if ct["SeriesInstanceUID"][-1] != "1" else "2")
    with pytest.raises(UnknownIdentifierError, match="get_dicom_series") as e:
        client.get_dicomweb_URL(seriesInstanceUID=series_typo, endpoint="google")
    assert ct["SeriesInstanceUID"] in e.value.suggestions[series_typo]


def test_uids_must_be_strings(client, ct) -> None:
    with pytest.raises(TypeError, match="seriesInstanceUID must be one SeriesInstanceUID \\(a string\\), got int 5"):
        client.get_dicomweb_URL(seriesInstanceUID=5)
    with pytest.raises(TypeError, match="studyInstanceUID must be one StudyInstanceUID .*got list"):
        client.get_dicomweb_URL([ct["StudyInstanceUID"], "1.2"])


def test_google_warns_about_series_outside_its_bucket(client, ct, caplog) -> None:
    elsewhere = first(client, "aws_bucket = 'idc-open-data-cr'")
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        assert client.get_dicomweb_URL(seriesInstanceUID=ct["SeriesInstanceUID"], endpoint="google")
        assert not caplog.records
        url = client.get_dicomweb_URL(seriesInstanceUID=elsewhere["SeriesInstanceUID"], endpoint="google")
        client.get_dicomweb_URL(seriesInstanceUID=elsewhere["SeriesInstanceUID"], endpoint="proxy")
    assert url == f"{GOOGLE}/studies/{elsewhere['StudyInstanceUID']}/series/{elsewhere['SeriesInstanceUID']}"
    (record,) = caplog.records
    assert "idc-open-data-cr" in record.getMessage() and "endpoint='proxy'" in record.getMessage()


# -- instances ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """An sm_instance_index of two real SM series (three instances each), published over HTTP."""
    root = tmp_path_factory.mktemp("dicomweb-site")
    main = pq.read_table(REAL_INDEX, columns=["SeriesInstanceUID", "Modality"])
    sm = main.filter(pc.equal(main["Modality"], "SM")).slice(0, 2)["SeriesInstanceUID"].to_pylist()
    rows = [
        {"SOPInstanceUID": f"1.2.826.0.1.3680043.8.498.77{s}{level}", "SeriesInstanceUID": series,
         "crdc_instance_uuid": f"00000000-0000-4000-8000-0000000077{s}{level}", "instance_size": 1000}
        for s, series in enumerate(sm)
        for level in range(3)
    ]
    pq.write_table(pa.Table.from_pylist(rows), root / "sm_instance_index.parquet")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def instances(site: tuple[Path, str]) -> list[dict]:
    return pq.read_table(site[0] / "sm_instance_index.parquet").to_pylist()


@pytest.fixture(scope="module")
def sm_client(site: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> IDCClient:
    """A client whose sm_instance_index is fetched (on first use) from the local server."""
    cache = tmp_path_factory.mktemp("dicomweb-cache")
    return IDCClient(cache_dir=cache, release_base_url=site[1], optimize_index=False)


def study_of(client: IDCClient, series: str) -> str:
    return client.sql(f"SELECT StudyInstanceUID FROM index WHERE SeriesInstanceUID = '{series}'").column(
        "StudyInstanceUID"
    )[0]


@pytest.mark.parametrize("endpoint", ["proxy", "google"])
def test_instance_urls_find_their_series_and_study(sm_client, instances, endpoint) -> None:
    inst = instances[1]
    series = inst["SeriesInstanceUID"]
    study = study_of(sm_client, series)
    expected = f"{ROOTS[endpoint]}/studies/{study}/series/{series}/instances/{inst['SOPInstanceUID']}"
    # Alone: sm_instance_index is fetched to find its series, the index gives the study.
    assert sm_client.get_dicomweb_URL(sopInstanceUID=inst["SOPInstanceUID"], endpoint=endpoint) == expected
    assert "sm_instance_index" in sm_client._engine.table_names()
    assert sm_client.get_dicomweb_URL(
        seriesInstanceUID=series, sopInstanceUID=inst["SOPInstanceUID"], endpoint=endpoint
    ) == expected
    assert sm_client.get_dicomweb_URL(study, series, inst["SOPInstanceUID"], endpoint=endpoint) == expected


def test_an_instance_must_belong_to_the_series_and_study_given(sm_client, instances, ct) -> None:
    inst, other = instances[0], instances[3]
    assert inst["SeriesInstanceUID"] != other["SeriesInstanceUID"]
    with pytest.raises(UnknownIdentifierError) as e:
        sm_client.get_dicomweb_URL(seriesInstanceUID=other["SeriesInstanceUID"], sopInstanceUID=inst["SOPInstanceUID"])
    sop = inst["SOPInstanceUID"]
    assert str(e.value).startswith(f"No data found for the SOPInstanceUID with the values ['{sop}'].")
    assert f"It belongs to series '{inst['SeriesInstanceUID']}'" in str(e.value)
    with pytest.raises(UnknownIdentifierError, match="It belongs to study") as e:
        sm_client.get_dicomweb_URL(ct["StudyInstanceUID"], sopInstanceUID=inst["SOPInstanceUID"])
    assert e.value.kind == "SOPInstanceUID"
    # An instance missing from a series that sm_instance_index lists: the closest are named.
    typo = inst["SOPInstanceUID"][:-1] + "9"
    with pytest.raises(UnknownIdentifierError) as e:
        sm_client.get_dicomweb_URL(seriesInstanceUID=inst["SeriesInstanceUID"], sopInstanceUID=typo)
    assert inst["SOPInstanceUID"] in e.value.suggestions[typo]
    assert "lists its instances" in str(e.value)


def test_instances_of_other_series_are_not_checked_and_need_their_series(sm_client, instances, ct) -> None:
    # sm_instance_index lists slide microscopy only: the instance of a CT series cannot be
    # checked, and is taken as given with its series...
    sop = "1.2.826.0.1.3680043.8.498.4242"
    url = sm_client.get_dicomweb_URL(seriesInstanceUID=ct["SeriesInstanceUID"], sopInstanceUID=sop)
    assert url == f"{PROXY}/studies/{ct['StudyInstanceUID']}/series/{ct['SeriesInstanceUID']}/instances/{sop}"
    # ...but alone it cannot be found, and the message says what to pass.
    with pytest.raises(UnknownIdentifierError) as e:
        sm_client.get_dicomweb_URL(sopInstanceUID=sop)
    message = str(e.value)
    assert message.startswith(f"No data found for the SOPInstanceUID with the values ['{sop}'].")
    assert "sm_instance_index" in message and "pass its seriesInstanceUID too" in message


def test_an_instance_alone_without_its_index_says_what_to_pass(tmp_path, ct) -> None:
    offline = IDCClient(cache_dir=tmp_path, release_base_url="http://127.0.0.1:9", optimize_index=False)
    with pytest.raises(IndexFetchError, match="pass the instance's seriesInstanceUID too"):
        offline.get_dicomweb_URL(sopInstanceUID="1.2.826.0.1.3680043.8.498.4242")
    # With its series, no instance index is needed.
    assert offline.get_dicomweb_URL(seriesInstanceUID=ct["SeriesInstanceUID"], sopInstanceUID="1.2.3").endswith(
        f"/series/{ct['SeriesInstanceUID']}/instances/1.2.3"
    )
