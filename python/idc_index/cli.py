"""The ``idc`` command: query IDC from a shell.

Examples::

    idc collections                       # every collection: patients, series, size, modalities
    idc sql "SELECT Modality, COUNT(*) AS n FROM index GROUP BY 1 ORDER BY n DESC"
    idc indices                           # the indices of the release, and which are installed
    idc fetch-index sm_index
    idc releases                          # the published index releases; idc --release current ...
    idc changes --from 20 --collection-id nlst --out changes.csv   # added, revised, removed since v20
    idc metadata --series-instance-uid 1.3.6... -a Rows -a ImageType --out headers.csv  # from the DICOM headers
    idc download rider_pilot --download-dir data            # a collection, patient, study, series,
                                                            # SOP instance, crdc uuid or manifest file
    idc download-from-selection --series-instance-uid 1.3.6... --download-dir data --dry-run True
    idc download-from-manifest --manifest-file cohort.s5cmd --download-dir data
    idc plan nlst --shards 8 --out plan            # 8 manifests of about equal bytes + plan.json
    idc download nlst --shard 3/8 --download-dir data                # part 3 of 8 (0 to 7)
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from idc_index.cli_metadata import metadata
from idc_index.cli_options import (
    ANALYSIS_RESULTS_OPTION,
    LOG_LEVELS,
    SOURCE_OPTION,
    TEMPLATE_HELP,
    WITH_REFERENCES_OPTION,
    bool_option,
    download_options,
    flag_options,
    flag_options_manifest,
    id_values,
    limit_rate_value,
    selection_options,
)
from idc_index.cli_output import client_of as _client
from idc_index.cli_output import emit as _emit
from idc_index.cli_output import format_option as _format_option
from idc_index.client import IDCClient
from idc_index.download.destinations import DOWNLOAD_HIERARCHY_DEFAULT
from idc_index.download.locations import SOURCE_LOCATIONS
from idc_index.errors import IDCError, IDCVersionError
from idc_index.query.changes import idc_version_number
from idc_index.query.lookup import normalize_collection
from idc_index.releases.catalog import DATA_DIR_ENV
from idc_index.table_file import check_table_file, write_table_file

if TYPE_CHECKING:
    from idc_index.download.report import DownloadReport

COLLECTIONS_SQL = """
SELECT collection_id,
       COUNT(DISTINCT PatientID) AS patients,
       COUNT(*) AS series,
       ROUND(SUM(series_size_MB) / 1000, 2) AS size_GB,
       STRING_AGG(DISTINCT Modality ORDER BY Modality) AS modalities
FROM index
GROUP BY collection_id
ORDER BY collection_id
"""




class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IDCError as e:
            raise click.ClickException(_as_options(str(e))) from e


def _as_options(message: str) -> str:
    """``message`` with the Python keyword arguments it names (``validate_manifest=False``)
    written as the command line's options (``--validate-manifest False``)."""
    options = {o for command in idc.commands.values() for p in command.params for o in p.opts}

    def option(m: re.Match[str]) -> str:
        flag = "--" + m.group(1).replace("_", "-")
        return f"{flag} {m.group(2)}" if flag in options else m.group(0)

    return re.sub(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)=(True|False)\b", option, message)


@click.group(cls=_Group)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, envvar=DATA_DIR_ENV,
    help="Index release directory (parquet files + manifest.json). Default: the installed idc-index-data.",
)
@click.option(
    "--release", default=None, metavar="VERSION",
    help="A published index release: 'current' (the newest) or a version such as 26.0.0, fetched once into the "
         "cache (`idc releases` lists them). Default: the installed idc-index-data.",
)
@click.option(
    "--remote", is_flag=True, default=False,
    help="With --release: query the release where it is published, reading over HTTP(S) only the parts of "
         "its files each command needs, instead of downloading it.",
)
@click.option(
    "--optimize-index/--no-optimize-index", default=None,
    help="Write (once per cache, in the background) a copy of the main index laid out for fast lookups. "
         "Default: on, unless IDC_INDEX_OPTIMIZE=0.",
)
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="warning", show_default=True, help="How much idc-index logs to stderr.",
)
@click.pass_context
def idc(ctx: click.Context, data_dir: str | None, release: str | None, remote: bool, optimize_index: bool | None,
        log_level: str) -> None:
    """Search NCI Imaging Data Commons (IDC) from the command line."""
    if remote and release is None:
        raise click.UsageError("--remote reads a published release: give --release current (or a version).")
    if release is not None and ctx.get_parameter_source("data_dir") is click.core.ParameterSource.ENVIRONMENT:
        data_dir = None  # an explicit --release wins over IDC_INDEX_DATA_DIR
    ctx.meta["data_dir"] = data_dir
    ctx.meta["release"] = release
    ctx.meta["remote"] = remote
    ctx.meta["optimize_index"] = optimize_index
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("idc_index").setLevel(log_level.upper())


