"""idc-index 0.13.4 itself runs on a release this builder made: the data wheel is a drop-in
replacement of idc-index-data.

A fresh virtualenv (under pytest's tmp dir) gets idc-index 0.13.4 from PyPI and, for its
``idc-index-data==25.0.5`` requirement, the wheel of an offline release built here as 25.0.5:
pip resolves the requirement with it, as it would with the published package. The client is then
constructed and its queries run, offline. pip's cache is used; the test is skipped only when the
package index cannot be reached.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from index_builder import fixture
from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.package import package_release

IDC_INDEX = "idc-index==0.13.4"
RELEASE = "25.0.5"  # the idc-index-data version that idc-index 0.13.4 requires
SM_INSTANCE = "1.2.826.0.1.3680043.8.498.4.1.1.1.1"

# Runs inside the virtualenv: idc-index 0.13.4's own API on the installed data wheel.
CLIENT_SCRIPT = r"""
import json, sys
import idc_index_data
from idc_index import IDCClient

series_uid, sop_uid, download_dir = sys.argv[1:4]
c = IDCClient()
study = c.get_dicom_studies("LCT-001", outputFormat="list")[0]
c.download_from_selection(downloadDir=download_dir, dry_run=True, collection_id="lung_ct_demo")
print(json.dumps({
    "data_version": idc_index_data.__version__,
    "idc_version": c.get_idc_version(),
    "collections": sorted(c.get_collections()),
    "patients": sorted(p["PatientID"] for p in c.get_patients("lung_ct_demo")),
    "series_of_study": sorted(s["SeriesInstanceUID"] for s in c.get_dicom_series(study)),
    "study": study,
    "series_size_MB": float(c.get_series_size(series_uid)),
    "rows": c.sql_query("SELECT COUNT(*) AS n FROM index")["n"].tolist()[0],
    "prior_rows": c.sql_query("SELECT COUNT(*) AS n FROM prior_versions_index")["n"].tolist()[0],
    "indices": {name: bool(info["installed"] and info["description"]) for name, info in c.indices_overview.items()},
    "sm_instance_columns": [col["name"] for col in c.get_index_schema("sm_instance_index")["columns"]],
    "instance_url": c.get_instance_file_URL(sop_uid),
    "sm_rows": c.sql_query("SELECT COUNT(*) AS n FROM sm_instance_index")["n"].tolist()[0],
    "viewer": c.get_viewer_URL(seriesInstanceUID=series_uid),
}))
"""


def package_index_unreachable() -> str | None:
    """Why pip cannot reach its package index, or None if it can."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/idc-index/"
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(index, timeout=20, context=context):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as exc:
        return f"cannot reach the package index {index} to install {IDC_INDEX}: {exc}"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="module")
def wheel_25_0_5(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An offline release built as 25.0.5, and its data wheel (every index in it)."""
    root = tmp_path_factory.mktemp("release-25.0.5")
    release = build(DuckDBBackend(source_dir), BuildOptions(idc_version=25, out=root / RELEASE, release=RELEASE),
                    log=lambda m: None)
    wheel, _ = package_release(release, root / "dist")
    return release, wheel


def test_idc_index_0_13_4_runs_on_a_built_release(wheel_25_0_5, tmp_path):
    reason = package_index_unreachable()
    if reason:
        pytest.skip(reason)
    release, wheel = wheel_25_0_5
    venv = tmp_path / "venv"
    # no pip inside: this interpreter's pip installs into it (--python), from pip's cache
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv_python(venv)), "install", "--no-compile", "--only-binary",
         ":all:", "--progress-bar", "off", "--disable-pip-version-check", IDC_INDEX, str(wheel)],
        check=False, capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "IDC_"))}
    env["HOME"] = env["USERPROFILE"] = str(tmp_path / "home")  # idc-index's user data directory
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / "data")
    run = subprocess.run(
        [str(venv_python(venv)), "-c", CLIENT_SCRIPT, fixture.CT_SERIES, SM_INSTANCE, str(tmp_path / "downloads")],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])

    idc = pq.read_table(release / "idc_index.parquet")
    ct = idc.filter(pc.equal(idc.column("SeriesInstanceUID"), fixture.CT_SERIES)).to_pylist()[0]
    sm = pq.read_table(release / "sm_instance_index.parquet")
    sm_row = sm.filter(pc.equal(sm.column("SOPInstanceUID"), SM_INSTANCE)).to_pylist()[0]
    sm_series = idc.filter(pc.equal(idc.column("SeriesInstanceUID"), sm_row["SeriesInstanceUID"])).to_pylist()[0]

    assert got["data_version"] == RELEASE and got["idc_version"] == "v25"
    assert got["collections"] == sorted(set(idc.column("collection_id").to_pylist()))
    assert got["patients"] == ["LCT-001", "LCT-002", "LCT-003"]
    assert got["study"] == ct["StudyInstanceUID"] and fixture.CT_SERIES in got["series_of_study"]
    assert got["series_size_MB"] == pytest.approx(ct["series_size_MB"])
    assert got["rows"] == idc.num_rows
    assert got["prior_rows"] == pq.read_metadata(release / "prior_versions_index.parquet").num_rows
    assert len(got["indices"]) == 17 and all(got["indices"].values()), got["indices"]  # all in the wheel, described
    assert got["sm_instance_columns"] == sm.schema.names
    assert got["sm_rows"] == sm.num_rows
    assert got["instance_url"] == f"s3://{sm_series['aws_bucket']}/{sm_series['crdc_series_uuid']}/{sm_row['crdc_instance_uuid']}.dcm"
    assert fixture.CT_SERIES in got["viewer"]
