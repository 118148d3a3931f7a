"""pyarrow's compute functions, imported on first use, and Arrow values built from Python ones
without importing pandas.

Importing idc_index does not import pyarrow. pyarrow imports pandas (a quarter of a second, more
than the rest of a command's start-up) the first time it converts a Python object: ``pa.array``
of a list or a NumPy array, ``pa.table`` of lists, ``pa.scalar``, and a Python value handed to a
compute function (``pc.equal(column, "")``), since each first asks pandas whether the object is
one of its arrays. The download path builds its Arrow values with the helpers below instead,
from buffers, so that a command that returns no DataFrame never imports pandas.

:func:`compute` and the values are typed loosely, because pyarrow-stubs refuse the scalars its
kernels broadcast (``pc.binary_join_element_wise(column, scalar("/"), other, scalar(""))``).

Example:
    >>> strings(["a", None]).to_pylist(), scalar("/").as_py(), int64s([3, None]).to_pylist()
    (['a', None], '/', [3, None])
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

#: An Arrow array, chunked array or scalar, typed loosely as :func:`compute` is.
Arrow = Any

#: The most bytes a ``string`` array holds (32-bit offsets).
_MAX_STRING_BYTES = 2**31 - 1


def compute() -> Any:
    """The ``pyarrow.compute`` module."""
    return importlib.import_module("pyarrow.compute")


def runs_of(tables: Iterable[Arrow], rows: int) -> Iterator[Arrow]:
    """``tables`` (pyarrow Tables, such as a query's batches as they come) gathered into runs of
    at least ``rows`` rows (the last may be shorter), so that work on whole columns runs on
    long ones while a few of them are held at once.

    Example:
        >>> import pyarrow as pa
        >>> [t.num_rows for t in runs_of([pa.table({"a": [1, 2]})] * 3, 3)]
        [4, 2]
    """
    import pyarrow as pa

    pending: list[Arrow] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        if held >= rows:
            yield pa.concat_tables(pending)
            pending, held = [], 0
    if pending:
        yield pa.concat_tables(pending)


_pool_lock = threading.Lock()
_pool_users = 0
_pool_before: Any = None


@contextlib.contextmanager
def system_allocator() -> Iterator[None]:
    """pyarrow allocates from the C library's allocator (instead of its default, mimalloc)
    inside the block, in every thread; the default comes back when the last such block ends.

    For work that builds a large table from many short-lived columns (a plan of a million
    series, 64k rows at a time): mimalloc keeps the pages of the freed columns in its
    segments, 50-70 MB more at the peak of a whole-IDC plan, and was slower there too, while
    glibc hands large blocks back at once. Memory allocated inside is freed by the allocator
    that gave it, wherever that happens.
    """
    import pyarrow as pa

    global _pool_users, _pool_before
    with _pool_lock:
        if _pool_users == 0:
            _pool_before = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _pool_users += 1
    try:
        yield
    finally:
        with _pool_lock:
            _pool_users -= 1
            if _pool_users == 0:
                pa.set_memory_pool(_pool_before)


def strings(values: Iterable[str | None]) -> Arrow:
    """``pa.array(values, pa.string())``, built from buffers (pandas is not imported).

    Values that are not ``str`` or None, and more than 2 GiB of text, go to ``pa.array``, which
    raises or converts as it does.
    """
    import numpy as np
    import pyarrow as pa

    items = values if isinstance(values, list) else list(values)
    n = len(items)
    nulls = sum(1 for v in items if v is None)
    texts: list[Any] = [("" if v is None else v) for v in items] if nulls else items
    try:
        joined = "".join(texts)
        data = joined.encode("utf-8")
    except (TypeError, UnicodeEncodeError):
        return pa.array(items, pa.string())
    if len(data) > _MAX_STRING_BYTES:
        return pa.array(items, pa.string())
    if len(data) == len(joined):  # ASCII: a character is a byte
        lengths = np.fromiter(map(len, texts), dtype=np.int32, count=n)
    else:
        lengths = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int32, count=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    validity = _validity([v is not None for v in items]) if nulls else None
    return _from_buffers(pa.string(), n, [validity, _buffer(offsets), _buffer(data)], nulls)


def int64s(values: Iterable[int | None] | Any) -> Arrow:
    """``pa.array(values, pa.int64())`` of Python ints (None for null) or a NumPy integer array,
    built from buffers (pandas is not imported)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(values, np.ndarray):
        data = np.ascontiguousarray(values, dtype=np.int64)
        return _from_buffers(pa.int64(), len(data), [None, _buffer(data)], 0)
    items = values if isinstance(values, list) else list(values)
    nulls = sum(1 for v in items if v is None)
    if not all(v is None or type(v) is int for v in items):
        return pa.array(items, pa.int64())
    try:
        data = np.fromiter((0 if v is None else v for v in items), dtype=np.int64, count=len(items))
    except OverflowError:
        return pa.array(items, pa.int64())
    validity = _validity([v is not None for v in items]) if nulls else None
    return _from_buffers(pa.int64(), len(items), [validity, _buffer(data)], nulls)


def arange(n: int) -> Arrow:
    """The int64 array ``0, 1, ..., n - 1`` (``pa.array(range(n), pa.int64())``)."""
    import numpy as np

    return int64s(np.arange(n, dtype=np.int64))


def bools(mask: Any) -> Arrow:
    """``pa.array(mask, pa.bool_())`` of a NumPy boolean array, built from buffers (pandas is
    not imported); for ``table.filter(numpy_mask)``."""
    import numpy as np
    import pyarrow as pa

    values = np.asarray(mask, dtype=bool)
    return _from_buffers(pa.bool_(), len(values), [None, _buffer(np.packbits(values, bitorder="little"))], 0)


def scalar(value: str | float) -> Arrow:
    """``pa.scalar(value)`` of a str (string), int (int64) or float (double), for compute
    functions (a Python value handed to one is converted by ``pa.scalar``, which imports pandas)."""
    import pyarrow as pa

    if isinstance(value, str):
        return strings([value])[0]
    if type(value) is int:
        return int64s([value])[0]
    if type(value) is float:
        from array import array

        return _from_buffers(pa.float64(), 1, [None, _buffer(array("d", [value]))], 0)[0]
    return pa.scalar(value)


def repeat(value: str, n: int) -> Arrow:
    """``n`` times the string ``value`` (``pa.repeat`` without converting a Python value)."""
    import pyarrow as pa

    repeated: Any = pa.repeat
    return repeated(scalar(value), n)


def to_numpy(array: Arrow) -> Any:
    """The values of an integer or floating point ``array`` without nulls as a NumPy array
    (``array.to_numpy()``, which imports pandas)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if array.null_count or not (pa.types.is_integer(kind) or pa.types.is_float64(kind) or pa.types.is_float32(kind)):
        return array.to_numpy()
    dtype = np.dtype({"double": "float64", "float": "float32"}.get(str(kind), str(kind)))
    data: Any = array.buffers()[1]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def _validity(valid: list[bool]) -> Any:
    """An Arrow validity bitmap (least significant bit first) of ``valid``."""
    import numpy as np

    return _buffer(np.packbits(np.array(valid, dtype=bool), bitorder="little"))


def _buffer(data: Any) -> Any:
    """``pa.py_buffer`` of anything with the buffer protocol (bytes, NumPy arrays), not copied."""
    import pyarrow as pa

    return pa.py_buffer(data)


def _from_buffers(kind: Any, length: int, buffers: list[Any], null_count: int) -> Arrow:
    import pyarrow as pa

    return pa.Array.from_buffers(kind, length, buffers, null_count=null_count)
