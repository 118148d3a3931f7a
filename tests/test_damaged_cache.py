"""Damaged index files under a client: bytes garbled inside a cached index, a cached file cut
short or deleted under a live client, a garbled optimised copy of the main index, and a damaged
file that is not a copy. Each is made for real on disk (page headers overwritten in place, not
the footer), queried through the public API, and checked for the answer, the exception and
what is left on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from idc_index import IDCClient, SQLError
from idc_index.errors import DamagedIndexError
from idc_index.query import index_tables
from idc_index.releases import stamps
from idc_testdata import QuietHandler, Site

SM_SQL = "SELECT SeriesInstanceUID, ObjectiveLensPower FROM sm_index ORDER BY SeriesInstanceUID"
MAIN_SQL = (
    "SELECT collection_id, COUNT(*) AS n, COUNT(DISTINCT PatientID) AS patients "
    "FROM index GROUP BY collection_id ORDER BY collection_id"
)
SM_PATH = "/sm_index.parquet"
RELEASE = "25.0.0-small"


class _Handler(QuietHandler):
    """Serves the published files; a path whose fault is ``"offline"`` gets no answer (the
    connection drops, as when the network is down)."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.server.faults.get(self.path) == "offline":  # type: ignore[attr-defined]
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def site(published: Path, tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    shutil.copytree(published, root)
    s = Site(root, _Handler)
    yield s
    s.close()


@pytest.fixture
def release(small_release: Path, tmp_path: Path) -> Path:
    """A copy of the small release directory (its manifest states every file's sha256)."""
    out = tmp_path / "release"
    shutil.copytree(small_release, out)
    return out


def _garble(path: Path, row_group: int = 0) -> None:
    """Overwrite the header of the first data page of each column chunk of a row group (the
    first; -1 the last) in place (same inode, same size; the footer is untouched)."""
    metadata = pq.ParquetFile(path).metadata
    group = metadata.row_group(row_group % metadata.num_row_groups)
    size = path.stat().st_size
    with path.open("r+b") as f:
        for j in range(metadata.num_columns):
            f.seek(group.column(j).data_page_offset)
            f.write(b"\xff" * 16)
    assert path.stat().st_size == size


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sm_rows(published: Path) -> list[dict]:
    return pq.read_table(published / "sm_index.parquet").sort_by("SeriesInstanceUID").to_pylist()


def _main_rows(main: Path) -> list[dict]:
    table = pq.read_table(main, columns=["collection_id", "PatientID"])
    rows = []
    for collection in sorted(set(table["collection_id"].to_pylist())):
        part = table.filter(pc.equal(table["collection_id"], collection))
        rows.append({"collection_id": collection, "n": part.num_rows,
                     "patients": len(set(part["PatientID"].to_pylist()))})
    return rows


def _client(release: Path, cache: Path, site: Site, optimize_index: bool = False) -> IDCClient:
    return IDCClient(release, cache_dir=cache, release_base_url=site.url, optimize_index=optimize_index)


def _cached_sm(client: IDCClient) -> Path:
    return client._catalog.cache_dir / "sm_index.parquet"


@pytest.mark.parametrize("when", ["live", "next-client"])
def test_a_garbled_cached_index_is_fetched_again(release: Path, published: Path, site: Site, tmp_path: Path,
                                                 caplog, when: str) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    cached = _cached_sm(client)
    _garble(cached)
    if when == "next-client":  # adopted at start-up: nothing is hashed then
        client = _client(release, tmp_path / "cache", site)
        assert client.indices_overview["sm_index"]["installed"]
    del site.requests[:]
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        rows = client.sql(SM_SQL).to_pylist()
    assert rows == _sm_rows(published)
    assert site.requests == [SM_PATH]  # fetched again, once
    assert _sha256(cached) == _sha256(published / "sm_index.parquet")
    assert f"the cached index {cached} is damaged (its sha256 is" in caplog.text
    assert client.sql(SM_SQL).to_pylist() == rows


def test_a_garbled_cached_index_without_the_network_is_removed_until_it_is_back(
        release: Path, published: Path, site: Site, tmp_path: Path) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    cached = _cached_sm(client)
    _garble(cached)
    site.faults[SM_PATH] = "offline"
    with pytest.raises(DamagedIndexError) as raised:
        client.sql(SM_SQL)
    error = raised.value
    message = str(error)
    assert f"the cached index file {cached} (index 'sm_index') is damaged" in message
    assert "its sha256 is" in message and "it was removed, and fetching it again failed" in message
    assert "Run the query again once" in message and "fetch_index('sm_index')" in message
    assert error.path == str(cached) and error.removed is True
    assert not cached.exists()
    assert sorted(p.name for p in cached.parent.iterdir()) == []  # nothing partial left behind
    assert client.indices_overview["sm_index"]["installed"] is False
    # the other indices still answer; the removed one is never read as no rows
    assert client.get_collections() == ["nsclc_radiomics", "rider_pilot", "tcga_luad"]
    with pytest.raises(DamagedIndexError, match="it was removed, and fetching it again failed"):
        client.sql("SELECT COUNT(*) AS n FROM sm_index")
    assert not cached.exists()
    # the network is back: the next query fetches it again and answers
    del site.faults[SM_PATH]
    assert client.sql(SM_SQL).to_pylist() == _sm_rows(published)
    assert _sha256(cached) == _sha256(published / "sm_index.parquet")
    assert client.indices_overview["sm_index"]["installed"] is True
    # a later client finds it in the cache
    assert _client(release, tmp_path / "cache", site).indices_overview["sm_index"]["installed"]


@pytest.fixture
def release_site(small_release: Path, published: Path, tmp_path: Path) -> Iterator[Site]:
    """The small release published as IDC publishes releases (``<release>/release_artifacts/``)."""
    out = tmp_path / "releases" / RELEASE / "release_artifacts"
    shutil.copytree(small_release, out)
    shutil.copy(published / "sm_index.parquet", out / "sm_index.parquet")
    s = Site(tmp_path / "releases", _Handler)
    yield s
    s.close()


def test_a_garbled_index_of_a_cached_release_is_fetched_again(small_release: Path, release_site: Site,
                                                              tmp_path: Path) -> None:
    def open_release() -> IDCClient:
        return IDCClient(release=RELEASE, releases_url=release_site.url, cache_dir=tmp_path / "cache",
                         optimize_index=False)

    client = open_release()
    cached = tmp_path / "cache" / "indices" / RELEASE / "idc_index.parquet"
    assert client._engine.table_path("index") == str(cached)
    expected = _main_rows(small_release / "idc_index.parquet")
    _garble(cached)
    client = open_release()  # from the cache, without the network: nothing is hashed
    assert client._engine.table_path("index") == str(cached)
    del release_site.requests[:]
    assert client.sql(MAIN_SQL).to_pylist() == expected
    assert release_site.requests == [f"/{RELEASE}/release_artifacts/idc_index.parquet"]
    assert _sha256(cached) == _sha256(small_release / "idc_index.parquet")
    # without the network: removed, and the release is no longer complete in the cache
    _garble(cached)
    release_site.faults[f"/{RELEASE}/release_artifacts/idc_index.parquet"] = "offline"
    with pytest.raises(DamagedIndexError, match=f"the cached index file {cached} .index 'index'. is damaged"):
        client.get_collections()
    assert not cached.exists()
    assert sorted(p.name for p in cached.parent.iterdir()) == [
        ".collections_index.parquet.verified", "collections_index.parquet", "manifest.json"]
    release_site.faults.clear()
    assert client.sql(MAIN_SQL).to_pylist() == expected
    assert open_release().sql(MAIN_SQL).to_pylist() == expected


def test_fetch_index_fetches_a_removed_index_again(release: Path, published: Path, site: Site, tmp_path: Path) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    _garble(_cached_sm(client))
    site.faults[SM_PATH] = "offline"
    with pytest.raises(DamagedIndexError):
        client.sql(SM_SQL)
    del site.faults[SM_PATH]
    client.fetch_index("sm_index")
    assert _cached_sm(client).is_file()
    assert client.sql(SM_SQL).to_pylist() == _sm_rows(published)


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_cached_index_cut_short_or_deleted_under_a_live_client_is_fetched_again(
        release: Path, published: Path, site: Site, tmp_path: Path, damage: str) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    expected = client.sql(SM_SQL).to_pylist()
    assert expected == _sm_rows(published)
    cached = _cached_sm(client)
    if damage == "truncated":
        os.truncate(cached, cached.stat().st_size // 2)
    else:
        cached.unlink()
    del site.requests[:]
    assert client.sql(SM_SQL).to_pylist() == expected
    assert site.requests == [SM_PATH]
    assert _sha256(cached) == _sha256(published / "sm_index.parquet")


def test_a_published_index_that_stays_damaged_is_fetched_again_once(release: Path, site: Site, tmp_path: Path) -> None:
    """An index without a sha256 in its manifest, damaged where it is published: removed and
    fetched again once, then the core's error (no loop, no rows)."""
    _garble(Path(site.server.RequestHandlerClass.keywords["directory"]) / "sm_index.parquet")  # type: ignore[attr-defined]
    manifest = json.loads((release / "manifest.json").read_text())
    for field in ("sha256", "bytes"):
        del manifest["indices"]["sm_index"][field]
    (release / "manifest.json").write_text(json.dumps(manifest))
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    del site.requests[:]
    with pytest.raises(SQLError, match="Parquet") as raised:
        client.sql(SM_SQL)
    assert not isinstance(raised.value, DamagedIndexError)
    assert site.requests == [SM_PATH]


@pytest.mark.parametrize("damage", ["garbled", "truncated"])
def test_a_damaged_optimised_copy_is_dropped_and_the_shipped_index_answers(
        release: Path, site: Site, tmp_path: Path, monkeypatch, caplog, damage: str) -> None:
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 0.0)
    client = _client(release, tmp_path / "cache", site, optimize_index=True)
    copy = Path(client._engine.wait_optimized("index"))
    assert client._engine.table_path("index") == str(copy)
    expected = _main_rows(release / "idc_index.parquet")
    assert client.sql(MAIN_SQL).to_pylist() == expected
    if damage == "garbled":
        _garble(copy)
    else:
        os.truncate(copy, copy.stat().st_size // 2)
    # the copy is written again in the background; not during this test
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 3600.0)
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        assert client.sql(MAIN_SQL).to_pylist() == expected
    assert client._engine.table_path("index") == str(release / "idc_index.parquet")
    assert not copy.exists()
    assert f"the optimised copy {copy} of the main index is damaged" in caplog.text
    assert client.get_collections() == ["nsclc_radiomics", "rider_pilot", "tcga_luad"]


def test_a_plan_read_past_rows_of_a_copy_damaged_further_on_is_planned_again_whole(
        release: Path, site: Site, tmp_path: Path, monkeypatch) -> None:
    # A plan takes the index's rows as the query computes them; a row group garbled near the
    # end of the copy fails the query after the plan has taken the rows before it.
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 0.0)
    monkeypatch.setitem(index_tables.MAIN_INDEX_LAYOUT, "row_group_rows", 256)
    monkeypatch.setitem(index_tables.MAIN_INDEX_LAYOUT, "page_rows", 64)
    client = _client(release, tmp_path / "cache", site, optimize_index=True)
    copy = Path(client._engine.wait_optimized("index"))
    assert pq.ParquetFile(copy).metadata.num_row_groups > 4
    collections = client.get_collections()
    expected = client.plan_download(tmp_path / "d", collection_id=collections).table
    # Its modification time kept, so that the stamp does not give it away before the query.
    mtime = copy.stat().st_mtime_ns
    _garble(copy, row_group=-1)
    os.utime(copy, ns=(mtime, mtime))
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 3600.0)
    plan = client.plan_download(tmp_path / "d", collection_id=collections)
    assert not copy.exists()
    assert client._engine.table_path("index") == str(release / "idc_index.parquet")
    # the same items: the copy's order differs from the shipped file's
    assert plan.table.num_rows == expected.num_rows == pq.ParquetFile(release / "idc_index.parquet").metadata.num_rows
    assert plan.table.sort_by("prefix").to_pylist() == expected.sort_by("prefix").to_pylist()


