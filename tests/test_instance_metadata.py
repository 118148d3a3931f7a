"""Instance metadata from the DICOM headers of files in the buckets, as a user gets it: real DICOM
files (a slide, a CT series, its segmentation; made in tests/dicom_files.py) put on the local S3
server under the keys of real series of the bundled index, then read with
``client.get_instance_metadata`` and ``idc metadata``.

The session's clients share one cache, where headers and listings are kept by object: each test
uses series of its own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest_download import moto_s3  # noqa: F401  (fixtures)
from dicom_files import ct_series, segmentation, slide, to_bytes
from idc_index import IDCClient
from idc_index.cli import idc
from idc_index.errors import MissingDependencyError, UnknownAttributeError
from idc_index.headers.dependency import require_pydicom
from idc_testdata import REAL_INDEX
from s3server import IDC_BUCKETS, FaultProxy, MotoS3

SLIDE_ATTRIBUTES = [
    "ContainerIdentifier",
    "(0028,0010)",
    "00280011",
    "0x00480006",
    "TotalPixelMatrixRows",
    "ImageType",
    "TransferSyntaxUID",
    "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing",
    "SpecimenDescriptionSequence[0].SpecimenUID",
    "SpecimenDescriptionSequence[0].PrimaryAnatomicStructureSequence",
    "OpticalPathSequence[0].IlluminationTypeCodeSequence[0].CodeMeaning",
    "OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning",
    "OpticalPathSequence[*].IlluminationWaveLength",
    "PyramidUID",
    "PyramidLabel",
    "Rows:json",
    "PixelSpacing",
]


@pytest.fixture(scope="module")
def series_rows() -> Iterator[dict[str, list[dict]]]:
    """Real series of the bundled index in the IDC buckets, by modality, from the end of the
    index (the download tests seed series from its start)."""
    t = pq.read_table(REAL_INDEX, columns=["SeriesInstanceUID", "StudyInstanceUID", "crdc_series_uuid", "aws_bucket",
                                           "Modality", "collection_id"])
    t = t.filter(pc.is_in(t["aws_bucket"], pa.array(IDC_BUCKETS)))
    out: dict[str, list[dict]] = {}
    for modality in ("SM", "CT", "SEG"):
        rows = t.filter(pc.equal(t["Modality"], modality)).sort_by([("SeriesInstanceUID", "descending")])
        out[modality] = rows.slice(0, 8).to_pylist()
    yield out


def put(s3: MotoS3, row: dict, name: str, data: bytes) -> str:
    """Put ``data`` as object ``name`` of the series of ``row``; its URL."""
    key = f"{row['crdc_series_uuid']}/{name}"
    s3.put(row["aws_bucket"], key, data)
    return f"s3://{row['aws_bucket']}/{key}"


@pytest.fixture()
def proxy(moto_s3: MotoS3) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_s3.endpoint)
    yield p
    p.stop()


def own_client(tmp_path: Path) -> IDCClient:
    """A client with a cache of its own (to look at, or damage, what it keeps)."""
    return IDCClient(cache_dir=tmp_path / "cache", optimize_index=False)


# -- what a user reads ----------------------------------------------------------------------------
def test_slide_attributes_by_keyword_tag_path_and_json(client, series_rows, moto_s3: MotoS3, proxy):
    row = series_rows["SM"][0]
    # Three optical paths with an ICC profile of 40 kB each: a header of about 120 kB, more than the
    # first read, in front of 2.4 MB of pixel data.
    big = slide(row["SeriesInstanceUID"], optical_paths=3, icc_bytes=40_000, label="big")
    small = slide(row["SeriesInstanceUID"], optical_paths=1, icc_bytes=1_000, frames=2, label="small")
    big_bytes, small_bytes = to_bytes(big), to_bytes(small)
    url_big = put(moto_s3, row, "00000000-0000-4000-8000-000000000001.dcm", big_bytes)
    url_small = put(moto_s3, row, "00000000-0000-4000-8000-000000000002.dcm", small_bytes)

    frame = client.get_instance_metadata(seriesInstanceUID=row["SeriesInstanceUID"], attributes=SLIDE_ATTRIBUTES,
                                         endpoint_url=proxy.endpoint)

    assert list(frame.columns) == ["SeriesInstanceUID", "SOPInstanceUID", "url", *SLIDE_ATTRIBUTES, "error"]
    assert list(frame["url"]) == [url_big, url_small]
    first = frame.iloc[0].to_dict()
    assert pd.isna(first["error"])
    assert first["SeriesInstanceUID"] == row["SeriesInstanceUID"] and first["SOPInstanceUID"] == big.SOPInstanceUID
    assert first["ContainerIdentifier"] == "big"
    assert first["(0028,0010)"] == 256 and first["00280011"] == 256 and first["0x00480006"] == 256
    assert first["TotalPixelMatrixRows"] == 256 * 12
    assert first["ImageType"] == ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    assert first["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert first["SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing"] == [0.00025, 0.00025]
    assert first["SpecimenDescriptionSequence[0].SpecimenUID"] == big.SpecimenDescriptionSequence[0].SpecimenUID
    anatomy = json.loads(first["SpecimenDescriptionSequence[0].PrimaryAnatomicStructureSequence"])
    assert anatomy["vr"] == "SQ" and anatomy["Value"][0]["00080104"] == {"vr": "LO", "Value": ["Lung"]}
    assert first["OpticalPathSequence[0].IlluminationTypeCodeSequence[0].CodeMeaning"] == "Brightfield illumination"
    assert first["OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning"] == "Full Spectrum"
    assert first["OpticalPathSequence[*].IlluminationWaveLength"] == [550.0, 551.0, 552.0]
    assert first["PyramidUID"] == big.PyramidUID and first["PyramidLabel"] == "pyramid of big"
    assert json.loads(first["Rows:json"]) == {"vr": "US", "Value": [256]}
    assert pd.isna(first["PixelSpacing"])  # not at the top level of a slide
    assert frame.iloc[1]["ContainerIdentifier"] == "small" and frame.iloc[1]["TotalPixelMatrixRows"] == 512

    # The big header took a second, larger read; far less than the file was read.
    key_big = url_big.split("/", 3)[3]
    assert proxy.requests[key_big] == 2
    assert 120_000 < proxy.bytes_sent[key_big] <= 256 * 1024 < len(big_bytes) // 8

    table = client.get_instance_metadata(seriesInstanceUID=row["SeriesInstanceUID"], attributes=["ImageType"],
                                         endpoint_url=proxy.endpoint, output="arrow")
    assert isinstance(table, pa.Table) and table.schema.field("ImageType").type == pa.list_(pa.string())


def test_ct_series_and_its_segmentation(client, series_rows, moto_s3: MotoS3):
    ct_row, seg_row = series_rows["CT"][0], series_rows["SEG"][0]
    images = ct_series(ct_row["SeriesInstanceUID"], ct_row["StudyInstanceUID"], slices=3)
    for n, ds in enumerate(images):
        put(moto_s3, ct_row, f"00000000-0000-4000-8000-0000000001{n:02d}.dcm", to_bytes(ds))
    seg = segmentation(images, seg_row["SeriesInstanceUID"])
    put(moto_s3, seg_row, "00000000-0000-4000-8000-000000000200.dcm", to_bytes(seg))

    frame = client.get_instance_metadata(
        seriesInstanceUID=[ct_row["SeriesInstanceUID"], seg_row["SeriesInstanceUID"]],
        attributes=["Modality", "InstanceNumber", "PixelSpacing", "ImagePositionPatient", "SliceThickness",
                    "SegmentSequence[0].SegmentLabel", "ReferencedSeriesSequence[0].SeriesInstanceUID",
                    "PatientName", "StudyDate"],
        endpoint_url=moto_s3.endpoint,
    )
    assert frame["error"].isna().all(), frame["error"].tolist()
    ct = frame[frame["Modality"] == "CT"].sort_values("InstanceNumber")
    assert list(ct["SOPInstanceUID"]) == [ds.SOPInstanceUID for ds in images]
    assert set(ct["SeriesInstanceUID"]) == {ct_row["SeriesInstanceUID"]}
    assert list(ct["InstanceNumber"]) == [1, 2, 3]
    assert ct.iloc[0]["PixelSpacing"] == [float(v) for v in images[0].PixelSpacing]
    assert [p[2] for p in ct["ImagePositionPatient"]] == [-75.0, -74.0, -73.0]
    assert ct.iloc[0]["SliceThickness"] == 1.0 and ct.iloc[0]["PatientName"] == str(images[0].PatientName)
    assert ct["SegmentSequence[0].SegmentLabel"].isna().all()
    (seg_frame,) = frame[frame["Modality"] == "SEG"].to_dict("records")
    assert seg_frame["SOPInstanceUID"] == seg.SOPInstanceUID
    assert seg_frame["SegmentSequence[0].SegmentLabel"] == "lesion"
    assert seg_frame["ReferencedSeriesSequence[0].SeriesInstanceUID"] == ct_row["SeriesInstanceUID"]


def test_files_that_are_not_dicom_or_cut_short_are_rows_with_an_error(client, series_rows, moto_s3: MotoS3):
    row = series_rows["CT"][1]
    (good,) = ct_series(row["SeriesInstanceUID"], row["StudyInstanceUID"], slices=1)
    put(moto_s3, row, "00000000-0000-4000-8000-000000000301.dcm", to_bytes(good))
    put(moto_s3, row, "00000000-0000-4000-8000-000000000302.dcm", b"<html>not a DICOM file</html>" * 10)
    cut = to_bytes(slide(row["SeriesInstanceUID"], optical_paths=3, icc_bytes=40_000, frames=1))[:100_000]
    put(moto_s3, row, "00000000-0000-4000-8000-000000000303.dcm", cut)

    frame = client.get_instance_metadata(seriesInstanceUID=row["SeriesInstanceUID"], attributes=["Rows", "Modality"],
                                         endpoint_url=moto_s3.endpoint)
    assert len(frame) == 3
    ok, junk, truncated = frame.to_dict("records")
    assert pd.isna(ok["error"]) and ok["Rows"] == 128 and ok["SOPInstanceUID"] == good.SOPInstanceUID
    assert "not a DICOM file" in junk["error"] and junk["url"].endswith("302.dcm")
    assert "truncated" in truncated["error"] and truncated["url"].endswith("303.dcm")
    assert pd.isna(junk["Rows"]) and pd.isna(truncated["Rows"]) and pd.isna(junk["Modality"])


def test_a_large_selection_read_a_part_at_a_time_gives_the_same_rows(series_rows, moto_s3: MotoS3, monkeypatch,
                                                                      tmp_path):
    from idc_index import client_metadata

    row = series_rows["CT"][5]
    images = ct_series(row["SeriesInstanceUID"], row["StudyInstanceUID"], slices=5)
    for n, ds in enumerate(images):
        put(moto_s3, row, f"00000000-0000-4000-8000-0000000005{n:02d}.dcm", to_bytes(ds))
    put(moto_s3, row, "00000000-0000-4000-8000-000000000599.dcm", b"not DICOM")

    def rows(client: IDCClient) -> pd.DataFrame:
        return client.get_instance_metadata(seriesInstanceUID=row["SeriesInstanceUID"],
                                            attributes=["InstanceNumber", "ImagePositionPatient"],
                                            endpoint_url=moto_s3.endpoint)

    whole = rows(own_client(tmp_path / "whole"))
    monkeypatch.setattr(client_metadata, "HEADERS_AT_ONCE", 2)
    parts = rows(own_client(tmp_path / "parts"))
    pd.testing.assert_frame_equal(parts, whole)
    assert list(whole["InstanceNumber"][:5]) == [1, 2, 3, 4, 5] and whole["error"].notna().sum() == 1


def test_an_unknown_attribute_is_refused_before_any_request(client, series_rows, proxy):
    uid = series_rows["SM"][1]["SeriesInstanceUID"]
    with pytest.raises(UnknownAttributeError, match="Did you mean Rows") as e:
        client.get_instance_metadata(seriesInstanceUID=uid, attributes=["Columns", "rows"], endpoint_url=proxy.endpoint)
    assert isinstance(e.value, ValueError)
    for bad, hint in [
        ("TotalPixelMatrixRow", "TotalPixelMatrixRows"),
        ("OpticalPathSequence.IlluminationColorCodeSequence", r"OpticalPathSequence\[0\]"),
        ("Rows.Columns", "not a sequence"),
        ("(0028,001)", "is not a keyword, a tag"),
        ("OpticalPathSequence[x]", "is not a keyword, a tag"),
    ]:
        with pytest.raises(UnknownAttributeError, match=hint):
            client.get_instance_metadata(seriesInstanceUID=uid, attributes=[bad], endpoint_url=proxy.endpoint)
    with pytest.raises(ValueError, match="output must be"):
        client.get_instance_metadata(seriesInstanceUID=uid, attributes="Rows", output="polars",
                                     endpoint_url=proxy.endpoint)
    assert proxy.all_requests == 0


def test_without_pydicom_the_error_says_what_to_install(client, series_rows, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)  # as if it were not installed
    require_pydicom.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r'pip install "idc-index\[metadata\]"') as e:
            client.get_instance_metadata(seriesInstanceUID=series_rows["SM"][1]["SeriesInstanceUID"], attributes="Rows")
        assert isinstance(e.value, ImportError)
    finally:
        require_pydicom.cache_clear()


def test_a_header_larger_than_the_ceiling_is_an_error_for_its_file(moto_s3: MotoS3):
    from idc_index import _core
    from idc_index.download.transfer import download_config
    from idc_index.headers.reader import read_headers

    data = to_bytes(slide("1.2.3", optical_paths=3, icc_bytes=40_000, frames=1))
    small = to_bytes(slide("1.2.3", optical_paths=1, icc_bytes=100, frames=1))
    moto_s3.put("idc-open-data", "ceiling/big.dcm", data)
    moto_s3.put("idc-open-data", "ceiling/small.dcm", small)
    config = download_config(moto_s3.endpoint)
    big, fine, missing = read_headers(
        [("idc-open-data", "ceiling/big.dcm"), ("idc-open-data", "ceiling/small.dcm"),
         ("idc-open-data", "ceiling/absent.dcm")],
        lambda requests: _core.read_ranges(requests, config), first=16_384, ceiling=65_536,
    )
    assert big.dataset is None and "larger than 65.5 kB" in big.error and big.bytes_read == 65_536
    assert fine.error is None and fine.dataset.ContainerIdentifier == "slide-1" and fine.size == len(small)
    assert missing.dataset is None and "s3://idc-open-data/ceiling/absent.dcm" in missing.error


# -- the cache ----------------------------------------------------------------------------------------
def test_a_second_call_makes_no_request_and_a_damaged_entry_is_read_again(series_rows, moto_s3: MotoS3, proxy,
                                                                            tmp_path):
    row = series_rows["SM"][2]
    for n in range(2):
        put(moto_s3, row, f"00000000-0000-4000-8000-00000000040{n}.dcm",
            to_bytes(slide(row["SeriesInstanceUID"], optical_paths=2, icc_bytes=50_000, frames=2, label=f"s{n}")))
    client = own_client(tmp_path)
    ask = dict(seriesInstanceUID=row["SeriesInstanceUID"], attributes=["ContainerIdentifier", "ImageType"],
               endpoint_url=proxy.endpoint)
    first = client.get_instance_metadata(**ask)
    assert list(first["ContainerIdentifier"]) == ["s0", "s1"] and first["error"].isna().all()
    made = proxy.all_requests
    assert made >= 5  # a listing, two reads of each header

    again = client.get_instance_metadata(**ask)
    assert proxy.all_requests == made
    assert again.equals(first)
    # Another client on the same cache directory (another process, later) reads nothing either.
    assert IDCClient(cache_dir=tmp_path / "cache", optimize_index=False).get_instance_metadata(**ask).equals(first)
    assert proxy.all_requests == made

    entries = sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "headers" in p.parts)
    assert len(entries) == 3  # two headers and the listing
    for path in entries:
        blob = path.read_bytes()
        path.write_bytes(blob[: len(blob) // 2] + b"garbage")
    repaired = client.get_instance_metadata(**ask)
    assert repaired.equals(first)
    assert proxy.all_requests > made
    after = proxy.all_requests
    assert client.get_instance_metadata(**ask).equals(first) and proxy.all_requests == after


# -- other selections, and the command line --------------------------------------------------------------
def test_an_instance_of_sm_instance_index(full_client, moto_s3: MotoS3):
    sop, series, crdc_instance = full_client.sql(
        """SELECT i."SOPInstanceUID", i."SeriesInstanceUID", i.crdc_instance_uuid
           FROM sm_instance_index i JOIN index s ON i."SeriesInstanceUID" = s."SeriesInstanceUID"
           WHERE s.aws_bucket = 'idc-open-data' ORDER BY 1 DESC LIMIT 1"""
    ).to_pylist()[0].values()
    (row,) = full_client.sql(
        f"SELECT crdc_series_uuid, aws_bucket FROM index WHERE SeriesInstanceUID = '{series}'"
    ).to_pylist()
    ds = slide(series, optical_paths=1, icc_bytes=100, frames=1, label="by-sop")
    put(moto_s3, row, f"{crdc_instance}.dcm", to_bytes(ds))
    frame = full_client.get_instance_metadata(sopInstanceUID=sop, attributes=["ContainerIdentifier"],
                                              endpoint_url=moto_s3.endpoint)
    (got,) = frame.to_dict("records")
    assert pd.isna(got.pop("error"))
    assert got == {
        "SeriesInstanceUID": series, "SOPInstanceUID": ds.SOPInstanceUID,
        "url": f"s3://{row['aws_bucket']}/{row['crdc_series_uuid']}/{crdc_instance}.dcm",
        "ContainerIdentifier": "by-sop",
    }


def test_idc_metadata_prints_and_writes_the_rows(series_rows, moto_s3: MotoS3, monkeypatch, tmp_path):
    row = series_rows["SM"][3]
    ds = slide(row["SeriesInstanceUID"], optical_paths=1, icc_bytes=100, frames=1, label="cli")
    put(moto_s3, row, "00000000-0000-4000-8000-000000000501.dcm", to_bytes(ds))
    put(moto_s3, row, "00000000-0000-4000-8000-000000000502.dcm", b"no DICOM here")
    monkeypatch.setenv("IDC_ENDPOINT_URL", moto_s3.endpoint)
    monkeypatch.setenv("IDC_INDEX_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    args = ["--no-optimize-index", "metadata", "--series-instance-uid", row["SeriesInstanceUID"],
            "-a", "ContainerIdentifier", "-a", "(0028,0010)", "-a", "ImageType"]

    shown = runner.invoke(idc, args, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    header, _, first, second, *_ = shown.stdout.splitlines()
    assert header.split() == ["SeriesInstanceUID", "SOPInstanceUID", "url", "ContainerIdentifier", "(0028,0010)",
                              "ImageType", "error"]
    assert ds.SOPInstanceUID in first and "cli" in first.split() and '["ORIGINAL",' in first
    assert "not a DICOM file" in second
    assert "2 instance(s), 1 with an error" in shown.stderr

    out = tmp_path / "headers.parquet"
    as_json = runner.invoke(idc, [*args, "--format", "json", "--out", str(out)], catch_exceptions=False)
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert rows[0]["(0028,0010)"] == 256 and rows[0]["ImageType"][0] == "ORIGINAL" and rows[1]["error"]
    written = pq.read_table(out)
    assert written.column("ContainerIdentifier").to_pylist() == ["cli", None]
    assert written.column("ImageType").to_pylist()[0] == ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]

    unknown = runner.invoke(idc, [*args[:-1], "ImageTyp"])
    assert unknown.exit_code != 0 and "Did you mean ImageType" in unknown.output
    bad_out = runner.invoke(idc, [*args, "--out", str(tmp_path / "x.txt")])
    assert bad_out.exit_code == 2 and "FILE ends in" in bad_out.output
