"""A release built offline by index_builder is a release the client uses as it is."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from idc_testdata import QuietHandler

pytest.importorskip("index_builder", reason="index_builder is installed by scripts/test.sh")


def _builder(cwd: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "index_builder", *args], check=False, capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _manifest(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text())


@pytest.fixture(scope="module")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("builder")
    source, release = root / "source", root / "release"
    _builder(root, "fixture", "--out", str(source))
    _builder(root, "build", "--backend", "duckdb", "--source", str(source), "--idc-version", "25", "--out", str(release))
    return release


def test_client_queries_every_index_of_a_built_release(built_release: Path, tmp_path: Path) -> None:
    from idc_index import IDCClient

    client = IDCClient(built_release, cache_dir=tmp_path)
    assert client.get_idc_version() == "v25"
    overview = client.indices_overview
    assert all(info["installed"] for info in overview.values()), overview.keys()
    assert len(overview) == 17
    # Every index has the rows of its file, counted by pyarrow from the file's footer.
    files = {stem: built_release / entry["file"] for stem, entry in _manifest(built_release)["indices"].items()}
    rows = {"index" if stem == "idc_index" else stem: pq.read_metadata(path).num_rows for stem, path in files.items()}
    assert set(overview) == set(rows)
    assert {name: client.sql(f"SELECT COUNT(*) AS n FROM {name}").column("n")[0] for name in overview} == rows
    collections = client.get_collections()
    assert collections
    patients = client.get_patients(collections[0], outputFormat="list")
    studies = client.get_dicom_studies(patients[0], outputFormat="list")
    series = client.get_dicom_series(studies[0])
    assert series and series[0]["Collection"] == collections[0]
    assert client.get_series_size(series[0]["SeriesInstanceUID"]) == series[0]["series_size_MB"]
    joined = client.sql(
        "SELECT COUNT(*) AS n FROM sm_instance_index i JOIN index s ON i.SeriesInstanceUID = s.SeriesInstanceUID"
    ).column("n")[0]
    assert joined == client.sql("SELECT COUNT(*) AS n FROM sm_instance_index").column("n")[0] > 0
    schema = client.get_index_schema("sm_instance_index")
    assert all(c["description"] for c in schema["columns"])
    # The main index is rewritten into the client's cache, with the built file's rows, and read from there.
    optimized = client._engine.wait_optimized("index")
    assert optimized is not None and Path(optimized).parent.is_relative_to(tmp_path), optimized
    assert client._engine.table_path("index") == optimized
    uids = pq.read_table(files["idc_index"], columns=["SeriesInstanceUID"]).column(0).to_pylist()
    assert sorted(pq.read_table(optimized, columns=["SeriesInstanceUID"]).column(0).to_pylist()) == sorted(uids)
    assert client.sql("SELECT COUNT(*) AS n FROM index").column("n")[0] == rows["index"]
    assert client.get_series_size(series[0]["SeriesInstanceUID"]) == series[0]["series_size_MB"]


@pytest.fixture(scope="module")
def published_site(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site that `index_builder publish-layout` writes for two built releases: 25.0.0 (every
    index) and then 25.0.1 (two indices, the newest, so `current`), merged with the listing that
    the first one wrote, as the build workflow merges with the published one."""
    root = tmp_path_factory.mktemp("publish")
    source, newer, site = built_release.parent / "source", root / "25.0.1", root / "site"
    _builder(root, "build", "--backend", "duckdb", "--source", str(source), "--idc-version", "25", "--release", "25.0.1",
             "--index", "idc_index", "--index", "collections_index", "--out", str(newer))
    assert "current=true" in _builder(root, "publish-layout", "--release", str(built_release), "--site", str(site))
    shutil.copy(site / "releases.json", root / "published.json")
    assert "current=true" in _builder(root, "publish-layout", "--release", str(newer), "--site", str(site),
                                      "--listing", str(root / "published.json"))
    return site


