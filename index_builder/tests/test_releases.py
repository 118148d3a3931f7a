"""Which release the build workflow builds, and against which published release it is compared."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index_builder.backends import DuckDBBackend
from index_builder.errors import BuilderError, ReleaseError
from index_builder.package import package_release
from index_builder.releases import check_published, newest_version, parse_release, plan

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
    assert "already published" in p.reason and "force builds it again as a new post-release" in p.reason


def test_force_builds_a_published_release_again_as_a_new_post_release():
    # never under the published version: PyPI would keep its file while the GitHub assets change
    p = plan(25, ["24.0.0", "25.0.0"], force=True)
    assert p.build and p.release == "25.0.0.post1" and p.idc_version == 25
    assert p.previous == "25.0.0" and "25.0.0 is published" in p.reason and "new version 25.0.0.post1" in p.reason
    again = plan(25, ["24.0.0", "25.0.0", "v25.0.0.post1"], force=True)
    assert again.release == "25.0.0.post2" and again.previous_tag == "v25.0.0.post1"
    named = plan(None, ["25.0.0", "25.0.1"], release="25.0.1", force=True)
    assert named.release == "25.0.1.post1" and named.previous == "25.0.1"
    assert plan(25, ["25.0.0"], force=True).outputs()["release"] == "25.0.0.post1"


def test_post_releases_are_published_releases():
    assert parse_release("v25.0.0.post3") == (25, 0, 0, 3)
    assert (25, 0, 0) < parse_release("25.0.0.post1") < (25, 0, 1)
    p = plan(25, ["25.0.0", "25.0.0.post1"])
    assert not p.build and p.release == "25.0.0.post1" and "already published" in p.reason
    assert plan(26, ["25.0.0", "25.0.0.post1"]).previous == "25.0.0.post1"
    assert plan(None, ["25.0.0"], release="25.0.0.post1").build


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


# ------------------------------------------------------------------- what is already published


@pytest.fixture
def dist(release_dir, tmp_path):
    """What the workflow is about to publish: the assets and the wheel of a release."""
    package_release(release_dir, tmp_path / "dist")
    return tmp_path / "dist"


def pypi_json(tmp_path, files):
    path = tmp_path / "pypi.json"
    path.write_text(json.dumps({"info": {"version": "25.0.0"},
                                "urls": [{"filename": f, "digests": {"sha256": d}} for f, d in files.items()]}))
    return path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_version_published_nowhere_is_published(dist, tmp_path):
    (tmp_path / "github").mkdir()
    assert check_published(dist, tmp_path / "github", None).outputs() == {"github": "absent", "pypi": "absent"}


def test_a_rerun_after_a_failed_upload_publishes_the_same_files(dist, tmp_path):
    github = tmp_path / "github"
    github.mkdir()
    for name in ("manifest.json", "idc_index.parquet.sha256"):  # an upload that stopped early
        shutil.copy(dist / name, github / name)
    wheel = next(dist.glob("*.whl"))
    state = check_published(dist, github, pypi_json(tmp_path, {wheel.name: sha256(wheel)}))
    assert (state.github, state.pypi) == ("incomplete", "same")
    for name in (dist / "assets.txt").read_text().split():
        shutil.copy(dist / name, github / name)
    assert check_published(dist, github, None).github == "same"


def test_other_content_under_the_same_version_is_refused(dist, tmp_path):
    github = tmp_path / "github"
    github.mkdir()
    (github / "idc_index.parquet.sha256").write_text("0" * 64 + "  idc_index.parquet\n")  # another build
    with pytest.raises(ReleaseError, match=r"(?s)GitHub release asset idc_index\.parquet\.sha256 differs.*post-release"):
        check_published(dist, github, None)
    wheel = next(dist.glob("*.whl"))
    with pytest.raises(ReleaseError, match=rf"PyPI has another file {re.escape(wheel.name)} for version 25\.0\.0"):
        check_published(dist, None, pypi_json(tmp_path, {wheel.name: "f" * 64}))
    with pytest.raises(ReleaseError, match="PyPI has no file"):
        check_published(dist, None, pypi_json(tmp_path, {"idc_index_data-25.0.0.tar.gz": "f" * 64}))


def test_cli_check_published_prints_the_state(dist, tmp_path):
    done = cli("check-published", str(dist), "--github", str(tmp_path / "none"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["github=absent", "pypi=absent"]
    done = cli("check-published", str(tmp_path))
    assert done.returncode == 1 and "ReleaseError" in done.stderr and "assets.txt" in done.stderr
