"""What IDC changed between releases (``release_changes``, ``idc changes``), against the real v25
indices of idc-index-data. The expected changes are worked out here, row by row in Python over
the same parquet files, from what the indices record: a series served in release F is one whose
current version was (``series_revised_idc_version <= F``), whose earlier version was (a row of
prior_versions_index covering F), or that had appeared by then (``series_init_idc_version <= F``)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import manifest_entry, serve
from idc_index import IDCVersionError, IndexFetchError, UnknownIdentifierError
from idc_testdata import DATA_PACKAGE_DIR, REAL_INDEX

PRIOR = DATA_PACKAGE_DIR / "prior_versions_index.parquet"
CURRENT = 25
KEY = ["change", "SeriesInstanceUID", "change_idc_version", "crdc_series_uuid", "previous_crdc_series_uuid"]
SERIES_COLUMNS = [
    "change", "collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "change_idc_version", "crdc_series_uuid", "previous_crdc_series_uuid", "series_size_MB",
    "previous_series_size_MB",
]
LEVELS = {"collection_id": "collection_id", "patientId": "PatientID", "studyInstanceUID": "StudyInstanceUID",
          "seriesInstanceUID": "SeriesInstanceUID"}


# -- expectations, from the parquet files -------------------------------------------------------
@functools.cache
def prior_rows() -> list[dict[str, Any]]:
    return pq.read_table(PRIOR).to_pylist()


@functools.cache
def index_table() -> pa.Table:
    return pq.read_table(REAL_INDEX, columns=[
        "collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "crdc_series_uuid",
        "series_size_MB", "series_init_idc_version", "series_revised_idc_version"])


def current_uids() -> pa.ChunkedArray:
    return index_table()["SeriesInstanceUID"]


@functools.cache
def expected(first: int, column: str | None = None, values: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every series changed since IDC ``first``, worked out from the parquet files; with
    ``column``, those that ``values`` of it identify now or identified in ``first``."""
    served: dict[str, dict[str, Any]] = {}
    last_served: dict[str, int] = defaultdict(int)
    for row in prior_rows():
        uid = row["SeriesInstanceUID"]
        last_served[uid] = max(last_served[uid], row["max_idc_version"])
        if row["min_idc_version"] <= first <= row["max_idc_version"]:
            served[uid] = row
    index = index_table()
    newer = index.filter(pc.greater(index["series_revised_idc_version"], first))
    selected = served
    if column is not None:
        selected = {uid: r for uid, r in served.items() if r[column] in values}
        newer = newer.filter(pc.or_(pc.is_in(newer[column], value_set=pa.array(values, pa.string())),
                                    pc.is_in(newer["SeriesInstanceUID"], value_set=pa.array(list(selected), pa.string()))))
    rows = []
    for r in newer.to_pylist():
        before = served.get(r["SeriesInstanceUID"])
        added = r["series_init_idc_version"] > first and before is None
        rows.append({
            "change": "added" if added else "revised",
            **{c: r[c] for c in ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")},
            "change_idc_version": r["series_init_idc_version"] if added else r["series_revised_idc_version"],
            "crdc_series_uuid": r["crdc_series_uuid"], "series_size_MB": r["series_size_MB"],
            "previous_crdc_series_uuid": before["crdc_series_uuid"] if before else None,
            "previous_series_size_MB": before["series_size_MB"] if before else None,
        })
    uids = pa.array(list(selected), pa.string())
    gone = uids.filter(pc.invert(pc.is_in(uids, value_set=current_uids()))).to_pylist()
    for uid in gone:
        before = served[uid]
        rows.append({
            "change": "removed",
            **{c: before[c] for c in ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")},
            "change_idc_version": last_served[uid] + 1, "crdc_series_uuid": None, "series_size_MB": None,
            "previous_crdc_series_uuid": before["crdc_series_uuid"], "previous_series_size_MB": before["series_size_MB"],
        })
    return rows


def served_in(first: int) -> list[dict[str, Any]]:
    """The rows of prior_versions_index that release ``first`` served."""
    return [r for r in prior_rows() if r["min_idc_version"] <= first <= r["max_idc_version"]]


def keys(rows: Any) -> Counter[tuple[Any, ...]]:
    """The rows as a multiset of their identifying values (pandas' missing values as None)."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    return Counter(tuple(r[c] for c in KEY) for r in rows)


def counts_by_collection(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r["collection_id"], {"added": 0, "revised": 0, "removed": 0, "download_MB": 0.0})
        entry[r["change"]] += 1
        entry["download_MB"] += r["series_size_MB"] or 0.0
    return out


# -- the series -------------------------------------------------------------------------------
@pytest.mark.parametrize("first", [20, 24])
def test_every_change_since_a_release_is_listed(plain_client, first: int) -> None:
    changes = plain_client.release_changes(from_version=first)
    want = expected(first)
    assert list(changes.columns) == SERIES_COLUMNS
    assert keys(changes) == keys(want)
    assert {"added", "revised", "removed"} == set(changes["change"])
    # The other columns come with their series.
    by_uid = {(r["change"], r["SeriesInstanceUID"]): r for r in want}
    for row in changes.sample(200, random_state=first).to_dict("records"):
        other = by_uid[(row["change"], row["SeriesInstanceUID"])]
        for column in ("collection_id", "PatientID", "StudyInstanceUID", "Modality"):
            assert row[column] == other[column]
        for column in ("series_size_MB", "previous_series_size_MB"):
            assert (pd.isna(row[column]) and other[column] is None) or row[column] == pytest.approx(other[column])


def test_what_each_kind_of_change_holds(plain_client) -> None:
    changes = plain_client.release_changes(20)
    added, revised, removed = (changes[changes["change"] == c] for c in ("added", "revised", "removed"))
    assert len(added) and len(revised) and len(removed)
    assert added["previous_crdc_series_uuid"].isna().all() and added["crdc_series_uuid"].notna().all()
    assert (added["change_idc_version"] > 20).all() and (revised["change_idc_version"] > 20).all()
    known = revised.dropna(subset=["previous_crdc_series_uuid"])
    assert len(known) and (known["previous_crdc_series_uuid"] != known["crdc_series_uuid"]).all()
    assert removed["crdc_series_uuid"].isna().all() and removed["series_size_MB"].isna().all()
    assert removed["previous_crdc_series_uuid"].notna().all()
    assert not pc.any(pc.is_in(current_uids(), value_set=pa.array(removed["SeriesInstanceUID"].tolist()))).as_py()
    # Added first, then revised, then removed; each by collection, patient, study, series.
    order = {"added": 0, "revised": 1, "removed": 2}
    sort_key = [(order[r[0]], *r[1:]) for r in changes[["change", "collection_id", "PatientID", "StudyInstanceUID",
                                                         "SeriesInstanceUID"]].itertuples(index=False)]
    assert sort_key == sorted(sort_key)
    assert changes["SeriesInstanceUID"].is_unique


def test_a_series_removed_and_added_again_counts_as_revised(plain_client) -> None:
    first = 5
    served = {r["SeriesInstanceUID"] for r in served_in(first)}
    index = index_table()
    later = index.filter(pc.greater(index["series_init_idc_version"], first))["SeriesInstanceUID"].to_pylist()
    back = sorted(set(later) & served)
    assert back, "the v25 index has series that IDC removed and added again"
    changes = plain_client.release_changes(first, seriesInstanceUID=back[:20])
    assert list(changes["change"]) == ["revised"] * len(back[:20])
    assert changes["previous_crdc_series_uuid"].notna().all()


def test_nothing_changed_since_the_release_in_use(plain_client) -> None:
    for version in (CURRENT, f"v{CURRENT}"):
        changes = plain_client.release_changes(version)
        assert changes.empty and list(changes.columns) == SERIES_COLUMNS
        counts = plain_client.release_changes(version, by_collection=True)
        assert counts.empty and list(counts.columns) == ["collection_id", "added", "revised", "removed", "download_MB"]


@pytest.mark.parametrize("version", [24, "24", "v24", " V24 ", np.int64(24)])
def test_a_version_is_a_number_or_a_text(plain_client, version: Any) -> None:
    changes = plain_client.release_changes(version, to_version=CURRENT, collection_id="tcga_luad")
    assert keys(changes) == keys(expected(24, "collection_id", ("tcga_luad",)))
    assert plain_client.release_changes(version, f"v{CURRENT}", collection_id="tcga_luad").equals(changes)


@pytest.mark.parametrize("first", [2, 3, 9, 13, 18])
def test_changes_since_early_releases(plain_client, first: int) -> None:
    """Since releases whose changes span most of IDC, for the collections that lost series."""
    gone = pc.invert(pc.is_in(pa.array([r["SeriesInstanceUID"] for r in served_in(first)], pa.string()),
                              value_set=current_uids()))
    collections = tuple(sorted({r["collection_id"] for r, g in zip(served_in(first), gone.to_pylist()) if g})[:3])
    changes = plain_client.release_changes(first, collection_id=list(collections))
    want = expected(first, "collection_id", collections)
    assert keys(changes) == keys(want)
    assert "removed" in set(changes["change"])


# -- counts by collection ---------------------------------------------------------------------
@pytest.mark.parametrize("first", [20, 24])
def test_counts_by_collection(plain_client, first: int) -> None:
    counts = plain_client.release_changes(first, by_collection=True)
    assert list(counts.columns) == ["collection_id", "added", "revised", "removed", "download_MB"]
    assert list(counts["collection_id"]) == sorted(counts["collection_id"])
    want = counts_by_collection(expected(first))
    assert set(counts["collection_id"]) == set(want)
    for row in counts.to_dict("records"):
        other = want[row["collection_id"]]
        assert (row["added"], row["revised"], row["removed"]) == (other["added"], other["revised"], other["removed"])
        assert row["download_MB"] == pytest.approx(other["download_MB"], rel=1e-9)
    # The same numbers as the list of series, counted.
    series = plain_client.release_changes(first)
    counted = series.groupby(["collection_id", "change"]).size().unstack(fill_value=0)
    for row in counts.to_dict("records"):
        for change in ("added", "revised", "removed"):
            assert row[change] == counted.loc[row["collection_id"]].get(change, 0)


# -- selections -------------------------------------------------------------------------------
def _pick(rows: list[dict[str, Any]], change: str, column: str, n: int) -> list[str]:
    return sorted({r[column] for r in rows if r["change"] == change})[:n]


@pytest.mark.parametrize("argument", ["collection_id", "patientId", "studyInstanceUID", "seriesInstanceUID"])
def test_a_selection_narrows_the_changes(plain_client, argument: str) -> None:
    column = LEVELS[argument]
    rows = expected(20)
    values = _pick(rows, "added", column, 2) + _pick(rows, "revised", column, 2) + _pick(rows, "removed", column, 2)
    changes = plain_client.release_changes(20, **{argument: values})
    want = expected(20, column, tuple(values))
    assert keys(changes) == keys(want)
    assert {"added", "revised", "removed"} <= set(changes["change"])
    counts = plain_client.release_changes(20, by_collection=True, **{argument: values})
    assert dict(zip(counts["collection_id"], counts["removed"])) == {
        c: v["removed"] for c, v in counts_by_collection(want).items()}


def test_unchanged_series_are_selected_but_not_listed(plain_client) -> None:
    index = index_table()
    unchanged = index.filter(pc.less_equal(index["series_revised_idc_version"], 20))["SeriesInstanceUID"]
    picked = unchanged.slice(0, 3).to_pylist()
    revised = _pick(expected(20), "revised", "SeriesInstanceUID", 1)
    changes = plain_client.release_changes(20, seriesInstanceUID=picked + revised)
    assert list(changes["SeriesInstanceUID"]) == revised


def test_portal_names_and_removed_collections(plain_client) -> None:
    by_name = plain_client.release_changes(20, collection_id="TCGA-LUAD")
    assert keys(by_name) == keys(expected(20, "collection_id", ("tcga_luad",)))
    current = set(pc.unique(index_table()["collection_id"]).to_pylist())
    gone = sorted({r["collection_id"] for r in prior_rows()} - current)
    assert gone, "the v25 indices have a collection that IDC no longer has"
    for collection in gone:
        first = min(r["min_idc_version"] for r in prior_rows() if r["collection_id"] == collection)
        changes = plain_client.release_changes(first, collection_id=collection)
        assert len(changes), collection
        assert keys(changes) == keys(expected(first, "collection_id", (collection,)))


def test_a_series_is_selected_by_its_collection_then_or_now(plain_client) -> None:
    index = index_table()
    now = dict(zip(index["SeriesInstanceUID"].to_pylist(), index["collection_id"].to_pylist()))
    moved = [r for r in prior_rows() if now.get(r["SeriesInstanceUID"], r["collection_id"]) != r["collection_id"]]
    assert moved, "the v25 indices have a series that moved to another collection"
    first, uid = moved[0]["min_idc_version"], moved[0]["SeriesInstanceUID"]
    then, later = moved[0]["collection_id"], now[uid]
    for collection in (then, later):
        changes = plain_client.release_changes(first, collection_id=collection)
        assert keys(changes) == keys(expected(first, "collection_id", (collection,)))
        row = changes[changes["SeriesInstanceUID"] == uid]
        assert list(row["change"]) == ["revised"] and list(row["collection_id"]) == [later]


def test_the_most_specific_identifier_selects(plain_client) -> None:
    uid = _pick(expected(20), "revised", "SeriesInstanceUID", 1)
    changes = plain_client.release_changes(20, collection_id="tcga_luad", seriesInstanceUID=uid)
    assert list(changes["SeriesInstanceUID"]) == uid


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(("arguments", "message"), [
    ({"from_version": 0}, r"from_version=0 is no IDC release: IDC versions run from v1 .* to v25"),
    ({"from_version": "v0"}, r"from_version=0 is no IDC release"),
    ({"from_version": -3}, r"from_version=-3 is no IDC release"),
    ({"from_version": 26}, r"from_version=v26 is after to_version=v25: from_version is the earlier release"),
    ({"from_version": 20, "to_version": 26}, (r"to_version=v26 is newer than the release this client has open "
                                              r"\(v25\)\. Open a newer index release with IDCClient\(release='current'\)")),
    ({"from_version": 20, "to_version": 24}, (r"to_version=v24: .* this client has v25 open\. Open an index release "
                                              r"of IDC v24 with IDCClient\(release=\.\.\.\)")),
    ({"from_version": 20, "to_version": 0}, r"to_version=0 is no IDC release"),
    ({"from_version": 24, "to_version": 20}, r"to_version=v20: "),
    ({"from_version": "20.0.0"}, r"'20\.0\.0' is not an IDC version: write it as a number such as 20 or as 'v20'"),
    ({"from_version": "twenty"}, r"'twenty' is not an IDC version"),
    ({"from_version": "-3"}, r"'-3' is not an IDC version"),
])
def test_versions_that_do_not_exist(plain_client, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(IDCVersionError, match=message) as caught:
        plain_client.release_changes(**arguments)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"from_version": 20.0}, r"from_version must be an IDC version, a number such as 20 .* got float 20\.0"),
    ({"from_version": True}, r"from_version must be an IDC version.*got bool True"),
    ({"from_version": None}, r"from_version must be an IDC version.*got None"),
    ({"from_version": [20]}, r"from_version must be an IDC version.*got list"),
    ({"from_version": 20, "to_version": 25.0}, r"to_version must be an IDC version"),
    ({"from_version": 20, "collection_id": 5}, r"collection_id must be a string or list of strings"),
    ({"from_version": 20, "seriesInstanceUID": ["1.2", 3]}, r"seriesInstanceUID must be a string .* item 1"),
    ({"from_version": 20, "by_collection": "yes"}, r"by_collection must be True or False, got str"),
])
def test_wrong_types(plain_client, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        plain_client.release_changes(**arguments)


def test_unknown_identifiers(plain_client) -> None:
    with pytest.raises(UnknownIdentifierError, match=r"'tcga_luadd' \(closest: 'tcga_luad'"):
        plain_client.release_changes(20, collection_id=["tcga_luad", "tcga_luadd"])
    uid = _pick(expected(20), "removed", "SeriesInstanceUID", 1)[0]
    typo = uid[:-1] + ("0" if uid[-1] != "0" else "1")
    with pytest.raises(UnknownIdentifierError, match=rf"'{typo}' \(closest: '{uid}'\) is not in IDC v25 or its earlier "
                                                     r"releases \(index, prior_versions_index\)"):
        plain_client.release_changes(20, seriesInstanceUID=[uid, typo])
    with pytest.raises(ValueError, match="patientId is an empty list"):
        plain_client.release_changes(20, patientId=[])


# -- prior_versions_index fetched where it is not installed ------------------------------------
@pytest.fixture(scope="module")
def release_without_prior_versions(tmp_path_factory: pytest.TempPathFactory):
    """A release directory of two collections whose prior_versions_index is published over HTTP,
    and the URL it is published at."""
    out = tmp_path_factory.mktemp("changes-release")
    published = tmp_path_factory.mktemp("changes-published")
    main = pq.read_table(REAL_INDEX)
    main = main.filter(pc.is_in(main["collection_id"], pa.array(["tcga_luad", "ccdi_mci"])))
    pq.write_table(main, out / "idc_index.parquet")
    shutil.copy(PRIOR, published / PRIOR.name)
    manifest = {
        "format": "idc-index-release/1", "idc_version": 25, "release": "25.0.0-changes",
        "created": "2026-11-25T00:00:00Z", "builder": {"name": "tests", "version": "0"},
        "indices": {
            "idc_index": manifest_entry(out / "idc_index.parquet", "two collections of v25"),
            "prior_versions_index": manifest_entry(published / PRIOR.name, "earlier versions of series"),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    for url in serve(published):
        yield out, url


def test_prior_versions_index_is_fetched_when_not_installed(release_without_prior_versions, tmp_path: Path) -> None:
    from idc_index import IDCClient

    directory, url = release_without_prior_versions
    client = IDCClient(directory, cache_dir=tmp_path, release_base_url=url, optimize_index=False)
    assert not client.indices_overview["prior_versions_index"]["installed"]
    changes = client.release_changes(20, collection_id=["tcga_luad", "ccdi_mci"])
    assert client.indices_overview["prior_versions_index"]["installed"]
    assert keys(changes) == keys(expected(20, "collection_id", ("tcga_luad", "ccdi_mci")))


def test_no_answer_without_prior_versions_index(release_without_prior_versions, tmp_path: Path) -> None:
    from idc_index import IDCClient

    directory, _ = release_without_prior_versions
    client = IDCClient(directory, cache_dir=tmp_path, release_base_url="http://127.0.0.1:9", optimize_index=False)
    with pytest.raises(IndexFetchError, match="prior_versions_index"):
        client.release_changes(20)


# -- the command line -------------------------------------------------------------------------
def idc(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("idc")
    cmd = [exe] if exe else [sys.executable, "-m", "idc_index.cli"]
    env = {**os.environ, "IDC_INDEX_CACHE_DIR": str(cache)}
    return subprocess.run([*cmd, "--no-optimize-index", *args], check=False, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_cli_prints_counts_and_writes_the_list(tmp_path: Path, suffix: str) -> None:
    out_file = tmp_path / f"changes{suffix}"
    collections = ["ccdi_mci", "htan_wustl", "tcga_luad"]
    run = idc("changes", "--from", "v20", "--collection-id", ",".join(collections), "--format", "json",
              "--out", str(out_file), cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    want = expected(20, "collection_id", tuple(collections))
    counts = counts_by_collection(want)
    printed = json.loads(run.stdout)
    assert [r["collection_id"] for r in printed] == collections
    for row in printed:
        other = counts[row["collection_id"]]
        assert (row["added"], row["revised"], row["removed"]) == (other["added"], other["revised"], other["removed"])
        assert row["download_GB"] == round(other["download_MB"] / 1000, 2)
    kinds = Counter(r["change"] for r in want)
    assert (f"IDC v20 to v25: {kinds['added']} added, {kinds['revised']} revised, {kinds['removed']} removed series "
            "in 3 collection(s)") in run.stderr
    if suffix == ".csv":
        written = pd.read_csv(out_file, dtype=str)
        written["change_idc_version"] = written["change_idc_version"].astype(int)
    elif suffix == ".parquet":
        written = pd.read_parquet(out_file)
    else:
        written = pd.DataFrame(json.loads(out_file.read_text()))
    assert list(written.columns) == SERIES_COLUMNS
    assert keys(written) == keys(want)
    assert f"{out_file}: {len(want)} series" in run.stderr
    assert not list(tmp_path.glob(".*.part"))


def test_cli_table(tmp_path: Path) -> None:
    run = idc("changes", "--from", "24", "--series-instance-uid", _pick(expected(24), "removed", "SeriesInstanceUID", 1)[0],
              cache=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["collection_id", "added", "revised", "removed", "download_GB"]
    assert lines[2].split()[1:] == ["0", "0", "1", "0.0"]
    assert "0 added, 0 revised, 1 removed series in 1 collection(s)" in run.stderr


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--from", "30"], 1, "Error: --from v30 is after --to v25"),
    (["--from", "20", "--to", "24"], 1, "Error: --to v24: changes are read from the indices of the release"),
    (["--from", "20.0.0"], 1, "--from '20.0.0' is not an IDC version"),
    (["--from", "20", "--collection-id", "tcga_luadd"], 1, "'tcga_luadd' (closest: 'tcga_luad'"),
    (["--from", "20", "--out", "changes.txt"], 2, "Invalid value for '--out': FILE ends in .csv, .parquet, .json"),
    ([], 2, "Missing option '--from'"),
])
def test_cli_errors(tmp_path: Path, args: list[str], status: int, message: str) -> None:
    run = idc("changes", *args, cache=tmp_path)
    assert run.returncode == status
    assert message in run.stderr
    assert "Traceback" not in run.stderr