@pytest.fixture
def site_url(published_site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(published_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_built_release_published_is_used_with_release_current(site_url: str, tmp_path: Path) -> None:
    """Published by `index_builder publish-layout`, the newest release is what
    `IDCClient(release="current")` opens: the indices that its manifest lists are the client's."""
    from idc_index import IDCClient

    client = IDCClient(release="current", releases_url=site_url, cache_dir=tmp_path / "cache", optimize_index=False)
    assert client._catalog.source.startswith("release 25.0.1 ")
    assert set(client.indices_overview) == {"index", "collections_index"}
    assert client.get_idc_version() == "v25"
    assert client.get_collections()
    assert client.sql("SELECT COUNT(*) AS n FROM collections_index").column("n")[0] > 0


def test_built_release_published_is_used_by_its_version(built_release: Path, site_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An older release of the same site is opened by its version (here through
    IDC_RELEASES_URL): its main indices fetched and verified, the others on demand; the listing
    names both releases, the newest as current."""
    from idc_index import IDCClient
    from idc_index.releases.published import list_releases

    manifest = json.loads((built_release / "manifest.json").read_text())
    monkeypatch.setenv("IDC_RELEASES_URL", site_url)
    client = IDCClient(release="25.0.0", cache_dir=tmp_path / "cache", optimize_index=False)
    assert client._catalog.source.startswith("release 25.0.0 ")
    assert set(client.indices_overview) == {"index" if stem == "idc_index" else stem for stem in manifest["indices"]}
    installed = {n for n, info in client.indices_overview.items() if info["installed"]}
    assert "index" in installed and "sm_instance_index" not in installed
    client.fetch_index("sm_instance_index")
    assert client.sql("SELECT COUNT(*) AS n FROM sm_instance_index").column("n")[0] > 0
    assert client.get_idc_version() == f"v{manifest['idc_version']}"
    assert client.get_collections()
    rows, problem = list_releases(cache_dir=tmp_path / "cache", url=site_url)
    assert problem is None
    published = [(r.release, r.current) for r in rows if r.published]
    assert published == [("25.0.0", False), ("25.0.1", True)]


def test_builder_sorts_releases_as_the_client_does(tmp_path: Path) -> None:
    from idc_index.releases.published import version_key

    releases = ["25.0.10", "25.0.9", "25.0.0.post1", "9.0.0", "25.0.0", "26.0.0", "25.1.0"]
    probe = f"import json; from index_builder.publish import version_key; print(json.dumps(sorted({releases!r}, key=version_key)))"
    run = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == sorted(releases, key=version_key)


def test_data_package_built_from_a_release_keeps_its_manifest(built_release: Path, tmp_path: Path) -> None:
    """The data wheel that `index_builder package` writes, installed in place of idc-index-data,
    serves its release's manifest: column descriptions, and the size and sha256 of every index,
    so that those left out of the wheel are fetched from the release assets and checked."""
    in_wheel = ["idc_index", "prior_versions_index", "collections_index", "analysis_results_index"]
    out = subprocess.run(
        [sys.executable, "-m", "index_builder", "package", str(built_release), "--out", str(tmp_path / "dist"),
         *(a for n in in_wheel for a in ("--wheel-index", n))],
        check=False, capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("idc_index_data-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    handler = functools.partial(QuietHandler, directory=str(built_release))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    probe = """
import json
from idc_index import IDCClient
c = IDCClient(cache_dir={cache!r}, release_base_url={url!r}, optimize_index=False)
installed = sorted(n for n, e in c._catalog.indices.items() if e.installed)
c.fetch_index("sm_instance_index")
schema = c.get_index_schema("sm_instance_index")
print(json.dumps({{
    "source": c._catalog.source,
    "installed": installed,
    "checked": sorted(n for n, e in c._catalog.indices.items() if e.sha256 and e.bytes),
    "described": all(col["description"] for col in schema["columns"]),
    "instances": c.sql("SELECT COUNT(*) AS n FROM sm_instance_index").column("n")[0],
}}))
""".format(cache=str(tmp_path / "cache"), url=f"http://127.0.0.1:{server.server_address[1]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    try:
        run = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["source"].startswith("idc-index-data 25.")
    assert got["installed"] == sorted(["index", *in_wheel[1:]])
    assert len(got["checked"]) == 17 and got["described"] and got["instances"] > 0
