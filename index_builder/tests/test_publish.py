"""The releases site that the build workflow uploads: each release under its version, `current`
and `releases.json`, written from real releases built offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from index_builder import publish
from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.errors import ReleaseError
from index_builder.manifest import verify_release
from index_builder.publish import publish_layout, version_key

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "index_builder", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)


def _build(source_dir: Path, out: Path, release: str, indices: list[str]) -> Path:
    build(DuckDBBackend(source_dir), BuildOptions(idc_version=25, out=out, release=release, indices=indices),
          log=lambda _: None)
    return out


@pytest.fixture(scope="module")
def newer_release(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rebuild of IDC v25 as 25.0.1, with two indices."""
    return _build(source_dir, tmp_path_factory.mktemp("newer") / "25.0.1", "25.0.1", ["idc_index", "collections_index"])


@pytest.fixture(scope="module")
def changed_release(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Other files under the name of the session's release, 25.0.0."""
    return _build(source_dir, tmp_path_factory.mktemp("changed") / "25.0.0", "25.0.0", ["idc_index"])


def _tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``, by relative path, with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _files_sha256(directory: Path) -> str:
    """What `sha256sum * | sha256sum` prints in ``directory`` (names in byte order)."""
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                    for p in sorted(directory.iterdir(), key=lambda p: p.name))
    return hashlib.sha256(lines.encode()).hexdigest()


def _listing(*releases: dict, current: str | None = None) -> dict:
    listing: dict = {"format": "idc-index-releases/1", "releases": list(releases)}
    if current:
        listing["current"] = current
    return listing


