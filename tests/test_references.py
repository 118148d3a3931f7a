"""Segmentations, structure sets and annotations with the series they reference: ``with_references``
on the download methods, ``plan_download`` and the CLI, and ``get_derived_series`` the other way.

The optional indices (seg_index, rtstruct_index, ann_index) are those tests/optional_indices.py
makes from the real v25 index, served over HTTP on 127.0.0.1: each derived series references a
real series of the same study. Expectations are read with pyarrow from the same parquet files.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import serve
from conftest_download import files_on_disk, moto_s3  # noqa: F401  (fixtures)
from idc_index import IDCClient
from idc_index.cli import idc
from idc_index.download import references as refs
from idc_index.download.plan_table import PLAN_COLUMNS
from idc_index.errors import IndexFetchError, UnknownIdentifierError
from idc_testdata import REAL_INDEX
from s3server import IDC_BUCKETS, MotoS3, content

#: The derived modalities, their index and the column naming the referenced series, as the
#: schemas the data package ships describe them.
DERIVED = {"SEG": ("seg_index", "segmented_SeriesInstanceUID"),
           "RTSTRUCT": ("rtstruct_index", "referenced_SeriesInstanceUID"),
           "ANN": ("ann_index", "referenced_SeriesInstanceUID")}
MAIN_COLUMNS = ["collection_id", "PatientID", "StudyInstanceUID", "Modality", "SeriesInstanceUID",
                "crdc_series_uuid", "aws_bucket", "series_size_MB"]
#: No series of v25 has this UID (checked against the index where it is used).
DANGLING = "1.2.826.0.1.3680043.8.498.99999999999999999"


# -- expectations, from the parquet files --------------------------------------------------------
@pytest.fixture(scope="module")
def main() -> dict[str, dict]:
    """The main index's rows by SeriesInstanceUID (the columns a plan is made of)."""
    rows = pq.read_table(REAL_INDEX, columns=MAIN_COLUMNS)
    return {r["SeriesInstanceUID"]: r for r in rows.to_pylist()}


@pytest.fixture(scope="module")
def references(optional_release: tuple[Path, str]) -> dict[str, dict[str, str | None]]:
    """For each derived modality, the referenced series of every derived series, as its index has it."""
    directory, _ = optional_release
    out = {}
    for modality, (name, column) in DERIVED.items():
        t = pq.read_table(directory / f"{name}.parquet", columns=["SeriesInstanceUID", column])
        out[modality] = dict(zip(t["SeriesInstanceUID"].to_pylist(), t[column].to_pylist()))
    return out


def pick(references: dict, main: dict, modality: str, n: int = 1, buckets=None) -> list[tuple[str, str]]:
    """``n`` (derived, referenced) pairs of ``modality`` whose series are both in the main index,
    smallest first (and in ``buckets``, when given), of different studies."""
    pairs = [(d, r) for d, r in references[modality].items()
             if r is not None and d in main and r in main and r != d
             and (buckets is None or {main[d]["aws_bucket"], main[r]["aws_bucket"]} <= set(buckets))]
    pairs.sort(key=lambda p: (main[p[0]]["series_size_MB"] + main[p[1]]["series_size_MB"], p[0]))
    chosen, studies = [], set()
    for d, r in pairs:
        if main[d]["StudyInstanceUID"] not in studies:
            chosen.append((d, r))
            studies.add(main[d]["StudyInstanceUID"])
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"fewer than {n} {modality} series with a referenced series")


def folder(row: dict) -> str:
    """The default dirTemplate's folder of a series (the UIDs and ids of v25 are plain names)."""
    return f"{row['collection_id']}/{row['PatientID']}/{row['StudyInstanceUID']}/{row['Modality']}_{row['SeriesInstanceUID']}"


