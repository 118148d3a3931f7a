"""Quality gates run before a release is published.

Three kinds, all collected into one :class:`GateReport` so that a failed build lists every problem:

* checks of the written files (:data:`FILE_CHECKS`, per index): identifiers, keys, instance
  counts, sizes and download locations;
* checks of the release's instance table (``queries/source_checks.sql``, :data:`SOURCE_CHECKS`):
  defects that the series-level indices hide once they aggregate ``dicom_all``;
* checks against the previous release: rows and bytes within bounds, schema unchanged unless
  declared, no collection removed unless declared, and each column's values within bounds
  (:mod:`index_builder.values`).

Every message names the index, how many rows are affected, one example and what to check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from index_builder import sqlfile
from index_builder.errors import CollectionRemovedError, QualityGateError, SchemaChangeError
from index_builder.values import ValueBounds, check_values

MAX_LISTED = 5
#: the name of the query file with the checks of the instance table
SOURCE_CHECKS_QUERY = "source_checks"
#: where the workflow takes the declarations of withdrawn collections
REMOVED_COLLECTIONS_INPUT = "allow_removed_collections"


@dataclass
class Bounds:
    """How far rows and bytes of an index may move from the previous release."""

    max_shrink: float = 0.05  # fraction it may lose
    max_growth: float = 1.0  # fraction it may gain


@dataclass
class GateReport:
    problems: list[str] = field(default_factory=list)
    schema_problems: list[str] = field(default_factory=list)
    collection_problems: list[str] = field(default_factory=list)
    #: the columns whose values changed since the previous release, one line each
    value_changes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.schema_problems or self.collection_problems)

    def raise_if_failed(self) -> None:
        if not self.failed:
            return
        # a withdrawn collection first: it explains the row counts that follow
        lines = self.collection_problems + self.problems + self.schema_problems
        msg = "quality gates failed, nothing was published:\n  " + "\n  ".join(lines)
        if self.schema_problems and not (self.problems or self.collection_problems):
            raise SchemaChangeError(msg)
        if self.collection_problems and not (self.problems or self.schema_problems):
            raise CollectionRemovedError(msg)
        raise QualityGateError(msg)


def _sample(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:MAX_LISTED])
    return shown + (f" ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")


def _n(count: int, noun: str) -> str:
    """``1 instance``, ``2 instances``, ``2 series``."""
    return f"{count} {noun}" if count == 1 or noun.endswith("series") else f"{count} {noun}s"


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _missing(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """NULL, or an empty string."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return pc.fill_null(pc.equal(pc.utf8_length(values), 0), True)
    return pc.is_null(values)


def _first(table: pa.Table, mask: pa.ChunkedArray, column: str) -> Any:
    """The smallest value of ``column`` among the rows of ``mask``: a stable example."""
    values = table.filter(mask).column(column)
    valid = values.drop_null()
    return pc.min(valid).as_py() if len(valid) else None


# ------------------------------------------------------------------------------ the written files


@dataclass(frozen=True)
class IndexRole:
    """How the messages about one index name its rows and where to look for the cause."""

    unit: str  # what a row is, plural ("series", "series versions", "instances")
    key: str  # the column that names a row in an example
    source: str  # where the values come from, for "check ... in <source>"


ROLES = {
    "idc_index": IndexRole("series", "SeriesInstanceUID", "dicom_all"),
    "prior_versions_index": IndexRole(
        "series versions", "crdc_series_uuid", "dicom_all of the releases min_idc_version..max_idc_version"
    ),
    "sm_instance_index": IndexRole("instances", "SOPInstanceUID", "dicom_all"),
    "collections_index": IndexRole("collections", "collection_id", "original_collections_metadata"),
    "analysis_results_index": IndexRole("analysis results", "analysis_result_id", "analysis_results_metadata"),
}


def _example_key(role: IndexRole, column: str) -> str:
    # a row with no SeriesInstanceUID is named by its series UUID
    return "crdc_series_uuid" if column == role.key == "SeriesInstanceUID" else role.key