@idc.command()
@_format_option
@click.pass_context
def collections(ctx: click.Context, fmt: str) -> None:
    """Every collection with its patients, series, size and modalities."""
    result = _client(ctx).sql(COLLECTIONS_SQL)
    _emit(result.to_pylist(), result.column_names, fmt)
    if fmt == "table":
        client = _client(ctx)
        click.echo(f"\n{result.num_rows} collections in IDC {client.idc_version}", err=True)


@idc.command()
@click.argument("query")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A value for the placeholder $NAME (or $1, $2, ... with NAME 1, 2, ...), bound as "
                   "text: `--param uid=1.2.3` for `WHERE SeriesInstanceUID = $uid`. Repeatable.")
@_format_option
@click.pass_context
def sql(ctx: click.Context, query: str, params: tuple[str, ...], fmt: str) -> None:
    """Run a read-only SQL QUERY over the indices (the main index is the table `index`)."""
    result = _client(ctx).sql(query, _named_params(params) or None)
    _emit(result.to_pylist(), result.column_names, fmt)


def _named_params(params: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; a malformed one is a usage error naming it."""
    named: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not name:
            raise click.BadParameter(f"{param!r} is not NAME=VALUE (for example --param uid=1.2.3)",
                                     param_hint="--param")
        if name in named:
            raise click.BadParameter(f"${name} is given twice", param_hint="--param")
        named[name] = value
    return named


@idc.command()
@_format_option
@click.pass_context
def indices(ctx: click.Context, fmt: str) -> None:
    """The indices of the release in use, and whether each is installed."""
    overview = _client(ctx).indices_overview
    rows = [
        {"index": name, "installed": "yes" if info["installed"] else "no", "description": _first_words(info["description"] or "", 90)}
        for name, info in overview.items()
    ]
    _emit(rows, ["index", "installed", "description"], fmt)


@idc.command()
@click.argument("pattern")
@click.option("--descriptions", is_flag=True, help="Search the columns' descriptions too.")
@_format_option
@click.pass_context
def columns(ctx: click.Context, pattern: str, descriptions: bool, fmt: str) -> None:
    """The columns of every index (fetched or not) whose name holds PATTERN in any case, or
    matches it when it has * or ?: which index to query, or fetch, for an attribute."""
    found = _client(ctx).find_columns(pattern, descriptions=descriptions)
    if not found:
        raise click.ClickException(f"No column of any index matches {pattern!r}"
                                   + ("" if descriptions else "; --descriptions searches the descriptions too") + ".")
    rows = [{**c, "installed": "yes" if c["installed"] else "no",
             "description": c["description"] if fmt != "table" else _first_words(c["description"], 70)} for c in found]
    _emit(rows, ["index", "column", "type", "installed", "description"], fmt)


@idc.command()
@click.option("--prune", is_flag=True, help="Remove the optimised copies of the main index that this installation "
              "no longer reads (one is left behind by each upgrade of idc-index-data).")
@click.option("--clear", is_flag=True, help="Remove everything idc-index cached (with idc --release R, that "
              "release's only). Indices are fetched again when used.")
@_format_option
@click.pass_context
def cache(ctx: click.Context, prune: bool, clear: bool, fmt: str) -> None:
    """What the cache holds, by release, with sizes; --prune or --clear to free space. Only
    <cache>/indices and <cache>/headers (instance metadata) are read or removed."""
    from pathlib import Path

    from idc_index.releases import cache as cached
    from idc_index.units import format_size

    if prune and clear:
        raise click.UsageError("--prune removes copies no client reads; --clear removes everything: give one.")
    client = _client(ctx)
    root = Path(client.indices_data_dir).parent.parent
    if prune or clear:
        release = ctx.meta.get("release")
        targets = (cached.stale_copies(root, client._tables.optimized_copy) if prune
                   else cached.release_items(root, release))
        freed = cached.remove(root, targets)
        click.echo(f"Removed {len(targets)} item(s) from {root}: {format_size(freed)} freed.", err=True)
        return
    found = cached.items(root)
    rows = [{"release": i.release, "what": i.what, "size": format_size(i.bytes), "path": str(i.path)} for i in found]
    _emit(rows, ["release", "what", "size", "path"], fmt)
    if fmt == "table":
        click.echo(f"\n{format_size(sum(i.bytes for i in found))} in {root / cached.INDICES_DIR} and "
                   f"{root / cached.HEADERS_DIR} "
                   "(IDC_INDEX_CACHE_DIR moves it; idc cache --prune or --clear frees it)", err=True)


def _first_words(text: str, limit: int) -> str:
    """``text`` cut after a whole word so that it fits ``limit`` characters, with ``…`` when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


@idc.command("fetch-index")
@click.argument("name")
@click.pass_context
def fetch_index(ctx: click.Context, name: str) -> None:
    """Download optional index NAME into the cache so that queries can use it."""
    client = _client(ctx)
    client.fetch_index(name)
    click.echo(f"{name}: {client.indices_overview[name]['file_path']}")


@idc.command()
@click.pass_context
def version(ctx: click.Context) -> None:
    """The idc-index version and the IDC data release in use."""
    from idc_index import __version__

    client = _client(ctx)
    click.echo(f"idc-index {__version__}; IDC data {client.idc_version} ({client._catalog.source})")


@idc.command()
@_format_option
def releases(fmt: str) -> None:
    """The published index releases, and which are cached or bundled (use one with --release)."""
    from idc_index.releases.published import RELEASES_URL_ENV, list_releases, releases_url

    rows, problem = list_releases()
    if problem:
        click.echo(f"Warning: cannot list the published releases: {problem} (check {RELEASES_URL_ENV}, "
                   f"{releases_url()}); showing the cached and bundled ones.", err=True)
    yes = {True: "yes", False: "no"}
    _emit([{"release": r.release, "idc_version": r.idc_version, "current": yes[r.current], "published": yes[r.published],
            "cached": yes[r.cached], "bundled": yes[r.bundled]} for r in rows],
          ["release", "idc_version", "current", "published", "cached", "bundled"], fmt)


def _check_changes_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--out FILE``, refused before anything is queried when its suffix names no format."""
    try:
        return None if value is None else check_table_file(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@idc.command()
@click.option("--from", "from_version", required=True, metavar="VERSION",
              help="The earlier IDC release: 20 or v20.")
@click.option("--to", "to_version", default=None, metavar="VERSION",
              help="The later IDC release: the one in use (default). For another, open it with idc --release.")
@click.option("--collection-id", multiple=True, help="Collection id(s), removed ones too (repeat, or comma-separated).")
@click.option("--patient-id", multiple=True, help="PatientID(s).")
@click.option("--study-instance-uid", multiple=True, help="StudyInstanceUID(s).")
@click.option("--series-instance-uid", multiple=True, help="SeriesInstanceUID(s), removed ones too.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, metavar="FILE", callback=_check_changes_file,
              help="Also write every changed series (change, identifiers, versions, sizes) to FILE: "
                   "CSV (.csv), Parquet (.parquet) or JSON (.json).")
@_format_option
@click.pass_context
def changes(ctx: click.Context, from_version: str, to_version: str | None, collection_id: Any, patient_id: Any,
            study_instance_uid: Any, series_instance_uid: Any, out: str | None, fmt: str) -> None:
    """The series IDC added, revised and removed since release --from, by collection, in all of
    IDC or in a selection (the most specific identifiers given select)."""
    client = _client(ctx)
    selection: dict[str, Any] = {
        "collection_id": id_values(collection_id), "patientId": id_values(patient_id),
        "studyInstanceUID": id_values(study_instance_uid), "seriesInstanceUID": id_values(series_instance_uid),
    }
    try:
        counts = client.release_changes(from_version, to_version, by_collection=True, **selection)
    except IDCVersionError as e:
        raise click.ClickException(str(e).replace("from_version=", "--from ").replace("to_version=", "--to ")) from e
    rows = [{"collection_id": r["collection_id"], "added": int(r["added"]), "revised": int(r["revised"]),
             "removed": int(r["removed"]), "download_GB": round(float(r["download_MB"]) / 1000, 2)}
            for r in counts.to_dict("records")]
    _emit(rows, ["collection_id", "added", "revised", "removed", "download_GB"], fmt)
    totals = {c: sum(r[c] for r in rows) for c in ("added", "revised", "removed")}
    size = round(sum(float(m) for m in counts["download_MB"]) / 1000, 2)
    first = idc_version_number(from_version, "--from")
    click.echo(f"\nIDC v{first} to {client.idc_version}: {totals['added']} added, {totals['revised']} revised, "
               f"{totals['removed']} removed series in {len(rows)} collection(s); {size} GB to download "
               "the added and revised ones", err=True)
    if out is not None:
        listed = client.release_changes(from_version, to_version, **selection)
        try:
            write_table_file(listed, out)
        except OSError as e:
            raise click.ClickException(f"cannot write {out}: {e}") from e
        click.echo(f"{out}: {len(listed)} series", err=True)


# -- downloads (their shared options: idc_index.cli_options) --------------------------------
def _set_level(log_level: str | None) -> None:
    if log_level:
        logging.getLogger("idc_index").setLevel(log_level.upper())


def _report(run: Callable[[], DownloadReport[Any]], report_file: str | None = None,
            runs: list[DownloadReport[Any]] | None = None) -> None:
    """Run a download, print its summary line (after the sizes, for a dry run), write
    ``report_file`` (with the earlier ``runs`` of the same command, to which this one is added),
    and exit non-zero when anything failed or the report file could not be written."""
    from idc_index.errors import DownloadFailedError, DownloadInterrupted

    runs = [] if runs is None else runs
    try:
        report = run()
    except DownloadInterrupted as e:
        _write_report_file(report_file, runs + ([e.report] if e.report is not None else []))
        click.echo(str(e), err=True)
        sys.exit(130)  # as a shell reports a process stopped by SIGINT
    except DownloadFailedError as e:
        _write_report_file(report_file, runs + ([e.report] if e.report is not None else []))
        # The message begins with the report's summary line: it is printed once.
        raise click.ClickException(str(e)) from e
    except ValueError as e:
        if isinstance(e, IDCError):
            raise
        raise click.UsageError(str(e)) from e
    runs.append(report)
    if report.dry_run and report.plan is not None and not logging.getLogger("idc_index").isEnabledFor(logging.INFO):
        from idc_index.download.plan import DRY_RUN_NOTE

        # What the Python API logs (and idc-index 0.13 printed), on the terminal whatever
        # --log-level: printed here unless the log shows it already.
        for line in report.plan.space_lines():
            click.echo(line)
        click.echo(DRY_RUN_NOTE.replace("dry_run=False", "--dry-run False"))
    click.echo(report.summary())
    if not _write_report_file(report_file, runs):
        sys.exit(1)


def _write_report_file(report_file: str | None, runs: list[DownloadReport[Any]]) -> bool:
    """Write ``--report FILE``, if given; whether that went well (when not, the error is printed
    to stderr, and the caller exits non-zero)."""
    if report_file is None:
        return True
    from idc_index.download.report_file import write_report_file

    try:
        write_report_file(runs, report_file)
    except OSError as e:
        click.echo(f"Error: cannot write the report file {report_file}: {e}", err=True)
        return False
    return True


@idc.command("download-from-selection")
@download_options
@bool_option("--dry-run", False, "Only report the size of the selection (and whether it fits); download nothing.")
@selection_options
@flag_options
@click.pass_context
def download_from_selection(ctx: click.Context, download_dir: str | None, dir_template: str, log_level: str | None,
                            endpoint_url: str | None, concurrency: int | None, checksums: bool, dry_run: bool,
                            collection_id: Any,
                            patient_id: Any, study_instance_uid: Any, series_instance_uid: Any, sop_instance_uid: Any,
                            crdc_series_uuid: Any, analysis_result_id: Any, analysis_results: str,
                            source_bucket_location: str, quiet: bool, show_progress_bar: bool,
                            use_s5cmd_sync: bool, shard: str | None, limit_rate: str | None,
                            report_file: str | None, with_references: bool) -> None:
    """Download a selection: the most specific identifiers given select, the analysis-result
    options narrow it. Prints a summary line; exits non-zero when a file could not be downloaded."""
    _set_level(log_level)
    client = _client(ctx)
    _report(lambda: client.download_from_selection(
        download_dir or ".", dry_run=dry_run, collection_id=id_values(collection_id), patientId=id_values(patient_id),
        studyInstanceUID=id_values(study_instance_uid), seriesInstanceUID=id_values(series_instance_uid),
        sopInstanceUID=id_values(sop_instance_uid), crdc_series_uuid=id_values(crdc_series_uuid),
        analysis_result_id=id_values(analysis_result_id), analysis_results=analysis_results.lower(), quiet=quiet,
        show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dir_template or None,
        source_bucket_location=source_bucket_location, endpoint_url=endpoint_url, concurrency=concurrency,
        checksums=checksums, shard=shard, max_bandwidth=limit_rate_value(limit_rate), with_references=with_references,
    ), report_file)


@idc.command("download-from-manifest")
@click.option("--manifest-file", required=True, type=click.Path(dir_okay=False), help="The IDC manifest file.")
@download_options
@bool_option("--dry-run", False, "Only report the size; download nothing.")
@flag_options_manifest
@click.pass_context
def download_from_manifest(ctx: click.Context, manifest_file: str, download_dir: str | None, dir_template: str,
                           log_level: str | None, endpoint_url: str | None, concurrency: int | None, checksums: bool,
                           dry_run: bool,
                           quiet: bool, validate_manifest: bool, show_progress_bar: bool,
                           use_s5cmd_sync: bool, shard: str | None, limit_rate: str | None,
                           report_file: str | None, with_references: bool) -> None:
    """Download the series of an IDC portal manifest (AWS or GCS; ``cp s3://<bucket>/<uuid>/* .``
    lines). Series of earlier IDC releases are downloaded as they were then."""
    _set_level(log_level)
    client = _client(ctx)
    _report(lambda: client.download_from_manifest(
        manifest_file, download_dir or ".", quiet=quiet, validate_manifest=validate_manifest,
        show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync, dirTemplate=dir_template or None,
        dry_run=dry_run, endpoint_url=endpoint_url, concurrency=concurrency, checksums=checksums, shard=shard,
        max_bandwidth=limit_rate_value(limit_rate), with_references=with_references,
    ), report_file)


#: What ``idc download`` recognises, in order: (index column, table, download_from_selection argument).
_KINDS = (
    ("collection_id", "index", "collection_id"),
    ("analysis_result_id", "index", "analysis_result_id"),
    ("PatientID", "index", "patientId"),
    ("StudyInstanceUID", "index", "studyInstanceUID"),
    ("SeriesInstanceUID", "index", "seriesInstanceUID"),
    ("crdc_series_uuid", "index", "crdc_series_uuid"),
    ("crdc_series_uuid", "prior_versions_index", "crdc_series_uuid"),
    ("SOPInstanceUID", "sm_instance_index", "sopInstanceUID"),
)


def _recognise(client: IDCClient, values: list[str]) -> dict[str, list[str]]:
    """Which values are which kind of identifier; raises UnknownIdentifierError for the rest."""
    from idc_index.errors import UnknownIdentifierError
    from idc_index.query.sql import ident, in_list

    lookup = client._lookup
    left = list(dict.fromkeys(values))
    found: dict[str, list[str]] = {}
    names = lookup.collection_names()
    collections = [names[n] for n in (normalize_collection(v) for v in left) if n in names]
    matched_collections = [v for v in left if normalize_collection(v) in names]
    if collections:
        found["collection_id"] = list(dict.fromkeys(collections))
        left = [v for v in left if v not in matched_collections]
    for column, table, argument in _KINDS[1:]:
        if not left:
            break
        if not lookup.has_table(table):
            # Instance-level lookups need sm_instance_index: fetch it only for what looks like a UID.
            if table != "sm_instance_index" or not all(c in "0123456789." for v in left for c in v):
                continue
            try:
                client.fetch_index(table)
            except IDCError:
                continue
        hits = set(lookup.values(
            f"SELECT DISTINCT {ident(column)} AS v FROM {ident(table)} WHERE {in_list(column, left)}", "v"
        ))
        if hits:
            found.setdefault(argument, []).extend(v for v in left if v in hits)
            left = [v for v in left if v not in hits]
    if left:
        # A name, not a UID, is most often a mistyped collection: the closest ones are named.
        suggestions = {v: lookup.closest("collection_id", v) for v in left if not set(v) <= set("0123456789.")}
        raise UnknownIdentifierError(
            "identifier", left, suggestions,
            where=f"IDC {client.idc_version} as a collection, analysis result, patient, study, series, "
                  "SOP instance or crdc_series_uuid (nor is it a manifest file)",
        )
    return found


def _is_file(argument: str) -> bool:
    """Whether the argument names an existing file (a long list of identifiers is too long a
    name for the file system; os.pathconf, which would tell the limit, is not on Windows)."""
    from pathlib import Path

    try:
        return Path(argument).is_file()
    except (OSError, ValueError):
        return False


@idc.command()
@click.argument("generic_argument", type=str)
@download_options
@bool_option("--dry-run", False, "Only report the size; download nothing.")
@ANALYSIS_RESULTS_OPTION
@SOURCE_OPTION
@flag_options
@click.pass_context
def download(ctx: click.Context, generic_argument: str, download_dir: str | None, dir_template: str,
             log_level: str | None, endpoint_url: str | None, concurrency: int | None, checksums: bool,
             shard: str | None, limit_rate: str | None, dry_run: bool, analysis_results: str,
             source_bucket_location: str, quiet: bool, show_progress_bar: bool, use_s5cmd_sync: bool,
             report_file: str | None, with_references: bool) -> None:
    """Download GENERIC_ARGUMENT: a manifest file, or comma-separated collection ids, analysis
    result ids, PatientIDs, StudyInstanceUIDs, SeriesInstanceUIDs, SOPInstanceUIDs or
    crdc_series_uuids (recognised from the index). Every value must match before anything is
    downloaded. Prints a summary line; exits non-zero when a file could not be downloaded."""
    _set_level(log_level)
    max_bandwidth = limit_rate_value(limit_rate)
    client = _client(ctx)
    target = download_dir or "."
    template = dir_template or None
    if _is_file(generic_argument):
        click.echo(f"Downloading the manifest {generic_argument} from IDC {client.idc_version}", err=True)
        # A manifest names its buckets: --source-bucket-location and --analysis-results do not apply.
        _report(lambda: client.download_from_manifest(generic_argument, target, dirTemplate=template,
                                                      quiet=quiet, show_progress_bar=show_progress_bar,
                                                      use_s5cmd_sync=use_s5cmd_sync, endpoint_url=endpoint_url,
                                                      concurrency=concurrency, checksums=checksums, dry_run=dry_run,
                                                      shard=shard, max_bandwidth=max_bandwidth,
                                                      with_references=with_references), report_file)
        return
    values = [v.strip() for v in generic_argument.split(",") if v.strip()]
    if not values:
        raise click.UsageError("Give a manifest file or at least one identifier.")
    kinds = _recognise(client, values)
    if shard is not None and len(kinds) > 1:
        raise click.UsageError(
            f"--shard splits one selection, but the identifiers are of {len(kinds)} kinds ({', '.join(kinds)}); "
            "write the shards with `idc plan ... --shards N --out DIR` and download each with "
            "`idc download-from-manifest --manifest-file DIR/shard-I.s5cmd`."
        )
    runs: list[DownloadReport[Any]] = []
    for argument, ids in kinds.items():
        click.echo(f"Downloading {len(ids)} {argument} value(s) from IDC {client.idc_version}", err=True)
        # `argument` is the name of one of download_from_selection's identifier parameters.
        selection: dict[str, Any] = {argument: ids}
        _report(functools.partial(client.download_from_selection, target, dirTemplate=template,
                                  analysis_results=analysis_results.lower(),
                                  source_bucket_location=source_bucket_location, quiet=quiet,
                                  show_progress_bar=show_progress_bar, use_s5cmd_sync=use_s5cmd_sync,
                                  endpoint_url=endpoint_url, concurrency=concurrency, checksums=checksums,
                                  dry_run=dry_run, shard=shard, max_bandwidth=max_bandwidth,
                                  with_references=with_references, **selection),
                report_file, runs)


@idc.command("plan")
@click.argument("generic_argument", type=str)
@click.option("--shards", type=click.IntRange(1), default=1, show_default=True,
              help="How many parts of about equal bytes to split the download into.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory to write shard-0.s5cmd ... shard-<N-1>.s5cmd and plan.json into.")
@click.option("--dir-template", type=str, default=DOWNLOAD_HIERARCHY_DEFAULT, show_default=True, help=TEMPLATE_HELP)
@click.option("--source-bucket-location", type=click.Choice(SOURCE_LOCATIONS), default="aws", show_default=True,
              help="Plan the download from AWS or from Google Cloud Storage.")
@WITH_REFERENCES_OPTION
@click.pass_context
def plan(ctx: click.Context, generic_argument: str, shards: int, out_dir: str, dir_template: str,
         source_bucket_location: str, with_references: bool) -> None:
    """Split the download of GENERIC_ARGUMENT (a manifest file, or identifiers as for `idc
    download`) into N s5cmd manifests of about equal bytes, plus plan.json (series, instances
    and bytes of each). Each manifest is downloaded on its own, for example by a job array:
    `idc download-from-manifest --manifest-file DIR/shard-$SLURM_ARRAY_TASK_ID.s5cmd`."""
    from pathlib import Path

    from idc_index.download.plan import Plan
    from idc_index.download.plan_table import unique_items
    from idc_index.download.references import merge_references
    from idc_index.units import format_size

    client = _client(ctx)
    template = dir_template or None
    if _is_file(generic_argument):
        whole = client.plan_download(".", manifestFile=generic_argument, dirTemplate=template,
                                     with_references=with_references)
    else:
        values = [v.strip() for v in generic_argument.split(",") if v.strip()]
        if not values:
            raise click.UsageError("Give a manifest file or at least one identifier.")
        parts: list[Plan] = []
        for argument, ids in _recognise(client, values).items():
            selection: dict[str, Any] = {argument: ids}
            parts.append(client.plan_download(".", dirTemplate=template, source_bucket_location=source_bucket_location,
                                              with_references=with_references, **selection))
        whole = parts[0]
        if len(parts) > 1:
            references = merge_references([p.references for p in parts])
            whole = Plan.measure(unique_items([p.table for p in parts]), ".", whole.location, references=references)
    try:
        pieces = whole.shard(shards)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    out = Path(out_dir)
    summary: dict[str, Any] = {
        "idc_version": client.idc_version, "source": generic_argument, "location": whole.location,
        "dir_template": template, "shards": shards, "series": whole.series, "instances": whole.instances,
        "bytes": whole.bytes_total, "references": whole.summary.references, "parts": [],
    }
    for index, piece in enumerate(pieces):
        name = f"shard-{index}.s5cmd"
        piece.to_manifest(out / name, comment=f"idc-index plan of {generic_argument}: shard {index} of {shards}")
        summary["parts"].append({"index": index, "manifest": name, "series": piece.series, "instances": piece.instances,
                                 "bytes": piece.bytes_total, "references": piece.summary.references})
        click.echo(f"{out / name}: {piece.series} series, {piece.instances} instances, "
                   f"{format_size(piece.bytes_total)}")
    (out / "plan.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    click.echo(f"{out / 'plan.json'}: {whole.series} series, {format_size(whole.bytes_total)} in {shards} shard(s)")


idc.add_command(metadata)


if __name__ == "__main__":  # pragma: no cover
    idc()
