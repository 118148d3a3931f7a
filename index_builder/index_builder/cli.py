"""``python -m index_builder build | diff | package | verify | fixture | newest-version | plan | check-published |
publish-layout``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from index_builder import __version__
from index_builder.errors import BuilderError
from index_builder.gates import Bounds
from index_builder.indices import INDICES
from index_builder.values import ValueBounds, parse_value_bound

if TYPE_CHECKING:
    from index_builder.backends import Backend


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m index_builder", description=__doc__)
    p.add_argument("--version", action="version", version=f"index_builder {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="run the queries of one IDC release and write a release directory")
    b.add_argument("--idc-version", required=True, help="release number (e.g. 25) or 'current'")
    b.add_argument("--out", required=True, type=Path, help="release directory to create")
    b.add_argument("--index", action="append", dest="indices", metavar="NAME", choices=list(INDICES),
                   help="build only this index (repeatable); default: all")
    b.add_argument("--release", help="release string for the manifest (default: '<idc-version>.0.0')")
    b.add_argument("--backend", choices=["bigquery", "duckdb"], default="bigquery")
    b.add_argument("--source", type=Path, help="duckdb backend: directory of parquet files named after the BigQuery tables")
    b.add_argument("--project", help="bigquery backend: Google Cloud project billed for the queries")
    b.add_argument("--max-bytes-billed", type=int, default=2 * 10**12,
                   help="refuse to run if the dry runs add up to more bytes than this (default 2e12, 2 TB)")
    b.add_argument("--previous", type=Path, help="release directory of the previous release, for the gates")
    b.add_argument("--allow-schema-change", action="append", default=[], metavar="INDEX",
                   help="accept a schema change of this index against --previous (repeatable)")
    b.add_argument("--allow-removed-collection", action="append", default=[], metavar="COLLECTION_ID",
                   help="accept that this collection of --previous is withdrawn from this release (repeatable)")
    b.add_argument("--max-shrink", type=float, default=Bounds.max_shrink,
                   help="fraction of rows/bytes an index may lose against --previous (default %(default)s)")
    b.add_argument("--max-growth", type=float, default=Bounds.max_growth,
                   help="fraction of rows/bytes an index may gain against --previous (default %(default)s)")
    b.add_argument("--max-null-increase", type=float, default=ValueBounds.null_increase,
                   help="value gate: how much the fraction of missing values of a column may rise against --previous "
                        "(default %(default)s: 5 points)")
    b.add_argument("--max-distinct-shrink", type=float, default=ValueBounds.distinct_shrink,
                   help="value gate: fraction of its distinct values a column may lose against --previous "
                        "(default %(default)s)")
    b.add_argument("--max-range-factor", type=float, default=ValueBounds.range_factor,
                   help="value gate: a numeric column may reach this many widths of its previous range "
                        "(default %(default)s)")
    b.add_argument("--value-bound", action="append", default=[], metavar="INDEX.COLUMN.KIND=VALUE",
                   help="one value gate's bound for one column, KIND one of null_increase, distinct_shrink, "
                        "range_factor; inf switches it off (repeatable)")
    b.add_argument("--force", action="store_true", help="replace --out if it exists")
    b.add_argument("--dry-run", action="store_true",
                   help="only estimate the bytes each query would scan (and apply --max-bytes-billed); run nothing")

    d = sub.add_parser("diff", help="compare two release directories")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    d.add_argument("--json", action="store_true", help="print the differences as JSON")

    k = sub.add_parser("package", help="make a data wheel and the list of release assets")
    k.add_argument("release_dir", type=Path)
    k.add_argument("--out", required=True, type=Path, help="directory for the wheel and assets.txt")
    k.add_argument("--name", default="idc-index-data", help="distribution name of the wheel (default %(default)s)")
    k.add_argument("--wheel-index", action="append", dest="wheel_indices", metavar="NAME",
                   help="put only this index in the wheel (repeatable); default: all of the release")

    v = sub.add_parser("verify", help="check a release directory against its manifest")
    v.add_argument("release_dir", type=Path)

    f = sub.add_parser("fixture", help="write the synthetic source tables for offline builds")
    f.add_argument("--out", required=True, type=Path)

    n = sub.add_parser("newest-version", help="print the number of the newest IDC release (idc_current)")
    n.add_argument("--backend", choices=["bigquery", "duckdb"], default="bigquery")
    n.add_argument("--source", type=Path, help="duckdb backend: directory of parquet files named after the BigQuery tables")
    n.add_argument("--project", help="bigquery backend: Google Cloud project billed for the query")

    w = sub.add_parser("plan", help="decide whether to build the newest release; prints key=value lines (GITHUB_OUTPUT)")
    w.add_argument("--newest", type=int, help="the newest IDC release in BigQuery (from newest-version)")
    w.add_argument("--published", type=Path, required=True, metavar="FILE",
                   help="file with the tags of the index releases already published, one a line")
    w.add_argument("--release", default="", help="build this release (e.g. 25.0.1) instead of the newest")
    w.add_argument("--force", action="store_true",
                   help="build even if the release is already published: as its next post-release (25.0.0.post1)")

    c = sub.add_parser("check-published",
                       help="refuse to publish a version that is already published with other content; prints "
                            "key=value lines (GITHUB_OUTPUT)")
    c.add_argument("dist", type=Path, help="directory written by `package` (assets.txt and the files it lists)")
    c.add_argument("--github", type=Path, metavar="DIR",
                   help="assets of the GitHub release of this version already published (absent: none)")
    c.add_argument("--pypi-json", type=Path, metavar="FILE",
                   help="PyPI's JSON for this version of the data package (absent: PyPI does not have it)")

    s = sub.add_parser("publish-layout",
                       help="add a built release to a releases site: <release>/release_artifacts/, current/ when it "
                            "is the newest, releases.json; prints key=value lines (GITHUB_OUTPUT)")
    s.add_argument("--release", dest="release_dir", required=True, type=Path, metavar="DIR",
                   help="release directory written by build")
    s.add_argument("--site", required=True, type=Path, metavar="DIR", help="site directory to write into (created if absent)")
    s.add_argument("--listing", type=Path, metavar="FILE",
                   help="the published releases.json to merge with (absent: no release is published yet)")
    return p


def _build(args: argparse.Namespace) -> int:
    from index_builder.build import BuildOptions, build, parse_version

    backend = _backend(args, args.max_bytes_billed)
    opts = BuildOptions(
        idc_version=parse_version(args.idc_version),
        out=args.out,
        indices=args.indices or list(INDICES),
        release=args.release,
        previous=args.previous,
        allow_schema_change=set(args.allow_schema_change),
        allow_removed_collections=set(args.allow_removed_collection),
        bounds=Bounds(max_shrink=args.max_shrink, max_growth=args.max_growth),
        value_bounds=ValueBounds(null_increase=args.max_null_increase, distinct_shrink=args.max_distinct_shrink,
                                 range_factor=args.max_range_factor,
                                 per_column=dict(parse_value_bound(v) for v in args.value_bound)),
        max_bytes_billed=args.max_bytes_billed,
        force=args.force,
        dry_run=args.dry_run,
    )
    build(backend, opts)
    return 0


def _backend(args: argparse.Namespace, max_bytes_billed: int | None) -> Backend:
    from index_builder.backends import BigQueryBackend, DuckDBBackend

    if args.backend == "duckdb":
        if args.source is None:
            raise BuilderError("--backend duckdb needs --source DIR (write one with `python -m index_builder fixture --out DIR`)")
        return DuckDBBackend(args.source)
    return BigQueryBackend.connect(args.project, max_bytes_billed)


def _newest_version(args: argparse.Namespace) -> int:
    from index_builder.releases import newest_version

    # one MAX() over the small version_metadata table
    print(newest_version(_backend(args, 10**10)))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from index_builder.releases import plan

    if not args.published.is_file():
        raise BuilderError(f"{args.published} does not exist: list the published tags into it (it may be empty)")
    result = plan(args.newest, args.published.read_text().splitlines(), release=args.release or None, force=args.force)
    for key, value in result.outputs().items():
        print(f"{key}={value}")
    return 0


def _check_published(args: argparse.Namespace) -> int:
    from index_builder.releases import check_published

    for key, value in check_published(args.dist, args.github, args.pypi_json).outputs().items():
        print(f"{key}={value}")
    return 0


def _publish_layout(args: argparse.Namespace) -> int:
    from index_builder.publish import publish_layout

    for key, value in publish_layout(args.release_dir, args.site, args.listing).outputs().items():
        print(f"{key}={value}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from index_builder.diff import diff_releases, format_diff

    result = diff_releases(args.old, args.new)
    print(json.dumps(result, indent=2) if args.json else format_diff(result))
    return 0


def _package(args: argparse.Namespace) -> int:
    from index_builder.package import package_release

    wheel, assets = package_release(args.release_dir, args.out, name=args.name, wheel_indices=args.wheel_indices)
    print(f"wheel: {wheel}")
    print(f"release assets ({args.out / 'assets.txt'}):")
    for a in assets:
        print(f"  {a}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from index_builder.manifest import verify_release

    m = verify_release(args.release_dir)
    print(f"{args.release_dir}: release {m['release']} (IDC v{m['idc_version']}), {len(m['indices'])} indices verified")
    return 0


def _fixture(args: argparse.Namespace) -> int:
    from index_builder.fixture import write_fixture

    out = write_fixture(args.out)
    print(f"synthetic source tables written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"build": _build, "diff": _diff, "package": _package, "verify": _verify, "fixture": _fixture,
               "newest-version": _newest_version, "plan": _plan, "check-published": _check_published,
               "publish-layout": _publish_layout}[args.command]
    try:
        return handler(args)
    except BuilderError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
