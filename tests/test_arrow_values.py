"""The Arrow values the download path builds without pyarrow's conversion of Python values
(which imports pandas) are those pyarrow's conversion builds, and the plan's de-duplication keeps
the rows ``Table.group_by`` would."""

from __future__ import annotations

import random
import threading

import numpy as np
import pyarrow as pa
import pytest
from idc_index._arrow import arange, bools, int64s, repeat, scalar, strings, system_allocator, to_numpy
from idc_index.download.plan_table import first_rows

STRINGS = [[], [""], ["a"], ["a", None, "é", "", "日本/x"], [None], [None, None], [str(i) for i in range(100)]]


@pytest.mark.parametrize("values", STRINGS)
def test_strings_are_pyarrows(values: list[str | None]) -> None:
    built = strings(values)
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.string()))
    assert strings(iter(values)).equals(built)


def test_strings_that_pyarrow_refuses_are_refused_alike() -> None:
    for bad in ([1, "a"], ["\ud800"]):
        with pytest.raises(Exception) as ours:
            strings(bad)
        with pytest.raises(Exception) as theirs:
            pa.array(bad, pa.string())
        assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize("values", [[], [0], [1, None, -5], [None], [2**62, -(2**62)], list(range(50))])
def test_int64s_are_pyarrows(values: list[int | None]) -> None:
    built = int64s(values)
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.int64()))


def test_numpy_and_ranges() -> None:
    assert int64s(np.arange(5, dtype=np.int32)).equals(pa.array(range(5), pa.int64()))
    assert int64s(np.arange(10)[::3]).equals(pa.array([0, 3, 6, 9], pa.int64()))
    assert arange(4).equals(pa.array(range(4), pa.int64())) and len(arange(0)) == 0
    mask = np.array([True, False, True, True, False, False, False, False, True])
    assert bools(mask).equals(pa.array(mask.tolist(), pa.bool_()))
    table = pa.table({"x": list(range(9))})
    assert table.filter(bools(mask))["x"].to_pylist() == [0, 2, 3, 8]
    for array in (pa.array([3, 1, 2], pa.uint64()), pa.array([1.5, 2.0]), pa.array([1, 2, 3]).slice(1),
                  pa.chunked_array([[1, 2], [3]])):
        assert to_numpy(array).tolist() == array.to_pylist()
    with pytest.raises(pa.ArrowInvalid):  # with nulls: pyarrow's own conversion, which copies none
        to_numpy(pa.array([1, None]))


def test_scalars_and_repeats() -> None:
    for value in ("", "/", "é", 0, -3, 1e6, 0.5):
        assert scalar(value).equals(pa.scalar(value))
    assert repeat("x", 3).equals(pa.array(["x"] * 3)) and len(repeat("", 0)) == 0


def _first_rows_reference(table: pa.Table, keys: list[str]) -> list[dict]:
    seen, out = set(), []
    for row in table.to_pylist():
        key = tuple(row[k] for k in keys)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def test_first_rows_keeps_the_first_row_of_each_key() -> None:
    rng = random.Random(5)
    for trial in range(200):
        n = rng.randint(0, 60)

        def column(n: int = n) -> list[str | None]:
            return [rng.choice(["a", "b", "c", "", None]) for _ in range(n)]

        table = pa.table({"bucket": pa.array(column(), pa.string()), "prefix": pa.array(column(), pa.string()),
                          "key": pa.array(column(), pa.string()), "size": pa.array(range(n), pa.int64())})
        if trial % 2 and n > 2:
            table = pa.concat_tables([table.slice(0, n // 2), table.slice(n // 2)])
        for keys in (["bucket"], ["bucket", "prefix", "key"], ["prefix", "key"]):
            assert first_rows(table, keys).to_pylist() == _first_rows_reference(table, keys), (trial, keys)
    unique = pa.table({"prefix": ["a", "b"]})
    assert first_rows(unique, ["prefix"]) is unique


def test_the_system_allocator_is_used_inside_the_blocks_and_the_default_after_the_last() -> None:
    default = pa.default_memory_pool().backend_name
    assert default != "system"  # pyarrow's wheels default to mimalloc or jemalloc
    inside = threading.Event()
    leave = threading.Event()
    seen: list[str] = []

    def other_block() -> None:
        with system_allocator():
            inside.set()
            leave.wait(10)
            seen.append(pa.default_memory_pool().backend_name)

    with system_allocator():
        column = strings(["a", "b"])
        assert pa.default_memory_pool().backend_name == "system"
        thread = threading.Thread(target=other_block)
        thread.start()
        assert inside.wait(10)
    # the other thread's block is still open: its allocations still go to the system allocator
    assert pa.default_memory_pool().backend_name == "system"
    leave.set()
    thread.join()
    assert seen == ["system"]
    assert pa.default_memory_pool().backend_name == default
    assert column.to_pylist() == ["a", "b"]  # freed by the allocator that gave it, later
