from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from index_builder/ without installing
    sys.path.insert(0, str(ROOT))

from index_builder.backends import DuckDBBackend
from index_builder.build import BuildOptions, build
from index_builder.fixture import write_fixture


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic BigQuery tables, as parquet (written once per session)."""
    return write_fixture(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="session")
def release_dir(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 17 indices built offline from the synthetic tables (once per session)."""
    out = tmp_path_factory.mktemp("releases") / "25.0.0"
    messages: list[str] = []
    build(DuckDBBackend(source_dir), BuildOptions(idc_version=25, out=out), log=messages.append)
    return out


@pytest.fixture(scope="session")
def real_idc_index() -> Path:
    """idc_index.parquet of idc-index-data 25.0.5, when that package is installed."""
    spec = importlib.util.find_spec("idc_index_data")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("idc-index-data 25.0.5 is not installed (pip install 'idc-index-builder[test]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "idc_index.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path
