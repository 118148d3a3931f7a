"""What was read of IDC's objects, kept under ``<cache>/headers/`` so that asking again makes no
request: the first bytes of each object (enough to parse its DICOM header) with the object's
size, and the keys listed under each series prefix.

Entries are keyed by the object's identity, bucket and key (or bucket and prefix): an IDC object
never changes, a new version of a file is a new object, and the objects of a series prefix
(``<crdc_series_uuid>/``) are fixed. Each entry is written whole or not at all (a temporary file,
then renamed), and carries a digest of its content: an entry that is damaged (cut short, garbled,
not ours) reads as absent, so the object is read again and the entry rewritten.

Example:
    >>> cache = HeaderCache(Path("~/.cache/idc-index").expanduser())  # doctest: +SKIP
    >>> cache.put_prefix("idc-open-data", "0a1b.../0c2d....dcm", header_bytes, 1_048_576)  # doctest: +SKIP
    >>> cache.prefix("idc-open-data", "0a1b.../0c2d....dcm")  # doctest: +SKIP
    (b'...', 1048576)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from pathlib import Path

from idc_index.releases.cache import HEADERS_DIR

logger = logging.getLogger("idc_index")


_MAGIC = b"IDC-HEADER-CACHE/1\n"
_DIGEST = 32  # bytes of sha256
_SIZE = struct.Struct("<q")  # the object's size, -1 when not known


class HeaderCache:
    """The entries under ``<cache_root>/headers``."""

    def __init__(self, cache_root: Path) -> None:
        self.root = Path(cache_root) / HEADERS_DIR

    # -- object prefixes ------------------------------------------------------------------
    def prefix(self, bucket: str, key: str) -> tuple[bytes, int | None] | None:
        """The bytes kept of object ``key`` of ``bucket`` (from its start) and its size, or None
        when nothing (sound) is kept."""
        payload = self._read(self._path("object", bucket, key))
        if payload is None or len(payload) < _SIZE.size:
            return None
        (size,) = _SIZE.unpack_from(payload)
        return payload[_SIZE.size:], (None if size < 0 else size)

    def put_prefix(self, bucket: str, key: str, data: bytes, size: int | None) -> None:
        """Keep the first bytes ``data`` of an object of ``size`` bytes."""
        self._write(self._path("object", bucket, key), _SIZE.pack(-1 if size is None else size) + data)

    # -- series listings ------------------------------------------------------------------
    def listing(self, bucket: str, prefix: str) -> list[str] | None:
        """The keys kept for a listing of ``prefix`` in ``bucket``, or None."""
        payload = self._read(self._path("listing", bucket, prefix))
        if payload is None:
            return None
        try:
            keys = json.loads(payload.decode("utf-8"))
        except ValueError:
            return None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return None
        return keys

    def put_listing(self, bucket: str, prefix: str, keys: list[str]) -> None:
        """Keep the keys listed under ``prefix`` of ``bucket``."""
        self._write(self._path("listing", bucket, prefix), json.dumps(keys).encode("utf-8"))

    # -- files ----------------------------------------------------------------------------
    def _path(self, kind: str, bucket: str, name: str) -> Path:
        digest = hashlib.sha256(f"{kind}\0{bucket}\0{name}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest[2:]}.{kind}"

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _DIGEST:
            logger.debug("damaged header cache entry %s: read again", path)
            return None
        payload, digest = blob[len(_MAGIC):-_DIGEST], blob[-_DIGEST:]
        if hashlib.sha256(payload).digest() != digest:
            logger.debug("damaged header cache entry %s: read again", path)
            return None
        return payload

    @staticmethod
    def _write(path: Path, payload: bytes) -> None:
        """Write an entry whole (temporary file, then renamed); a cache that cannot be written
        is logged (WARNING) and skipped: the result does not depend on it."""
        blob = _MAGIC + payload + hashlib.sha256(payload).digest()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as e:
            logger.warning("cannot write the header cache entry %s: %s (set IDC_INDEX_CACHE_DIR to a writable "
                           "directory)", path, e)


__all__ = ["HeaderCache"]
