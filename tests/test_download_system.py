"""The downloader as a process meets the system: killed mid-transfer and rerun, Ctrl-C, a full
disk, a read-only directory. Each check: files under a final name are complete, or absent."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    assert_complete_or_absent,
    expected_files,
    files_on_disk,
    idc_layout,
    moto_s3,
    plan_for,
    proxy,
    wait_until,
)
from idc_index.download import download
from idc_index.errors import DownloadFailedError
from s3server import FaultProxy, MotoS3, Series

CHILD = textwrap.dedent(
    """
    import json, sys
    from idc_index.download import PlanItem, download
    args = json.loads(sys.argv[1])
    items = [PlanItem(**i) for i in args["items"]]
    print("started", flush=True)
    report = download(items, args["root"], endpoint_url=args["endpoint"], concurrency=args["concurrency"],
                      show_progress_bar=args["bar"], raise_on_failure=False)
    print("finished", report.summary(), flush=True)
    """
)


def child(
    endpoint: str, root: Path, series: list[Series], bar: bool = False, concurrency: int = 3
) -> subprocess.Popen[str]:
    items = [
        {k: getattr(i, k) for k in ("bucket", "prefix", "key", "size", "series_instance_uid", "sop_instance_uid")}
        | {"destination": os.fspath(i.destination)}
        for i in plan_for(series)
    ]
    args = {"items": items, "root": os.fspath(root), "endpoint": endpoint, "concurrency": concurrency, "bar": bar}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_killed_run_leaves_nothing_that_looks_complete_and_a_rerun_finishes(
    proxy: FaultProxy, moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    # Small objects are received into memory and written once complete; the big one (above
    # that size) is streamed into its temporary file, which the kill leaves behind. The first
    # object comes at full speed, the others slowly.
    series = [*idc_layout[:3], idc_layout[-1]]
    keys = [k for s in series for k in s.objects]
    for key in keys[1:]:
        proxy.fault_always(key, "trickle")
    expected = expected_files(tmp_path, series)
    (first,) = (p for p in expected if p.name == keys[0].split("/", 1)[1])
    p = child(proxy.endpoint, tmp_path, series, concurrency=len(keys))
    try:
        # Killed once the first object is complete and the big one is being written.
        seen = wait_until(
            lambda: first in (on_disk := files_on_disk(tmp_path))
            and any(path.name.endswith(".idc-partial") for path in on_disk)
        )
        assert seen, f"the child process wrote {sorted(files_on_disk(tmp_path))}"
    finally:
        p.kill()
        p.wait(60)
    killed_state = files_on_disk(tmp_path)
    assert any(path.name.endswith(".idc-partial") for path in killed_state), "the kill came mid-transfer"
    assert_complete_or_absent(tmp_path, expected)
    finished_before = {p for p in killed_state if p in expected}
    assert first in finished_before and len(finished_before) < len(expected)

    report = download(plan_for(series), tmp_path, endpoint_url=moto_s3.endpoint, quiet=True)
    assert report.ok
    assert {Path(f.path) for f in report.skipped} == finished_before
    assert files_on_disk(tmp_path) == {p: len(d) for p, d in expected.items()}, "leftover temporaries are reused"
    assert_complete_or_absent(tmp_path, expected)


def test_two_processes_downloading_one_directory_both_succeed(
    proxy: FaultProxy, moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    # A rerun started while the first run still goes, or overlapping shards: the same files,
    # one directory, at the same time. The large file (streamed to its temporary file) is sent
    # slowly, so that both write it at once.
    series = [*idc_layout[:2], idc_layout[-1]]
    keys = [k for s in series for k in s.objects]
    proxy.trickle_bytes = 1 << 20
    (big_key,) = idc_layout[-1].objects
    proxy.fault_always(big_key, "trickle")
    expected = expected_files(tmp_path, series)
    (big,) = (p for p in expected if len(expected[p]) == max(map(len, expected.values())))
    runs = [child(proxy.endpoint, tmp_path, series, concurrency=len(keys)) for _ in range(2)]
    try:
        # Both are writing the large file: the second under a temporary name of its own.
        both = wait_until(
            lambda: len([p for p in files_on_disk(tmp_path) if p.name.startswith(f".{big.name}.")
                         and p.name.endswith(".idc-partial")]) == 2
        )
        outputs = [p.communicate(timeout=300) for p in runs]
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert both, "the two runs never wrote the same file at once"
    for (stdout, stderr), p in zip(outputs, runs):
        assert p.returncode == 0, stderr[-2000:]
        assert "finished" in stdout and " 0 failed" in stdout, stdout
    assert files_on_disk(tmp_path) == {p: len(d) for p, d in expected.items()}, "one file each, nothing else"
    assert_complete_or_absent(tmp_path, expected)


def _trickling(proxy: FaultProxy, series: list[Series]) -> list[Series]:
    """``series``, each of whose objects the proxy now sends a byte at a time."""
    for s in series:
        for key in s.objects:
            proxy.fault_always(key, "trickle")
    return series


def _interrupt(p: subprocess.Popen[str], ready: Callable[[], bool], never: str) -> tuple[str, str]:
    """Send Ctrl-C to ``p`` once ``ready()`` holds (failing with ``never`` if it does not), and
    its stdout and stderr once it has stopped; a child left running is killed."""
    try:
        assert wait_until(ready), never
        p.send_signal(signal.SIGINT)
        return p.communicate(timeout=60)  # the limit only keeps a child that never stops from hanging
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="a console Ctrl-C cannot be sent to a child process on Windows")
def test_ctrl_c_stops_a_download_before_its_end(proxy: FaultProxy, idc_layout: list[Series], tmp_path: Path) -> None:
    series = _trickling(proxy, idc_layout[:3])
    expected = expected_files(tmp_path, series)
    p = child(proxy.endpoint, tmp_path, series, bar=True)
    # Ctrl-C once a file is written: the transfers are under way, however long they took to start.
    stdout, stderr = _interrupt(p, lambda: any(files_on_disk(tmp_path).values()), "the child process wrote nothing")
    assert p.returncode != 0 and "KeyboardInterrupt" in stderr, stderr[-2000:]
    assert re.search(r"Interrupted: \d+ of \d+ files are complete .* Run the same download again", stderr), stderr
    # What stopped: the download, before its end (the call never returned, files are missing),
    # and its transfers, which the server saw cut off mid-body; none is left running.
    assert "finished" not in stdout
    assert len([path for path in files_on_disk(tmp_path) if path in expected]) < len(expected)
    assert wait_until(lambda: proxy.trickling == 0), f"{proxy.trickling} transfers still running"
    assert proxy.cut_trickles() > 0
    assert_complete_or_absent(tmp_path, expected)
    assert not [f for f in files_on_disk(tmp_path) if f.name.endswith(".idc-partial")]


@pytest.mark.skipif(sys.platform == "win32", reason="a console Ctrl-C cannot be sent to a child process on Windows")
def test_ctrl_c_on_the_command_line_says_what_is_complete(proxy: FaultProxy, idc_layout: list[Series],
                                                           tmp_path: Path) -> None:
    series = _trickling(proxy, idc_layout[:3])
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text("".join(f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n" for s in series))
    out = tmp_path / "out"
    idc = Path(sys.executable).parent / "idc"
    report = tmp_path / "report.json"
    p = subprocess.Popen([os.fspath(idc), "download-from-manifest", "--manifest-file", os.fspath(manifest),
                          "--download-dir", os.fspath(out), "--endpoint-url", proxy.endpoint,
                          "--report", os.fspath(report)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Ctrl-C once a file is complete (not only begun under its temporary name).
    _, stderr = _interrupt(p, lambda: out.exists() and any(
        not path.name.endswith(".idc-partial") for path in files_on_disk(out)), "no file was completed")
    assert p.returncode == 130, stderr[-2000:]
    assert re.search(r"Interrupted: [1-9]\d* of \d+ files are complete .* Run the same download again to fetch "
                     r"the rest: complete files are skipped\.", stderr), stderr[-2000:]
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    # --report FILE says what happened to each file until then: the complete ones are on disk.
    document = json.loads(report.read_text())
    assert document["cancelled"] is True and document["ok"] is False
    complete = [r for r in document["files"] if r["status"] == "downloaded"]
    assert complete and all(Path(r["path"]).is_file() for r in complete)
    assert {r["kind"] for r in document["files"] if r["status"] == "failed"} <= {"cancelled"}


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", os.fspath(path)], check=False, capture_output=True)
    return r.returncode == 0


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "size=3m"):
        pytest.skip("a 3 MB tmpfs cannot be mounted here (needs root and mount permission)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", os.fspath(disk)], check=False)


def test_a_full_disk_stops_the_run_with_a_clear_error_and_nothing_partial(
    moto_s3: MotoS3, idc_layout: list[Series], small_disk: Path
) -> None:
    series = idc_layout[:3]
    total = sum(s.size for s in series)
    assert total > 3_000_000
    with pytest.raises(DownloadFailedError) as info:
        download(plan_for(series), small_disk, endpoint_url=moto_s3.endpoint, quiet=True, concurrency=2)
    report = info.value.report
    assert report is not None and report.stopped is not None
    assert "no space left" in report.stopped and "free some space" in report.stopped
    assert "stopped early" in str(info.value)
    kinds = {f.kind for f in report.failed}
    assert "disk_full" in kinds and kinds <= {"disk_full", "not_attempted"}
    assert_complete_or_absent(small_disk, expected_files(small_disk, series))
    assert not [f for f in files_on_disk(small_disk) if f.name.endswith(".idc-partial")]


def test_a_read_only_directory_fails_each_file_with_what_to_do(
    moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
) -> None:
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "ro,size=1m"):
        pytest.skip("a read-only tmpfs cannot be mounted here (needs root and mount permission)")
    try:
        with pytest.raises(DownloadFailedError) as info:
            download(plan_for(idc_layout[:1]), ro, endpoint_url=moto_s3.endpoint, quiet=True)
    finally:
        subprocess.run(["umount", "-l", os.fspath(ro)], check=False)
    report = info.value.report
    assert report is not None and not report.files
    assert {f.kind for f in report.failed} == {"local_io"}
    assert all("Read-only file system" in f.reason for f in report.failed), report.failed