def test_a_garbled_optimised_copy_is_written_again(release: Path, site: Site, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 0.0)
    first = _client(release, tmp_path / "cache", site, optimize_index=True)
    copy = Path(first._engine.wait_optimized("index"))
    _garble(copy)
    client = _client(release, tmp_path / "cache", site, optimize_index=True)  # reads the garbled copy
    assert client._engine.table_path("index") == str(copy)
    expected = _main_rows(release / "idc_index.parquet")
    assert client.sql(MAIN_SQL).to_pylist() == expected
    assert client._engine.wait_optimized("index") == str(copy)
    assert client._engine.table_path("index") == str(copy)
    assert pq.read_table(copy).num_rows == pq.ParquetFile(release / "idc_index.parquet").metadata.num_rows
    assert client.sql(MAIN_SQL).to_pylist() == expected


def test_a_damaged_file_that_is_not_a_copy_is_left_in_place(release: Path, site: Site, tmp_path: Path) -> None:
    client = _client(release, tmp_path / "cache", site)
    collections = release / "collections_index.parquet"
    _garble(collections)
    garbled = collections.read_bytes()
    with pytest.raises(DamagedIndexError) as raised:
        client.sql("SELECT * FROM collections_index")
    message = str(raised.value)
    assert f"the index file {collections} (index 'collections_index') is damaged: its sha256 is" in message
    assert f"It is not a copy in the cache, so it was left in place: restore the release directory {release}" in message
    assert raised.value.removed is False
    assert collections.read_bytes() == garbled
    assert isinstance(raised.value.__context__, SQLError)  # the core's error, kept for the record


