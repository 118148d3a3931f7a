"""Where the real IDC v25 index files are (the idc-index-data package), and a quiet HTTP
handler for the local servers the tests start."""

from __future__ import annotations

import http.server
from importlib.util import find_spec
from pathlib import Path

_spec = find_spec("idc_index_data")
assert _spec is not None and _spec.submodule_search_locations, "idc-index-data must be installed"
DATA_PACKAGE_DIR = Path(next(iter(_spec.submodule_search_locations)))
REAL_INDEX = DATA_PACKAGE_DIR / "idc_index.parquet"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
