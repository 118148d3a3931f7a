"""Shared fixtures: the real IDC v25 index from idc-index-data, a small release directory cut
from it, a local HTTP server that publishes release files, and clients that fetched optional
indices made from the real index."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from idc_testdata import DATA_PACKAGE_DIR, REAL_INDEX, QuietHandler

for _var in ("IDC_INDEX_DATA_DIR", "IDC_INDEX_CACHE_DIR", "IDC_RELEASE_BASE_URL", "IDC_RELEASES_URL", "IDC_ENDPOINT_URL"):
    os.environ.pop(_var, None)

SMALL_COLLECTIONS = ("nsclc_radiomics", "rider_pilot", "tcga_luad")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache directory for the session (fetched indices, the optimised main index)."""
    return tmp_path_factory.mktemp("idc-cache")


@pytest.fixture(scope="session")
def client(cache_dir: Path):
    """A client on the real v25 index (idc-index-data), main index in its optimised layout."""
    from idc_index import IDCClient

    c = IDCClient(cache_dir=cache_dir)
    c._engine.wait_optimized("index")  # None when an earlier client of the session wrote the copy
    assert "optimized" in Path(c._engine.table_path("index")).parts
    return c


@pytest.fixture(scope="session")
def plain_client(tmp_path_factory: pytest.TempPathFactory):
    """A client on the real v25 index as shipped (one row group), without the optimised copy."""
    from idc_index import IDCClient

    return IDCClient(cache_dir=tmp_path_factory.mktemp("plain-cache"), optimize_index=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_entry(path: Path, description: str) -> dict:
    schema = pq.read_schema(path)
    return {
        "file": path.name,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
        "description": description,
        "columns": [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable, "description": f"the {f.name} column"}
            for f in schema
        ],
    }


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of release files as a web server publishes them (optional indices)."""
    out = tmp_path_factory.mktemp("published")
    main = pq.read_table(REAL_INDEX, columns=["SeriesInstanceUID", "collection_id", "Modality"])
    sm = main.filter(pc.equal(main["Modality"], "SM")).slice(0, 500)
    sm_index = pa.table(
        {
            "SeriesInstanceUID": sm["SeriesInstanceUID"],
            "ObjectiveLensPower": pa.array([20 if i % 2 else 40 for i in range(sm.num_rows)], pa.int64()),
        }
    )
    pq.write_table(sm_index, out / "sm_index.parquet")
    return out


@pytest.fixture(scope="session")
def small_release(tmp_path_factory: pytest.TempPathFactory, published: Path) -> Path:
    """A release directory with three real collections, and sm_index published remotely."""
    out = tmp_path_factory.mktemp("release")
    main = pq.read_table(REAL_INDEX)
    main = main.filter(pc.is_in(main["collection_id"], pa.array(SMALL_COLLECTIONS)))
    pq.write_table(main, out / "idc_index.parquet")
    collections = pq.read_table(DATA_PACKAGE_DIR / "collections_index.parquet")
    collections = collections.filter(pc.is_in(collections["collection_id"], pa.array(SMALL_COLLECTIONS)))
    pq.write_table(collections, out / "collections_index.parquet")
    manifest = {
        "format": "idc-index-release/1",
        "idc_version": 25,
        "release": "25.0.0-small",
        "created": "2026-11-25T00:00:00Z",
        "builder": {"name": "tests", "version": "0"},
        "indices": {
            "idc_index": manifest_entry(out / "idc_index.parquet", "three collections of v25"),
            "collections_index": manifest_entry(out / "collections_index.parquet", "collections"),
            "sm_index": manifest_entry(published / "sm_index.parquet", "slide microscopy series"),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` from a real HTTP server on 127.0.0.1 while the generator is open;
    yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def http_server(published: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving the published release files."""
    yield from serve(published)


@pytest.fixture(scope="session")
def optional_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The optional indices of v25 made from the real main index (tests/optional_indices.py),
    published over HTTP: their directory and base URL."""
    from optional_indices import write_optional_indices

    out = tmp_path_factory.mktemp("optional-release")
    write_optional_indices(REAL_INDEX, out)
    for url in serve(out):
        yield out, url


def _with_optional_indices(cache: Path, optional_release: tuple[Path, str], optimize_index: bool):
    """A client whose optional indices are fetched from ``optional_release``, and whose clinical
    tables are those published with them."""
    from idc_index import IDCClient
    from optional_indices import CLINICAL_DIR
    from query_catalog import OPTIONAL_INDICES

    directory, url = optional_release
    c = IDCClient(cache_dir=cache, release_base_url=url, optimize_index=optimize_index)
    # Where fetch_index("clinical_index") would have put the clinical tables from the bucket.
    c.clinical_data_dir = str(directory / CLINICAL_DIR)
    for name in OPTIONAL_INDICES:
        c.fetch_index(name)
    return c


@pytest.fixture(scope="session")
def full_client(optional_release: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory):
    """As ``client`` (main index in its optimised layout), with every optional index fetched.

    A cache directory of its own keeps the fetched indices away from the other clients, whose
    tests expect them absent."""
    c = _with_optional_indices(tmp_path_factory.mktemp("full-cache"), optional_release, optimize_index=True)
    assert c._engine.wait_optimized("index") is not None
    return c


@pytest.fixture(scope="session")
def full_plain_client(optional_release: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory):
    """As ``plain_client`` (main index as shipped), with every optional index fetched."""
    c = _with_optional_indices(tmp_path_factory.mktemp("full-plain-cache"), optional_release, optimize_index=False)
    assert c._engine.table_path("index") == str(REAL_INDEX)
    return c
