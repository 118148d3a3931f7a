"""Download plans as values: their table, their s5cmd manifest, and their split into shards of
about equal bytes (on the sizes of a real collection of the v25 index, and against the tests'
S3 server for what a shard downloads)."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    moto_s3,
    small_collection,
)
from idc_index.download import DownloadReport, FailedFile, PlanItem
from idc_index.download.plan import Plan
from idc_index.download.s5cmd import read_manifest
from idc_index.download.sharding import parse_shard
from idc_index.errors import IDCError
from s3server import MotoS3, Series


def keys(plan: Plan) -> list[tuple[str, str, str]]:
    return [(i.bucket, i.prefix or i.key or "", i.destination) for i in plan.items]


@pytest.fixture(scope="module")
def nlst(client, tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return client.plan_download(tmp_path_factory.mktemp("nlst"), collection_id="nlst")


def test_shards_of_a_large_collection_are_balanced_disjoint_and_complete(nlst: Plan):
    assert nlst.series > 100_000 and nlst.instances == 0
    shards = nlst.shard(8)
    assert len(shards) == 8
    sizes = [s.bytes_total for s in shards]
    assert max(sizes) <= 1.1 * statistics.mean(sizes)
    assert sum(sizes) == nlst.bytes_total
    every = [k for s in shards for k in keys(s)]
    assert len(every) == len(set(every)) == len(nlst.items)
    assert set(every) == set(keys(nlst))
    # Each shard is a plan of its own, with its items' collections.
    assert all(isinstance(s, Plan) and s.root == nlst.root and set(s.collections) == {"nlst"} for s in shards)


def test_shards_of_a_slide_microscopy_collection_are_balanced_disjoint_and_complete(client, tmp_path):
    # gtex: 25,503 slide series of 0.1 MB to 1.7 GB; none larger than a share of 8, so none split.
    gtex = client.plan_download(tmp_path, collection_id="gtex")
    shards = gtex.shard(8)
    sizes = [s.bytes_total for s in shards]
    assert max(sizes) <= 1.1 * statistics.mean(sizes) and sum(sizes) == gtex.bytes_total
    every = [k for s in shards for k in keys(s)]
    assert len(every) == len(set(every)) == gtex.series and set(every) == set(keys(gtex))


def test_shards_are_deterministic_whatever_the_order_of_the_items(nlst: Plan):
    first = [keys(s) for s in nlst.shard(5)]
    assert [keys(s) for s in nlst.shard(5)] == first
    reordered = Plan.measure(list(reversed(nlst.items)), nlst.root, nlst.location)
    assert [set(keys(s)) for s in reordered.shard(5)] == [set(k) for k in first]


def test_the_table_and_the_totals(client, tmp_path):
    plan = client.plan_download(tmp_path, collection_id=SMALL_COLLECTION, dirTemplate="%PatientID")
    t = plan.table
    assert t.column_names == [
        "bucket", "prefix", "key", "size", "destination", "collection_id", "SeriesInstanceUID", "SOPInstanceUID",
    ]
    (row,) = client.sql(
        f"SELECT COUNT(*) AS n, SUM(series_size_MB) AS mb FROM index WHERE collection_id = '{SMALL_COLLECTION}'"
    ).to_pylist()
    assert t.num_rows == plan.series == row["n"] and plan.instances == 0
    assert sum(t.column("size").to_pylist()) == plan.bytes_total
    assert abs(plan.bytes_total - row["mb"] * 1e6) < row["n"] * 1e4
    assert set(t.column("collection_id").to_pylist()) == {SMALL_COLLECTION}
    assert all(p.endswith("/") for p in t.column("prefix").to_pylist())
    # A dry run's report carries the same kind of value, importable from the package.
    dry = client.download_collection(SMALL_COLLECTION, tmp_path, dry_run=True, dirTemplate="%PatientID")
    assert isinstance(dry.plan, Plan) and keys(dry.plan) == keys(plan)
    import idc_index

    assert idc_index.Plan is Plan and idc_index.DownloadReport is type(dry)


def test_shard_counts_out_of_range_are_refused(client, tmp_path):
    plan = client.plan_download(tmp_path, collection_id=SMALL_COLLECTION)
    for n in (0, plan.series + 1):
        with pytest.raises(ValueError, match="shards"):
            plan.shard(n)
    assert [len(s.items) for s in plan.shard(plan.series)] == [1] * plan.series
    for bad in ("3", "3/3", "-1/2", "a/b"):
        with pytest.raises(ValueError, match="I/N|0 to N-1"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="not both"):
        client.plan_download(tmp_path, collection_id=SMALL_COLLECTION, manifestFile=tmp_path / "m.s5cmd")


def test_a_series_larger_than_a_share_is_split_only_when_its_instances_are_known(tmp_path):
    big = PlanItem.series("b", "big", "c/big", size=900)
    small = [PlanItem.series("b", f"s{i}", f"c/s{i}", size=100) for i in range(3)]
    plan = Plan.measure([big, *small], tmp_path, "aws", ["c"] * 4)
    whole = plan.shard(3)
    assert [s.bytes_total for s in whole] == [900, 200, 100]
    pieces = [PlanItem.instance("b", f"big/{i}.dcm", f"c/big/{i}.dcm", size=300) for i in range(3)]
    split = plan.shard(3, instances=lambda item: pieces if item.prefix == "big/" else [])
    assert sorted(s.bytes_total for s in split) == [400, 400, 400]
    assert sum(s.instances for s in split) == 3 and sum(s.series for s in split) == 3
    # No instances known: the series stays whole.
    assert [keys(s) for s in plan.shard(3, instances=lambda item: [])] == [keys(s) for s in whole]


def test_a_shard_manifest_downloads_exactly_that_shard(client, moto_s3: MotoS3, small_collection: list[Series], tmp_path):
    plan = client.plan_download(tmp_path / "data", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    shard = plan.shard(3)[1]
    manifest = shard.to_manifest(tmp_path / "shard-1.s5cmd", comment="shard 1 of 3")
    text = manifest.read_text()
    assert text.startswith("# shard 1 of 3\n# ")
    lines = read_manifest(manifest).lines
    assert [(line.bucket, line.crdc_series_uuid + "/") for line in lines] == [(i.bucket, i.prefix) for i in shard.items]
    assert all(line.text.endswith(f" {i.destination}/") for line, i in zip(lines, shard.items))

    wanted = {i.series_instance_uid for i in shard.items}
    by_uid = {s.series_instance_uid: s for s in small_collection}
    report = client.download_from_manifest(
        manifest, tmp_path / "data", dirTemplate="%SeriesInstanceUID", endpoint_url=moto_s3.endpoint,
        show_progress_bar=False,
    )
    assert report.ok and isinstance(report.plan, Plan)
    on_disk = files_on_disk(tmp_path / "data")
    assert {p.parent.name for p in on_disk} == wanted
    assert len(on_disk) == sum(len(by_uid[u].objects) for u in wanted)
    # The shard runs as a plan too; a rerun fetches nothing that is already there.
    again = shard.run(endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert isinstance(again, DownloadReport) and again.ok
    assert not again.downloaded and len(again.skipped) == len(on_disk)


def test_a_plan_from_a_manifest(client, small_collection: list[Series], tmp_path: Path):
    manifest = tmp_path / "m.s5cmd"
    manifest.write_text("".join(f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n" for s in small_collection[:4]))
    plan = client.plan_download(tmp_path / "data", manifestFile=manifest)
    assert plan.series == 4 and set(plan.collections) == {SMALL_COLLECTION}
    assert {i.prefix for i in plan.items} == {s.crdc_series_uuid + "/" for s in small_collection[:4]}


#: Values a row may hold, each with the path component it becomes, written out by hand from the rule:
#: separators, control characters and ``<>:"|?*`` become "_", the ends are stripped of spaces
#: (and the end of dots), "", "." and ".." (and NULL) become "_", names Windows reserves get a
#: leading "_", text is NFC and at most 200 bytes of UTF-8.
SAFE_COMPONENT = {
    "plain-1.2.3": "plain-1.2.3",
    "..": "_",
    ".": "_",
    "": "_",
    None: "_",
    "a/b": "a_b",
    "C:\\x": "C__x",
    "con": "_con",
    "CON.txt": "_CON.txt",
    "lpt1": "_lpt1",
    "x.": "x",
    "  y  ": "y",
    "\x00z": "_z",
    "\u00fcn\u00efc\u00f6d\u00e9": "\u00fcn\u00efc\u00f6d\u00e9",
    "e\u0301": "\u00e9",
    "a" * 300: "a" * 200,
    "\u00e9" * 150: "\u00e9" * 100,
    "with space": "with space",
    "tab\there": "tab_here",
    "quote'd": "quote'd",
    "ok_name-1": "ok_name-1",
}
HOSTILE_VALUES = list(SAFE_COMPONENT)
#: The components of the other values of the rows below (plain names, kept as they are).
COMPONENT = {**SAFE_COMPONENT, "c": "c", "1.2": "1.2"}


@pytest.mark.parametrize("value", [v for v in HOSTILE_VALUES if v is not None], ids=lambda v: ascii(v)[:24])
def test_each_value_becomes_the_component_written_out_for_it(value: str):
    from idc_index.download.destinations import sanitize_component

    assert sanitize_component(value) == SAFE_COMPONENT[value]


def one_row_reference(template: str, row: dict) -> str:
    """The documented rule, one row at a time, restated without the code under test: each value
    becomes its component of COMPONENT, folders are split at "/" and empty ones dropped, and
    a folder of more than one attribute or literal is made safe as a whole, which for these
    values (all safe already, joined by "_" or "-") only cuts it to 200 bytes of UTF-8."""
    folders: list[str] = []
    for folder in template.split("/"):
        if not folder:
            continue
        parts = re.split(r"%(collection_id|PatientID|StudyInstanceUID|SeriesInstanceUID|Modality)", folder)
        # re.split alternates literal text and attribute names: [text, name, text, name, text].
        text = "".join(COMPONENT[row[p]] if i % 2 else p for i, p in enumerate(parts))
        folders.append(text.encode()[:200].decode(errors="ignore"))
    return "/".join(folders)


@pytest.mark.parametrize("template", [
    "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID",
    "//%Modality//-/%SeriesInstanceUID/", "%PatientID-%Modality", "-/%PatientID", "_-", "%Modality_",
])
def test_destinations_are_rendered_a_column_at_a_time_as_the_rule_says_for_one_row(template: str):
    import pyarrow as pa
    from idc_index.download.destinations import parse_template, render_destinations

    rows = [
        {"collection_id": "c", "PatientID": a, "StudyInstanceUID": b, "Modality": a, "SeriesInstanceUID": "1.2"}
        for a in HOSTILE_VALUES for b in HOSTILE_VALUES[:6]
    ]
    rendered = render_destinations(parse_template(template), pa.Table.from_pylist(rows)).to_pylist()
    assert rendered == [one_row_reference(template, r) for r in rows]
    for path in rendered:
        assert not path.startswith("/") and ".." not in path.split("/") and "//" not in path


def _row(**values: str | None) -> dict[str, str | None]:
    return {"collection_id": "c", "PatientID": "p", "StudyInstanceUID": "s", "Modality": "CT",
            "SeriesInstanceUID": "1.2", **values}


@pytest.mark.parametrize(("template", "row", "path"), [
    ("%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID",
     _row(PatientID="..", StudyInstanceUID="a/b", Modality="con"), "c/_/a_b/_con_1.2"),
    ("%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID",
     _row(PatientID="\x00z", StudyInstanceUID=None, Modality="e\u0301"), "c/_z/_/\u00e9_1.2"),
    ("//%Modality//-/%SeriesInstanceUID/", _row(Modality=None), "_/-/1.2"),
    ("%PatientID-%Modality", _row(PatientID="  y  ", Modality="x."), "y-x"),
    ("%PatientID-%Modality", _row(PatientID="\u00e9" * 150, Modality="CT"), "\u00e9" * 100),
    ("%PatientID-%Modality", _row(PatientID="a" * 150, Modality="b" * 100), "a" * 150 + "-" + "b" * 49),
    ("-/%PatientID", _row(PatientID="C:\\x"), "-/C__x"),
    ("_-", _row(), "_-"),
    ("%Modality_", _row(Modality="lpt1"), "_lpt1_"),
], ids=["dots-slash-reserved", "nul-null-nfc", "null-empty-folders", "spaces-trailing-dot", "multibyte-cut",
        "joined-cut", "windows-drive", "literal-only", "reserved-joined"])
def test_destinations_of_rows_with_hostile_values_are_the_paths_written_out(template: str, row: dict, path: str):
    import pyarrow as pa
    from idc_index.download.destinations import parse_template, render_destinations

    rows = pa.Table.from_pylist([row, _row()])
    assert render_destinations(parse_template(template), rows).to_pylist()[0] == path


def test_a_manifest_quotes_only_the_destinations_a_shell_would_split(tmp_path: Path):
    import shlex

    items = [
        PlanItem.series("b", "u1", "c/plain.1-2"),
        PlanItem.series("b", "u2", "c/with space"),
        PlanItem.instance("b", "u3/i.dcm", "c/it's.dcm", size=3),
    ]
    path = Plan.measure(items, tmp_path, "aws").to_manifest(tmp_path / "m.s5cmd")
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert lines == [
        "cp s3://b/u1/* c/plain.1-2/",
        "cp s3://b/u2/* 'c/with space/'",
        f"cp s3://b/u3/i.dcm {shlex.quote(chr(99) + '/it' + chr(39) + 's.dcm')}",
    ]
    assert [shlex.split(line)[-1] for line in lines] == ["c/plain.1-2/", "c/with space/", "c/it's.dcm"]


def test_a_download_directory_past_path_max_gets_a_short_message(client, tmp_path):
    too_long = tmp_path / "/".join(["d" * 200] * 30)  # 6,000 characters: past PATH_MAX (4,096)
    with pytest.raises(IDCError, match="cannot be created") as info:
        client.plan_download(too_long, collection_id=SMALL_COLLECTION)
    message = str(info.value)
    assert len(message) < 400, message
    assert message.startswith(f"the download directory {str(tmp_path)[:20]}") and "…" in message


def test_a_report_shows_as_one_line_whatever_its_size(client, tmp_path):
    dry = client.download_collection(SMALL_COLLECTION, tmp_path, dry_run=True)
    assert repr(dry) == f"DownloadReport({dry.summary()})"
    many = DownloadReport(failed=[FailedFile("b", f"k{i}", None, "not_found", "gone") for i in range(5000)])
    assert repr(many) == "DownloadReport(0 files downloaded (0 B in 0.0 s), 0 already present, " \
                         "5000 failed (5000 not_found))"
