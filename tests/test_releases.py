"""Published index releases: `IDCClient(release=...)` and `idc --release`, against a release
site on 127.0.0.1 laid out as IDC publishes them (a listing, one directory per release, and
`current`), including servers that truncate a file, state a wrong sha256 or lack an index."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from idc_index import (
    IDCClient,
    IndexFetchError,
    IndexFileError,
    IndexIntegrityError,
    ReleaseFetchError,
    UnknownReleaseError,
)
from idc_index.cli import idc
from idc_index.releases.published import list_releases, validate_listing
from idc_testdata import QuietHandler, Site

UNREACHABLE = "http://127.0.0.1:9"


def _entry(path: Path, description: str, columns: list | None = None) -> dict:
    return {
        "file": path.name,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "description": description,
        "columns": columns or [{"name": f.name, "type": str(f.type), "nullable": f.nullable, "description": ""}
                               for f in pq.read_schema(path)],
    }


@pytest.fixture(scope="module")
def site(small_release: Path, published: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two releases cut from the real v25 index: 25.0.1 (three collections) and 26.0.0 (two,
    the current one), each with collections_index and sm_index, and the listing."""
    root = tmp_path_factory.mktemp("release-site")
    small = json.loads((small_release / "manifest.json").read_text())
    main = pq.read_table(small_release / "idc_index.parquet")
    collections = pq.read_table(small_release / "collections_index.parquet")
    for release, idc_version, keep in (("25.0.1", 25, None), ("26.0.0", 26, ["nsclc_radiomics", "rider_pilot"])):
        out = root / release / "release_artifacts"
        out.mkdir(parents=True)
        table, colls = main, collections
        if keep:
            table = main.filter(pc.is_in(main["collection_id"], pa.array(keep)))
            colls = collections.filter(pc.is_in(collections["collection_id"], pa.array(keep)))
        pq.write_table(table, out / "idc_index.parquet")
        pq.write_table(colls, out / "collections_index.parquet")
        shutil.copy(published / "sm_index.parquet", out / "sm_index.parquet")
        manifest = {
            **small,
            "idc_version": idc_version,
            "release": release,
            "indices": {
                stem: _entry(out / f"{stem}.parquet", small["indices"][stem]["description"], small["indices"][stem]["columns"])
                for stem in ("idc_index", "collections_index", "sm_index")
            },
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.copytree(root / "26.0.0", root / "current")
    listing = {
        "format": "idc-index-releases/1",
        "current": "26.0.0",
        "releases": [{"release": "25.0.1", "idc_version": 25}, {"release": "26.0.0", "idc_version": 26}],
    }
    (root / "releases.json").write_text(json.dumps(listing, indent=1))
    return root


class _SiteHandler(QuietHandler):
    """Serves the site, with the faults set on its server: a path answered 404, a file cut
    short (the full Content-Length announced), or other bytes in place of a file."""

    def do_GET(self) -> None:
        server = self.server
        server.requests.append(self.path)  # type: ignore[attr-defined]
        fault = server.faults.get(self.path)  # type: ignore[attr-defined]
        if fault == "missing":
            self.send_error(404)
            return
        if fault == "endless":  # no Content-Length and no end: the file's bytes, then zeros (64 MiB at most)
            data = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.end_headers()
            try:
                self.wfile.write(data)
                for _ in range(64):
                    self.wfile.write(bytes(1 << 20))
            except OSError:  # the client stopped reading
                pass
            self.close_connection = True
            return
        if isinstance(fault, tuple) and fault[0] == "trickle":  # one byte at a time, 20 a second, 3 s at most
            data = fault[1]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(min(len(data), 60)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            self.close_connection = True
            return
        if fault is not None:
            data = fault if isinstance(fault, bytes) else Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data if isinstance(fault, bytes) else data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(site: Path) -> Iterator[Site]:
    s = Site(site, _SiteHandler)
    yield s
    s.close()


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_current_is_fetched_verified_and_cached(server: Site, tmp_path: Path) -> None:
    client = IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert client.get_idc_version() == "v26"
    assert sorted(client.get_collections()) == ["nsclc_radiomics", "rider_pilot"]
    assert client.sql("SELECT COUNT(*) AS n FROM collections_index").column("n") == [2]
    assert client.indices_overview["sm_index"]["installed"] is False
    assert client._catalog.source.startswith("release 26.0.0")
    cached = tmp_path / "indices" / "26.0.0"
    assert _files(cached) == [".collections_index.parquet.verified", ".idc_index.parquet.verified",
                              "collections_index.parquet", "idc_index.parquet", "manifest.json"]
    # current resolves through its manifest; the files come from the versioned directory
    assert "/current/release_artifacts/manifest.json" in server.requests
    assert "/26.0.0/release_artifacts/idc_index.parquet" in server.requests
    client.fetch_index("sm_index")  # an index of the release that is not fetched with it
    assert server.requests[-1] == "/26.0.0/release_artifacts/sm_index.parquet"
    assert client.sql("SELECT COUNT(*) AS n FROM sm_index").column("n")[0] > 0
    assert (cached / "sm_index.parquet").is_file()
    # a second client on current reads the manifest again, and nothing else
    del server.requests[:]
    again = IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert server.requests == ["/current/release_artifacts/manifest.json"]
    assert again.indices_overview["sm_index"]["installed"]


def test_a_cached_release_is_used_without_the_network(server: Site, tmp_path: Path, caplog) -> None:
    first = IDCClient(release="25.0.1", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert first.get_idc_version() == "v25"
    assert sorted(first.get_collections()) == ["nsclc_radiomics", "rider_pilot", "tcga_luad"]
    del server.requests[:]
    again = IDCClient(release="25.0.1", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert server.requests == []
    assert again.get_collections() == first.get_collections()
    offline = IDCClient(release="25.0.1", releases_url=UNREACHABLE, cache_dir=tmp_path, optimize_index=False)
    assert offline.get_collections() == first.get_collections()
    # current, with the server unreachable: the newest cached release, with a warning
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        newest = IDCClient(release="current", releases_url=UNREACHABLE, cache_dir=tmp_path, optimize_index=False)
    assert newest.get_idc_version() == "v25"
    assert "Using release 25.0.1, the newest in the cache" in caplog.text


def test_unknown_release_and_no_network_say_what_to_do(server: Site, tmp_path: Path) -> None:
    with pytest.raises(UnknownReleaseError, match=r"no index release '24\.0\.0'.*Available: 25\.0\.1, 26\.0\.0"):
        IDCClient(release="24.0.0", releases_url=server.url, cache_dir=tmp_path)
    for release in ("26.0.0", "current"):
        with pytest.raises(ReleaseFetchError, match="could not fetch .* Use the bundled index .*IDC_RELEASES_URL"):
            IDCClient(release=release, releases_url=UNREACHABLE, cache_dir=tmp_path)
    with pytest.raises(UnknownReleaseError, match=r"'\.\./x' is not a release name: give 'current' or one of 25\.0\.1, 26\.0\.0"):
        IDCClient(release="../x", releases_url=server.url, cache_dir=tmp_path)
    with pytest.raises(IndexFileError, match="not both"):
        IDCClient(tmp_path, release="current")
    assert _files(tmp_path) == []


def _wrong_sha256(site: Path) -> bytes:
    manifest = json.loads((site / "26.0.0" / "release_artifacts" / "manifest.json").read_text())
    manifest["indices"]["collections_index"]["sha256"] = "0" * 64
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("path", "fault", "error", "message"),
    [
        ("/26.0.0/release_artifacts/idc_index.parquet", "truncate", IndexFetchError, "could not fetch index .index.: network error .*gave up after 4 attempts"),
        ("/current/release_artifacts/manifest.json", _wrong_sha256, IndexIntegrityError, "SHA-256 mismatch: expected 0000"),
        ("/26.0.0/release_artifacts/collections_index.parquet", "missing", IndexFetchError, "HTTP 404"),
    ],
    ids=["truncated", "wrong-sha256", "404"],
)
def test_a_failed_fetch_caches_nothing(server: Site, site: Path, tmp_path: Path, path, fault, error, message) -> None:
    server.faults[path] = fault(site) if callable(fault) else fault
    with pytest.raises(error, match=message):
        IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert _files(tmp_path) == []
    with pytest.raises(ReleaseFetchError, match="No copy of release '26.0.0' is cached"):
        IDCClient(release="26.0.0", releases_url=UNREACHABLE, cache_dir=tmp_path)
    server.faults.clear()
    client = IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert client.get_idc_version() == "v26"


def test_without_a_listing_current_still_resolves(server: Site, tmp_path: Path) -> None:
    server.faults["/releases.json"] = "missing"
    client = IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path, optimize_index=False)
    assert client.get_idc_version() == "v26"
    rows, problem = list_releases(tmp_path, server.url)
    assert problem is not None and "publishes no releases.json" in problem
    assert [(r.release, r.cached, r.published) for r in rows if not r.bundled] == [("26.0.0", True, False)]
    with pytest.raises(UnknownReleaseError, match="Available: 26.0.0"):
        IDCClient(release="27.0.0", releases_url=server.url, cache_dir=tmp_path)


def test_listing_is_validated() -> None:
    assert validate_listing({"format": "idc-index-releases/1", "current": "2", "releases": [{"release": "2"}]}) == []
    assert validate_listing({"format": "idc-index-releases/1", "current": "3", "releases": [{"release": "2"}]})
    assert validate_listing({"format": "other", "releases": ["2"]})


def test_idc_releases_and_idc_release(server: Site, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"IDC_RELEASES_URL": server.url, "IDC_INDEX_CACHE_DIR": str(tmp_path)}
    listed = runner.invoke(idc, ["releases", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = {r["release"]: r for r in json.loads(listed.stdout)}
    assert rows["26.0.0"]["current"] == "yes" and rows["25.0.1"]["current"] == "no"
    assert rows["25.0.1"]["published"] == "yes" and rows["25.0.1"]["cached"] == "no"
    assert rows["25.0.5"]["bundled"] == "yes" and rows["25.0.5"]["published"] == "no"

    out = runner.invoke(idc, ["--release", "25.0.1", "collections", "--format", "csv"], env=env)
    assert out.exit_code == 0, out.output
    assert [line.split(",")[0] for line in out.stdout.splitlines()[1:]] == ["nsclc_radiomics", "rider_pilot", "tcga_luad"]
    version = runner.invoke(idc, ["--release", "current", "version"], env=env)
    assert "IDC data v26 (release 26.0.0" in version.stdout

    offline = runner.invoke(idc, ["releases"], env={**env, "IDC_RELEASES_URL": UNREACHABLE})
    assert offline.exit_code == 0, offline.output
    assert "cannot list the published releases" in offline.stderr
    table = {line.split()[0]: line.split() for line in offline.stdout.splitlines()[2:]}
    assert set(table) == {"25.0.1", "25.0.5", "26.0.0"}
    assert table["25.0.1"][4] == "yes"  # cached

    unknown = runner.invoke(idc, ["--release", "9.9.9", "collections"], env=env)
    assert unknown.exit_code == 1
    assert "Available: 25.0.1, 26.0.0" in unknown.stderr


def _listing(site: Path, **change) -> bytes:
    listing = json.loads((site / "releases.json").read_text())
    listing.update(change)
    return json.dumps(listing).encode()


def _manifest_with(site: Path, index: str, field: str, value) -> bytes:
    manifest = json.loads((site / "current" / "release_artifacts" / "manifest.json").read_text())
    manifest["indices"][index][field] = value
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("document", "names"),
    [
        (lambda site: _listing(site, current=["26.0.0"]), r"current is \['26.0.0'\], not a release string"),
        (lambda site: _listing(site, releases=[{"release": "26.0.0", "idc_version": [26]}]),
         r"release '26.0.0' idc_version is \[26\], not an integer"),
        (lambda site: b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ],
    ids=["current-a-list", "idc_version-a-list", "nested"],
)
def test_a_hostile_listing_is_refused_naming_the_url_and_the_field(
    server: Site, site: Path, tmp_path: Path, document, names
) -> None:
    server.faults["/releases.json"] = document(site)
    listed = CliRunner().invoke(idc, ["releases"], env={"IDC_RELEASES_URL": server.url, "IDC_INDEX_CACHE_DIR": str(tmp_path)})
    assert listed.exit_code == 0 and "Traceback" not in listed.output, listed.output  # the bundled release is listed
    assert re.search(f"cannot list the published releases: {re.escape(server.url)}/releases.json .*{names}",
                     listed.stderr), listed.stderr


@pytest.mark.parametrize(
    ("document", "names"),
    [
        (lambda site: _manifest_with(site, "collections_index", "sha256", 12),
         "index 'collections_index' sha256 is 12, not 64 hexadecimal digits"),
        (lambda site: _manifest_with(site, "idc_index", "bytes", "many"), "index 'idc_index' bytes is 'many', not a count"),
        (lambda site: b"{\"a\":" * 200_000 + b"1" + b"}" * 200_000, "nested too deeply"),
    ],
    ids=["sha256-a-number", "bytes-a-string", "nested"],
)
def test_a_hostile_manifest_is_refused_naming_the_url_and_the_field(
    server: Site, site: Path, tmp_path: Path, document, names
) -> None:
    server.faults["/current/release_artifacts/manifest.json"] = document(site)
    with pytest.raises(ReleaseFetchError, match=names) as info:
        IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path)
    assert f"{server.url}/current/release_artifacts/manifest.json" in str(info.value)
    assert not _files(tmp_path / "indices")  # nothing cached


def test_an_index_served_without_an_end_is_refused_at_its_stated_size(server: Site, tmp_path: Path) -> None:
    for release in ("current", "26.0.0"):
        server.faults[f"/{release}/release_artifacts/sm_index.parquet"] = "endless"
    client = IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path)
    with pytest.raises(IndexIntegrityError, match=r"sm_index.parquet: more than the object's \d+ bytes arrived"):
        client.fetch_index("sm_index")
    cached = _files(tmp_path / "indices")
    assert not [f for f in cached if "sm_index" in f]  # no partial file, nothing cached


def test_a_manifest_that_trickles_is_refused_at_its_deadline(
    server: Site, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idc_index.releases import published

    monkeypatch.setattr(published, "JSON_DEADLINE_SECONDS", 1.0)
    manifest = (site / "current" / "release_artifacts" / "manifest.json").read_bytes()
    server.faults["/current/release_artifacts/manifest.json"] = ("trickle", manifest)
    with pytest.raises(ReleaseFetchError, match=r"manifest.json did not arrive within 1 s"):
        IDCClient(release="current", releases_url=server.url, cache_dir=tmp_path)


def test_a_listing_larger_than_any_is_refused(
    server: Site, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idc_index.releases import published

    monkeypatch.setattr(published, "MAX_JSON_BYTES", 100)
    listed = CliRunner().invoke(idc, ["releases"], env={"IDC_RELEASES_URL": server.url, "IDC_INDEX_CACHE_DIR": str(tmp_path)})
    assert listed.exit_code == 0 and "releases.json: the response body is larger than 100 bytes" in listed.stderr, listed.output


def test_the_data_packages_version_is_read_from_its_install_without_importlib_metadata(tmp_path: Path) -> None:
    from importlib import metadata

    import idc_index
    from idc_index.releases.data_package import data_package_dir, data_package_version

    installed = data_package_dir()
    assert installed is not None and (installed / "idc_index.parquet").is_file()
    assert data_package_version(installed) == metadata.version("idc-index-data")
    assert idc_index.__version__ == metadata.version("idc-index")
    # As an installer lays a wheel out: the version is the .dist-info folder's.
    site = tmp_path / "site"
    (site / "idc_index_data").mkdir(parents=True)
    (site / "idc_index_data-31.0.2.dist-info").mkdir()
    assert data_package_version(site / "idc_index_data") == "31.0.2"
    # Two of them (an upgrade cut short): the distribution's metadata decides.
    (site / "idc_index_data-30.0.0.dist-info").mkdir()
    assert data_package_version(site / "idc_index_data") == metadata.version("idc-index-data")
