"""Downloads that go through an optional index fetched on first use: slide-microscopy instances
(``sm_instance_index``) and the clinical tables that come with ``clinical_index``. The optional
indices are served by a real HTTP server on 127.0.0.1, the objects by moto's S3 server."""

from __future__ import annotations

import functools
import http.server
import io
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest_download import files_on_disk, moto_s3  # noqa: F401  (fixtures)
from idc_index import IDCClient
from idc_index.errors import IDCError, UnknownIdentifierError
from idc_testdata import REAL_INDEX, QuietHandler
from s3server import MotoS3, content

#: Larger than the downloader's default multipart threshold (32 MiB): fetched in ranges.
SLIDE_SIZE = 40_000_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory of optional index files, published over HTTP as a release's assets."""
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def slides(moto_s3: MotoS3, site: tuple[Path, str]) -> list[dict]:
    """Three instances of two real SM series of the v25 index, on the S3 server, and the
    sm_instance_index that lists them: one whole slide of tens of MB and two small levels."""
    main = pq.read_table(REAL_INDEX, columns=["SeriesInstanceUID", "crdc_series_uuid", "aws_bucket", "Modality"])
    sm = main.filter(pc.and_(pc.equal(main["Modality"], "SM"), pc.equal(main["aws_bucket"], "idc-open-data")))
    series = sm.slice(0, 2).to_pylist()
    rows = []
    for i, (s, size) in enumerate(zip([series[0], series[0], series[1]], [SLIDE_SIZE, 250_000, 400_000])):
        inst = str(uuid.UUID(int=0xABC0 + i, version=4))
        data = content(100 + i, size)
        moto_s3.put(s["aws_bucket"], f"{s['crdc_series_uuid']}/{inst}.dcm", data)
        rows.append(
            {
                "SOPInstanceUID": f"1.2.826.0.1.3680043.8.498.{1000 + i}",
                "SeriesInstanceUID": s["SeriesInstanceUID"],
                "crdc_instance_uuid": inst,
                "instance_size": size,
                "TotalPixelMatrixColumns": 1000 * (i + 1),
                "data": data,
            }
        )
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "data"} for r in rows])
    pq.write_table(table, site[0] / "sm_instance_index.parquet")
    return rows


def _client(site: tuple[Path, str], cache: Path) -> IDCClient:
    return IDCClient(cache_dir=cache, release_base_url=site[1], optimize_index=False)


