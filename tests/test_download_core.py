"""The native downloader against a real S3-compatible server (moto) seeded with real IDC series."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    BIG_SIZE,
    assert_complete_or_absent,
    expected_files,
    files_on_disk,
    idc_layout,
    moto_s3,
    plan_for,
    proxy,
    wait_until,
)
from idc_index import _core
from idc_index.arguments import parse_rate
from idc_index.download import (
    AWS_ENDPOINT,
    ENDPOINT_ENV,
    GCS_ENDPOINT,
    PlanItem,
    bucket_for,
    download,
    resolve_endpoint,
    start_download,
)
from idc_index.errors import DownloadError, DownloadFailedError
from s3server import FaultProxy, MotoS3, Series

SMALL_PARTS = {"part_size": 4_000_000, "multipart_threshold": 8_000_000}


def test_series_of_every_bucket_arrive_byte_identical_with_their_identity(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    calls: list[tuple[int, int, str, str]] = []
    report = download(
        plan_for(idc_layout),
        tmp_path,
        endpoint_url=moto_s3.endpoint,
        progress_callback=lambda *a: calls.append(a),
        show_progress_bar=True,
        **SMALL_PARTS,
    )
    expected = expected_files(tmp_path, idc_layout)
    assert report.ok
    assert {Path(f.path) for f in report.files} == set(expected)
    assert files_on_disk(tmp_path) == {p: len(d) for p, d in expected.items()}
    assert_complete_or_absent(tmp_path, expected)
    assert {s.bucket for s in idc_layout} == {"idc-open-data", "idc-open-data-two", "idc-open-data-cr"}
    by_path = {Path(f.path): f for f in report.files}
    for s in idc_layout:
        for key in s.objects:
            f = by_path[tmp_path / s.collection_id / s.series_instance_uid / key.split("/", 1)[1]]
            assert (f.key, f.bucket, f.series_instance_uid) == (key, s.bucket, s.series_instance_uid)
            # The server states a CRC32 and an MD5 with a GET: the cheaper CRC32 is checked. For
            # the ranged object the HEAD that asks for it is answered without the CRC by moto,
            # so the MD5 of its ETag is followed as the ranges land.
            assert f.verification == ("md5" if f.size == BIG_SIZE else "crc32")
            assert f.status == "downloaded"
    big = [f for f in report.files if f.size == BIG_SIZE]
    assert len(big) == 1, "the large object was part of the download"
    assert report.bytes_downloaded == sum(len(d) for d in expected.values())
    # The callback saw bytes grow to the total, in bytes, with the description.
    assert calls and calls[-1][0] == calls[-1][1] == report.bytes_downloaded
    assert all(c[2] == "B" and c[3] == "Downloading" for c in calls)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_instances_by_key_and_a_rerun_that_skips_them(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    s = idc_layout[0]
    items = [
        PlanItem.instance(s.bucket, key, f"flat/{key.split('/')[1]}", size=len(data), sop_instance_uid=f"sop{i}")
        for i, (key, data) in enumerate(s.objects.items())
    ]
    first = download(items, tmp_path, endpoint_url=moto_s3.endpoint, quiet=True)
    assert len(first.downloaded) == len(items)
    assert sorted(f.sop_instance_uid for f in first.files) == sorted(f"sop{i}" for i in range(len(items)))
    second = download(items, tmp_path, endpoint_url=moto_s3.endpoint, quiet=True)
    assert len(second.skipped) == len(items) and not second.downloaded
    assert second.bytes_present == s.size


def test_a_reports_files_are_a_sequence_read_from_the_cores_records(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    import pickle

    report = download(plan_for(idc_layout[:2]), tmp_path, endpoint_url=moto_s3.endpoint, quiet=True)
    files = report.files
    n = sum(len(s.objects) for s in idc_layout[:2])
    assert isinstance(files, _core.FileList) and len(files) == n > 2
    as_list = list(files)
    assert [f.path for f in as_list] == sorted(f.path for f in as_list)  # sorted by path
    assert files[0] == as_list[0] and files[-1] == as_list[-1] and files[n - 1] == as_list[-1]
    assert files[1:3] == as_list[1:3] and files[::-1] == as_list[::-1] and files[5:1] == []
    with pytest.raises(IndexError, match=f"out of range: the transfer has {n} files"):
        files[n]
    with pytest.raises(IndexError):
        files[-n - 1]
    assert files == as_list and as_list == files and files != as_list[:-1] and files != as_list[::-1]
    assert files != "not files" and files == report.files
    # Pickled (Dask sends reports between processes) as the plain list of its values.
    again = pickle.loads(pickle.dumps(files))
    assert type(again) is list and again == as_list
    assert repr(files) == f"FileList({n} files)"
    assert report.summary().startswith(f"{n} files downloaded")


def test_endpoints_and_bucket_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    assert resolve_endpoint() == AWS_ENDPOINT
    assert resolve_endpoint(source_bucket_location="gcs") == GCS_ENDPOINT
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")
    assert resolve_endpoint(source_bucket_location="gcs") == "http://127.0.0.1:9"
    assert resolve_endpoint("http://explicit:1") == "http://explicit:1"
    assert [bucket_for(b, "gcs") for b in ("idc-open-data", "idc-open-data-two", "idc-open-data-cr")] == [
        "idc-open-data",
        "idc-open-idc1",
        "idc-open-cr",
    ]
    with pytest.raises(DownloadError, match="'aws' or 'gcs'"):
        resolve_endpoint(source_bucket_location="azure")
    with pytest.raises(DownloadError, match="no GCS bucket"):
        bucket_for("some-bucket", "gcs")


def test_the_environment_endpoint_is_used(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, moto_s3.endpoint)
    report = download(plan_for(idc_layout[3:4]), tmp_path, quiet=True)
    assert report.ok and len(report.files) == len(idc_layout[3].objects)


def test_transient_faults_end_in_identical_files(
    proxy: FaultProxy, idc_layout: list[Series], tmp_path: Path
) -> None:
    series = idc_layout[:3] + idc_layout[-1:]
    keys = [k for s in series[:3] for k in s.objects]
    faults = ["slowdown", "reset", "truncate", "stall", "corrupt", "error500"]
    for key, fault in zip(keys, faults):
        proxy.fault(key, fault)
    big_key = next(iter(series[-1].objects))
    proxy.fault(big_key, "reset", "truncate", "corrupt")
    report = download(
        plan_for(series), tmp_path, endpoint_url=proxy.endpoint, quiet=True, stall_timeout=1.0, **SMALL_PARTS
    )
    assert report.ok, report.failed
    expected = expected_files(tmp_path, series)
    assert files_on_disk(tmp_path) == {p: len(d) for p, d in expected.items()}
    assert_complete_or_absent(tmp_path, expected)
    for key in keys[: len(faults)]:
        assert proxy.requests[key] == 2, (key, proxy.requests[key])


def test_lasting_faults_are_reported_with_their_reason(
    proxy: FaultProxy, idc_layout: list[Series], tmp_path: Path
) -> None:
    s = idc_layout[1]
    bad, slow, *_ = list(s.objects)
    proxy.fault_always(bad, "corrupt")
    proxy.fault_always(slow, "slowdown")
    missing = PlanItem.instance(s.bucket, f"{s.crdc_series_uuid}/not-there.dcm", "x/not-there.dcm")
    with pytest.raises(DownloadFailedError) as info:
        download(
            [*plan_for([s]), missing],
            tmp_path,
            endpoint_url=proxy.endpoint,
            quiet=True,
            max_attempts=3,
        )
    report = info.value.report
    assert report is not None
    kinds = {f.key: (f.kind, f.attempts) for f in report.failed}
    assert kinds == {
        bad: ("integrity", 3),
        slow: ("http", 3),
        f"{s.crdc_series_uuid}/not-there.dcm": ("not_found", 1),
    }
    message = str(info.value)
    assert "MD5 mismatch" in message and "SlowDown" in message and "Run the same download again" in message
    assert len(report.files) == len(s.objects) - 2
    assert_complete_or_absent(tmp_path, expected_files(tmp_path, [s]))
    assert not [p for p in files_on_disk(tmp_path) if p.name.endswith(".idc-partial")]
    # The downloader's records travel between processes as they are (Dask workers return them).
    import pickle

    assert pickle.loads(pickle.dumps(report.files)) == report.files
    assert pickle.loads(pickle.dumps(report.failed)) == report.failed


def test_cancel_stops_the_transfers_and_leaves_no_partial_file(
    proxy: FaultProxy, idc_layout: list[Series], tmp_path: Path
) -> None:
    series = idc_layout[:3]
    for s in series:
        for key in s.objects:
            proxy.fault_always(key, "trickle")
    handle = start_download(plan_for(series), tmp_path, endpoint_url=proxy.endpoint, concurrency=4)
    # Cancelled once bytes are seen arriving, however long the start takes.
    assert wait_until(lambda: handle.progress().bytes_done > 0), "no bytes arrived"
    cut_before = proxy.cut_trickles()
    handle.cancel()
    handle.wait(60)  # returns once stopped; the limit only keeps a download that never stops from hanging
    report = handle.report()
    assert report is not None, "the download did not stop when cancelled"
    assert report.cancelled and report.failed
    # The transfers under way are failures of their own (at most the 4 requests in flight);
    # the files never begun are counted.
    assert {f.kind for f in report.failed} == {"cancelled"}
    assert len(report.failed) <= 4 and report.not_started > 0
    assert len(report.files) + len(report.failed) + report.not_started == sum(len(s.objects) for s in series)
    # The records are made into Python objects once: every read gives the same list.
    assert report.failed is report.failed and report.files is report.files
    # What stopped, as the server sees it: every transfer under way ended, cut off by the
    # downloader closing its connection, and no request came after the download said it stopped.
    requests = sum(proxy.requests.values())
    assert wait_until(lambda: proxy.trickling == 0), f"{proxy.trickling} transfers still running after the cancel"
    assert proxy.cut_trickles() > cut_before, "no transfer under way was cut off by the cancel"
    assert sum(proxy.requests.values()) == requests
    leftovers = files_on_disk(tmp_path)
    assert_complete_or_absent(tmp_path, expected_files(tmp_path, series))
    assert not [p for p in leftovers if p.name.endswith(".idc-partial")]


def test_a_bandwidth_limit_reaches_the_core_and_the_files_arrive_whole(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    from idc_index.download.transfer import download_config

    assert "max_bandwidth=26214400" in repr(download_config(moto_s3.endpoint, max_bandwidth=parse_rate("25M")))
    series = idc_layout[:2]
    report = download(plan_for(series), tmp_path, endpoint_url=moto_s3.endpoint, quiet=True, max_bandwidth="64M")
    assert report.ok
    assert files_on_disk(tmp_path) == {p: len(d) for p, d in expected_files(tmp_path, series).items()}
    # What the limit of requests in flight did is in the report.
    assert report.concurrency["cap"] == 256 and 1 <= report.concurrency["peak"] <= 256, report.concurrency


@pytest.mark.parametrize(
    ("given", "rate"),
    [("25M", 25 << 20), ("500k", 500 << 10), ("1G", 1 << 30), ("1.5M", 3 << 19), ("25MB/s", 25 << 20),
     (2048, 2048), (None, None)],
)
def test_bandwidth_limits_read_as_curl_reads_them(given, rate) -> None:
    assert parse_rate(given) == rate


@pytest.mark.parametrize("given", ["fast", "25X", "-1M", "", "100", True, [1]])
def test_bad_bandwidth_limits_say_what_is_taken(given) -> None:
    with pytest.raises((ValueError, TypeError), match="max_bandwidth must be"):
        parse_rate(given)


def test_start_refuses_bad_input_with_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="outside the destination root"):
        start_download([PlanItem.instance("idc-open-data", "a/b.dcm", "../b.dcm")], tmp_path, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(DownloadError, match="exactly one of 'prefix'"):
        start_download([{"bucket": "idc-open-data", "destination": "x"}], tmp_path, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(DownloadError, match="unknown download setting"):
        start_download([], tmp_path, endpoint_url="http://127.0.0.1:9", part_sise=5)
    with pytest.raises(DownloadError, match="concurrency must be between"):
        start_download([], tmp_path, endpoint_url="http://127.0.0.1:9", concurrency=0)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(DownloadError, match="choose a directory you can write to"):
        start_download([], blocker / "sub", endpoint_url="http://127.0.0.1:9")
    assert os.listdir(tmp_path) == ["file"]
