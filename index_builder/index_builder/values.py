"""Value-level gates: each column of an index profiled (missing values, distinct values, numeric range)
and compared with the same column of the previous release.

A column fails when, against the previous release,

* its fraction of missing values (NULL, an empty string, an empty list) rises by more than
  ``null_increase`` (default 0.05: 5 percentage points);
* its number of distinct values (scalar columns) shrinks by more than ``distinct_shrink`` (default
  0.10 of what it was);
* its range (numeric columns) reaches beyond the previous range widened by ``range_factor - 1``
  (default 10, so 9) times its width on either side: a change of units, a sign flipped, a sentinel.

Each bound can be set per column (``--value-bound idc_index.BodyPartExamined.null_increase=0.2``;
``inf`` switches that check off for the column). The profiles of both releases are printed as a
report of the columns that changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from index_builder.errors import BuilderError

KINDS = ("null_increase", "distinct_shrink", "range_factor")


@dataclass
class ValueBounds:
    null_increase: float = 0.05
    distinct_shrink: float = 0.10
    range_factor: float = 10.0
    #: (index, column, kind) -> bound for that column
    per_column: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def bound(self, index: str, column: str, kind: str) -> float:
        return self.per_column.get((index, column, kind), getattr(self, kind))


def parse_value_bound(text: str) -> tuple[tuple[str, str, str], float]:
    """``INDEX.COLUMN.KIND=VALUE`` -> ((index, column, kind), value)."""
    target, sep, value = text.partition("=")
    parts = target.split(".")
    if not sep or len(parts) != 3 or parts[2] not in KINDS:
        raise BuilderError(
            f"--value-bound {text!r}: write INDEX.COLUMN.KIND=VALUE with KIND one of {', '.join(KINDS)}, "
            "e.g. idc_index.BodyPartExamined.null_increase=0.2 (inf switches the check off)"
        )
    try:
        bound = float(value)
    except ValueError:
        raise BuilderError(f"--value-bound {text!r}: {value!r} is not a number (inf switches the check off)") from None
    if bound < 0 or math.isnan(bound):
        raise BuilderError(f"--value-bound {text!r}: the bound must be 0 or more")
    return (parts[0], parts[1], parts[2]), bound


@dataclass(frozen=True)
class Profile:
    rows: int
    missing: int
    distinct: int | None  # scalar columns only
    low: float | None  # numeric columns only
    high: float | None

    @property
    def missing_fraction(self) -> float:
        return self.missing / self.rows if self.rows else 0.0


def _missing(values: pa.ChunkedArray) -> int:
    t = values.type
    mask = pc.is_null(values, nan_is_null=True) if pa.types.is_floating(t) else pc.is_null(values)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        mask = pc.or_(mask, pc.fill_null(pc.equal(pc.utf8_length(values), 0), False))
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        mask = pc.or_(mask, pc.fill_null(pc.equal(pc.list_value_length(values), 0), False))
    return int(pc.sum(mask).as_py() or 0)


def profile_column(values: pa.ChunkedArray) -> Profile:
    t = values.type
    scalar = not pa.types.is_nested(t)
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t)
    low = high = None
    if numeric:
        finite = values.drop_null()
        if pa.types.is_floating(t):
            finite = finite.filter(pc.is_finite(finite))
        if len(finite):
            bounds = pc.min_max(finite)
            low, high = float(bounds["min"].as_py()), float(bounds["max"].as_py())
    return Profile(
        rows=len(values),
        missing=_missing(values),
        distinct=int(pc.count_distinct(values, mode="only_valid").as_py()) if scalar else None,
        low=low,
        high=high,
    )


def profile_file(path: Path, withdrawn: Withdrawn | None = None) -> dict[str, Profile]:
    table = pq.read_table(path)
    if withdrawn is not None:
        table = withdrawn.drop(table)
    return {name: profile_column(table.column(name)) for name in table.column_names}


@dataclass(frozen=True)
class Withdrawn:
    """The rows of the collections that the previous release had and this one has not, left out of the
    previous release's profiles: the collection gate reports their going (or it was declared), so the
    values are compared over the collections both releases have."""

    collections: frozenset[str]
    series: frozenset[str]

    @classmethod
    def between(cls, old_files: dict[str, Path], new_files: dict[str, Path]) -> Withdrawn | None:
        index = next((n for n in ("idc_index", "collections_index")
                      if Path(old_files.get(n, "")).is_file() and Path(new_files.get(n, "")).is_file()), None)
        if index is None:
            return None
        old = pq.read_table(old_files[index], columns=["collection_id", "SeriesInstanceUID"][: 2 if index == "idc_index" else 1])
        new = pq.read_table(new_files[index], columns=["collection_id"])
        gone = set(pc.unique(old.column("collection_id")).to_pylist()) - set(pc.unique(new.column("collection_id")).to_pylist())
        gone.discard(None)
        if not gone:
            return None
        series: frozenset[str] = frozenset()
        if index == "idc_index":
            mask = pc.is_in(old.column("collection_id"), pa.array(sorted(gone), old.column("collection_id").type))
            series = frozenset(old.filter(mask).column("SeriesInstanceUID").to_pylist())
        return cls(frozenset(gone), series)

    def drop(self, table: pa.Table) -> pa.Table:
        for column, values in (("collection_id", self.collections), ("SeriesInstanceUID", self.series)):
            if column in table.column_names and values:
                keep = pc.invert(pc.fill_null(pc.is_in(table.column(column), pa.array(sorted(values), table.column(column).type)), False))
                return table.filter(keep)
        return table


def _pct(x: float) -> str:
    return f"{x:.1%}"


def compare(index: str, old: dict[str, Profile], new: dict[str, Profile], bounds: ValueBounds) -> tuple[list[str], list[str]]:
    """(problems, report lines) for the columns both releases have."""
    problems: list[str] = []
    lines: list[str] = []

    def fail(column: str, kind: str, what: str, loosened: float) -> None:
        problems.append(
            f"{index}.{column}: {what}; check {column} in the source tables, or accept the change with "
            f"--value-bound {index}.{column}.{kind}={loosened:g}"
        )

    for column in (c for c in new if c in old):
        o, n = old[column], new[column]
        changes = []
        rise = n.missing_fraction - o.missing_fraction
        if o.missing != n.missing:
            changes.append(f"missing {_pct(o.missing_fraction)} -> {_pct(n.missing_fraction)}")
        if rise > bounds.bound(index, column, "null_increase"):
            fail(column, "null_increase",
                 f"missing values rose from {_pct(o.missing_fraction)} to {_pct(n.missing_fraction)} of rows "
                 f"(+{rise * 100:.1f} points, bound +{bounds.bound(index, column, 'null_increase') * 100:.1f})",
                 math.ceil(rise * 100) / 100)
        if o.distinct is not None and n.distinct is not None and o.distinct != n.distinct:
            changes.append(f"distinct {o.distinct} -> {n.distinct}")
            shrink = (o.distinct - n.distinct) / o.distinct
            if shrink > bounds.bound(index, column, "distinct_shrink"):
                fail(column, "distinct_shrink",
                     f"distinct values fell from {o.distinct} to {n.distinct} ({-shrink:+.1%}, bound "
                     f"-{bounds.bound(index, column, 'distinct_shrink'):.0%})", math.ceil(shrink * 100) / 100)
        if None not in (o.low, o.high, n.low, n.high):
            assert o.low is not None and o.high is not None and n.low is not None and n.high is not None
            if (o.low, o.high) != (n.low, n.high):
                changes.append(f"range {o.low:g}..{o.high:g} -> {n.low:g}..{n.high:g}")
            factor = bounds.bound(index, column, "range_factor")
            if math.isfinite(factor):
                width = (o.high - o.low) or abs(o.high) or 1.0
                lo, hi = o.low - (factor - 1) * width, o.high + (factor - 1) * width
                if n.low < lo or n.high > hi:
                    needed = 1 + max(o.low - n.low, n.high - o.high) / width
                    fail(column, "range_factor",
                         f"values now span {n.low:g}..{n.high:g}, beyond {lo:g}..{hi:g} (the previous range "
                         f"{o.low:g}..{o.high:g} widened by range_factor {factor:g})", math.ceil(needed))
        if changes:
            lines.append(f"{index}.{column}: " + "; ".join(changes))
    return problems, lines


def check_values(new_files: dict[str, Path], old_files: dict[str, Path], bounds: ValueBounds) -> tuple[list[str], list[str]]:
    """Compare every index present in both releases, over the collections both have."""
    problems: list[str] = []
    lines: list[str] = []
    withdrawn = Withdrawn.between(old_files, new_files)
    for index in sorted(new_files.keys() & old_files.keys()):
        if not Path(old_files[index]).is_file():
            continue
        p, r = compare(index, profile_file(old_files[index], withdrawn), profile_file(new_files[index]), bounds)
        problems += p
        lines += r
    return problems, lines