def test_a_wrong_query_is_not_taken_for_a_damaged_file(release: Path, site: Site, tmp_path: Path) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    del site.requests[:]
    with pytest.raises(SQLError, match="No field named nope"):
        client.sql("SELECT nope FROM sm_index")
    with pytest.raises(SQLError, match="Invalid function 'read_parquet'"):
        client.sql("SELECT read_parquet('sm_index.parquet')")
    assert site.requests == []
    assert _cached_sm(client).is_file()


def test_the_core_reports_a_garbled_file_as_a_parquet_error(release: Path) -> None:
    """What the recovery recognises (idc_index.query.damage): a garbled page is an SQLError from
    the parquet reader that does not name the file."""
    from idc_index import _core
    from idc_index.query.damage import is_read_error

    path = release / "collections_index.parquet"
    _garble(path)
    engine = _core.Engine()
    engine.register_parquet("t", str(path))
    with pytest.raises(SQLError, match="^Parquet") as raised:
        engine.sql("SELECT * FROM t")
    assert is_read_error(raised.value)
    assert str(path) not in str(raised.value)


def test_rows_of_a_damaged_index_equal_the_undamaged_answer(release: Path, published: Path, site: Site,
                                                            tmp_path: Path) -> None:
    """A join over a garbled cached index and the main index: the same rows as before."""
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    sql = ("SELECT i.collection_id, COUNT(*) AS n FROM sm_index s JOIN index i USING (SeriesInstanceUID) "
           "GROUP BY i.collection_id ORDER BY i.collection_id")
    fresh = _client(release, tmp_path / "cache2", site)
    fresh.fetch_index("sm_index")
    expected = fresh.sql(sql).to_pylist()
    _garble(_cached_sm(client))
    assert pa.Table.from_pylist(client.sql(sql).to_pylist()).equals(pa.Table.from_pylist(expected))


