import base64
import csv
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from index_builder.diff import diff_releases, format_diff
from index_builder.errors import ReleaseError
from index_builder.manifest import read_manifest, write_manifest
from index_builder.package import package_release
from index_builder.sqlfile import QueryDoc

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def changed_release(release_dir, tmp_path):
    """The release with one collection dropped from idc_index, a column added to ct_index and
    rtstruct_index removed."""
    new = tmp_path / "new"
    shutil.copytree(release_dir, new)
    old = read_manifest(release_dir)
    t = pq.read_table(new / "idc_index.parquet")
    pq.write_table(t.filter(pc.not_equal(t.column("collection_id"), "petct_demo")), new / "idc_index.parquet")
    ct = pq.read_table(new / "ct_index.parquet")
    pq.write_table(ct.append_column("Extra", pa.array([1] * ct.num_rows, pa.int32())), new / "ct_index.parquet")
    docs = {}
    for name, entry in old["indices"].items():
        if name == "rtstruct_index":
            (new / entry["file"]).unlink()
            continue
        cols = {c["name"]: c["description"] for c in entry["columns"]}
        docs[name] = QueryDoc(table=entry["description"], columns={**cols, "Extra": "x"})
    (new / "manifest.json").unlink()
    write_manifest(new, 26, "26.0.0", docs)
    return new


def test_diff_reports_columns_rows_bytes_and_collections(release_dir, changed_release):
    d = diff_releases(release_dir, changed_release)
    assert d["indices_removed"] == ["rtstruct_index"] and d["indices_added"] == []
    assert d["indices"]["ct_index"]["columns_added"] == ["Extra"]
    assert d["indices"]["idc_index"]["rows"] == [24, 20]
    assert d["indices"]["ann_index"]["rows"] == [1, 1]
    assert d["collections_removed"] == ["petct_demo"] and d["collections_added"] == []
    text = format_diff(d)
    assert "release 25.0.0 (IDC v25) -> 26.0.0 (IDC v26)" in text
    assert "+ column Extra" in text and "rows  24 -> 20 (-4, -16.7%)" in text
    assert "collections removed (1): petct_demo" in text


def test_diff_cli_json(release_dir, changed_release):
    done = subprocess.run([sys.executable, "-m", "index_builder", "diff", str(release_dir), str(changed_release), "--json"],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["indices"]["ct_index"]["columns_retyped"] == {}


def test_diff_of_a_directory_without_manifest_says_what_it_is(tmp_path, release_dir):
    with pytest.raises(ReleaseError, match="no manifest.json"):
        diff_releases(tmp_path, release_dir)


def test_package_writes_a_valid_wheel_and_the_asset_list(release_dir, tmp_path):
    wheel, assets = package_release(release_dir, tmp_path / "dist")
    assert wheel.name == "idc_index_data-25.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = zf.read("idc_index_data-25.0.0.dist-info/RECORD").decode()
        rows = list(csv.reader(io.StringIO(record)))
        assert {r[0] for r in rows} == set(names)
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert digest == "" and size == ""
                continue
            data = zf.read(path)
            algo, b64 = digest.split("=", 1)
            assert algo == "sha256"
            assert base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)) == hashlib.sha256(data).digest(), path
            assert int(size) == len(data)
        wheel_meta = zf.read("idc_index_data-25.0.0.dist-info/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel_meta and "Tag: py3-none-any" in wheel_meta
        metadata = zf.read("idc_index_data-25.0.0.dist-info/METADATA").decode()
        assert "Name: idc-index-data" in metadata and "Version: 25.0.0" in metadata
        inner = json.loads(zf.read("idc_index_data/manifest.json"))
        assert all(f"idc_index_data/{e['file']}" in names for e in inner["indices"].values())
        assert zf.read("idc_index_data/idc_index.parquet") == (release_dir / "idc_index.parquet").read_bytes()
        assert zf.getinfo("idc_index_data/idc_index.parquet").compress_type == zipfile.ZIP_STORED
        # the packaged module answers where its files are
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "manifest.json").write_bytes(zf.read("idc_index_data/manifest.json"))
        (tmp_path / "x" / "__init__.py").write_bytes(zf.read("idc_index_data/__init__.py"))
        spec = importlib.util.spec_from_file_location("packaged_idc_index_data", tmp_path / "x" / "__init__.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ns = vars(module)
        assert ns["IDC_INDEX_PARQUET_FILEPATH"] == (tmp_path / "x" / "idc_index.parquet").resolve()
        assert len(ns["INDEX_FILEPATHS"]) == 17
    listed = (tmp_path / "dist" / "assets.txt").read_text().split()
    assert listed == assets
    assert "manifest.json" in listed and wheel.name in listed
    assert "sm_instance_index.parquet.sha256" in listed
    assert all((tmp_path / "dist" / a).is_file() for a in listed)


def test_package_subset_keeps_the_wheel_consistent(release_dir, tmp_path):
    wheel, _ = package_release(release_dir, tmp_path / "dist", wheel_indices=["idc_index", "prior_versions_index"])
    with zipfile.ZipFile(wheel) as zf:
        assert sorted(json.loads(zf.read("idc_index_data/manifest.json"))["indices"]) == ["idc_index", "prior_versions_index"]
        assert len(json.loads(zf.read("idc_index_data/release_manifest.json"))["indices"]) == 17
        assert not any(n.endswith("sm_index.parquet") for n in zf.namelist())
    with pytest.raises(ReleaseError, match="not in the release"):
        package_release(release_dir, tmp_path / "d2", wheel_indices=["nope"])


def test_package_cli_prints_the_assets(release_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "index_builder", "package", str(release_dir), "--out", str(tmp_path / "d")],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "idc_index_data-25.0.0-py3-none-any.whl" in done.stdout and "idc_index.parquet.sha256" in done.stdout
