"""The real v25 indices published as a release site, as index_builder lays releases out: the main
index rewritten by the builder's writer (sorted, row groups, page index, bloom filters on the
UIDs), the other indices of idc-index-data as they are, a manifest, ``current`` and the listing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
from conftest import manifest_entry
from idc_testdata import DATA_PACKAGE_DIR, REAL_INDEX

#: The indices idc-index-data installs, published with the release.
MAIN_INDICES = ("idc_index", "collections_index", "analysis_results_index", "prior_versions_index",
                "version_metadata_index")


def publish_v25(root: Path, release: str, extra: dict[str, Path] | None = None) -> Path:
    """Publish v25 as ``release`` (and as current) under ``root``, with ``extra`` indices
    (stem -> parquet file) next to the main ones; returns ``root``."""
    from index_builder.indices import INDICES
    from index_builder.writer import conform, write_index

    out = root / release / "release_artifacts"
    out.mkdir(parents=True)
    files = {stem: DATA_PACKAGE_DIR / f"{stem}.parquet" for stem in MAIN_INDICES if stem != "idc_index"}
    files.update(extra or {})
    for source in files.values():
        os.symlink(source, out / source.name)
    spec = INDICES["idc_index"]
    files["idc_index"] = write_index(conform(pq.read_table(REAL_INDEX), spec), spec, out / "idc_index.parquet", 25, release)
    manifest = {
        "format": "idc-index-release/1", "idc_version": 25, "release": release,
        "created": "2026-11-25T00:00:00Z", "builder": {"name": "tests", "version": "0"},
        "indices": {stem: manifest_entry(out / source.name, stem) for stem, source in files.items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (root / "current").mkdir()
    os.symlink(out, root / "current" / "release_artifacts")
    (root / "releases.json").write_text(json.dumps(
        {"format": "idc-index-releases/1", "current": release, "releases": [{"release": release, "idc_version": 25}]}
    ))
    return root
