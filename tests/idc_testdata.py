"""Where the real IDC v25 index files are (the idc-index-data package), and the HTTP handlers
of the local servers the tests start."""

from __future__ import annotations

import functools
import http.server
import threading
from importlib.util import find_spec
from pathlib import Path

_spec = find_spec("idc_index_data")
assert _spec is not None and _spec.submodule_search_locations, "idc-index-data must be installed"
DATA_PACKAGE_DIR = Path(next(iter(_spec.submodule_search_locations)))
REAL_INDEX = DATA_PACKAGE_DIR / "idc_index.parquet"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class RangeHandler(QuietHandler):
    """A static file server that answers ``Range: bytes=a-b`` (and ``a-``, ``-n``) with 206, as
    the buckets IDC publishes releases in do, and counts the requests and the bytes it sends
    (``server.requests``, ``server.bytes_sent``, when the server has them)."""

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        wanted = self.headers.get("Range")
        if wanted is None or not path.is_file():
            self._count(path.stat().st_size if path.is_file() else 0)
            super().do_GET()
            return
        size = path.stat().st_size
        start_text, _, end_text = wanted.removeprefix("bytes=").partition("-")
        if start_text:
            start, end = int(start_text), min(int(end_text) if end_text else size - 1, size - 1)
        else:
            start, end = max(0, size - int(end_text)), size - 1
        if start > end or start >= size:
            self.send_error(416)
            return
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        self._count(len(data))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(data)

    def _count(self, sent: int) -> None:
        if hasattr(self.server, "bytes_sent"):  # a Site's server
            self.server.bytes_sent += sent  # type: ignore[attr-defined]


class Site:
    """A real HTTP server on 127.0.0.1 serving ``root`` with ``handler``, which reads the faults
    a test sets (``faults``: URL path -> fault) and notes each GET (``requests``) and, as a
    :class:`RangeHandler` does, the bytes it sends (``bytes_sent``)."""

    def __init__(self, root: Path, handler: type[http.server.SimpleHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        self.server.faults = self.faults = {}  # type: ignore[attr-defined]
        self.server.requests = self.requests = []  # type: ignore[attr-defined]
        self.server.bytes_sent = 0  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def bytes_sent(self) -> int:
        return self.server.bytes_sent  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
