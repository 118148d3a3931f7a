"""Index releases: the data package, a local release directory, and optional indices fetched
from a server on 127.0.0.1 (verified, cached, reused offline)."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from idc_index import IDCClient, IndexFetchError, IndexFileError, IndexIntegrityError, UnknownIdentifierError
from idc_index.releases.catalog import Catalog
from idc_index.releases.files import validate_release_manifest


def test_release_directory_from_argument_and_environment(small_release: Path, tmp_path: Path, monkeypatch) -> None:
    client = IDCClient(small_release, cache_dir=tmp_path, optimize_index=False)
    assert client.get_idc_version() == "v25"
    assert sorted(client.get_collections()) == ["nsclc_radiomics", "rider_pilot", "tcga_luad"]
    assert client.get_patients("TCGA-LUAD", outputFormat="list")
    assert client.indices_overview["sm_index"]["installed"] is False
    schema = client.get_index_schema("index")
    assert schema["table_description"] == "three collections of v25"
    assert {"name", "type", "mode", "description"} <= set(schema["columns"][0])

    monkeypatch.setenv("IDC_INDEX_DATA_DIR", str(small_release))
    monkeypatch.setenv("IDC_INDEX_CACHE_DIR", str(tmp_path))
    from_env = IDCClient(optimize_index=False)
    assert from_env.get_collections() == client.get_collections()


def test_optimised_copy_of_a_release_answers_the_same(small_release: Path, tmp_path: Path) -> None:
    client = IDCClient(small_release, cache_dir=tmp_path)
    before = client.sql("SELECT Modality, COUNT(*) AS n FROM index GROUP BY 1 ORDER BY 1").to_pylist()
    path = client._engine.wait_optimized("index")
    assert path is not None and Path(path).is_file() and tmp_path in Path(path).parents
    assert client.sql("SELECT Modality, COUNT(*) AS n FROM index GROUP BY 1 ORDER BY 1").to_pylist() == before
    again = IDCClient(small_release, cache_dir=tmp_path)
    assert again._engine.table_path("index") == path  # reused, not rewritten
    assert again._engine.wait_optimized("index") is None


def test_bad_release_directories_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="has no manifest.json"):
        IDCClient(tmp_path, cache_dir=tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="cannot read"):
        IDCClient(tmp_path, cache_dir=tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other", "indices": {}}))
    with pytest.raises(IndexFileError, match="format is 'other'"):
        IDCClient(tmp_path, cache_dir=tmp_path)
    assert validate_release_manifest({"format": "idc-index-release/1", "idc_version": 25, "release": "x",
                              "indices": {"idc_index": {"file": "../../etc/passwd"}}})


def test_fetch_from_server_verifies_caches_and_reuses_offline(
    small_release: Path, http_server: str, tmp_path: Path
) -> None:
    client = IDCClient(small_release, cache_dir=tmp_path, release_base_url=http_server, optimize_index=False)
    client.fetch_index("sm_index")
    n = client.sql("SELECT COUNT(*) AS n FROM sm_index").column("n")[0]
    assert n > 0
    cached = tmp_path / "indices" / "25.0.0-small" / "sm_index.parquet"
    assert cached.is_file()
    assert client.indices_overview["sm_index"]["installed"]
    # offline: no base URL, nothing listening, and the cached copy is used at start-up
    offline = IDCClient(small_release, cache_dir=tmp_path, release_base_url="http://127.0.0.1:9", optimize_index=False)
    assert offline.sql("SELECT COUNT(*) AS n FROM sm_index").column("n") == [n]
    offline.fetch_index("sm_index")  # already installed: no network


def test_a_cached_index_cut_short_is_removed_and_fetched_again(
    small_release: Path, http_server: str, tmp_path: Path, caplog
) -> None:
    client = IDCClient(small_release, cache_dir=tmp_path, release_base_url=http_server, optimize_index=False)
    client.fetch_index("sm_index")
    n = client.sql("SELECT COUNT(*) AS n FROM sm_index").column("n")
    cached = tmp_path / "indices" / "25.0.0-small" / "sm_index.parquet"
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) * 2 // 3])  # a crash or a full disk cut it short
    with caplog.at_level("WARNING", logger="idc_index"):
        again = IDCClient(small_release, cache_dir=tmp_path, release_base_url=http_server, optimize_index=False)
    assert "sm_index.parquet is damaged (not whole); it was removed" in caplog.text
    assert not cached.exists() and not again.indices_overview["sm_index"]["installed"]
    again.fetch_index("sm_index")
    assert again.sql("SELECT COUNT(*) AS n FROM sm_index").column("n") == n
    assert cached.read_bytes() == whole


def test_an_optimised_copy_cut_short_is_written_again(small_release: Path, tmp_path: Path, caplog) -> None:
    first = IDCClient(small_release, cache_dir=tmp_path)
    copy = Path(first._engine.wait_optimized("index"))
    expected = first.sql("SELECT COUNT(*) AS n FROM index").column("n")
    copy.write_bytes(copy.read_bytes()[:1000])
    with caplog.at_level("WARNING", logger="idc_index"):
        again = IDCClient(small_release, cache_dir=tmp_path)
    assert "is damaged; it was removed and will be written again" in caplog.text
    assert again.sql("SELECT COUNT(*) AS n FROM index").column("n") == expected  # the shipped file answers
    assert again._engine.wait_optimized("index") == str(copy) and copy.stat().st_size > 1000


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    import functools

    from idc_testdata import QuietHandler

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def tampered_server(published: Path, tmp_path: Path) -> Iterator[str]:
    """Serves an sm_index.parquet of the right size whose bytes differ from the published one."""
    root = tmp_path / "tampered"
    root.mkdir()
    data = bytearray((published / "sm_index.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "sm_index.parquet").write_bytes(bytes(data))
    server, url = _serve(root)
    yield url
    server.shutdown()
    server.server_close()


def test_corrupt_download_is_refused_and_nothing_cached(small_release: Path, tampered_server: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    client = IDCClient(small_release, cache_dir=cache, release_base_url=tampered_server, optimize_index=False)
    with pytest.raises(IndexIntegrityError, match="SHA-256 mismatch: expected"):
        client.fetch_index("sm_index")
    release_cache = cache / "indices" / "25.0.0-small"
    assert not release_cache.exists() or list(release_cache.iterdir()) == []
    assert "sm_index" not in client._engine.table_names()


def test_missing_file_and_unreachable_server(small_release: Path, tmp_path: Path, http_server: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    server, url = _serve(empty)
    try:
        client = IDCClient(small_release, cache_dir=tmp_path, release_base_url=url, optimize_index=False)
        with pytest.raises(IndexFetchError, match="HTTP 404"):
            client.fetch_index("sm_index")
    finally:
        server.shutdown()
        server.server_close()
    client = IDCClient(small_release, cache_dir=tmp_path, release_base_url="http://127.0.0.1:9", optimize_index=False)
    with pytest.raises(IndexFetchError, match="could not fetch index 'sm_index': network error .*Connection refused.*IDC_RELEASE_BASE_URL"):
        client.fetch_index("sm_index")
    no_url = IDCClient(small_release, cache_dir=tmp_path, optimize_index=False)
    with pytest.raises(IndexFetchError, match="IDC_RELEASE_BASE_URL"):
        no_url.fetch_index("sm_index")


def test_an_index_of_unknown_size_is_bounded(tmp_path: Path, monkeypatch) -> None:
    from idc_index.releases import files

    root = tmp_path / "site"
    root.mkdir()
    (root / "sm_index.parquet").write_bytes(b"x" * 200_000)
    monkeypatch.setattr(files, "MAX_INDEX_BYTES", 1000)
    server, url = _serve(root)
    try:
        client = IDCClient(cache_dir=tmp_path / "cache", release_base_url=url, optimize_index=False)
        with pytest.raises(IndexIntegrityError, match="sent more than the 1000 bytes an index file of unknown size"):
            client.fetch_index("sm_index")
    finally:
        server.shutdown()
        server.server_close()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_data_package_release_without_checksums_checks_for_parquet(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "sm_index.parquet").write_text("<html>not found</html>")
    server, url = _serve(root)
    try:
        client = IDCClient(cache_dir=tmp_path / "cache", release_base_url=url, optimize_index=False)
        with pytest.raises(IndexIntegrityError, match="did not return a parquet file"):
            client.fetch_index("sm_index")
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "cache" / "indices" / "25.0.5" / "sm_index.parquet").exists()


def test_unknown_index_names_suggest(client) -> None:
    from idc_index import UnknownIndexError

    with pytest.raises(UnknownIndexError, match="Did you mean 'sm_instance_index'"):
        client.fetch_index("sm_instance_indx")


def test_instance_url_from_sm_instance_index(small_release: Path, tmp_path: Path, published: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    client = IDCClient(small_release, cache_dir=tmp_path, optimize_index=False)
    row = client.sql(
        "SELECT SeriesInstanceUID, aws_bucket, crdc_series_uuid FROM index WHERE aws_bucket = 'idc-open-data-two' LIMIT 1"
    ).to_pylist()
    if not row:
        row = client.sql("SELECT SeriesInstanceUID, aws_bucket, crdc_series_uuid FROM index LIMIT 1").to_pylist()
    series = row[0]
    site = tmp_path / "site"
    site.mkdir()
    pq.write_table(
        pa.table({"SOPInstanceUID": ["1.2.3.4.5"], "SeriesInstanceUID": [series["SeriesInstanceUID"]],
                  "crdc_instance_uuid": ["0b5e0b39-0000-4000-8000-000000000001"]}),
        site / "sm_instance_index.parquet",
    )
    manifest = json.loads((small_release / "manifest.json").read_text())
    release = tmp_path / "release"
    shutil.copytree(small_release, release)
    manifest["indices"]["sm_instance_index"] = {"file": "sm_instance_index.parquet"}
    (release / "manifest.json").write_text(json.dumps(manifest))
    server, url = _serve(site)
    try:
        client = IDCClient(release, cache_dir=tmp_path / "c", release_base_url=url, optimize_index=False)
        aws = client.get_instance_file_URL("1.2.3.4.5")
        gcs = client.get_instance_file_URL("1.2.3.4.5", source_bucket_location="gcs")
    finally:
        server.shutdown()
        server.server_close()
    uuid = series["crdc_series_uuid"]
    assert aws == f"s3://{series['aws_bucket']}/{uuid}/0b5e0b39-0000-4000-8000-000000000001.dcm"
    gcs_bucket = {"idc-open-data": "idc-open-data", "idc-open-data-two": "idc-open-idc1", "idc-open-data-cr": "idc-open-cr"}
    assert gcs == f"s3://{gcs_bucket[series['aws_bucket']]}/{uuid}/0b5e0b39-0000-4000-8000-000000000001.dcm"
    with pytest.raises(UnknownIdentifierError, match="SOPInstanceUID"):
        client.get_instance_file_URL("1.2.3.4.6")
    with pytest.raises(ValueError, match="source_bucket_location"):
        client.get_instance_file_URL("1.2.3.4.5", source_bucket_location="azure")


class _DOIHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        accept = self.headers.get("Accept", "")
        body = f"CITATION {self.path.lstrip('/')} as {accept}".encode()
        if "json" in accept:
            body = json.dumps({"DOI": self.path.lstrip("/"), "title": "t"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_citations_from_the_doi_service_and_from_a_manifest(client, tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DOIHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    resolver = client.DOI_RESOLVER_URL
    client.DOI_RESOLVER_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        apa = client.citations_from_selection(collection_id="rider_pilot")
        as_json = client.citations_from_selection(collection_id="rider_pilot", citation_format=IDCClient.CITATION_FORMAT_JSON)
        rows = client.sql(
            "SELECT series_aws_url FROM index WHERE collection_id = 'rider_pilot'"
        ).column("series_aws_url")
        manifest = tmp_path / "manifest.s5cmd"
        manifest.write_text("# IDC portal manifest\n" + "".join(f"cp {u} .\n" for u in rows))
        from_manifest = client.citations_from_manifest(str(manifest))
    finally:
        client.DOI_RESOLVER_URL = resolver
        server.shutdown()
        server.server_close()
    assert apa[-1] == f"CITATION 10.1148/rg.230180 as {IDCClient.CITATION_FORMAT_APA}"
    assert all(c.startswith("CITATION 10.") for c in apa)
    assert as_json[-1] == {"DOI": "10.1148/rg.230180", "title": "t"}
    assert from_manifest == apa


def test_catalog_of_the_data_package(tmp_path: Path) -> None:
    catalog = Catalog.resolve(cache_dir=tmp_path)
    assert catalog.release == "25.0.5" and catalog.idc_version == 25
    assert catalog.entry("idc_index") is catalog.entry("index")
    assert {n for n, e in catalog.indices.items() if e.installed} == {
        "index", "prior_versions_index", "collections_index", "analysis_results_index", "version_metadata_index"
    }