# -- values changed in place that still decode ---------------------------------------------------
LENS_40 = struct.pack("<q", 40)


@pytest.fixture(params=[False, True], ids=["no-page-crc", "page-crc"])
def plain_site(request, release: Path, published: Path, tmp_path: Path) -> Iterator[Site]:
    """``sm_index`` published uncompressed, without dictionaries (so that a changed byte decodes
    as another value), with or without a CRC per page (as the index builder writes them), and
    the release's manifest stating its size and sha256."""
    root = tmp_path / "plain-site"
    root.mkdir()
    path = root / "sm_index.parquet"
    pq.write_table(pq.read_table(published / "sm_index.parquet"), path, compression="none", use_dictionary=False,
                   write_page_checksum=request.param)
    manifest = json.loads((release / "manifest.json").read_text())
    manifest["indices"]["sm_index"].update(bytes=path.stat().st_size, sha256=_sha256(path))
    (release / "manifest.json").write_text(json.dumps(manifest))
    s = Site(root, _Handler)
    s.page_crc = request.param  # type: ignore[attr-defined]
    s.sm_file = path  # type: ignore[attr-defined]
    yield s
    s.close()


def _change_a_lens_power(path: Path, *, keep_mtime: bool = False) -> None:
    """Write 41 over the first ObjectiveLensPower of 40 in place (same inode, same size), after
    the file's modification time has passed, as a later write would; with ``keep_mtime`` the
    time is set back, as bytes changed below the file system (a failing disk) leave it."""
    before = path.stat()
    while time.time_ns() < before.st_mtime_ns + 50_000_000:  # the clock is coarse: a later tick
        time.sleep(0.01)
    column = pq.ParquetFile(path).metadata.row_group(0).column(1)
    assert column.path_in_schema == "ObjectiveLensPower"
    with path.open("r+b") as f:
        f.seek(column.data_page_offset)
        chunk = f.read(column.total_compressed_size)
        # 40 then 20, as the values alternate: not the page header's statistics (40 as its maximum).
        at = column.data_page_offset + chunk.index(LENS_40 + struct.pack("<q", 20))
        f.seek(at)
        f.write(struct.pack("<q", 41))
    if keep_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