def test_download_dicom_instance_fetches_its_index_and_the_objects(
    slides: list[dict], site: tuple[Path, str], moto_s3: MotoS3, tmp_path: Path
) -> None:
    client = _client(site, tmp_path / "cache")
    dest = tmp_path / "slides"
    sops = [r["SOPInstanceUID"] for r in slides]
    dry = client.download_dicom_instance(sops, dest, dry_run=True)
    assert dry.plan.instances == 3 and dry.plan.bytes_total == sum(r["instance_size"] for r in slides)
    assert files_on_disk(dest) == {}

    report = client.download_dicom_instance(sops, dest, endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert report.ok and len(report.files) == 3
    for r in slides:
        (meta,) = client.sql(
            "SELECT collection_id, PatientID, StudyInstanceUID FROM index "
            f"WHERE SeriesInstanceUID = '{r['SeriesInstanceUID']}'"
        ).to_pylist()
        path = (
            dest / meta["collection_id"] / meta["PatientID"] / meta["StudyInstanceUID"]
            / f"SM_{r['SeriesInstanceUID']}" / f"{r['crdc_instance_uuid']}.dcm"
        )
        assert path.read_bytes() == r["data"]
        (record,) = [f for f in report.files if f.sop_instance_uid == r["SOPInstanceUID"]]
        assert Path(record.path) == path and record.series_instance_uid == r["SeriesInstanceUID"]
        # The server states a CRC32 (and an MD5 ETag) with a GET: it is what is checked. The
        # ranged slide's HEAD is answered without it by moto: its MD5 ETag is checked instead.
        ranged = r["instance_size"] > 32 << 20
        assert record.verification == ("md5" if ranged else "crc32")
    assert len(files_on_disk(dest)) == 3

    # One instance on its own, flat, as a string, sizes only; then a rerun that finds it present.
    one = client.download_dicom_instance(
        slides[1]["SOPInstanceUID"], tmp_path / "flat", dirTemplate=None, endpoint_url=moto_s3.endpoint,
        show_progress_bar=False, checksums=False,
    )
    assert one.paths == [str(tmp_path / "flat" / f"{slides[1]['crdc_instance_uuid']}.dcm")]
    assert one.files[0].verification == "size"
    again = client.download_dicom_instance(
        slides[1]["SOPInstanceUID"], tmp_path / "flat", dirTemplate=None, endpoint_url=moto_s3.endpoint,
        show_progress_bar=False,
    )
    assert len(again.skipped) == 1 and not again.downloaded

    with pytest.raises(UnknownIdentifierError, match=r"1\.2\.826\.0\.1\.3680043\.8\.498\.999"):
        client.download_dicom_instance(["1.2.826.0.1.3680043.8.498.999"], tmp_path / "none")
    assert not (tmp_path / "none").exists() or files_on_disk(tmp_path / "none") == {}


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_clinical_index_brings_the_clinical_tables(
    moto_s3: MotoS3, site: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(
        pa.table({"collection_id": ["nlst", "nlst"], "table_name": ["nlst_canc", "nlst_prsn"],
                  "column": ["cancyr", "age"]}),
        site[0] / "clinical_index.parquet",
    )
    canc = pa.table({"pid": [100001, 100002, 100003], "cancyr": [1, None, 3]})
    prsn = pa.table({"pid": [100001, 100002], "age": [61, 67]})
    moto_s3.create_bucket("idc-open-metadata")
    prefix = "bigquery_export/idc_v25_clinical"
    # BigQuery exports a table as a folder of shards; a single file is read as well.
    moto_s3.put("idc-open-metadata", f"{prefix}/nlst_canc/000000000000.parquet", _parquet_bytes(canc.slice(0, 2)))
    moto_s3.put("idc-open-metadata", f"{prefix}/nlst_canc/000000000001.parquet", _parquet_bytes(canc.slice(2)))
    moto_s3.put("idc-open-metadata", f"{prefix}/nlst_prsn.parquet", _parquet_bytes(prsn))

    monkeypatch.setenv("IDC_ENDPOINT_URL", moto_s3.endpoint)
    cache = tmp_path / "cache"
    client = _client(site, cache)
    client.fetch_index("clinical_index")
    data_dir = Path(client.clinical_data_dir)
    assert data_dir.is_relative_to(cache) and data_dir.parts[-2:] == ("clinical_data", "idc_v25_clinical")
    assert client.sql("SELECT COUNT(*) AS n FROM clinical_index").to_pylist() == [{"n": 2}]
    got = client.get_clinical_table("nlst_canc").sort_values("pid").reset_index(drop=True)
    assert got["pid"].tolist() == [100001, 100002, 100003] and got["cancyr"].isna().tolist() == [False, True, False]
    assert client.get_clinical_table("nlst_prsn")["age"].tolist() == [61, 67]
    with pytest.raises(IDCError, match="nlst_prsn"):
        client.get_clinical_table("nlst_prs")

    # A release whose clinical tables are not on the server says so, and sets nothing.
    other = IDCClient(cache_dir=tmp_path / "other", release_base_url=site[1], optimize_index=False)
    other.idc_version = "v99"
    with pytest.raises(IDCError, match="idc_v99_clinical"):
        other.fetch_index("clinical_index")
    assert other.clinical_data_dir is None


def test_a_slide_series_larger_than_a_share_is_sharded_by_its_instances(
    slides: list[dict], site: tuple[Path, str], moto_s3: MotoS3, tmp_path: Path
) -> None:
    client = _client(site, tmp_path / "cache")
    slide = slides[0]["SeriesInstanceUID"]  # two instances listed: the 40 MB slide and a level
    (tiny,) = client.sql(
        "SELECT SeriesInstanceUID FROM index WHERE Modality = 'CT' ORDER BY series_size_MB, SeriesInstanceUID LIMIT 1"
    ).column("SeriesInstanceUID")
    ct_only = client.plan_download(tmp_path / "ct", seriesInstanceUID=[tiny])
    assert [p.series for p in ct_only.shard(1)] == [1]
    assert not list((tmp_path / "cache").rglob("sm_instance_index*")), "a CT plan never fetches the slide index"

    plan = client.plan_download(tmp_path / "data", seriesInstanceUID=[slide, tiny])
    parts = plan.shard(2)
    assert sum(p.instances for p in parts) == 2 and sum(p.series for p in parts) == 1
    biggest = max(parts, key=lambda p: p.bytes_total)
    assert biggest.instances == 1 and biggest.bytes_total == SLIDE_SIZE
    (item,) = biggest.items
    series_folder = plan.table.filter(pc.equal(plan.table["SeriesInstanceUID"], slide))["destination"][0].as_py()
    assert item.destination == f"{series_folder}/{slides[0]['crdc_instance_uuid']}.dcm"
    report = biggest.run(endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert report.ok and Path(report.paths[0]).read_bytes() == slides[0]["data"]
    # Without a way to list instances the series stays whole.
    assert [p.series for p in plan.shard(2, instances=lambda item: [])].count(1) == 2


def test_a_manifest_of_single_instances_downloads_them_into_their_series_folders(
    slides: list[dict], site: tuple[Path, str], moto_s3: MotoS3, tmp_path: Path
) -> None:
    from idc_index.download.s5cmd import read_manifest

    client = _client(site, tmp_path / "cache")
    two = slides[:2]  # the slide and a level of the same series
    plan = client.plan_download(tmp_path / "p", sopInstanceUID=[r["SOPInstanceUID"] for r in two],
                                dirTemplate="%SeriesInstanceUID")
    manifest = plan.to_manifest(tmp_path / "instances.s5cmd")
    assert sorted(line.instance_file for line in read_manifest(manifest).lines) == sorted(
        f"{r['crdc_instance_uuid']}.dcm" for r in two
    )
    again = client.plan_download(tmp_path / "q", manifestFile=manifest, dirTemplate="%SeriesInstanceUID")
    assert again.instances == 2 and again.series == 0
    assert again.bytes_total == sum(r["instance_size"] for r in two)  # sizes from sm_instance_index
    report = client.download_from_manifest(manifest, tmp_path / "data", dirTemplate="%SeriesInstanceUID",
                                           endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert report.ok and len(report.files) == 2
    for r in two:
        path = tmp_path / "data" / r["SeriesInstanceUID"] / f"{r['crdc_instance_uuid']}.dcm"
        assert path.read_bytes() == r["data"]
    # A line of a whole series covers its instances: the series is fetched once, whole.
    series_line = f"cp s3://{plan.items[0].bucket}/{plan.items[0].key.split('/')[0]}/* .\n"
    mixed = tmp_path / "mixed.s5cmd"
    mixed.write_text(manifest.read_text() + series_line)
    whole = client.plan_download(tmp_path / "r", manifestFile=mixed)
    assert whole.series == 1 and whole.instances == 0
