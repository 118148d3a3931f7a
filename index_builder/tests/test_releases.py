"""Which release the build workflow builds, and against which published release it is compared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from index_builder.backends import DuckDBBackend
from index_builder.errors import BuilderError
from index_builder.releases import newest_version, parse_release, plan

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "index_builder", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("tag", "parsed"), [
    ("25.0.0", (25, 0, 0)), ("v25.0.1", (25, 0, 1)), (" 26.1.0\n", (26, 1, 0)),
    ("latest", None), ("25.0", None), ("v25.0.0-rc1", None), ("idc-index-data-25.0.0", None),
])
def test_release_tags_are_parsed_and_other_tags_ignored(tag, parsed):
    assert parse_release(tag) == parsed


def test_first_release_is_built_with_nothing_to_compare_with():
    p = plan(25, [])
    assert p.build and p.release == "25.0.0" and p.idc_version == 25
    assert p.previous is None and p.outputs()["previous"] == ""


def test_a_newer_idc_release_is_built_against_the_newest_published_one():
    p = plan(26, ["24.0.0", "v25.0.0", "v25.0.1", "nightly", "23.0.0"])
    assert p.build and p.release == "26.0.0"
    assert p.previous == "25.0.1" and p.previous_tag == "v25.0.1"  # the tag as published, to download it
    assert p.outputs() == {"build": "true", "reason": "26.0.0 is not published yet", "idc_version": "26",
                           "release": "26.0.0", "previous": "25.0.1", "previous_tag": "v25.0.1"}


def test_nothing_is_built_when_the_newest_release_is_published():
    p = plan(25, ["24.0.0", "25.0.0", "25.0.1"])
    assert not p.build and p.release == "25.0.1"  # the newest rebuild of that IDC release
    assert "already published" in p.reason and "force" in p.reason


def test_force_rebuilds_the_published_release_against_the_one_before():
    p = plan(25, ["24.0.0", "25.0.0"], force=True)
    assert p.build and p.release == "25.0.0" and p.previous == "24.0.0"


def test_a_named_release_is_built_whatever_bigquery_says():
    p = plan(None, ["24.0.0", "25.0.0"], release="25.0.1")
    assert p.build and p.idc_version == 25 and p.release == "25.0.1" and p.previous == "25.0.0"
    assert not plan(None, ["25.0.1"], release="25.0.1").build
    with pytest.raises(BuilderError, match=r"25\.0\.1"):
        plan(None, [], release="v25")


def test_bigquery_older_than_what_was_published_builds_nothing():
    p = plan(24, ["25.0.0"])
    assert not p.build and "older than the published 25.0.0" in p.reason


def test_without_newest_or_release_the_plan_says_what_to_give():
    with pytest.raises(BuilderError, match="--newest"):
        plan(None, ["25.0.0"])


def test_newest_version_from_the_offline_tables(source_dir):
    assert newest_version(DuckDBBackend(source_dir)) == 25


def test_cli_newest_version_and_plan(source_dir, tmp_path):
    done = cli("newest-version", "--backend", "duckdb", "--source", str(source_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "25"
    published = tmp_path / "published.txt"
    published.write_text("v24.0.0\n23.0.0\n")
    done = cli("plan", "--newest", "25", "--published", str(published))
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert lines["build"] == "true" and lines["release"] == "25.0.0" and lines["previous_tag"] == "v24.0.0"
    published.write_text("25.0.0\n")
    done = cli("plan", "--newest", "25", "--published", str(published))
    assert "build=false" in done.stdout.splitlines()
    done = cli("plan", "--newest", "25", "--published", str(tmp_path / "missing.txt"))
    assert done.returncode == 1 and "BuilderError" in done.stderr


def test_cli_dry_run_writes_nothing(source_dir, tmp_path):
    out = tmp_path / "rel"
    done = cli("build", "--backend", "duckdb", "--source", str(source_dir), "--idc-version", "25",
               "--out", str(out), "--index", "idc_index", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "bytes to scan" in done.stdout and "dry run" in done.stdout
    assert not out.exists() and not (tmp_path / "rel.partial").exists()
