"""Quality gates run on the written files before a release is published."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from index_builder.errors import QualityGateError, SchemaChangeError

MAX_LISTED = 5


@dataclass
class Bounds:
    """How far rows and bytes of an index may move from the previous release."""

    max_shrink: float = 0.05  # fraction it may lose
    max_growth: float = 1.0  # fraction it may gain


@dataclass
class GateReport:
    problems: list[str] = field(default_factory=list)
    schema_problems: list[str] = field(default_factory=list)

    def raise_if_failed(self) -> None:
        if not (self.problems or self.schema_problems):
            return
        lines = self.problems + self.schema_problems
        msg = "quality gates failed, nothing was published:\n  " + "\n  ".join(lines)
        if self.problems:
            raise QualityGateError(msg)
        raise SchemaChangeError(msg)


def _sample(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:MAX_LISTED])
    return shown + (f" ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")


def check_download_fields(path: Path, report: GateReport) -> None:
    """Every series has a bucket, a series UUID and a URL ``s3://<bucket>/<uuid>/*``."""
    t = pq.read_table(path, columns=["SeriesInstanceUID", "aws_bucket", "crdc_series_uuid", "series_aws_url"])
    for col in ("aws_bucket", "crdc_series_uuid", "series_aws_url"):
        values = t.column(col)
        bad = pc.or_(pc.is_null(values), pc.equal(pc.utf8_length(values), 0))
        bad = pc.fill_null(bad, True)
        n = pc.sum(bad).as_py() or 0
        if n:
            uids = t.filter(bad).column("SeriesInstanceUID").to_pylist()
            report.problems.append(
                f"{path.stem}: {n} of {t.num_rows} series have no {col} (e.g. {_sample(uids)}); "
                "check the join to the instance metadata in the query"
            )
    bucket, uuid = t.column("aws_bucket").cast("string"), t.column("crdc_series_uuid").cast("string")
    expected = pc.binary_join_element_wise("s3://", bucket, "/", uuid, "/*", "")
    mismatch = pc.fill_null(pc.not_equal(expected, t.column("series_aws_url").cast("string")), False)
    n = pc.sum(mismatch).as_py() or 0
    if n:
        urls = t.filter(mismatch).column("series_aws_url").to_pylist()
        report.problems.append(f"{path.stem}: {n} series_aws_url are not s3://<aws_bucket>/<crdc_series_uuid>/* (e.g. {_sample(urls)})")


def check_mapped(path: Path, uid_column: str, name_column: str, report: GateReport) -> None:
    """A name column derived from a UID by a mapping in the SQL is never NULL where the UID is set."""
    t = pq.read_table(path, columns=[uid_column, name_column])
    unmapped = pc.and_(pc.is_valid(t.column(uid_column)), pc.is_null(t.column(name_column)))
    n = pc.sum(unmapped).as_py() or 0
    if n:
        uids = sorted(set(t.filter(unmapped).column(uid_column).to_pylist()))
        report.problems.append(
            f"{path.stem}: {n} rows have a {uid_column} with no {name_column}: unmapped {_sample(uids)}; "
            f"add them to the CASE that computes {name_column} in queries/{path.stem}.sql"
        )


def _columns_signature(entry: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["type"] for c in entry["columns"]}


def check_against_previous(
    new: dict[str, Any], previous: dict[str, Any], bounds: Bounds, allow_schema_change: set[str], report: GateReport
) -> None:
    """Rows and bytes within ``bounds`` of the previous release; schema unchanged unless declared."""
    for name, entry in new["indices"].items():
        old = previous["indices"].get(name)
        if old is None:
            if name not in allow_schema_change:
                report.schema_problems.append(
                    f"{name}: not in the previous release {previous.get('release')}; "
                    f"declare the new index with --allow-schema-change {name}"
                )
            continue
        if name not in allow_schema_change:
            before, after = _columns_signature(old), _columns_signature(entry)
            if before != after or [c["name"] for c in old["columns"]] != [c["name"] for c in entry["columns"]]:
                added = [c for c in after if c not in before]
                removed = [c for c in before if c not in after]
                retyped = [f"{c}: {before[c]} -> {after[c]}" for c in after if c in before and before[c] != after[c]]
                report.schema_problems.append(
                    f"{name}: schema differs from release {previous.get('release')} (added {added}, removed "
                    f"{removed}, retyped {retyped}, or reordered); if intended, pass --allow-schema-change {name}"
                )
        for what in ("rows", "bytes"):
            o, n = old[what], entry[what]
            if o == 0:
                continue
            change = (n - o) / o
            if change < -bounds.max_shrink or change > bounds.max_growth:
                report.problems.append(
                    f"{name}: {what} went from {o} to {n} ({change:+.1%}), outside the bounds "
                    f"-{bounds.max_shrink:.0%}..+{bounds.max_growth:.0%}; check the source tables, or widen "
                    "them with --max-shrink / --max-growth if the change is real"
                )


def run_gates(
    directory: Path,
    manifest: dict[str, Any],
    previous: dict[str, Any] | None,
    bounds: Bounds,
    allow_schema_change: set[str],
) -> GateReport:
    report = GateReport()
    if "idc_index" in manifest["indices"]:
        path = directory / manifest["indices"]["idc_index"]["file"]
        check_download_fields(path, report)
        check_mapped(path, "SOPClassUID", "sop_class_name", report)
        check_mapped(path, "TransferSyntaxUID", "transfer_syntax_name", report)
    if "prior_versions_index" in manifest["indices"]:
        path = directory / manifest["indices"]["prior_versions_index"]["file"]
        check_download_fields(path, report)
    if previous is not None:
        check_against_previous(manifest, previous, bounds, allow_schema_change, report)
    report.raise_if_failed()
    return report
