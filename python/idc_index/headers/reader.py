"""The DICOM header of objects in the buckets, read with growing Range requests.

A header is at the start of its file: a slide of hundreds of MB has a header of a few kB to a
few MB. Each object's first :data:`FIRST_READ` bytes are read, then parsed with pydicom
(``stop_before_pixels``) over a file-like object (:class:`_Prefix`) that holds only the bytes
read so far; a parse that asks for bytes beyond them stops (:class:`_NeedMore`), and the next
round reads, for those objects only, as many bytes again (from where the last read ended),
all in one batched request to the native core per round. A parse completes when it reaches the
pixel data (``PixelData``, ``FloatPixelData``, ``DoubleFloatPixelData``) or the object's end.
A header larger than the ceiling (:data:`MAX_HEADER`), an object that is not DICOM or ends
inside its header, and a read that failed are reported for that object (:attr:`Header.error`),
never raised.

What a parse needed (the bytes up to the furthest one it read, and the object's size) is kept
in a :class:`~idc_index.headers.cache.HeaderCache` when one is given, and read from it first.

Example:
    >>> fetch = lambda requests: _core.read_ranges(requests, config)  # doctest: +SKIP
    >>> (header,) = read_headers([("idc-open-data", "0a1b.../0c2d....dcm")], fetch)  # doctest: +SKIP
    >>> header.dataset.Rows  # doctest: +SKIP
    512
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from idc_index.errors import _NeedMoreBytes as _NeedMore
from idc_index.headers.dependency import require_pydicom
from idc_index.units import format_size

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from idc_index.headers.cache import HeaderCache

logger = logging.getLogger("idc_index")

#: Bytes read of each object first (most radiology headers fit).
FIRST_READ = 64 * 1024
#: Bytes read of an object at most: a header larger than this is reported, not read on.
MAX_HEADER = 64 * 1024 * 1024


class RangeResult(Protocol):
    """What the core returns for one Range request (:class:`idc_index._core.RangeRead`)."""

    @property
    def data(self) -> bytes: ...
    @property
    def object_size(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...


#: Reads ``(bucket, key, start, length)`` ranges, results in request order.
Fetch = Callable[[Sequence[tuple[str, str, int, int]]], Sequence[RangeResult]]


@dataclass
class Header:
    """The header of one object: the ``dataset`` parsed (without the pixel data), or why not
    (``error``); ``bytes_read`` of the object's ``size`` (None when not known) were read for it
    by this call, none when it was ``cached``."""

    bucket: str
    key: str
    dataset: Dataset | None = None
    error: str | None = None
    size: int | None = None
    bytes_read: int = 0
    cached: bool = False


class _Prefix(io.RawIOBase):
    """The first bytes of an object of ``size`` bytes (None: not known, larger than ``data``) as
    a file: reading beyond them raises :class:`_NeedMore` while the object has more, and is a
    short read at the object's end, which marks it ``truncated`` when a value is cut."""

    def __init__(self, data: bytes, size: int | None) -> None:
        super().__init__()
        self._data = data
        self._whole = size is not None and len(data) >= size
        self._pos = 0
        #: The furthest byte read so far: the bytes a parse needs again.
        self.high = 0
        self.truncated = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        end = len(self._data) if n is None or n < 0 else self._pos + n
        if not self._whole and (n is None or n < 0 or end > len(self._data)):
            raise _NeedMore()
        chunk = self._data[self._pos:end]
        if n is not None and n > 0 and len(chunk) < n and (chunk or n > 8):
            self.truncated = True  # a value cut short (a clean end reads no tag: 8 bytes asked, none there)
        self._pos += len(chunk)
        self.high = max(self.high, self._pos)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            if not self._whole:
                raise _NeedMore()
            base = len(self._data)
        else:
            base = self._pos if whence == io.SEEK_CUR else 0
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def parse(data: bytes, size: int | None) -> tuple[Dataset | None, str | None, int]:
    """The header in the first bytes ``data`` of an object of ``size`` bytes: the dataset or
    why there is none, and how many bytes of ``data`` the parse read.

    Raises:
        _NeedMore: the header goes on beyond ``data``.
    """
    pydicom = require_pydicom()
    file = _Prefix(data, size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's about values; the data are as IDC has them
            dataset = pydicom.dcmread(file, stop_before_pixels=True)
    except _NeedMore:
        raise
    except pydicom.errors.InvalidDicomError as e:
        reason = str(e).replace(" Use force=True to force reading.", "")
        return None, f"not a DICOM file: {reason}", file.high
    except Exception as e:  # noqa: BLE001  (pydicom raises many kinds for what it cannot parse)
        return None, f"cannot parse the DICOM header: {type(e).__name__}: {e}", file.high
    if file.truncated:
        return None, f"the file ends inside its DICOM header, at byte {len(data)}: it is truncated", file.high
    return dataset, None, file.high


def read_headers(
    objects: Sequence[tuple[str, str]],
    fetch: Fetch,
    cache: HeaderCache | None = None,
    *,
    first: int = FIRST_READ,
    ceiling: int = MAX_HEADER,
) -> list[Header]:
    """The header of each ``(bucket, key)`` of ``objects``, in order.

    Objects whose header the cache holds are not read; the others are read in rounds of
    :data:`Fetch` calls, each round for the objects whose header goes on, twice as many bytes
    as the round before (from ``first`` up to ``ceiling``).
    """
    headers = [Header(bucket, key) for bucket, key in objects]
    data: dict[int, bytes] = {}
    sizes: dict[int, int | None] = {}
    wanted: dict[int, int] = {}  # of each object still to read: the bytes to have after this round
    for i, header in enumerate(headers):
        kept = cache.prefix(header.bucket, header.key) if cache is not None else None
        if kept is not None:
            try:
                header.dataset, header.error, _ = parse(*kept)
                header.size, header.cached = kept[1], True
                continue
            except _NeedMore:  # an entry that does not hold the whole header: read again
                pass
        data[i], sizes[i], wanted[i] = b"", None, first
    rounds = 0
    while wanted:
        rounds += 1
        order = sorted(wanted)
        requests = [(headers[i].bucket, headers[i].key, len(data[i]), wanted[i] - len(data[i])) for i in order]
        logger.debug("header round %d: %d object(s), %s", rounds, len(order),
                     format_size(sum(r[3] for r in requests)))
        results = fetch(requests)
        following: dict[int, int] = {}
        for i, (_, _, _, length), result in zip(order, requests, results):
            header = headers[i]
            if result.error:
                header.error = f"cannot read s3://{header.bucket}/{header.key}: {result.error}"
                continue
            data[i] += result.data
            header.bytes_read = len(data[i])
            size = result.object_size
            if size is None and len(result.data) < length:
                size = len(data[i])  # the object ended first
            header.size = sizes[i] = size
            try:
                header.dataset, header.error, used = parse(data[i], size)
            except _NeedMore:
                if len(data[i]) >= ceiling:
                    header.error = (f"the DICOM header is larger than {format_size(ceiling)}: not read further "
                                    f"(the object is {format_size(size) if size is not None else 'larger'})")
                else:
                    more = min(2 * len(data[i]), ceiling)
                    following[i] = more if size is None else min(more, size)
                continue
            if cache is not None:
                cache.put_prefix(header.bucket, header.key, data[i][:used], size)
        wanted = following
    return headers


__all__ = ["FIRST_READ", "MAX_HEADER", "Fetch", "Header", "RangeResult", "parse", "read_headers"]
