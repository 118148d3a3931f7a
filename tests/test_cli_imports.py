"""What an `idc` download imports. pyarrow imports pandas the first time it converts a Python
value (``pa.array(list)``, ``pa.table(dict)``, a str handed to a compute function), and pandas
takes a quarter of a second, more than the rest of the command's start-up. A download returns no
DataFrame, so pandas must not be imported by one; nor ``importlib.metadata`` (30-50 ms, for a
version the extension and the data package's folder name tell). Each command runs in a fresh
process, on the bundled index with an empty cache, and reports what it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_download import idc_layout, moto_s3  # noqa: F401  (fixtures)
from s3server import MotoS3, Series

#: ``python -c PROBE ARGS...`` runs ``idc ARGS...`` as the ``idc`` script does, then prints its
#: exit status and whether pandas, pyarrow and importlib.metadata were imported, as the last line
#: of its output.
PROBE = """\
import json, sys
from idc_index.cli import idc
try:
    idc(sys.argv[1:], prog_name="idc")
    status = 0
except SystemExit as e:
    status = e.code
print(json.dumps({"status": status, "pandas": "pandas" in sys.modules, "pyarrow": "pyarrow" in sys.modules,
                  "metadata": "importlib.metadata" in sys.modules}))
"""


def run_idc(args: list[str], cache: Path, **env: str) -> tuple[dict, str]:
    """``idc ARGS`` in a fresh process with the empty cache ``cache``: what the probe reported,
    and the command's output."""
    cache.mkdir(parents=True, exist_ok=True)
    assert not any(cache.iterdir())
    environment = {**os.environ, "IDC_INDEX_CACHE_DIR": str(cache), "IDC_RELEASE_BASE_URL": "http://127.0.0.1:9",
                   **env}
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300,
                         env=environment, check=False)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr
    return json.loads(lines[-1]), out.stdout + out.stderr


@pytest.fixture(scope="module")
def rider_series(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Three series of the bundled index, read by a client of its own (this process may import
    pandas; the commands below run in processes of their own)."""
    from idc_index import IDCClient

    client = IDCClient(cache_dir=tmp_path_factory.mktemp("lookup-cache"), optimize_index=False)
    return client.sql(
        "SELECT collection_id, SeriesInstanceUID, series_aws_url FROM index "
        "WHERE collection_id = 'rider_pilot' ORDER BY SeriesInstanceUID LIMIT 3"
    ).to_pylist()


def _download_dir(tmp_path: Path) -> Path:
    """A download directory that already holds a folder of the collection, so that measuring
    what is present looks at the plan's destinations."""
    target = tmp_path / "data"
    (target / "rider_pilot").mkdir(parents=True)
    (target / "unrelated.txt").write_text("x")
    return target


@pytest.mark.parametrize("kind", ["series", "collection", "collection-shard", "template", "manifest",
                                  "manifest-instances", "download-from-manifest", "download-from-selection"])
def test_a_dry_run_does_not_import_pandas(kind: str, rider_series: list[dict], tmp_path: Path) -> None:
    target = str(_download_dir(tmp_path))
    manifest = tmp_path / "cohort.s5cmd"
    manifest.write_text("".join(f"cp {s['series_aws_url']} .\n" for s in rider_series))
    # A single instance of one series (its size unknown without sm_instance_index), the others whole.
    instances = tmp_path / "instances.s5cmd"
    one = rider_series[0]["series_aws_url"].replace("/*", "/0000aaaa-1111-2222-3333-444455556666.dcm")
    instances.write_text(f"cp {one} .\n" + "".join(f"cp {s['series_aws_url']} .\n" for s in rider_series[1:]))
    common = ["--download-dir", target, "--dry-run", "True"]
    args = {
        "series": ["download", rider_series[0]["SeriesInstanceUID"], *common],
        "collection": ["download", "rider_pilot", *common],
        "collection-shard": ["download", "rider_pilot", "--shard", "1/3", *common],
        "template": ["download", "rider_pilot", "--dir-template", "%collection_id_%Modality/%PatientID", *common],
        "manifest": ["download", str(manifest), *common],
        "manifest-instances": ["download-from-manifest", "--manifest-file", str(instances), *common],
        "download-from-manifest": ["download-from-manifest", "--manifest-file", str(manifest), *common],
        "download-from-selection": ["download-from-selection", "--collection-id", "rider_pilot",
                                    "--analysis-results", "exclude", *common],
    }[kind]
    probe, output = run_idc(args, tmp_path / "cache")
    assert probe["status"] == 0, output
    assert "dry run: " in output, output
    assert probe["pyarrow"], "the plan is an Arrow table"
    assert not probe["pandas"], f"`idc {' '.join(args)}` imported pandas"
    assert not probe["metadata"], f"`idc {' '.join(args)}` imported importlib.metadata"


def test_plan_does_not_import_pandas(tmp_path: Path) -> None:
    probe, output = run_idc(["plan", "rider_pilot", "--shards", "3", "--out", str(tmp_path / "plan")],
                            tmp_path / "cache")
    assert probe["status"] == 0, output
    assert (tmp_path / "plan" / "shard-2.s5cmd").is_file()
    assert not probe["pandas"], output


def test_a_download_does_not_import_pandas(moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path) -> None:
    series = idc_layout[0]
    target = tmp_path / "data"
    probe, output = run_idc(["download", series.series_instance_uid, "--download-dir", str(target)],
                            tmp_path / "cache", IDC_ENDPOINT_URL=moto_s3.endpoint)
    assert probe["status"] == 0, output
    assert sum(1 for p in target.rglob("*") if p.is_file()) == len(series.objects), output
    assert not probe["pandas"], output


def test_the_api_still_returns_pandas(tmp_path: Path) -> None:
    """Where idc-index 0.13 returned DataFrames, it still does (pandas is imported there)."""
    code = (
        "import sys\n"
        "from idc_index import IDCClient\n"
        f"c = IDCClient(cache_dir={str(tmp_path / 'cache')!r}, optimize_index=False)\n"
        "df = c.sql_query('SELECT collection_id FROM index LIMIT 2')\n"
        "print(type(df).__module__.split('.')[0], 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["pandas", "True"]
