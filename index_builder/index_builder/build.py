"""The build: render -> estimate (dry run, cost cap) -> fetch -> write -> manifest -> gates -> publish."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index_builder import sqlfile
from index_builder.backends import Backend
from index_builder.errors import BuilderError, CostLimitError, ReleaseError, SourceError
from index_builder.gates import SOURCE_CHECKS_QUERY, Bounds, run_gates
from index_builder.indices import INDICES
from index_builder.manifest import read_manifest, verify_release, write_manifest
from index_builder.source_columns import Missing, find_missing
from index_builder.sqlfile import Datasets
from index_builder.values import ValueBounds
from index_builder.writer import conform, write_index

Log = Callable[[str], None]


@dataclass
class BuildOptions:
    idc_version: int | str  # a release number or "current"
    out: Path
    indices: list[str] = field(default_factory=lambda: list(INDICES))
    release: str | None = None
    previous: Path | None = None
    allow_schema_change: set[str] = field(default_factory=set)
    #: collections of the previous release that this one withdraws on purpose
    allow_removed_collections: set[str] = field(default_factory=set)
    bounds: Bounds = field(default_factory=Bounds)
    value_bounds: ValueBounds = field(default_factory=ValueBounds)
    max_bytes_billed: int | None = None
    force: bool = False
    dry_run: bool = False  # estimate (and enforce the cap) only; run and write nothing


def human_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1000
    return f"{n} B"


def parse_version(text: str) -> int | str:
    if text == "current":
        return "current"
    try:
        v = int(text)
    except ValueError:
        raise BuilderError(f"--idc-version must be a release number (e.g. 25) or 'current', got {text!r}") from None
    if v < 1:
        raise BuilderError(f"--idc-version must be >= 1, got {v}")
    return v


def resolve_version(backend: Backend, datasets: Datasets) -> int:
    """The number of the release a dataset holds (``idc_current`` is an alias of the newest)."""
    sql = f"SELECT MAX(idc_version) AS idc_version FROM `{datasets.dataset}.version_metadata`"
    table = backend.fetch(sql)
    value = table.column(0)[0].as_py() if table.num_rows else None
    if value is None:
        raise SourceError(f"{datasets.dataset}.version_metadata is empty: cannot tell which release it is")
    return int(value)


def render_queries(names: list[str], datasets: Datasets, missing: Sequence[Missing] = ()) -> dict[str, str]:
    queries = {}
    for name in names:
        sql = sqlfile.render(sqlfile.load(name), datasets)
        for m in missing:
            sql = m.fill(sql)
        queries[name] = sql
    return queries


def reads_instances(names: list[str]) -> bool:
    """Whether any of these indices is computed from the instance table (dicom_all): then the
    checks of that table (queries/source_checks.sql) run with them."""
    return any("{dataset}.dicom_all`" in sqlfile.load(name) for name in names)


def estimate(backend: Backend, queries: dict[str, str], max_bytes_billed: int | None, log: Log) -> dict[str, int | None]:
    """Dry-run every query, print what each would scan and the total; refuse to go over the cap."""
    sizes: dict[str, int | None] = {}
    for name, sql in queries.items():
        sizes[name] = backend.estimate(sql)
    width = max(len(n) for n in queries)
    log(f"{'index':<{width}}  bytes to scan")
    for name, n in sizes.items():
        log(f"{name:<{width}}  {human_bytes(n):>12}")
    known = [n for n in sizes.values() if n is not None]
    total = sum(known) if known else None
    log(f"{'total':<{width}}  {human_bytes(total):>12}")
    if total is not None and max_bytes_billed is not None and total > max_bytes_billed:
        biggest = max((n for n in sizes.items() if n[1] is not None), key=lambda kv: kv[1])
        raise CostLimitError(
            f"the queries would scan {human_bytes(total)} ({total} bytes), more than --max-bytes-billed "
            f"{human_bytes(max_bytes_billed)} ({max_bytes_billed}); the largest is {biggest[0]} "
            f"({human_bytes(biggest[1])}). Raise the cap or build fewer indices with --index"
        )
    return sizes


def build(backend: Backend, opts: BuildOptions, log: Log = print) -> Path:
    unknown = [n for n in opts.indices if n not in INDICES]
    if unknown:
        raise BuilderError(f"unknown index {unknown}; known: {', '.join(INDICES)}")
    out = Path(opts.out)
    if out.exists() and any(out.iterdir()) and not opts.force and not opts.dry_run:
        raise ReleaseError(f"{out} exists and is not empty; choose another --out or pass --force to replace it")
    if opts.allow_removed_collections and not opts.previous:
        raise BuilderError(
            "--allow-removed-collection declares a collection withdrawn since the previous release: "
            "give that release with --previous DIR"
        )
    previous = read_manifest(opts.previous) if opts.previous else None

    datasets = Datasets.for_release(opts.idc_version)
    backend.prepare(datasets)
    version = resolve_version(backend, datasets) if opts.idc_version == "current" else int(opts.idc_version)
    docs = {name: sqlfile.parse_docs(sqlfile.load(name)) for name in opts.indices}
    for name, doc in docs.items():
        sqlfile.check_docs(name, doc, INDICES[name].schema)
    needs_prior = any(sqlfile.uses_prior_releases(sqlfile.load(n)) for n in opts.indices)
    prior = backend.prior_releases(version) if needs_prior else ()
    datasets = Datasets.for_release(opts.idc_version, prior)
    backend.prepare(datasets)
    release = opts.release or f"{version}.0.0"
    log(f"building release {release} of IDC v{version} from {datasets.dataset} with {backend.name}")

    missing = find_missing(backend.layout, datasets.dataset, log)
    queries = render_queries(opts.indices, datasets, missing)
    checks = render_queries([SOURCE_CHECKS_QUERY], datasets) if reads_instances(opts.indices) else {}
    estimate(backend, {**queries, **checks}, opts.max_bytes_billed, log)
    if opts.dry_run:
        log(f"dry run: {len(queries) + len(checks)} queries estimated, none run, nothing written")
        return out

    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        for name, sql in queries.items():
            spec = INDICES[name]
            table = conform(backend.fetch(sql), spec)
            write_index(table, spec, staging / spec.file, version, release)
            # the query exactly as it ran, next to its result (the data wheel carries it)
            (staging / f"{name}.sql").write_text(sql, encoding="utf-8")
            log(f"wrote {spec.file}: {table.num_rows} rows")
        source_checks = backend.fetch(checks[SOURCE_CHECKS_QUERY]) if checks else None
        manifest = write_manifest(staging, version, release, docs)
        run_gates(staging, manifest, previous, opts.bounds, opts.allow_schema_change,
                  previous_dir=opts.previous, allow_removed_collections=opts.allow_removed_collections,
                  source_checks=source_checks, source_table=f"{datasets.dataset}.dicom_all",
                  value_bounds=opts.value_bounds, log=log)
        log("quality gates passed")
        verify_release(staging)
    except BaseException:
        log(f"build failed; partial output left in {staging} for inspection")
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    log(f"release {release} ready in {out} ({len(queries)} indices, manifest.json, sha256 sidecars)")
    return out
