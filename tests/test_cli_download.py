"""The `idc` download commands against the local S3 server: what lands on disk, the summary
line, and the exit status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    idc_layout,
    moto_s3,
    prior_series,
    small_collection,
)
from idc_index.cli import idc
from s3server import MotoS3


@pytest.fixture()
def run(moto_s3: MotoS3, monkeypatch, cache_dir: Path):
    monkeypatch.setenv("IDC_ENDPOINT_URL", moto_s3.endpoint)
    monkeypatch.setenv("IDC_INDEX_CACHE_DIR", str(cache_dir))
    # Nothing is fetched from the internet: an optional index asked for fails at once.
    monkeypatch.setenv("IDC_RELEASE_BASE_URL", "http://127.0.0.1:9")

    def invoke(*args: str):
        return CliRunner().invoke(idc, list(args), catch_exceptions=False)

    return invoke


def test_download_recognises_series_patients_collections_and_uuids(run, idc_layout, small_collection, prior_series, client, tmp_path):
    s = idc_layout[0]
    out = run("download", s.series_instance_uid, "--download-dir", str(tmp_path / "a"), "--dir-template", "")
    assert out.exit_code == 0, out.output
    assert "files downloaded" in out.output and "0 failed" in out.output
    assert f"checked by crc32: {len(s.objects)}" in out.output
    sizes = run("download", s.series_instance_uid, "--download-dir", str(tmp_path / "s"), "--sizes-only")
    assert sizes.exit_code == 0 and f"checked by size: {len(s.objects)}" in sizes.output, sizes.output
    assert set(files_on_disk(tmp_path / "a")) == {tmp_path / "a" / k.split("/", 1)[1] for k in s.objects}

    row, p = prior_series
    patient = client.sql(
        f"SELECT PatientID FROM index WHERE SeriesInstanceUID = '{small_collection[0].series_instance_uid}'"
    ).to_pylist()[0]["PatientID"]
    out = run("download", f"{patient},{p.crdc_series_uuid}", "--download-dir", str(tmp_path / "b"),
              "--dir-template", "%PatientID", "--concurrency", "4")
    assert out.exit_code == 0, out.output
    dirs = {q.parent.name for q in files_on_disk(tmp_path / "b")}
    assert dirs == {patient, row["PatientID"]}

    out = run("download", SMALL_COLLECTION, "--download-dir", str(tmp_path / "c"), "--dry-run", "True")
    assert out.exit_code == 0 and f"dry run: {len(small_collection)} series" in out.output
    assert files_on_disk(tmp_path / "c") == {}


def test_a_dry_run_prints_the_sizes_and_creates_nothing(run, small_collection, tmp_path):
    from idc_index.units import format_size

    target = tmp_path / "new" / "data"
    out = run("download", SMALL_COLLECTION, "--download-dir", str(target), "--dry-run", "True")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    needed = [line for line in lines if line.startswith("Disk size needed: ")]
    available = [line for line in lines if line.startswith("Disk size available: ")]
    assert len(needed) == 1 and len(available) == 1, out.output
    assert re.fullmatch(r"Disk size needed: \d+(\.\d+)? (B|kB|MB|GB|TB)", needed[0]), needed
    assert re.match(r"Disk size available: \d+(\.\d+)? (B|kB|MB|GB|TB) \(on the disk of ", available[0]), available
    assert "Dry run. Not downloading files. Rerun with --dry-run False to download the files." in lines
    assert lines[-1].startswith(f"dry run: {len(small_collection)} series, ")
    assert re.search(r"\d (B|kB|MB|GB|TB) in total", lines[-1]), lines[-1]
    assert not (tmp_path / "new").exists()

    plan = run("plan", SMALL_COLLECTION, "--shards", "2", "--out", str(tmp_path / "plan"))
    assert plan.exit_code == 0 and re.search(r"2 shard\(s\)$", plan.output.strip()), plan.output
    whole = re.search(r"series, (\d+(\.\d+)? (B|kB|MB|GB|TB)) in 2 shard", plan.output)
    assert whole and whole.group(1) == format_size(json.loads((tmp_path / "plan" / "plan.json").read_text())["bytes"])


def test_download_of_an_unknown_value_fails_before_any_transfer(run, idc_layout, tmp_path):
    out = run("download", f"{idc_layout[0].series_instance_uid},not-a-thing", "--download-dir", str(tmp_path))
    assert out.exit_code != 0
    assert "not-a-thing" in out.output
    assert files_on_disk(tmp_path) == {}


def test_a_mistyped_collection_names_the_closest_ones(run, tmp_path):
    out = run("download", "nsclc_radiomix", "--download-dir", str(tmp_path), "--dry-run", "True")
    assert out.exit_code != 0
    assert "'nsclc_radiomix' (closest: 'nsclc_radiomics')" in out.output
    assert "Traceback" not in out.output


def test_errors_name_the_command_lines_options_not_pythons(run, idc_layout, tmp_path):
    s = idc_layout[0]
    manifest = tmp_path / "wrong-bucket.s5cmd"
    manifest.write_text(f"cp s3://not-{s.bucket}/{s.crdc_series_uuid}/* .\n")
    out = run("download-from-manifest", "--manifest-file", str(manifest), "--download-dir", str(tmp_path / "d"))
    assert out.exit_code != 0
    assert "--validate-manifest False to use the buckets as written" in out.output
    assert "validate_manifest=" not in out.output


def test_download_from_selection_and_manifest(run, idc_layout, tmp_path):
    s, t = idc_layout[1], idc_layout[2]
    out = run("download-from-selection", "--series-instance-uid", f"{s.series_instance_uid},{t.series_instance_uid}",
              "--download-dir", str(tmp_path / "sel"), "--dir-template", "%SeriesInstanceUID",
              "--show-progress-bar", "False")
    assert out.exit_code == 0, out.output
    assert {q.parent.name for q in files_on_disk(tmp_path / "sel")} == {s.series_instance_uid, t.series_instance_uid}

    manifest = tmp_path / "m.s5cmd"
    manifest.write_text(f"# manifest\ncp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n")
    out = run("download-from-manifest", "--manifest-file", str(manifest), "--download-dir", str(tmp_path / "man"),
              "--dir-template", "")
    assert out.exit_code == 0, out.output
    assert len(files_on_disk(tmp_path / "man")) == len(s.objects)
    # The argument of `download` is recognised as a manifest too; a rerun skips what is there.
    out = run("download", str(manifest), "--download-dir", str(tmp_path / "man"), "--dir-template", "")
    assert out.exit_code == 0 and f"{len(s.objects)} already present" in out.output


def test_download_from_manifest_skips_lines_that_are_not_commands(run, moto_s3: MotoS3, idc_layout, tmp_path):
    s = idc_layout[1]
    manifest = tmp_path / "m.s5cmd"
    manifest.write_text(f"series_aws_url\ncp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n")
    out = run("download-from-manifest", "--manifest-file", str(manifest), "--download-dir", str(tmp_path / "man"),
              "--dir-template", "", "--show-progress-bar", "False")
    assert out.exit_code == 0, out.output
    assert len(files_on_disk(tmp_path / "man")) == len(s.objects)
    assert "0 failed" in out.output
    assert "; 1 manifest line skipped as not a copy command (line 1)" in out.output
    # A failed run lists them in its summary too.
    out = run("download-from-manifest", "--manifest-file", str(manifest), "--download-dir", str(tmp_path / "fail"),
              "--endpoint-url", moto_s3.endpoint + "/nowhere", "--show-progress-bar", "False")
    assert out.exit_code == 1
    assert "1 failed" in out.output and "1 manifest line skipped as not a copy command (line 1)" in out.output
    # A manifest with no command at all is refused, naming its lines.
    words = tmp_path / "words.s5cmd"
    words.write_text("series_aws_url\n")
    out = run("download-from-manifest", "--manifest-file", str(words), "--download-dir", str(tmp_path / "none"))
    assert out.exit_code == 1 and "has no copy commands" in out.output and "line 1: 'series_aws_url'" in out.output


def test_failed_files_give_a_non_zero_exit_and_the_summary(run, moto_s3: MotoS3, idc_layout, tmp_path):
    s = idc_layout[3]
    # A bucket that does not hold the series: the listing fails, and the command says so.
    out = run("download-from-selection", "--series-instance-uid", s.series_instance_uid, "--download-dir",
              str(tmp_path), "--source-bucket-location", "gcs", "--endpoint-url", moto_s3.endpoint + "/nowhere")
    assert out.exit_code == 1
    assert "1 failed" in out.output and "not_found" in out.output
    assert files_on_disk(tmp_path) == {}
    # Once: the summary begins the error message. A rerun would fail the same way: not suggested.
    assert out.output.count("1 failed") == 1, out.output
    assert "Run the same download again" not in out.output
    assert "will not appear on a rerun" in out.output


def _options(command: str) -> set[str]:
    return {o for p in idc.commands[command].params for o in p.opts if o.startswith("--")}


def test_the_download_commands_take_the_same_options():
    """idc download takes every option of download-from-selection but the identifiers it
    recognises itself; download-from-manifest every one but those a manifest states."""
    identifiers = {"--collection-id", "--patient-id", "--study-instance-uid", "--series-instance-uid",
                   "--sop-instance-uid", "--crdc-series-uuid", "--analysis-result-id"}
    selection = _options("download-from-selection")
    assert selection - identifiers <= _options("download")
    assert selection - identifiers - {"--analysis-results", "--source-bucket-location"} <= _options(
        "download-from-manifest") - {"--manifest-file", "--validate-manifest"}


def test_boolean_options_take_0_13s_value_or_the_bare_flag(run, idc_layout, tmp_path):
    s = idc_layout[1]
    for form in (["--dry-run", "True"], ["--dry-run"]):
        out = run("download", s.series_instance_uid, "--download-dir", str(tmp_path / "d"), *form)
        assert out.exit_code == 0, out.output
        assert "Dry run. Not downloading files." in out.output
    assert not (tmp_path / "d").exists()
    out = run("download", s.series_instance_uid, "--download-dir", str(tmp_path / "real"), "--dry-run", "False",
              "--show-progress-bar")
    assert out.exit_code == 0 and f"{len(s.objects)} files downloaded" in out.output, out.output
    # Before the argument, the argument is read as the flag's value, as 0.13 read it: a usage error.
    wrong = run("download", "--dry-run", s.series_instance_uid)
    assert wrong.exit_code == 2 and "is not a valid boolean" in wrong.output


def test_idc_download_takes_the_selections_options(run, idc_layout, tmp_path):
    s = idc_layout[1]
    out = run("download", s.series_instance_uid, "--download-dir", str(tmp_path), "--show-progress-bar", "False",
              "--source-bucket-location", "aws", "--analysis-results", "include", "--quiet", "True")
    assert out.exit_code == 0, out.output
    assert f"{len(s.objects)} files downloaded" in out.output


def test_limit_rate_is_taken_by_every_download_command(run, idc_layout, tmp_path):
    s = idc_layout[1]
    manifest = tmp_path / "m.s5cmd"
    manifest.write_text(f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n")
    for args in (["download", s.series_instance_uid], ["download-from-manifest", "--manifest-file", str(manifest)],
                 ["download-from-selection", "--series-instance-uid", s.series_instance_uid]):
        out = run(*args, "--download-dir", str(tmp_path / args[0]), "--limit-rate", "64M")
        assert out.exit_code == 0, out.output
        assert f"{len(s.objects)} files downloaded" in out.output, out.output
        out = run(*args, "--download-dir", str(tmp_path / "bad"), "--limit-rate", "fast")
        assert out.exit_code == 2 and "--limit-rate must be bytes per second" in out.output, out.output
    assert not (tmp_path / "bad").exists()


def test_bad_options_are_usage_errors(run, tmp_path):
    out = run("download-from-selection", "--download-dir", str(tmp_path))
    assert out.exit_code == 2 and "Give a selection" in out.output
    out = run("download-from-selection", "--collection-id", SMALL_COLLECTION, "--dir-template", "../%PatientID",
              "--download-dir", str(tmp_path))
    assert out.exit_code == 1 and "Invalid download hierarchy template" in out.output


def test_plan_writes_shard_manifests_and_a_summary_and_each_shard_downloads_on_its_own(
    run, small_collection, client, tmp_path
):
    import json

    out = run("plan", SMALL_COLLECTION, "--shards", "3", "--out", str(tmp_path / "plan"),
              "--dir-template", "%SeriesInstanceUID")
    assert out.exit_code == 0, out.output
    summary = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert summary["shards"] == 3 and summary["series"] == len(small_collection)
    assert [p["manifest"] for p in summary["parts"]] == [f"shard-{i}.s5cmd" for i in range(3)]
    assert sum(p["series"] for p in summary["parts"]) == len(small_collection)
    assert sum(p["bytes"] for p in summary["parts"]) == summary["bytes"]
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == ["plan.json", *summary_files(3)]

    # A shard's manifest and `--shard I/N` on a download command fetch the same series.
    by_uid = {s.series_instance_uid: s for s in small_collection}
    plan = client.plan_download(tmp_path / "x", collection_id=SMALL_COLLECTION, dirTemplate="%SeriesInstanceUID")
    wanted = {i.series_instance_uid for i in plan.shard(3)[1].items}
    out = run("download-from-manifest", "--manifest-file", str(tmp_path / "plan" / "shard-1.s5cmd"),
              "--download-dir", str(tmp_path / "m"), "--dir-template", "%SeriesInstanceUID")
    assert out.exit_code == 0, out.output
    assert {q.parent.name for q in files_on_disk(tmp_path / "m")} == wanted
    for args in (("download", SMALL_COLLECTION), ("download-from-selection", "--collection-id", SMALL_COLLECTION)):
        target = tmp_path / args[0]
        out = run(*args, "--shard", "1/3", "--download-dir", str(target), "--dir-template", "%SeriesInstanceUID")
        assert out.exit_code == 0, out.output
        on_disk = files_on_disk(target)
        assert {q.parent.name for q in on_disk} == wanted
        assert len(on_disk) == sum(len(by_uid[u].objects) for u in wanted)
    # Resumable: a rerun of the shard fetches nothing already there.
    out = run("download", SMALL_COLLECTION, "--shard", "1/3", "--download-dir", str(tmp_path / "download"),
              "--dir-template", "%SeriesInstanceUID")
    assert out.exit_code == 0 and "0 files downloaded" in out.output, out.output
    out = run("download-from-manifest", "--manifest-file", str(tmp_path / "plan" / "shard-1.s5cmd"),
              "--download-dir", str(tmp_path / "m"), "--dir-template", "%SeriesInstanceUID", "--shard", "0/1")
    assert out.exit_code == 0 and "0 files downloaded" in out.output, out.output


def summary_files(n: int) -> list[str]:
    return [f"shard-{i}.s5cmd" for i in range(n)]


def test_bad_shards_are_usage_errors(run, small_collection, tmp_path):
    out = run("download", SMALL_COLLECTION, "--shard", "3/3", "--download-dir", str(tmp_path))
    assert out.exit_code == 2 and "0 to N-1" in out.output
    out = run("plan", SMALL_COLLECTION, "--shards", "1000", "--out", str(tmp_path / "p"))
    assert out.exit_code == 2 and "ask for 1 to" in out.output
    assert files_on_disk(tmp_path) == {}


def test_report_file_lists_every_file_as_json_or_csv(run, moto_s3: MotoS3, idc_layout, small_collection,
                                                     prior_series, client, tmp_path):
    import csv

    s = small_collection[0]
    out = run("download", s.series_instance_uid, "--download-dir", str(tmp_path / "a"), "--report",
              str(tmp_path / "r.json"))
    assert out.exit_code == 0, out.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["ok"] is True and document["cancelled"] is False and document["dry_run"] is False
    (summary,) = document["summary"]
    assert summary.startswith(f"{len(s.objects)} files downloaded") and summary in out.output
    rows = document["files"]
    assert {r["key"] for r in rows} == set(s.objects)
    assert {r["status"] for r in rows} == {"downloaded"} and {r["verification"] for r in rows} == {"crc32"}
    assert all(Path(r["path"]).stat().st_size == r["size"] == len(s.objects[r["key"]]) for r in rows)
    assert {r["SeriesInstanceUID"] for r in rows} == {s.series_instance_uid}

    # A second kind of identifier in the same command (a patient, then a crdc_series_uuid): one
    # file for both runs. Already present files are rows too.
    row, p = prior_series
    patient = client.sql(f"SELECT PatientID FROM index WHERE SeriesInstanceUID = '{s.series_instance_uid}'"
                         ).to_pylist()[0]["PatientID"]
    out = run("download", f"{patient},{p.crdc_series_uuid}", "--download-dir", str(tmp_path / "a"),
              "--report", str(tmp_path / "r.csv"))
    assert out.exit_code == 0, out.output
    with (tmp_path / "r.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["status", "path", "bucket", "key", "size", "verification", "kind", "reason",
                             "attempts", "SeriesInstanceUID", "SOPInstanceUID"]
    assert {r["status"] for r in rows if r["SeriesInstanceUID"] == s.series_instance_uid} == {"already_present"}
    assert {r["SeriesInstanceUID"] for r in rows} >= {s.series_instance_uid, row["SeriesInstanceUID"]}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_file_of_a_failed_download_names_the_failure(run, moto_s3: MotoS3, idc_layout, tmp_path):
    s = idc_layout[3]
    report = tmp_path / "out" / "failed.json"
    report.parent.mkdir()
    out = run("download-from-selection", "--series-instance-uid", s.series_instance_uid, "--download-dir",
              str(tmp_path / "d"), "--source-bucket-location", "gcs", "--endpoint-url", moto_s3.endpoint + "/nowhere",
              "--report", str(report))
    assert out.exit_code == 1
    document = json.loads(report.read_text())
    assert document["ok"] is False
    (failed,) = document["files"]
    assert failed["status"] == "failed" and failed["kind"] == "not_found" and failed["reason"]
    assert failed["SeriesInstanceUID"] == s.series_instance_uid and failed["size"] is None


def test_a_report_file_of_no_known_format_is_refused_before_anything_moves(run, idc_layout, tmp_path):
    out = run("download", idc_layout[0].series_instance_uid, "--download-dir", str(tmp_path / "d"),
              "--report", str(tmp_path / "report.txt"))
    assert out.exit_code == 2
    assert "--report" in out.output and "ends in .json or .csv, not '.txt'" in out.output
    assert not (tmp_path / "d").exists() and not (tmp_path / "report.txt").exists()
    out = run("download", idc_layout[0].series_instance_uid, "--download-dir", str(tmp_path / "d"),
              "--report", str(tmp_path / "missing-dir" / "r.json"))
    assert out.exit_code == 1
    assert "cannot write the report file" in out.output
    assert "files downloaded" in out.output  # the download itself went through, and says so
