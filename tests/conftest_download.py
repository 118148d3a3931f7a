"""Fixtures of the download tests (imported by tests/test_download_*.py): a moto S3 server
seeded with an IDC-like layout of real series, and a fault-injecting proxy in front of it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from s3server import FaultProxy, MotoS3, Series, seed_idc_layout

_spec = find_spec("idc_index_data")
assert _spec is not None and _spec.submodule_search_locations, "idc-index-data must be installed"
REAL_INDEX = Path(next(iter(_spec.submodule_search_locations))) / "idc_index.parquet"

#: One object large enough to be fetched in parallel ranges (with the tests' part size).
BIG_SIZE = 24_000_000


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    s3 = MotoS3()
    yield s3
    s3.stop()


@pytest.fixture(scope="session")
def idc_layout(moto_s3: MotoS3) -> list[Series]:
    """Real series of the three IDC buckets, each with a few made-up instances of 100 kB-2 MB,
    and one series whose single instance is tens of MB."""
    series = seed_idc_layout(
        moto_s3, REAL_INDEX, {"idc-open-data": 3, "idc-open-data-two": 1, "idc-open-data-cr": 1}
    )
    (big,) = seed_idc_layout(
        moto_s3, REAL_INDEX, {"idc-open-data": 1}, instances=(1, 1), sizes=(BIG_SIZE, BIG_SIZE), seed=7, skip=3
    )
    assert big.crdc_series_uuid not in {s.crdc_series_uuid for s in series}
    return [*series, big]


@pytest.fixture()
def proxy(moto_s3: MotoS3) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_s3.endpoint, stall_seconds=20.0)
    yield p
    p.stop()


def plan_for(series: list[Series]) -> list:
    from idc_index.download import PlanItem

    return [
        PlanItem.series(
            s.bucket,
            s.crdc_series_uuid,
            f"{s.collection_id}/{s.series_instance_uid}",
            size=s.size,
            series_instance_uid=s.series_instance_uid,
        )
        for s in series
    ]


def expected_files(root: Path, series: list[Series]) -> dict[Path, bytes]:
    out = {}
    for s in series:
        for key, data in s.objects.items():
            out[root / s.collection_id / s.series_instance_uid / key.split("/", 1)[1]] = data
    return out


def files_on_disk(root: Path) -> dict[Path, int]:
    """Every file under ``root`` and its size; a file renamed or removed while the walk runs
    (a temporary file of a running download) is left out."""
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            try:
                out[Path(d) / f] = os.path.getsize(Path(d) / f)
            except FileNotFoundError:
                pass
    return out


def wait_until(seen: Callable[[], bool], limit: float = 60.0) -> bool:
    """Whether ``seen()`` holds, looked at every 20 ms until it does. ``limit`` (seconds) only
    keeps a run in which it never holds from hanging: assert on what ``seen`` looks at, never
    on how long it took."""
    deadline = time.monotonic() + limit
    while not seen():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def assert_complete_or_absent(root: Path, expected: dict[Path, bytes]) -> None:
    """Every file under a final name is complete and byte-identical; nothing unexpected exists
    except temporary files, which never carry a final name."""
    for path in files_on_disk(root):
        if path.name.endswith(".idc-partial"):
            continue
        assert path in expected, f"unexpected file {path}"
        assert path.read_bytes() == expected[path], f"{path} is under its final name but incomplete or wrong"


# ---------------------------------------------------------------------------------------------
# Fixtures of the client and CLI download tests

#: A small real collection (40 series, 5 patients) seeded whole, one or two tiny objects a series.
SMALL_COLLECTION = "rider_breast_mri"
GCS_ONLY_NAMES = {"idc-open-data-two": "idc-open-idc1", "idc-open-data-cr": "idc-open-cr"}


def _seed_rows(s3: MotoS3, rows: list[dict], seed: int, bucket_key: str = "aws_bucket") -> list[Series]:
    import random
    import uuid

    from s3server import content

    rnd = random.Random(seed)
    out = []
    for row in rows:
        s = Series(row[bucket_key], row["crdc_series_uuid"], row["SeriesInstanceUID"], row["collection_id"])
        for _ in range(rnd.randint(1, 2)):
            key = f"{s.crdc_series_uuid}/{uuid.UUID(int=rnd.getrandbits(128), version=4)}.dcm"
            data = content(rnd.getrandbits(32), rnd.randint(2_000, 20_000))
            s3.put(s.bucket, key, data)
            s.objects[key] = data
        out.append(s)
    return out


@pytest.fixture(scope="session")
def small_collection(moto_s3: MotoS3) -> list[Series]:
    """Every series of SMALL_COLLECTION in its bucket."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(REAL_INDEX, columns=["crdc_series_uuid", "aws_bucket", "SeriesInstanceUID", "collection_id"])
    rows = t.filter(pc.equal(t["collection_id"], SMALL_COLLECTION)).to_pylist()
    return _seed_rows(moto_s3, rows, seed=11)


@pytest.fixture(scope="session")
def gcs_layout(moto_s3: MotoS3, idc_layout: list[Series]) -> list[Series]:
    """The series of idc_layout that live in AWS-only buckets, copied under their GCS bucket names."""
    out = []
    for name in GCS_ONLY_NAMES.values():
        moto_s3.create_bucket(name)
    for s in idc_layout:
        if s.bucket in GCS_ONLY_NAMES:
            g = Series(GCS_ONLY_NAMES[s.bucket], s.crdc_series_uuid, s.series_instance_uid, s.collection_id)
            for key, data in s.objects.items():
                moto_s3.put(g.bucket, key, data)
                g.objects[key] = data
            out.append(g)
    assert out
    return out


@pytest.fixture(scope="session")
def prior_series(moto_s3: MotoS3) -> tuple[dict, Series]:
    """A version of a current series in an earlier IDC release (prior_versions_index), seeded under
    its own uuid; the current version is not on the server."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    current = pq.read_table(REAL_INDEX, columns=["SeriesInstanceUID"]).column(0)
    t = pq.read_table(REAL_INDEX.parent / "prior_versions_index.parquet")
    t = t.filter(pc.and_(pc.less(t["series_size_MB"], 5), pc.equal(t["aws_bucket"], "idc-open-data")))
    t = t.filter(pc.is_in(t["SeriesInstanceUID"], current))
    row = t.slice(0, 1).to_pylist()[0]
    (s,) = _seed_rows(moto_s3, [row], seed=5)
    return row, s
