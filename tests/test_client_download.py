"""IDCClient's download methods against a real S3 server (moto on 127.0.0.1) seeded with real
series of the v25 index: where files land, what is refused before any transfer, resume, dry
runs, manifests, and listing."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    gcs_layout,
    idc_layout,
    moto_s3,
    prior_series,
    small_collection,
)
from idc_index.errors import (
    IDCClientInsufficientDiskSpaceError,
    InvalidTemplateError,
    ManifestError,
    UnknownIdentifierError,
)
from s3server import MotoS3, Series


def meta(client, series_uid: str) -> dict:
    (row,) = client.sql(
        "SELECT collection_id, PatientID, StudyInstanceUID, Modality, SeriesInstanceUID FROM index "
        f"WHERE SeriesInstanceUID = '{series_uid}'"
    ).to_pylist()
    return row


def default_folder(root: Path, m: dict) -> Path:
    return root / m["collection_id"] / m["PatientID"] / m["StudyInstanceUID"] / f"{m['Modality']}_{m['SeriesInstanceUID']}"


def expected_in(folder: Path, s: Series) -> dict[Path, bytes]:
    return {folder / key.split("/", 1)[1]: data for key, data in s.objects.items()}


def assert_exactly(root: Path, expected: dict[Path, bytes]) -> None:
    assert set(files_on_disk(root)) == set(expected)
    for path, data in expected.items():
        assert path.read_bytes() == data


def test_series_default_template_explicit_endpoint_and_resume(client, moto_s3: MotoS3, idc_layout, tmp_path):
    s = idc_layout[0]
    report = client.download_dicom_series(
        s.series_instance_uid, tmp_path, endpoint_url=moto_s3.endpoint, show_progress_bar=False
    )
    expected = expected_in(default_folder(tmp_path, meta(client, s.series_instance_uid)), s)
    assert_exactly(tmp_path, expected)
    assert report.ok and sorted(report.paths) == sorted(str(p) for p in expected)
    assert {f.series_instance_uid for f in report.files} == {s.series_instance_uid}
    assert report.plan is not None and report.plan.series == 1

    again = client.download_dicom_series(
        s.series_instance_uid, tmp_path, endpoint_url=moto_s3.endpoint, show_progress_bar=False, use_s5cmd_sync=True
    )
    assert len(again.skipped) == len(expected) and not again.downloaded
    # A file of the right size but other bytes: the listing's MD5 finds it out, unless only
    # sizes are checked.
    path, data = next(iter(expected.items()))
    path.write_bytes(bytes(len(data)))
    for checksums, skipped in ((False, len(expected)), (True, len(expected) - 1)):
        rerun = client.download_dicom_series(
            s.series_instance_uid, tmp_path, endpoint_url=moto_s3.endpoint, show_progress_bar=False,
            checksums=checksums,
        )
        assert len(rerun.skipped) == skipped, checksums
    assert path.read_bytes() == data
    # The disk check credits what is there: nothing (or next to nothing) is still needed.
    dry = client.download_dicom_series(s.series_instance_uid, tmp_path, dry_run=True)
    assert dry.dry_run and dry.plan.bytes_present == min(sum(map(len, s.objects.values())), dry.plan.bytes_total)


def test_studies_patients_and_collection_through_the_environment_endpoint(
    client, moto_s3: MotoS3, small_collection, tmp_path, monkeypatch
):
    monkeypatch.setenv("IDC_ENDPOINT_URL", moto_s3.endpoint)
    by_uid = {s.series_instance_uid: s for s in small_collection}
    first = meta(client, small_collection[0].series_instance_uid)

    studies = client.download_dicom_studies(first["StudyInstanceUID"], tmp_path / "study", show_progress_bar=False)
    in_study = client.get_dicom_series(first["StudyInstanceUID"], outputFormat="list")
    assert {f.series_instance_uid for f in studies.files} == set(in_study)

    patients = client.download_dicom_patients(
        [first["PatientID"]], tmp_path / "patient", dirTemplate="%PatientID/%Modality-%SeriesInstanceUID",
        show_progress_bar=False,
    )
    of_patient = client.sql(
        f"SELECT SeriesInstanceUID, Modality FROM index WHERE PatientID = '{first['PatientID']}'"
    ).to_pylist()
    expected: dict[Path, bytes] = {}
    for r in of_patient:
        folder = tmp_path / "patient" / first["PatientID"] / f"{r['Modality']}-{r['SeriesInstanceUID']}"
        expected |= expected_in(folder, by_uid[r["SeriesInstanceUID"]])
    assert_exactly(tmp_path / "patient", expected)
    assert len(patients.downloaded) == len(expected)

    coll = client.download_collection(SMALL_COLLECTION, tmp_path / "flat", dirTemplate=None, show_progress_bar=False)
    flat = {tmp_path / "flat" / k.split("/", 1)[1]: d for s in small_collection for k, d in s.objects.items()}
    assert_exactly(tmp_path / "flat", flat)
    assert len(coll.files) == len(flat) and coll.ok


def test_selection_by_portal_name_and_analysis_filters(client, moto_s3: MotoS3, small_collection, tmp_path):
    report = client.download_from_selection(
        tmp_path, collection_id="RIDER Breast MRI", analysis_results="exclude", endpoint_url=moto_s3.endpoint,
        show_progress_bar=False,
    )
    assert {f.series_instance_uid for f in report.files} == {s.series_instance_uid for s in small_collection}
    with pytest.raises(ValueError, match="nothing left to download with analysis_results='only'"):
        client.download_from_selection(tmp_path, collection_id=SMALL_COLLECTION, analysis_results="only", dry_run=True)
    with pytest.raises(ValueError, match="cannot be used when analysis_results is 'exclude'"):
        client.download_from_selection(
            tmp_path, collection_id=SMALL_COLLECTION, analysis_result_id="x", analysis_results="exclude"
        )


def test_analysis_result_dry_run(client, tmp_path):
    (row,) = client.sql(
        "SELECT analysis_result_id, COUNT(*) AS n, SUM(series_size_MB) AS mb FROM index "
        "WHERE analysis_result_id = 'prostatex_seg_hires' GROUP BY 1"
    ).to_pylist()
    report = client.download_analysis_result("prostatex_seg_hires", tmp_path, dry_run=True)
    assert report.plan.series == row["n"]
    assert abs(report.plan.bytes_total - row["mb"] * 1e6) < row["n"] * 1e4
    assert files_on_disk(tmp_path) == {}


def test_gcs_bucket_names(client, moto_s3: MotoS3, gcs_layout, tmp_path):
    s = gcs_layout[0]
    report = client.download_dicom_series(
        s.series_instance_uid, tmp_path, source_bucket_location="gcs", endpoint_url=moto_s3.endpoint,
        dirTemplate=None, show_progress_bar=False,
    )
    assert {f.bucket for f in report.files} == {s.bucket}
    assert_exactly(tmp_path, expected_in(tmp_path, s))
    urls = client.get_series_file_URLs(s.series_instance_uid, "gcs", endpoint_url=moto_s3.endpoint)
    assert sorted(urls) == sorted(f"s3://{s.bucket}/{k}" for k in s.objects)


def test_series_file_urls_through_the_lister(client, moto_s3: MotoS3, idc_layout, monkeypatch):
    monkeypatch.setenv("IDC_ENDPOINT_URL", moto_s3.endpoint)
    s = idc_layout[1]
    assert sorted(client.get_series_file_URLs(s.series_instance_uid)) == sorted(f"s3://{s.bucket}/{k}" for k in s.objects)
    with pytest.raises(UnknownIdentifierError, match="SeriesInstanceUID"):
        client.get_series_file_URLs(s.series_instance_uid + ".999")


def test_unknown_identifiers_fail_before_any_transfer(client, moto_s3: MotoS3, idc_layout, tmp_path):
    good = idc_layout[0].series_instance_uid
    bad = good + ".77"
    with pytest.raises(UnknownIdentifierError) as e:
        client.download_dicom_series([good, bad], tmp_path, endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert e.value.missing == [bad] and bad in str(e.value)
    with pytest.raises(UnknownIdentifierError, match="closest: 'rider_breast_mri'"):
        client.download_collection("rider_brest_mri", tmp_path, endpoint_url=moto_s3.endpoint)
    with pytest.raises(UnknownIdentifierError, match="crdc_series_uuid"):
        client.download_from_selection(tmp_path, crdc_series_uuid="00000000-0000-4000-8000-000000000000")
    with pytest.raises(UnknownIdentifierError, match="PatientID"):
        client.download_dicom_patients("NO-SUCH-PATIENT-1", tmp_path)
    assert files_on_disk(tmp_path) == {}


def test_prior_version_uuid_downloads_that_version(client, moto_s3: MotoS3, prior_series, tmp_path):
    row, s = prior_series
    current = client.sql(
        f"SELECT crdc_series_uuid FROM index WHERE SeriesInstanceUID = '{row['SeriesInstanceUID']}'"
    ).to_pylist()
    assert current and current[0]["crdc_series_uuid"] != row["crdc_series_uuid"]
    report = client.download_from_selection(
        tmp_path, crdc_series_uuid=row["crdc_series_uuid"], endpoint_url=moto_s3.endpoint, show_progress_bar=False
    )
    folder = tmp_path / row["collection_id"] / row["PatientID"] / row["StudyInstanceUID"] / f"{row['Modality']}_{row['SeriesInstanceUID']}"
    assert_exactly(tmp_path, expected_in(folder, s))
    assert {f.key.split("/")[0] for f in report.files} == {row["crdc_series_uuid"]}


def write_manifest(path: Path, urls: list[str]) -> Path:
    header = ["# IDC manifest", "# exported from the IDC portal", ""]
    path.write_text("\n".join(header + [f"cp {u} ." for u in urls]) + "\n")
    return path


def test_manifests_aws_gcs_prior_and_bogus(client, moto_s3: MotoS3, idc_layout, gcs_layout, prior_series, tmp_path):
    aws = [s for s in idc_layout[:4]]
    manifest = write_manifest(tmp_path / "aws.s5cmd", [f"s3://{s.bucket}/{s.crdc_series_uuid}/*" for s in aws])
    report = client.download_from_manifest(manifest, tmp_path / "aws", endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    expected: dict[Path, bytes] = {}
    for s in aws:
        expected |= expected_in(default_folder(tmp_path / "aws", meta(client, s.series_instance_uid)), s)
    assert_exactly(tmp_path / "aws", expected)
    assert report.ok and report.plan.series == len(aws)

    g = gcs_layout[0]
    gm = write_manifest(tmp_path / "gcs.s5cmd", [f"s3://{g.bucket}/{g.crdc_series_uuid}/*"])
    report = client.download_from_manifest(gm, tmp_path / "gcs", dirTemplate=None, endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert {f.bucket for f in report.files} == {g.bucket}
    assert_exactly(tmp_path / "gcs", expected_in(tmp_path / "gcs", g))

    row, p = prior_series
    pm = write_manifest(tmp_path / "prior.s5cmd", [f"s3://{p.bucket}/{p.crdc_series_uuid}/*"])
    client.download_from_manifest(pm, tmp_path / "prior", dirTemplate="%SeriesInstanceUID", endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert_exactly(tmp_path / "prior", expected_in(tmp_path / "prior" / row["SeriesInstanceUID"], p))

    bogus_uuid = "0badc0de-0000-4000-8000-000000000000"
    bogus = write_manifest(
        tmp_path / "bogus.s5cmd", [f"s3://{aws[0].bucket}/{aws[0].crdc_series_uuid}/*", f"s3://idc-open-data/{bogus_uuid}/*"]
    )
    with pytest.raises(UnknownIdentifierError, match="line 5") as e:
        client.download_from_manifest(bogus, tmp_path / "bogus", endpoint_url=moto_s3.endpoint)
    assert e.value.missing == [bogus_uuid]
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("# header\nnot a copy command\n")
    with pytest.raises(ManifestError, match="line 2"):
        client.download_from_manifest(garbage, tmp_path / "bogus")
    mixed = write_manifest(tmp_path / "mixed.s5cmd", ["s3://idc-open-data-two/a/*", "s3://idc-open-idc1/b/*"])
    with pytest.raises(ManifestError, match="mixes AWS buckets"):
        client.download_from_manifest(mixed, tmp_path / "bogus")
    assert not (tmp_path / "bogus").exists() or files_on_disk(tmp_path / "bogus") == {}


def test_manifest_lines_that_are_not_commands_are_skipped_as_0_13_did(
    client, moto_s3: MotoS3, idc_layout, tmp_path, caplog
):
    s, t = idc_layout[0], idc_layout[1]
    manifest = tmp_path / "cohort.s5cmd"
    manifest.write_text(
        "manifest_cp_cmd\n"                                  # a pasted header
        f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n"
        "# a comment\n"
        "leftover\n"                                         # a stray word
        f"cp s3://{t.bucket}/{t.crdc_series_uuid}/* .\n"
    )
    with caplog.at_level(logging.WARNING, logger="idc_index"):
        report = client.download_from_manifest(
            manifest, tmp_path / "out", dirTemplate=None, endpoint_url=moto_s3.endpoint, show_progress_bar=False
        )
    assert report.ok and report.plan.series == 2
    assert_exactly(tmp_path / "out", expected_in(tmp_path / "out", s) | expected_in(tmp_path / "out", t))
    assert report.skipped_manifest_lines == [(1, "manifest_cp_cmd"), (4, "leftover")]
    assert report.summary().endswith("; 2 manifest lines skipped as not copy commands (lines 1, 4)")
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "idc_index"
    assert warning.getMessage() == (
        f"{manifest}: skipped 2 line(s) that are not copy commands: line 1: 'manifest_cp_cmd'; line 4: 'leftover'"
    )
    dry = client.download_from_manifest(manifest, tmp_path / "dry", dry_run=True)
    assert dry.skipped_manifest_lines == report.skipped_manifest_lines and "lines 1, 4" in dry.summary()
    # A manifest without stray lines reports none.
    clean = write_manifest(tmp_path / "clean.s5cmd", [f"s3://{s.bucket}/{s.crdc_series_uuid}/*"])
    assert client.download_from_manifest(clean, tmp_path / "dry", dry_run=True).skipped_manifest_lines == []


def test_manifest_commands_that_are_malformed_are_refused(client, idc_layout, tmp_path):
    s = idc_layout[0]
    good = f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* ."
    for bad in ("cp s3://idc-open-data .", "cp https://example.org/x/* .", "sync", "s3://idc-open-data"):
        manifest = tmp_path / "bad.s5cmd"
        manifest.write_text(f"{good}\nleftover\n{bad}\n")
        with pytest.raises(ManifestError) as e:
            client.download_from_manifest(manifest, tmp_path / "out", dry_run=True)
        assert str(e.value) == (
            f"{manifest} has malformed copy commands (each must be 'cp s3://<bucket>/<crdc_series_uuid>/* .' or "
            "'cp s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm <file>'): "
            f"line 3: {bad!r}. Fix or remove these lines, or export the manifest again from the IDC portal."
        )
    # Only lines that are not commands: nothing to download, and the message names them.
    only = tmp_path / "words.s5cmd"
    only.write_text("# header\nseries\nmore words\n")
    with pytest.raises(ManifestError) as e:
        client.download_from_manifest(only, tmp_path / "out")
    assert str(e.value) == (
        f"{only} has no copy commands of the form 'cp s3://<bucket>/<crdc_series_uuid>/* .' or "
        "'cp s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm <file>'; its other lines are "
        "not commands: line 2: 'series'; line 3: 'more words'"
    )
    assert not (tmp_path / "out").exists()


def test_dry_run_reports_a_selection_larger_than_the_disk_and_the_real_run_refuses(client, moto_s3: MotoS3, tmp_path):
    report = client.download_collection("gtex", tmp_path, dry_run=True)
    assert report.dry_run and report.plan.bytes_total > 8e12
    assert not report.plan.fits and "not enough free space" in report.summary()
    with pytest.raises(IDCClientInsufficientDiskSpaceError) as e:
        client.download_collection("gtex", tmp_path, endpoint_url=moto_s3.endpoint)
    assert "TB" in e.value.disk_space_needed and e.value.disk_space_available
    assert files_on_disk(tmp_path) == {}


@pytest.mark.parametrize("template", ["../%PatientID", "%PatientID/..", "/etc/%Modality.x", "%Foo", "%PatientID\x00"])
def test_hostile_templates_are_refused(client, tmp_path, template):
    with pytest.raises(InvalidTemplateError):
        client.download_collection(SMALL_COLLECTION, tmp_path, dirTemplate=template, dry_run=True)


def test_slashes_in_a_template_never_leave_the_download_directory(client, moto_s3: MotoS3, idc_layout, tmp_path):
    s = idc_layout[2]
    m = meta(client, s.series_instance_uid)
    root = tmp_path / "root"
    client.download_dicom_series(
        s.series_instance_uid, root, dirTemplate="//%Modality//-/%SeriesInstanceUID/", endpoint_url=moto_s3.endpoint,
        show_progress_bar=False,
    )
    assert_exactly(root, expected_in(root / m["Modality"] / "-" / m["SeriesInstanceUID"], s))
    assert sorted(os.listdir(tmp_path)) == ["root"]


def test_hostile_index_values_stay_inside_the_download_directory(moto_s3: MotoS3, idc_layout, tmp_path):
    import pyarrow as pa
    from idc_index.download import download
    from idc_index.download.destinations import parse_template, plan_table
    from idc_index.download.plan_table import table_items

    s = idc_layout[0]
    hostile = {
        "collection_id": "/etc", "PatientID": "../../escape", "StudyInstanceUID": "a/../../b\n\x00",
        "Modality": "..", "SeriesInstanceUID": "C:\\x", "crdc_series_uuid": s.crdc_series_uuid,
        "aws_bucket": s.bucket, "series_size_MB": 0.1,
    }
    root = tmp_path / "root"
    items = table_items(plan_table(pa.Table.from_pylist([hostile]), parse_template(DEFAULT_TEMPLATE), "aws"))
    report = download(items, root, endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert report.ok and len(report.files) == len(s.objects)
    assert sorted(os.listdir(tmp_path)) == ["root"]
    for path in files_on_disk(root):
        assert path.resolve().is_relative_to(root.resolve())
        assert len(path.relative_to(root).parts) == 5  # four folders and the file, nothing climbed


DEFAULT_TEMPLATE = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"


def test_a_rerun_shows_the_files_found_present_apart_in_its_bar(client, moto_s3: MotoS3, idc_layout, tmp_path,
                                                                monkeypatch):
    """The progress the bar gets: files found present are bytes done, and ``present`` too, so
    the rate and the time left are those of the transfer (not 512 GB/s on a rerun)."""
    from idc_index.download import progress_bar

    shown: list[tuple[int, int, int]] = []
    real_show = progress_bar.ProgressBar.show

    def show(self, done, total, postfix, *, present=0, last=False):
        shown.append((done, total, present))
        real_show(self, done, total, postfix, present=present, last=last)

    monkeypatch.setattr(progress_bar.ProgressBar, "show", show)
    s = idc_layout[1]
    size = sum(len(data) for data in s.objects.values())
    client.download_dicom_series(s.series_instance_uid, tmp_path, endpoint_url=moto_s3.endpoint)
    assert shown[-1] == (size, size, 0)
    shown.clear()
    report = client.download_dicom_series(s.series_instance_uid, tmp_path, endpoint_url=moto_s3.endpoint)
    assert report.bytes_present == size
    assert shown[-1] == (size, size, size)


SHORTCUTS = ["download_dicom_series", "download_dicom_studies", "download_dicom_patients", "download_dicom_instance",
             "download_collection", "download_analysis_result"]


@pytest.mark.parametrize("name", SHORTCUTS)
def test_the_shortcuts_show_their_download_options(client, name: str) -> None:
    """help(), IPython's completion and `?` read the signature: the options the shortcut passes
    on to download_from_selection are in it, with their defaults, and nothing hides as **."""
    import inspect

    from idc_index import IDCClient

    full = inspect.signature(IDCClient.download_from_selection).parameters
    params = inspect.signature(getattr(client, name)).parameters
    for option in ("endpoint_url", "concurrency", "progress_callback", "checksums", "shard", "max_bandwidth"):
        assert params[option].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[option].default == full[option].default
    assert not [p for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert "endpoint_url" in str(inspect.signature(getattr(IDCClient, name)))
    with pytest.raises(TypeError, match=f"^{name}\\(\\) got an unexpected keyword argument 'endpoint'; its download "
                                        "options are checksums, concurrency, endpoint_url"):
        getattr(client, name)("x", "dir", endpoint="http://127.0.0.1:9")