def check_identifiers(path: Path, report: GateReport, columns: tuple[str, ...] = (
        "collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID")) -> None:
    """No row without its collection, patient, study or series."""
    role = ROLES[path.stem]
    t = pq.read_table(path, columns=sorted({*columns, role.key, "crdc_series_uuid"} & set(pq.read_schema(path).names)))
    for col in columns:
        bad = _missing(t.column(col))
        n = _count(bad)
        if n:
            key = _example_key(role, col)
            report.problems.append(
                f"{path.stem}: {n} of {t.num_rows} {role.unit} have no {col} (e.g. {key} {_first(t, bad, key)!r}); "
                f"no instance of them has one: check {col} in {role.source}"
            )


def check_unique(path: Path, column: str, report: GateReport, nulls: bool = True) -> None:
    """``column`` names one row: never on two rows, and (unless ``nulls`` is False, when another
    check reports them) never NULL."""
    role = ROLES[path.stem]
    values = pq.read_table(path, columns=[column]).column(column)
    missing = _count(_missing(values)) if nulls else 0
    if missing:
        report.problems.append(
            f"{path.stem}: {missing} of {len(values)} rows have no {column}; check {column} in {role.source}"
        )
    counts = pc.value_counts(values.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        examples = sorted(repeated.field("values").to_pylist())
        extra = _count(pc.subtract(repeated.field("counts"), 1))
        report.problems.append(
            f"{path.stem}: {column} is not unique: {_n(len(repeated), 'value')} on more than one row "
            f"({_n(extra, 'extra row')}; e.g. {_sample(examples)}); check {role.source} for rows listed twice"
        )


def check_instance_counts(path: Path, report: GateReport) -> None:
    """Every series of idc_index has at least one instance."""
    t = pq.read_table(path, columns=["SeriesInstanceUID", "instanceCount"])
    bad = pc.fill_null(pc.less(t.column("instanceCount"), 1), True)
    n = _count(bad)
    if n:
        report.problems.append(
            f"{path.stem}: {n} of {t.num_rows} series have no instance (instanceCount 0, e.g. SeriesInstanceUID "
            f"{_first(t, bad, 'SeriesInstanceUID')!r}): their rows in dicom_all have no SOPInstanceUID, and such a "
            "series also reaches ct_index and volume_geometry_index; check those rows in dicom_all"
        )


def check_sizes(path: Path, column: str, report: GateReport) -> None:
    """Sizes are known (not NULL, not NaN) and not negative."""
    role = ROLES[path.stem]
    t = pq.read_table(path, columns=sorted({column, role.key}))
    values = t.column(column)
    bad = pc.is_null(values, nan_is_null=True) if pa.types.is_floating(values.type) else pc.is_null(values)
    bad = pc.or_(bad, pc.fill_null(pc.less(values, 0), False))
    n = _count(bad)
    if n:
        report.problems.append(
            f"{path.stem}: {n} of {t.num_rows} {role.unit} have no {column}, or a negative one (e.g. {role.key} "
            f"{_first(t, bad, role.key)!r}); check instance_size in {role.source}"
        )


def check_instance_locations(path: Path, report: GateReport) -> None:
    """Every instance of sm_instance_index has its object key."""
    t = pq.read_table(path, columns=["SOPInstanceUID", "crdc_instance_uuid"])
    bad = _missing(t.column("crdc_instance_uuid"))
    n = _count(bad)
    if n:
        report.problems.append(
            f"{path.stem}: {n} of {t.num_rows} instances have no crdc_instance_uuid (e.g. SOPInstanceUID "
            f"{_first(t, bad, 'SOPInstanceUID')!r}), so they cannot be downloaded; check crdc_instance_uuid in dicom_all"
        )


def check_download_fields(path: Path, report: GateReport) -> None:
    """Every series has a bucket, a series UUID and a URL ``s3://<bucket>/<uuid>/*``.

    In prior_versions_index, a version whose GCS bucket the query does not map to an AWS bucket is
    reported as such (the fix is in the query), and not again as a missing bucket or URL.
    """
    role = ROLES[path.stem]
    names = pq.read_schema(path).names
    columns = ["SeriesInstanceUID", "aws_bucket", "crdc_series_uuid", "series_aws_url"]
    t = pq.read_table(path, columns=columns + (["gcs_bucket"] if "gcs_bucket" in names else []))
    if "gcs_bucket" in names:
        unmapped = pc.and_(_missing(t.column("aws_bucket")), pc.invert(_missing(t.column("gcs_bucket"))))
        n = _count(unmapped)
        if n:
            buckets = sorted(set(t.filter(unmapped).column("gcs_bucket").to_pylist()))
            report.problems.append(
                f"{path.stem}: {n} of {t.num_rows} {role.unit} are in GCS bucket(s) {_sample(buckets)} that the CASE "
                f"computing aws_bucket in queries/{path.stem}.sql does not map (e.g. crdc_series_uuid "
                f"{_first(t, unmapped, 'crdc_series_uuid')!r}); add each bucket's public AWS counterpart there, or "
                "exclude the bucket in that query if its data has no AWS copy"
            )
            t = t.filter(pc.invert(unmapped))
    if "gcs_bucket" in names:
        why = {"aws_bucket": f"their gcs_url in {role.source} names no bucket: check gcs_url there"}
    else:
        why = {"aws_bucket": f"no instance of these series has one: check aws_bucket in {role.source}"}
    why["crdc_series_uuid"] = f"check crdc_series_uuid in {role.source}"
    located = pc.invert(pc.or_(_missing(t.column("aws_bucket")), _missing(t.column("crdc_series_uuid"))))
    for col in ("aws_bucket", "crdc_series_uuid", "series_aws_url"):
        bad = _missing(t.column(col))
        if col == "series_aws_url":  # only where bucket and UUID are there: otherwise reported above
            bad = pc.and_(bad, located)
        n = _count(bad)
        if n:
            key = "SeriesInstanceUID" if col == "crdc_series_uuid" else role.key
            reason = why.get(col, f"check how queries/{path.stem}.sql builds series_aws_url")
            report.problems.append(
                f"{path.stem}: {n} of {t.num_rows} {role.unit} have no {col} (e.g. {key} {_first(t, bad, key)!r}); "
                f"{reason}"
            )
    bucket, uuid = t.column("aws_bucket").cast("string"), t.column("crdc_series_uuid").cast("string")
    expected = pc.binary_join_element_wise("s3://", bucket, "/", uuid, "/*", "")
    mismatch = pc.fill_null(pc.not_equal(expected, t.column("series_aws_url").cast("string")), False)
    n = _count(mismatch)
    if n:
        urls = t.filter(mismatch).column("series_aws_url").to_pylist()
        report.problems.append(
            f"{path.stem}: {n} series_aws_url are not s3://<aws_bucket>/<crdc_series_uuid>/* (e.g. {_sample(urls)}); "
            f"check how queries/{path.stem}.sql builds series_aws_url"
        )


@functools.cache
def mapped_values(index: str, column: str) -> frozenset[str]:
    """The values that a ``CASE <column> WHEN '<value>' ...`` of ``queries/<index>.sql`` maps."""
    datasets = sqlfile.Datasets("project.dataset", "project.clinical", ((1, "project.prior"),))
    tree = sqlglot.parse_one(sqlfile.render(sqlfile.load(index), datasets), read="bigquery")
    found: set[str] = set()
    for case in tree.find_all(exp.Case):
        subject = case.this
        if isinstance(subject, exp.Column) and subject.name == column:
            found |= {w.this.name for w in case.args.get("ifs") or [] if isinstance(w.this, exp.Literal)}
    return frozenset(found)


def check_mapped(path: Path, uid_column: str, name_column: str, report: GateReport) -> None:
    """A name column derived from a UID by a mapping in the SQL is never NULL where the UID is set.

    A series mixing encodings has its UIDs joined by commas; the message lists only the UIDs that
    the mapping lacks, i.e. what to add.
    """
    t = pq.read_table(path, columns=["SeriesInstanceUID", uid_column, name_column])
    unmapped = pc.and_(pc.is_valid(t.column(uid_column)), pc.is_null(t.column(name_column)))
    n = _count(unmapped)
    if n:
        known = mapped_values(path.stem, uid_column)
        listed = {u.strip() for v in t.filter(unmapped).column(uid_column).to_pylist() for u in v.split(",")}
        missing = sorted(listed - known) or sorted(listed)
        report.problems.append(
            f"{path.stem}: {n} of {t.num_rows} series have a {uid_column} with no {name_column}: unmapped "
            f"{_sample(missing)} (e.g. SeriesInstanceUID {_first(t, unmapped, 'SeriesInstanceUID')!r}); "
            f"add them to the CASE that computes {name_column} in queries/{path.stem}.sql"
        )


FileCheck = Callable[[Path, GateReport], None]

#: the checks of each written index file
FILE_CHECKS: dict[str, list[FileCheck]] = {
    "idc_index": [
        check_identifiers,
        lambda p, r: check_unique(p, "SeriesInstanceUID", r, nulls=False),  # NULLs: check_identifiers
        check_instance_counts,
        lambda p, r: check_sizes(p, "series_size_MB", r),
        check_download_fields,
        lambda p, r: check_mapped(p, "SOPClassUID", "sop_class_name", r),
        lambda p, r: check_mapped(p, "TransferSyntaxUID", "transfer_syntax_name", r),
    ],
    "prior_versions_index": [
        check_identifiers,
        lambda p, r: check_sizes(p, "series_size_MB", r),
        check_download_fields,
    ],
    "sm_instance_index": [
        lambda p, r: check_unique(p, "SOPInstanceUID", r),
        lambda p, r: check_sizes(p, "instance_size", r),
        check_instance_locations,
    ],
    # idc-index declares these keys to its query planner (one row per collection, per result)
    "collections_index": [lambda p, r: check_unique(p, "collection_id", r)],
    "analysis_results_index": [lambda p, r: check_unique(p, "analysis_result_id", r)],
}


def check_files(paths: dict[str, Path], report: GateReport) -> GateReport:
    """Run the file checks of each index in ``paths`` (index name -> parquet file)."""
    for name, path in paths.items():
        for check in FILE_CHECKS.get(name, []):
            check(Path(path), report)
    return report


# -------------------------------------------------------------------------- the instance table


@dataclass(frozen=True)
class SourceCheck:
    """One check of ``queries/source_checks.sql``: its columns are ``<name>_instances``,
    ``<name>_series`` and ``<name>_example`` (words separated by spaces, see ``example``)."""

    name: str
    #: format fields: ``count`` (``<name>_instances`` with ``noun``), ``series``, ``example``, ``table``
    message: str
    #: format of the example, from the words of ``<name>_example``
    example: str
    #: what ``<name>_instances`` counts
    noun: str = "instance"


def _missing_identifier(column: str) -> SourceCheck:
    return SourceCheck(
        f"no_{column}",
        f"idc_index: {column} is NULL or empty on {{count}} in {{series}} of {{table}} (e.g. {{example}}); "
        f"ANY_VALUE() in queries/idc_index.sql hides a NULL when another instance of the series has a {column}, "
        f"and publishes the series with a NULL {column} when none has; check {column} of these instances in {{table}}",
        "series {0}, instance {1}",
    )


SOURCE_CHECKS: list[SourceCheck] = [
    _missing_identifier("collection_id"),
    _missing_identifier("PatientID"),
    _missing_identifier("StudyInstanceUID"),
    SourceCheck(
        "no_SeriesInstanceUID",
        "idc_index: SeriesInstanceUID is NULL or empty on {count} of {table} (e.g. {example}); all such "
        "instances would be published as one series with a NULL SeriesInstanceUID; check them in {table}",
        "instance {1}",
    ),
    SourceCheck(
        "no_SOPInstanceUID",
        "idc_index: SOPInstanceUID is NULL or empty on {count} in {series} of {table} (e.g. {example}); such a "
        "row is no instance: a series made only of such rows is published with instanceCount 0 and no "
        "series_size_MB, and reaches ct_index and volume_geometry_index; check these rows in {table}",
        "series {0}",
        noun="row",
    ),
    SourceCheck(
        "no_instance_size",
        "idc_index: instance_size is NULL, 0 or negative on {count} in {series} of {table} (e.g. {example}); "
        "series_size_MB of these series would be NULL or too small and sm_instance_index would list no size; "
        "check instance_size of these instances in {table}",
        "series {0}, instance {1}",
    ),
    SourceCheck(
        "no_aws_bucket",
        "idc_index: aws_bucket is NULL or empty on {count} in {series} of {table} (e.g. {example}); their "
        "files cannot be located; check aws_bucket of these instances in {table}",
        "series {0}, instance {1}",
    ),
    SourceCheck(
        "no_crdc_series_uuid",
        "idc_index: crdc_series_uuid is NULL or empty on {count} in {series} of {table} (e.g. {example}); "
        "their files cannot be located; check crdc_series_uuid of these instances in {table}",
        "series {0}, instance {1}",
    ),
    SourceCheck(
        "duplicated_rows",
        "idc_index: {table} has {count} repeating an instance already listed in its series ({series}, e.g. "
        "{example}); instanceCount and series_size_MB would count such an instance twice and sm_instance_index "
        "would list it twice; check {table} for duplicated rows",
        "instance {1} of series {0}",
        noun="row",
    ),
    SourceCheck(
        "shared_instance",
        "idc_index: {table} has {count} in more than one series (e.g. {example}); a SOPInstanceUID identifies "
        "one instance, of one series: check which series each belongs to in {table}",
        "instance {1} in series {0} and {2}",
        noun="SOPInstanceUID",
    ),
    SourceCheck(
        "split_buckets",
        "idc_index: {table} has {series} whose {count} are in more than one bucket (e.g. "
        "{example}); series_aws_url names one bucket, so the files in the others could never be downloaded; "
        "check aws_bucket of the instances of these series in {table}",
        "series {0} in {1}",
    ),
    SourceCheck(
        "split_uuids",
        "idc_index: {table} has {series} whose {count} are under more than one crdc_series_uuid "
        "(e.g. {example}); series_aws_url names one of them, so the files under the others could never be "
        "downloaded; check crdc_series_uuid of the instances of these series in {table}",
        "series {0} under {1}",
    ),
]


def check_source(result: pa.Table, table: str, report: GateReport) -> GateReport:
    """Turn the one-row result of ``queries/source_checks.sql`` into problems."""
    names = set(result.column_names)
    expected = {f"{c.name}_{part}" for c in SOURCE_CHECKS for part in ("instances", "series", "example")}
    if names != expected:
        raise QualityGateError(
            f"queries/{SOURCE_CHECKS_QUERY}.sql returns columns {sorted(names ^ expected)} that gates.py does not "
            "expect (or lacks them); keep the query and SOURCE_CHECKS in gates.py in step"
        )
    row = result.to_pylist()[0] if result.num_rows else {}
    for check in SOURCE_CHECKS:
        n = int(row.get(f"{check.name}_instances") or 0)
        s = int(row.get(f"{check.name}_series") or 0)
        if not (n or s):
            continue
        words = str(row.get(f"{check.name}_example") or "").split(" ")
        words += ["?"] * (3 - len(words))
        report.problems.append(check.message.format(
            count=_n(n, check.noun), series=_n(s, "series"), example=check.example.format(*words), table=table))
    return report


# ---------------------------------------------------------------------------- previous release


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


def collections(directory: Path, manifest: dict[str, Any], index: str) -> dict[str, int] | None:
    """collection_id -> rows of ``index`` in a release directory; None if the file is not there."""
    entry = manifest["indices"].get(index)
    path = Path(directory) / entry["file"] if entry else None
    if path is None or not path.is_file():
        return None
    counts = pc.value_counts(pq.read_table(path, columns=["collection_id"]).column("collection_id").drop_null())
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


def check_removed_collections(
    new_dir: Path,
    new: dict[str, Any],
    previous_dir: Path,
    previous: dict[str, Any],
    allowed: set[str],
    report: GateReport,
) -> None:
    """Every collection of the previous release is still there, unless declared withdrawn."""
    index = next((n for n in ("idc_index", "collections_index") if n in new["indices"] and n in previous["indices"]), None)
    if index is None:
        if allowed:
            report.collection_problems.append(
                f"--allow-removed-collection {sorted(allowed)}: neither this build nor release "
                f"{previous.get('release')} has idc_index or collections_index to compare collections with"
            )
        return
    before = collections(previous_dir, previous, index)
    after = collections(new_dir, new, index)
    if before is None:
        report.collection_problems.append(
            f"{index}: cannot tell which collections release {previous.get('release')} had: "
            f"{Path(previous_dir) / previous['indices'][index]['file']} is missing; download it with the manifest"
        )
        return
    assert after is not None
    unit = "series" if index == "idc_index" else "rows"
    removed = sorted(set(before) - set(after) - allowed)
    if removed:
        listed = ", ".join(f"{c!r} ({before[c]} {unit})" for c in removed)
        flags = " ".join(f"--allow-removed-collection {c}" for c in removed)
        report.collection_problems.append(
            f"{index}: {len(removed)} collection(s) of release {previous.get('release')} are not in this release: "
            f"{listed}; if withdrawn on purpose, declare them with {flags} (build-indices workflow: input "
            f"{REMOVED_COLLECTIONS_INPUT}), otherwise check collection_id in the source tables"
        )
    for c in sorted(allowed):
        if c in after:
            report.collection_problems.append(
                f"--allow-removed-collection {c}: {c!r} is still in {index} of this release; drop the declaration"
            )
        elif c not in before:
            report.collection_problems.append(
                f"--allow-removed-collection {c}: {c!r} was not in {index} of release {previous.get('release')} "
                "either; check the spelling of the collection_id"
            )


# ----------------------------------------------------------------------------------------- all


def run_gates(
    directory: Path,
    manifest: dict[str, Any],
    previous: dict[str, Any] | None,
    bounds: Bounds,
    allow_schema_change: set[str],
    *,
    previous_dir: Path | None = None,
    allow_removed_collections: set[str] | frozenset[str] = frozenset(),
    source_checks: pa.Table | None = None,
    source_table: str = "dicom_all",
    value_bounds: ValueBounds | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> GateReport:
    report = GateReport()
    if source_checks is not None:
        check_source(source_checks, source_table, report)
    check_files({name: Path(directory) / entry["file"] for name, entry in manifest["indices"].items()}, report)
    if previous is not None:
        check_against_previous(manifest, previous, bounds, allow_schema_change, report)
        if previous_dir is not None:
            check_removed_collections(
                Path(directory), manifest, Path(previous_dir), previous, set(allow_removed_collections), report
            )
            files = {name: Path(directory) / entry["file"] for name, entry in manifest["indices"].items()}
            old_files = {name: Path(previous_dir) / entry["file"] for name, entry in previous["indices"].items()}
            problems, report.value_changes = check_values(files, old_files, value_bounds or ValueBounds())
            report.problems += problems
            log(f"values changed since release {previous.get('release')}: {len(report.value_changes)} column(s)")
            for line in report.value_changes:
                log(f"  {line}")
    report.raise_if_failed()
    return report
