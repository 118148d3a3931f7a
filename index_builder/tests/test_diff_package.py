import ast
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

from index_builder import fixture
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
    n = len({r["SeriesInstanceUID"] for r in fixture.generate()["gen"].instances})  # petct_demo has 4 series
    assert d["indices"]["idc_index"]["rows"] == [n, n - 4]
    assert d["indices"]["ann_index"]["rows"] == [1, 1]
    assert d["collections_removed"] == ["petct_demo"] and d["collections_added"] == []
    text = format_diff(d)
    assert "release 25.0.0 (IDC v25) -> 26.0.0 (IDC v26)" in text
    assert "+ column Extra" in text and f"rows  {n} -> {n - 4} (-4, -{400 / n:.1f}%)" in text
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
        ns = vars(load_package(zf, tmp_path / "x"))
        assert ns["IDC_INDEX_PARQUET_FILEPATH"] == (tmp_path / "x" / "idc_index.parquet").resolve()
        assert len(ns["INDEX_FILEPATHS"]) == 17
    listed = (tmp_path / "dist" / "assets.txt").read_text().split()
    assert listed == assets
    assert "manifest.json" in listed and wheel.name in listed
    assert "sm_instance_index.parquet.sha256" in listed
    assert all((tmp_path / "dist" / a).is_file() for a in listed)


def load_package(zf, directory):
    """The ``idc_index_data`` package of a wheel, imported under another name (the real idc-index-data
    may be installed next to the tests)."""
    zf.extractall(directory.parent / "whl")
    shutil.copytree(directory.parent / "whl" / "idc_index_data", directory)
    name = f"packaged_idc_index_data_{directory.name}"
    spec = importlib.util.spec_from_file_location(name, directory / "__init__.py", submodule_search_locations=[str(directory)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def public_names_of_idc_index_data_25():
    """``__all__`` of the installed idc-index-data 25.0.5, read from its source."""
    spec = importlib.util.find_spec("idc_index_data")
    if spec is None or spec.origin is None:
        pytest.skip("idc-index-data 25.0.5 is not installed (pip install 'idc-index-builder[test]')")
    tree = ast.parse(Path(spec.origin).read_text())
    [value] = [n.value for n in tree.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
    return ast.literal_eval(value), Path(spec.origin).parent


def test_the_wheel_is_a_drop_in_for_idc_index_data(release_dir, tmp_path):
    names, v25_dir = public_names_of_idc_index_data_25()
    in_wheel = ["idc_index", "prior_versions_index", "collections_index"]
    wheel, _ = package_release(release_dir, tmp_path / "dist", wheel_indices=in_wheel)
    with zipfile.ZipFile(wheel) as zf:
        module = load_package(zf, tmp_path / "pkg")
    assert set(names) <= set(module.__all__)
    assert module.__version__ == "25.0.0" and module.IDC_INDEX_CSV_ARCHIVE_FILEPATH is None
    assert module.PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH == (tmp_path / "pkg" / "prior_versions_index.parquet").resolve()
    # INDEX_METADATA: every index of the release, with the keys of idc-index-data 25.0.5
    assert sorted(module.INDEX_METADATA) == sorted(json.loads((release_dir / "manifest.json").read_text())["indices"])
    for name, meta in module.INDEX_METADATA.items():
        assert list(meta) == ["parquet_filepath", "schema_path", "schema", "sql_path", "sql"], name
        assert (meta["parquet_filepath"] is not None) == (name in in_wheel), name
        assert meta["schema"]["table_description"] and meta["sql"].startswith("-- @table"), name
        assert meta["schema"] == json.loads(meta["schema_path"].read_text())
        assert all(c["description"] and c["mode"] in ("NULLABLE", "REPEATED") for c in meta["schema"]["columns"])
    # the schemas are in the form of idc-index-data's: the same names, types and modes for idc_index
    ours = module.INDEX_METADATA["idc_index"]["schema"]["columns"]
    theirs = json.loads((v25_dir / "idc_index_schema.json").read_text())["columns"]
    assert [(c["name"], c["type"], c["mode"]) for c in ours] == [(c["name"], c["type"], c["mode"]) for c in theirs]
    sources = {c["name"]: c for c in module.INDEX_METADATA["collections_index"]["schema"]["columns"]}["sources"]
    assert (sources["type"], sources["mode"]) == ("RECORD", "REPEATED") and sources["fields"][0]["name"] == "source_id"


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
