"""A release built offline by index_builder is a release the client uses as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("index_builder", reason="index_builder is installed by scripts/test.sh")


@pytest.fixture(scope="module")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("builder")
    source, release = root / "source", root / "release"

    def builder(*args: str) -> None:
        out = subprocess.run([sys.executable, "-m", "index_builder", *args], check=False, capture_output=True, text=True, cwd=root)
        assert out.returncode == 0, out.stderr

    builder("fixture", "--out", str(source))
    builder("build", "--backend", "duckdb", "--source", str(source), "--idc-version", "25", "--out", str(release))
    return release


def test_client_queries_every_index_of_a_built_release(built_release: Path, tmp_path: Path) -> None:
    from idc_index import IDCClient

    client = IDCClient(built_release, cache_dir=tmp_path)
    assert client.get_idc_version() == "v25"
    overview = client.indices_overview
    assert all(info["installed"] for info in overview.values()), overview.keys()
    assert len(overview) == 17
    for name in overview:
        assert client.sql(f"SELECT COUNT(*) AS n FROM {name}").column("n")[0] >= 0
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
    assert client._engine.wait_optimized("index") is not None
    assert client.get_series_size(series[0]["SeriesInstanceUID"]) == series[0]["series_size_MB"]


def test_data_package_built_from_a_release_keeps_its_manifest(built_release: Path, tmp_path: Path) -> None:
    """The data wheel that `index_builder package` writes, installed in place of idc-index-data,
    serves its manifest: column descriptions, sizes and sha256 checksums."""
    out = subprocess.run(
        [sys.executable, "-m", "index_builder", "package", str(built_release), "--out", str(tmp_path / "dist")],
        check=False, capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("idc_index_data-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    probe = """
import json
from idc_index import IDCClient
c = IDCClient(cache_dir={cache!r}, optimize_index=False)
schema = c.get_index_schema("sm_instance_index")
print(json.dumps({{
    "source": c._catalog.source,
    "checked": sorted(n for n, e in c._catalog.indices.items() if e.sha256 and e.bytes),
    "described": all(col["description"] for col in schema["columns"]),
    "patients": len(c.get_patients(c.get_collections()[0], outputFormat="list")),
}}))
""".format(cache=str(tmp_path / "cache"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["source"].startswith("idc-index-data 25.")
    assert len(got["checked"]) == 17 and got["described"] and got["patients"] > 0
