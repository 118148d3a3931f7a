"""A published release queried where it is (``remote=True``): the real v25 indices, the main
one laid out as index_builder publishes releases (sorted, row groups, page index, bloom filters
on the UIDs), served over HTTP with Range requests by a server on 127.0.0.1, which counts what
it sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from idc_index import IDCClient
from idc_index.errors import IndexFetchError, IndexFileError, IndexIntegrityError, SQLError
from idc_testdata import RangeHandler, Site

pytest.importorskip("index_builder.writer", reason="index_builder is installed by scripts/test.sh")
from release_site import publish_v25

RELEASE = "25.0.5"


@pytest.fixture(scope="module")
def site(published: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The v25 indices of idc-index-data and an optional sm_index, published as release 25.0.5
    (and as current)."""
    return publish_v25(tmp_path_factory.mktemp("remote-site"), RELEASE, {"sm_index": published / "sm_index.parquet"})


class _Handler(RangeHandler):
    """Range requests, with faults set on the server: a path answered 404, or Range ignored."""

    def do_HEAD(self) -> None:
        if self.server.faults.get(self.path) == "missing":  # type: ignore[attr-defined]
            self.send_error(404)
            return
        super().do_HEAD()

    def do_GET(self) -> None:
        fault = self.server.faults.get(self.path)  # type: ignore[attr-defined]
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if fault == "missing":
            self.send_error(404)
            return
        if fault == "no-range":
            del self.headers["Range"]
        super().do_GET()


@pytest.fixture
def server(site: Path) -> Iterator[Site]:
    s = Site(site, _Handler)
    yield s
    s.close()


def _remote(server: Site, cache: Path, release: str = "current") -> IDCClient:
    return IDCClient(release=release, releases_url=server.url, cache_dir=cache, remote=True)


def test_a_remote_release_answers_as_the_installed_one_reading_a_fraction_of_it(
    server: Site, site: Path, plain_client: IDCClient, tmp_path: Path
) -> None:
    remote = _remote(server, tmp_path)
    assert remote.get_idc_version() == "v25"
    opened = server.bytes_sent
    main_size = (site / RELEASE / "release_artifacts" / "idc_index.parquet").stat().st_size
    assert opened < main_size / 10, f"opening read {opened} bytes"

    series = plain_client.sql("SELECT SeriesInstanceUID FROM index ORDER BY SeriesInstanceUID LIMIT 1 OFFSET 4321")
    uid = series.column("SeriesInstanceUID")[0]
    before = server.bytes_sent
    assert remote.get_series_size(uid) == plain_client.get_series_size(uid)
    assert server.bytes_sent - before < main_size / 20, "a lookup reads the row groups that hold it, not the file"

    assert remote.get_collections() == plain_client.get_collections()
    for sql in (
        "SELECT collection_id, COUNT(*) AS n, ROUND(SUM(series_size_MB), 3) AS mb FROM index GROUP BY 1 ORDER BY 1",
        "SELECT c.collection_id, c.cancer_types, c.sources FROM collections_index c ORDER BY 1",
    ):
        assert remote.sql(sql).to_pylist() == plain_client.sql(sql).to_pylist()
    # Nothing of the release was written to the cache.
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_remote_query_without_order_by_gives_the_files_rows_in_their_order(
    server: Site, site: Path, tmp_path: Path
) -> None:
    """Remote scans run in 16 partitions of byte ranges; their rows still come in file order."""
    import duckdb

    remote = _remote(server, tmp_path)
    main = site / RELEASE / "release_artifacts" / "idc_index.parquet"
    con = duckdb.connect()
    con.execute("SET threads = 1")
    for sql in ("SELECT SeriesInstanceUID FROM {t} WHERE Modality = 'CT' LIMIT 10",
                "SELECT SeriesInstanceUID FROM {t} WHERE collection_id = 'nlst' LIMIT 5 OFFSET 20000"):
        expected = [r[0] for r in con.execute(sql.format(t=f"read_parquet('{main}')")).fetchall()]
        answers = {tuple(remote.sql(sql.format(t="index")).column("SeriesInstanceUID")) for _ in range(3)}
        assert answers == {tuple(expected)}


def test_an_optional_index_is_read_remotely_too(server: Site, tmp_path: Path) -> None:
    remote = _remote(server, tmp_path, RELEASE)
    overview = remote.indices_overview
    assert overview["index"]["installed"] and overview["index"]["file_path"] is None
    assert not overview["sm_index"]["installed"]
    remote.fetch_index("sm_index")
    assert remote.indices_overview["sm_index"]["installed"]
    rows = remote.sql("SELECT COUNT(*) AS n FROM sm_index s JOIN index i USING (SeriesInstanceUID)").to_pylist()
    assert rows == [{"n": 500}]
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_missing_or_changed_file_or_no_range_support_is_a_clear_error(server: Site, site: Path, tmp_path: Path) -> None:
    main = f"/{RELEASE}/release_artifacts/idc_index.parquet"
    server.faults[main] = "missing"
    with pytest.raises(IndexFetchError, match=r"HTTP 404.*remote=True"):
        _remote(server, tmp_path, RELEASE)
    server.faults.clear()

    server.faults[f"/{RELEASE}/release_artifacts/sm_index.parquet"] = "no-range"
    remote = _remote(server, tmp_path, RELEASE)
    with pytest.raises((IndexFetchError, SQLError), match="(?i)range"):
        remote.fetch_index("sm_index")
        remote.sql("SELECT COUNT(*) FROM sm_index").to_pylist()
    server.faults.clear()

    manifest_path = site / RELEASE / "release_artifacts" / "manifest.json"
    original = manifest_path.read_text()
    changed = json.loads(original)
    changed["indices"]["collections_index"]["bytes"] += 1
    manifest_path.write_text(json.dumps(changed))
    try:
        with pytest.raises(IndexIntegrityError, match="collections_index.*manifest says"):
            _remote(server, tmp_path, RELEASE)
    finally:
        manifest_path.write_text(original)


def test_remote_needs_a_published_release(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="release='current'"):
        IDCClient(cache_dir=tmp_path, remote=True)


def test_idc_release_remote(server: Site, plain_client: IDCClient, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from idc_index.cli import idc

    runner = CliRunner()
    env = {"IDC_RELEASES_URL": server.url, "IDC_INDEX_CACHE_DIR": str(tmp_path)}
    out = runner.invoke(idc, ["--release", "current", "--remote", "collections", "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    assert [r["collection_id"] for r in json.loads(out.stdout)] == sorted(plain_client.get_collections())
    version = runner.invoke(idc, ["--release", "current", "--remote", "version"], env=env)
    assert version.exit_code == 0 and "remote" in version.output
    alone = runner.invoke(idc, ["--remote", "collections"], env=env)
    assert alone.exit_code == 2 and "--release" in alone.output
    assert not list(tmp_path.rglob("*.parquet"))
