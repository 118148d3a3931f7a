"""Where the shipped index files are (idc-index-data), for the DuckDB baselines."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def real_index(stem: str = "idc_index") -> Path:
    spec = find_spec("idc_index_data")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / f"{stem}.parquet"