def item(row: dict) -> dict:
    """The plan row of a whole series under the default dirTemplate, from AWS."""
    return {"bucket": row["aws_bucket"], "prefix": row["crdc_series_uuid"] + "/", "key": None,
            "size": round(row["series_size_MB"] * 1e6), "destination": folder(row),
            "collection_id": row["collection_id"], "SeriesInstanceUID": row["SeriesInstanceUID"],
            "SOPInstanceUID": None}


def series_of(plan) -> list[str]:
    return plan.table["SeriesInstanceUID"].to_pylist()


# -- clients ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(optional_release: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> IDCClient:
    """A client that fetches optional indices from the local release site, none fetched yet."""
    return IDCClient(cache_dir=tmp_path_factory.mktemp("refs-cache"), release_base_url=optional_release[1],
                     optimize_index=False)


@pytest.fixture(scope="module")
def dangling_site(optional_release: tuple[Path, str], references: dict, main: dict,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A release site whose seg_index has one reference to a series IDC does not have and one
    SEG series with no reference; yields its URL and those two SEG series."""
    assert DANGLING not in main
    (dangling_seg, _), (unknown_seg, _) = pick(references, main, "SEG", 2)
    out = tmp_path_factory.mktemp("dangling-site")
    for name in ("rtstruct_index", "ann_index"):
        shutil.copy(optional_release[0] / f"{name}.parquet", out)
    seg = pq.read_table(optional_release[0] / "seg_index.parquet")
    uids = seg["SeriesInstanceUID"]
    column = seg["segmented_SeriesInstanceUID"]
    column = pc.if_else(pc.equal(uids, dangling_seg), pa.scalar(DANGLING), column)
    column = pc.if_else(pc.equal(uids, unknown_seg), pa.scalar(None, pa.string()), column)
    seg = seg.set_column(seg.schema.get_field_index("segmented_SeriesInstanceUID"), "segmented_SeriesInstanceUID",
                         column)
    pq.write_table(seg, out / "seg_index.parquet")
    for url in serve(out):
        yield url, dangling_seg, unknown_seg


# -- with_references ------------------------------------------------------------------------------
def test_a_segmentation_brings_the_series_it_segments_only_when_asked(client, references, main, tmp_path):
    ((seg, image),) = pick(references, main, "SEG")
    alone = client.plan_download(tmp_path, seriesInstanceUID=seg)
    assert series_of(alone) == [seg] and alone.references is None and alone.summary.references == 0
    assert "references" not in repr(alone)

    plan = client.plan_download(tmp_path, seriesInstanceUID=seg, with_references=True)
    assert plan.table.column_names == list(PLAN_COLUMNS)
    assert plan.table.to_pylist() == [item(main[seg]), item(main[image])]
    assert plan.references.added == (image,) and plan.summary.references == 1
    assert plan.references.table.to_pylist() == [
        {"SeriesInstanceUID": image, "referenced_by": seg, "referenced_by_modality": "SEG",
         "index_name": "seg_index", "status": "added"}]
    assert plan.series == 2 and "2 series (1 as references)" in repr(plan)
    assert "as references" in plan._repr_html_()
    assert client.indices_overview["seg_index"]["installed"]


def test_a_referenced_series_already_selected_is_planned_once(client, references, main, tmp_path):
    ((seg, image),) = pick(references, main, "SEG")
    plan = client.plan_download(tmp_path, seriesInstanceUID=[image, seg], with_references=True)
    assert series_of(plan) == [image, seg] or series_of(plan) == [seg, image]
    assert plan.references.selected == (image,) and plan.references.added == ()
    assert plan.summary.references == 0

    # The whole study: its image series are in the selection, so nothing is added twice.
    study = main[seg]["StudyInstanceUID"]
    in_study = {u for u, r in main.items() if r["StudyInstanceUID"] == study}
    whole = client.download_dicom_studies(study, tmp_path, dry_run=True, with_references=True).plan
    assert sorted(series_of(whole)) == sorted(in_study)
    derived = {u for u in in_study if main[u]["Modality"] in DERIVED}
    assert set(whole.references.table["referenced_by"].to_pylist()) == derived
    expected_added = {references[main[u]["Modality"]].get(u) for u in derived} - in_study - {None}
    assert set(whole.references.added) == {u for u in expected_added if u in main}


@pytest.mark.parametrize("modality", ["RTSTRUCT", "ANN"])
def test_structure_sets_and_annotations_bring_their_series(client, references, main, modality, tmp_path):
    pairs = pick(references, main, modality, 2)
    derived = [d for d, _ in pairs]
    plan = client.plan_download(tmp_path, seriesInstanceUID=derived, with_references=True,
                                dirTemplate="%Modality_%SeriesInstanceUID")
    added = [r for _, r in pairs]
    assert sorted(series_of(plan)) == sorted(derived + added)
    assert sorted(plan.references.added) == sorted(added)
    index_name, _ = DERIVED[modality]
    assert set(plan.references.table["index_name"].to_pylist()) == {index_name}
    assert set(plan.references.table["referenced_by_modality"].to_pylist()) == {modality}
    destinations = dict(zip(series_of(plan), plan.table["destination"].to_pylist()))
    for uid in added:
        assert destinations[uid] == f"{main[uid]['Modality']}_{uid}"


def test_many_series_are_matched_as_the_rows_come_with_the_same_result(client, references, main, monkeypatch,
                                                                       tmp_path):
    pairs = pick(references, main, "SEG", 3) + pick(references, main, "RTSTRUCT", 2)
    derived = [d for d, _ in pairs]
    by_value = client.plan_download(tmp_path, seriesInstanceUID=derived, with_references=True)
    monkeypatch.setattr(refs, "LISTED", 0)
    scanned = client.plan_download(tmp_path, seriesInstanceUID=derived, with_references=True)
    assert scanned.table.equals(by_value.table)
    assert scanned.references.table.equals(by_value.references.table)
    assert sorted(by_value.references.added) == sorted({r for _, r in pairs})


def test_a_selection_without_derived_series_fetches_nothing(main, references, tmp_path, monkeypatch):
    monkeypatch.setenv("IDC_RELEASE_BASE_URL", "http://127.0.0.1:9")  # nothing can be fetched
    offline = IDCClient(cache_dir=tmp_path / "cache", optimize_index=False)
    ((seg, image),) = pick(references, main, "SEG")
    plan = offline.plan_download(tmp_path, seriesInstanceUID=image, with_references=True)
    assert series_of(plan) == [image] and plan.references.table.num_rows == 0
    assert not any(offline.indices_overview[n]["installed"] for n, _ in DERIVED.values())
    with pytest.raises(IndexFetchError, match=r"seg_index names the series that the 1 SEG series .*with_references"):
        offline.plan_download(tmp_path, seriesInstanceUID=seg, with_references=True)
    assert series_of(offline.plan_download(tmp_path, seriesInstanceUID=seg)) == [seg]


def test_a_dangling_reference_is_a_warning_and_recorded(dangling_site, tmp_path, caplog):
    url, dangling_seg, unknown_seg = dangling_site
    c = IDCClient(cache_dir=tmp_path / "cache", release_base_url=url, optimize_index=False)
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        report = c.download_dicom_series([dangling_seg, unknown_seg], tmp_path / "d", dry_run=True,
                                         with_references=True)
    plan = report.plan
    assert sorted(series_of(plan)) == sorted([dangling_seg, unknown_seg])
    assert plan.references.missing == (DANGLING,) and plan.references.unknown == (unknown_seg,)
    rows = {r["referenced_by"]: r for r in plan.references.table.to_pylist()}
    assert rows[dangling_seg]["SeriesInstanceUID"] == DANGLING and rows[dangling_seg]["status"] == "missing"
    assert rows[unknown_seg]["SeriesInstanceUID"] is None and rows[unknown_seg]["status"] == "unknown"
    assert DANGLING in caplog.text and unknown_seg in caplog.text
    assert "references not in the index" in plan._repr_html_()


def test_shards_keep_the_references_of_their_series(client, references, main, tmp_path):
    pairs = pick(references, main, "SEG", 4)
    plan = client.plan_download(tmp_path, seriesInstanceUID=[d for d, _ in pairs], with_references=True)
    assert plan.summary.references == 4
    parts = plan.shard(3)
    added = set(plan.references.added)
    for part in parts:
        held = set(series_of(part))
        assert part.references is not None
        assert set(part.references.added) <= held | {r for d, r in pairs if d in held}
        assert part.summary.references == len(held & added)
    assert set().union(*(p.references.added for p in parts)) == added
    assert sum(p.summary.references for p in parts) == plan.summary.references

    # A download's shard keeps them too.
    shard = client.download_from_selection(tmp_path / "s", seriesInstanceUID=[d for d, _ in pairs], dry_run=True,
                                           with_references=True, shard="1/2").plan
    assert shard.summary.references == len(set(series_of(shard)) & added)
    assert set(shard.references.added) & set(series_of(shard)) == set(series_of(shard)) & added


def test_a_dry_run_reports_the_series_that_came_in_as_references(client, references, main, tmp_path, caplog):
    ((seg, image),) = pick(references, main, "SEG")
    dest = tmp_path / "dry"
    with caplog.at_level(logging.INFO, logger="idc_index"):
        report = client.download_dicom_series(seg, dest, dry_run=True, with_references=True)
    assert report.dry_run and report.plan.references.added == (image,)
    size = round(main[seg]["series_size_MB"] * 1e6) + round(main[image]["series_size_MB"] * 1e6)
    assert report.plan.bytes_total == size
    assert report.summary().startswith("dry run: 2 series (1 as references), ")
    assert "1 as references" in report._repr_html_()
    assert "1 of the series come in as references" in caplog.text
    assert not dest.exists()


def test_a_manifest_brings_the_series_its_segmentations_reference(client, references, main, tmp_path):
    ((seg, image),) = pick(references, main, "SEG")
    row = main[seg]
    manifest = tmp_path / "m.s5cmd"
    manifest.write_text(f"cp s3://{row['aws_bucket']}/{row['crdc_series_uuid']}/* .\n")
    report = client.download_from_manifest(manifest, tmp_path / "d", dry_run=True, with_references=True)
    assert series_of(report.plan) == [seg, image] and report.plan.references.added == (image,)
    plain = client.download_from_manifest(manifest, tmp_path / "d", dry_run=True)
    assert series_of(plain.plan) == [seg] and plain.plan.references is None


def test_with_references_takes_only_true_or_false(client, references, main, tmp_path):
    ((seg, _),) = pick(references, main, "SEG")
    calls = [
        lambda v: client.download_from_selection(tmp_path, seriesInstanceUID=seg, dry_run=True, with_references=v),
        lambda v: client.download_dicom_series(seg, tmp_path, dry_run=True, with_references=v),
        lambda v: client.plan_download(tmp_path, seriesInstanceUID=seg, with_references=v),
        lambda v: client.download_from_manifest(tmp_path / "none.s5cmd", tmp_path, dry_run=True, with_references=v),
    ]
    for call in calls:
        for value in ("yes", 1, None):
            with pytest.raises(TypeError, match="with_references must be True or False"):
                call(value)
    with pytest.raises(UnknownIdentifierError):
        client.plan_download(tmp_path, seriesInstanceUID=DANGLING, with_references=True)


def test_the_shortcuts_show_with_references():
    import inspect

    for name in ("download_dicom_series", "download_dicom_studies", "download_dicom_patients",
                 "download_collection", "download_analysis_result", "download_dicom_instance"):
        assert "with_references" in inspect.signature(getattr(IDCClient, name)).parameters, name


# -- the command line -----------------------------------------------------------------------------
def test_the_cli_flag(optional_release, references, main, tmp_path, monkeypatch):
    monkeypatch.setenv("IDC_RELEASE_BASE_URL", optional_release[1])
    monkeypatch.setenv("IDC_INDEX_CACHE_DIR", str(tmp_path / "cache"))
    ((seg, image),) = pick(references, main, "SEG")

    def run(*args: str):
        out = CliRunner().invoke(idc, ["--no-optimize-index", *args], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        return out.output

    dest = str(tmp_path / "d")
    with_refs = run("download-from-selection", "--series-instance-uid", seg, "--download-dir", dest, "--dry-run",
                    "--with-references")
    assert "dry run: 2 series (1 as references)" in with_refs
    assert "dry run: 1 series, " in run("download-from-selection", "--series-instance-uid", seg,
                                        "--download-dir", dest, "--dry-run")
    assert "dry run: 2 series (1 as references)" in run("download", seg, "--download-dir", dest, "--dry-run",
                                                         "--with-references")
    run("plan", seg, "--out", str(tmp_path / "plan"), "--with-references")
    summary = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert summary["series"] == 2 and summary["references"] == 1
    assert main[image]["crdc_series_uuid"] in (tmp_path / "plan" / "shard-0.s5cmd").read_text()


# -- the other way: derived series of an image series ---------------------------------------------
def test_get_derived_series_lists_what_references_an_image_series(client, references, main):
    ((_, ct),) = pick(references, main, "RTSTRUCT")
    ((_, slide),) = pick(references, main, "ANN")
    derived = client.get_derived_series([ct, slide])
    expected = sorted(
        (image, uid, DERIVED[modality][0])
        for modality, pairs in references.items() for uid, image in pairs.items() if image in (ct, slide)
    )
    got = sorted(zip(derived["referenced_SeriesInstanceUID"], derived["SeriesInstanceUID"], derived["index_name"]))
    assert got == expected and len(expected) >= 2
    for row in derived.to_dict("records"):
        assert row["Modality"] == main[row["SeriesInstanceUID"]]["Modality"]
        assert row["collection_id"] == main[row["SeriesInstanceUID"]]["collection_id"]
    assert {"SEG", "RTSTRUCT"} & set(derived["Modality"]) and "ANN" in set(derived["Modality"])

    nothing = next(u for u, r in main.items() if r["Modality"] == "SEG")
    assert client.get_derived_series(nothing).empty


def test_get_derived_series_refuses_unknown_series_and_non_strings(client):
    with pytest.raises(UnknownIdentifierError, match=DANGLING):
        client.get_derived_series(DANGLING)
    with pytest.raises(TypeError, match="seriesInstanceUID must be a string or list of strings"):
        client.get_derived_series(42)


# -- a real download -------------------------------------------------------------------------------
def test_a_segmentation_downloads_with_its_image_series(client, references, main, moto_s3: MotoS3, tmp_path):
    ((seg, image),) = pick(references, main, "SEG", buckets=IDC_BUCKETS)
    expected = {}
    for n, uid in enumerate((seg, image)):
        row = main[uid]
        for k in range(2):
            name = f"00000000-0000-4000-8000-{n:06d}{k:06d}.dcm"
            data = content(1000 * n + k, 3_000 + 1_000 * k)
            moto_s3.put(row["aws_bucket"], f"{row['crdc_series_uuid']}/{name}", data)
            expected[tmp_path / folder(row) / name] = data
    report = client.download_dicom_series(seg, tmp_path, endpoint_url=moto_s3.endpoint, show_progress_bar=False,
                                          with_references=True)
    assert report.ok and set(files_on_disk(tmp_path)) == set(expected)
    assert all(p.read_bytes() == d for p, d in expected.items())
    assert {f.series_instance_uid for f in report.files} == {seg, image}
    assert report.plan.references.added == (image,)
    assert "1 series came in as references" in report.summary()