def test_a_release_is_published_under_its_version_and_as_current(release_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    update = publish_layout(release_dir, site)
    published = _tree(site / "25.0.0" / "release_artifacts")
    manifest = json.loads((release_dir / "manifest.json").read_text())
    expected = {"manifest.json"} | {n for e in manifest["indices"].values() for n in (e["file"], e["file"] + ".sha256")} \
        | {f"{stem}.sql" for stem in manifest["indices"]}
    assert set(published) == expected and len(manifest["indices"]) == 17
    assert published == {name: (release_dir / name).read_bytes() for name in expected}  # byte for byte
    assert _tree(site / "current" / "release_artifacts") == published
    verify_release(site / "25.0.0" / "release_artifacts")
    listing = json.loads((site / "releases.json").read_text())
    assert listing == {
        "format": "idc-index-releases/1",
        "current": "25.0.0",
        "releases": [{"release": "25.0.0", "idc_version": 25,
                      "files_sha256": _files_sha256(site / "25.0.0" / "release_artifacts")}],
    }
    assert update.current and update.directory == site / "25.0.0" / "release_artifacts"
    assert sorted(_tree(site)) == sorted(["releases.json", *(f"{d}/release_artifacts/{n}" for d in ("25.0.0", "current")
                                                             for n in expected)])  # no temporary file left


def test_a_published_listing_is_merged_never_dropping_a_release(release_dir: Path, tmp_path: Path) -> None:
    """Publishing a release older than the current one adds it to the listing, in version order
    (25.0.9 before 25.0.10), keeps every listed release as it was, and leaves `current` alone."""
    older = {"release": "24.0.0", "idc_version": 24, "files_sha256": "a" * 64}
    newer = [{"release": "25.0.10", "idc_version": 25, "files_sha256": "b" * 64, "note": "kept as it is"},
             {"release": "25.0.9", "idc_version": 25, "files_sha256": "c" * 64}]
    published = tmp_path / "published.json"
    published.write_text(json.dumps({**_listing(*newer, older, current="25.0.10"), "contact": "idc"}))
    site = tmp_path / "site"
    done = cli("publish-layout", "--release", str(release_dir), "--site", str(site), "--listing", str(published))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["release=25.0.0", "idc_version=25", "current=false",
                                        "listed=24.0.0 25.0.0 25.0.9 25.0.10"]
    listing = json.loads((site / "releases.json").read_text())
    ours = {"release": "25.0.0", "idc_version": 25, "files_sha256": _files_sha256(site / "25.0.0" / "release_artifacts")}
    assert listing == {"format": "idc-index-releases/1", "current": "25.0.10",
                       "releases": [older, ours, newer[1], newer[0]], "contact": "idc"}
    assert not (site / "current").exists()
    assert [r["release"] for r in listing["releases"]] == sorted(["25.0.10", "25.0.9", "24.0.0", "25.0.0"], key=version_key)


def test_the_site_own_listing_is_kept_without_listing(release_dir: Path, newer_release: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish_layout(newer_release, site)
    publish_layout(release_dir, site)
    listing = json.loads((site / "releases.json").read_text())
    assert [r["release"] for r in listing["releases"]] == ["25.0.0", "25.0.1"] and listing["current"] == "25.0.1"


def test_the_newest_release_becomes_current(release_dir: Path, newer_release: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = publish_layout(release_dir, site)
    assert first.current
    update = publish_layout(newer_release, site, site / "releases.json")
    assert update.current and update.outputs()["listed"] == "25.0.0 25.0.1"
    current = site / "current" / "release_artifacts"
    assert (current / "manifest.json").read_bytes() == (newer_release / "manifest.json").read_bytes()
    verify_release(current)
    assert json.loads((site / "releases.json").read_text())["current"] == "25.0.1"
    # the older one published again (a rerun) changes nothing of current
    before = _tree(site / "current")
    again = publish_layout(release_dir, site, site / "releases.json")
    assert not again.current and _tree(site / "current") == before
    assert json.loads((site / "releases.json").read_text())["current"] == "25.0.1"


def test_a_rerun_with_the_same_files_is_accepted(release_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish_layout(release_dir, site)
    listing = (site / "releases.json").read_bytes()
    published = tmp_path / "published.json"
    published.write_bytes(listing)
    publish_layout(release_dir, site, published)
    assert (site / "releases.json").read_bytes() == listing


def test_a_published_release_with_other_files_is_refused(release_dir: Path, changed_release: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish_layout(release_dir, site)
    before = _tree(site)
    with pytest.raises(ReleaseError, match=r"release 25\.0\.0 is published already, with other files.*never replaced"):
        publish_layout(changed_release, site, site / "releases.json")
    assert _tree(site) == before  # nothing written
    # the same through the published listing alone, into an empty site, and on the command line
    elsewhere = tmp_path / "elsewhere"
    done = cli("publish-layout", "--release", str(changed_release), "--site", str(elsewhere),
               "--listing", str(site / "releases.json"))
    assert done.returncode == 1 and "error: ReleaseError: release 25.0.0 is published already" in done.stderr
    assert not elsewhere.exists()


def test_a_listed_release_without_its_files_digest_is_refused(release_dir: Path, tmp_path: Path) -> None:
    published = tmp_path / "published.json"
    published.write_text(json.dumps(_listing({"release": "25.0.0", "idc_version": 25}, current="25.0.0")))
    with pytest.raises(ReleaseError, match="without files_sha256"):
        publish_layout(release_dir, tmp_path / "site", published)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(("listing", "problem"), [
    ({"format": "idc-index-releases/2", "releases": []}, "format is 'idc-index-releases/2'"),
    (_listing({"release": "24.0.0"}, current="26.0.0"), "current '26.0.0' is not one of the releases"),
    (_listing({"release": "24.0.0"}, {"release": "24.0.0"}), "24.0.0 listed more than once"),
    ({"format": "idc-index-releases/1", "releases": [{"version": "24.0.0"}]}, "not a list of objects with a release"),
])
def test_an_invalid_listing_is_refused(release_dir: Path, tmp_path: Path, listing: dict, problem: str) -> None:
    published = tmp_path / "published.json"
    published.write_text(json.dumps(listing))
    with pytest.raises(ReleaseError, match="not a valid release listing") as info:
        publish_layout(release_dir, tmp_path / "site", published)
    assert problem in str(info.value)
    assert not (tmp_path / "site").exists()


def test_a_missing_listing_or_release_is_refused(release_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="omit --listing when no release is published yet"):
        publish_layout(release_dir, tmp_path / "site", tmp_path / "missing.json")
    with pytest.raises(ReleaseError, match="no manifest.json"):
        publish_layout(tmp_path, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_an_interrupted_copy_leaves_no_partial_file(release_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing leaves the files written so far complete, no temporary file, no
    manifest naming a missing file, and the listing as it was."""
    site = tmp_path / "site"
    calls = []
    real_replace = publish.os.replace

    def failing_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(publish.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        publish_layout(release_dir, site)
    written = _tree(site)
    assert len(written) == 4 and all(not Path(p).name.startswith(".") for p in written)
    assert all(data == (release_dir / Path(p).name).read_bytes() for p, data in written.items())
    assert not (site / "releases.json").exists() and not (site / "25.0.0" / "release_artifacts" / "manifest.json").exists()
    monkeypatch.setattr(publish.os, "replace", real_replace)
    publish_layout(release_dir, site)
    verify_release(site / "25.0.0" / "release_artifacts")


def test_a_killed_run_leaves_temporary_files_that_the_next_run_removes(release_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    stale = site / "25.0.0" / "release_artifacts" / ".idc_index.parquet.4242.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    publish_layout(release_dir, site)
    assert not stale.exists()