@pytest.mark.parametrize("when", ["live", "next-client"])
def test_values_changed_in_place_that_still_decode_are_never_answered(
        release: Path, published: Path, plain_site: Site, tmp_path: Path, caplog, when: str) -> None:
    client = _client(release, tmp_path / "cache", plain_site)
    client.fetch_index("sm_index")
    expected = client.sql(SM_SQL).to_pylist()
    assert expected == _sm_rows(published)
    cached = _cached_sm(client)
    _change_a_lens_power(cached)
    # The change decodes: read as it is, the file answers a wrong value.
    assert 41 in pq.read_table(cached)["ObjectiveLensPower"].to_pylist()
    if when == "next-client":
        client = _client(release, tmp_path / "cache", plain_site)
    del plain_site.requests[:]
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        assert client.sql(SM_SQL).to_pylist() == expected
    assert plain_site.requests == [SM_PATH]  # checked against the sha256, and fetched again
    assert f"the cached index {cached} is damaged (its sha256 is" in caplog.text
    assert _sha256(cached) == _sha256(plain_site.sm_file)  # type: ignore[attr-defined]
    assert stamps.is_stamped(cached)
    assert client.sql(SM_SQL).to_pylist() == expected


def test_values_changed_below_the_file_system_are_caught_by_the_page_crc(
        release: Path, published: Path, plain_site: Site, tmp_path: Path) -> None:
    """Bytes changed with the modification time kept (as a failing disk changes them) match the
    stamp; a release written with a CRC per page still never answers them."""
    client = _client(release, tmp_path / "cache", plain_site)
    client.fetch_index("sm_index")
    expected = client.sql(SM_SQL).to_pylist()
    cached = _cached_sm(client)
    _change_a_lens_power(cached, keep_mtime=True)
    assert stamps.is_stamped(cached)
    del plain_site.requests[:]
    rows = _client(release, tmp_path / "cache", plain_site).sql(SM_SQL).to_pylist()
    if plain_site.page_crc:  # type: ignore[attr-defined]
        assert rows == expected
        assert plain_site.requests == [SM_PATH]
    else:  # what the page CRC is for: without one, nothing tells the change from the data
        assert rows != expected
        assert plain_site.requests == []


def test_a_copy_changed_in_time_only_is_checked_once_and_stamped_again(
        release: Path, site: Site, tmp_path: Path) -> None:
    client = _client(release, tmp_path / "cache", site)
    client.fetch_index("sm_index")
    cached = _cached_sm(client)
    expected = client.sql(SM_SQL).to_pylist()
    os.utime(cached, ns=(cached.stat().st_atime_ns, cached.stat().st_mtime_ns + 10**9))  # a restore, a touch
    stamps.stamp_path(cached).unlink()
    assert not stamps.is_stamped(cached)
    del site.requests[:]
    assert client.sql(SM_SQL).to_pylist() == expected
    assert site.requests == []  # its sha256 matched: kept
    assert stamps.is_stamped(cached)
    # The stamp is not listed as an entry of its own by `idc cache`.
    from idc_index.releases.cache import items

    assert not [i for i in items(tmp_path / "cache") if i.path.name.endswith(".verified")]


def test_the_optimised_copy_is_written_with_its_stamp(release: Path, site: Site, tmp_path: Path,
                                                        monkeypatch) -> None:
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 0.0)
    client = _client(release, tmp_path / "cache", site, optimize_index=True)
    copy = Path(client._engine.wait_optimized("index"))
    assert stamps.is_stamped(copy)
    # Written since the core wrote it (here only its time: the copy is derived, so any change
    # is reason enough): the shipped file answers, and the copy is written again.
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    monkeypatch.setattr(index_tables, "OPTIMIZE_DELAY_SECONDS", 3600.0)
    assert client.sql(MAIN_SQL).to_pylist() == _main_rows(release / "idc_index.parquet")
    assert client._engine.table_path("index") == str(release / "idc_index.parquet")
    assert not copy.exists() and not stamps.stamp_path(copy).exists()
