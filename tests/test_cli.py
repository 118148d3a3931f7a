"""The `idc` command, run as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from idc_index import IDCClient


def idc(*args: str, env_cache: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("idc") or ""
    cmd = [exe, *args] if exe else [sys.executable, "-m", "idc_index.cli", *args]
    import os

    env = {**os.environ, "IDC_INDEX_CACHE_DIR": str(env_cache)}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300, env=env)


def test_collections_table(cache_dir: Path) -> None:
    out = idc("collections", env_cache=cache_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["collection_id", "patients", "series", "size_GB", "modalities"]
    nsclc = next(line for line in lines if line.startswith("nsclc_radiomics "))
    assert nsclc.split()[1] == "422"
    assert "collections in IDC v25" in out.stderr


def test_sql_as_csv_and_json(cache_dir: Path) -> None:
    query = "SELECT Modality, COUNT(*) AS n FROM index WHERE collection_id = 'rider_pilot' GROUP BY 1 ORDER BY 1"
    as_csv = idc("sql", query, "--format", "csv", env_cache=cache_dir)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    as_json = json.loads(idc("sql", query, "--format", "json", env_cache=cache_dir).stdout)
    assert [r["Modality"] for r in rows] == [r["Modality"] for r in as_json]
    assert [int(r["n"]) for r in rows] == [r["n"] for r in as_json]


def test_errors_are_one_line_with_a_non_zero_status(cache_dir: Path) -> None:
    out = idc("sql", "DROP TABLE index", env_cache=cache_dir)
    assert out.returncode == 1
    assert "Error: the indices are read-only" in out.stderr
    assert "Traceback" not in out.stderr


def test_indices_and_version(cache_dir: Path) -> None:
    out = idc("indices", "--format", "json", env_cache=cache_dir)
    rows = json.loads(out.stdout)
    listing = {row["index"]: row["installed"] for row in rows}
    assert listing["index"] == "yes" and listing["sm_index"] == "no"
    # Descriptions are cut after a whole word, and say so.
    descriptions = [row["description"] for row in rows]
    assert all(len(d) <= 90 for d in descriptions)
    cut = [d for d in descriptions if d.endswith("…")]
    assert cut and all(d[-2] != " " for d in cut)
    text = " ".join(str(i["description"]) for i in IDCClient(cache_dir=cache_dir).indices_overview.values())
    words = {w.strip(",;:.") for w in text.split()}
    assert all(d[:-1].split()[-1] in words for d in cut)
    version = idc("version", env_cache=cache_dir)
    assert "IDC data v25 (idc-index-data 25.0.5)" in version.stdout


@pytest.mark.parametrize("args", [["--help"], ["sql", "--help"]])
def test_help(args: list[str], cache_dir: Path) -> None:
    assert idc(*args, env_cache=cache_dir).returncode == 0


@pytest.mark.parametrize("level", ["warning", "info"])
def test_a_dry_run_says_what_0_13_said_once_whatever_the_log_level(cache_dir: Path, level: str) -> None:
    series = IDCClient(cache_dir=cache_dir).sql(
        "SELECT SeriesInstanceUID FROM index WHERE collection_id = 'rider_pilot' LIMIT 1").column("SeriesInstanceUID")[0]
    out = idc("--log-level", level, "download", series, "--dry-run", "True", env_cache=cache_dir)
    assert out.returncode == 0, out.stderr
    shown = out.stdout + out.stderr
    for line in ("Disk size needed", "Disk size available", "Dry run. Not downloading files."):
        assert shown.count(line) == 1, shown
