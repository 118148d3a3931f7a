"""The options that the download commands of ``idc`` share, and how their values are read:
idc-index 0.13's booleans (``--dry-run True`` or the bare flag), ``--limit-rate`` in curl's form,
``--with-references`` (also in ``idc plan``),
``--report FILE`` refused before anything moves when its suffix names no format, and the
repeatable, comma-separated identifier options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from idc_index.download.destinations import DOWNLOAD_HIERARCHY_DEFAULT
from idc_index.download.locations import ENDPOINT_ENV, SOURCE_LOCATIONS
from idc_index.selection import ANALYSIS_RESULTS

#: The levels of ``--log-level``.
LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]

TEMPLATE_HELP = (
    "Folders under the download directory, from %collection_id, %PatientID, %StudyInstanceUID, %Modality, "
    "%SeriesInstanceUID joined by '/', '-', '_'. An empty string puts every file directly in the download directory."
)


WITH_REFERENCES_OPTION = click.option(
    "--with-references", is_flag=True, default=False,
    help="Also download the image series that the selected segmentations (SEG), structure sets (RTSTRUCT) and "
         "slide annotations (ANN) reference, each once (fetching seg_index, rtstruct_index or ann_index as needed).")


def download_options(func: Any) -> Any:
    """Options every download command has (idc-index 0.13's, plus the endpoint and concurrency)."""
    options = [
        click.option("--download-dir", type=click.Path(file_okay=False), default=None,
                     help="Directory to download into (default: the current directory)."),
        click.option("--dir-template", type=str, default=DOWNLOAD_HIERARCHY_DEFAULT, show_default=True,
                     help=TEMPLATE_HELP),
        click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
                     help="How much idc-index logs to stderr."),
        click.option("--endpoint-url", type=str, default=None, envvar=ENDPOINT_ENV,
                     help="An S3-compatible endpoint for every bucket (mirror, proxy). Default: AWS or GCS."),
        click.option("--concurrency", type=click.IntRange(1, 4096), default=None,
                     help="At most this many requests in flight (default 256); below it, the number "
                          "follows the network."),
        click.option("--checksums/--sizes-only", default=True, show_default=True,
                     help="Check every file against the checksum its bucket states (CRC32C, CRC32, CRC64NVME or MD5), or only its size "
                          "(saves CPU on very fast links)."),
        click.option("--limit-rate", "limit_rate", type=str, default=None, metavar="RATE",
                     help="At most this many bytes per second from the network, as curl's --limit-rate: "
                          "500k, 25M, 1G (binary multiples). Default: no limit."),
        click.option("--shard", type=str, default=None, metavar="I/N",
                     help="Download only part I (0 to N-1) of the download split into N parts of about equal bytes, "
                          "as `idc plan --shards N` splits it."),
        click.option("--report", "report_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     callback=check_report_file,
                     help="Also write what happened to every file to FILE, one row per file (status, path, key, "
                          "size, check, failure): JSON when FILE ends in .json, CSV when it ends in .csv. Written "
                          "when the command ends, whether files failed or it was interrupted."),
        WITH_REFERENCES_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_report_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--report FILE``, refused before anything is downloaded when its suffix names no format."""
    from idc_index.download.report_file import report_format

    if value is not None:
        try:
            report_format(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return value


def limit_rate_value(limit_rate: str | None) -> int | None:
    """``--limit-rate`` in bytes per second (None: no limit), or a usage error that says what it takes."""
    from idc_index.arguments import parse_rate

    try:
        return parse_rate(limit_rate, "--limit-rate")
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--limit-rate") from None


def bool_option(name: str, default: bool, help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A boolean option as idc-index 0.13 took it (``--dry-run True``, ``--dry-run False``), which
    also takes the bare flag for True. When the flag is followed by an argument, the argument
    is read as its value (0.13's reading wins): write ``--dry-run True`` there."""
    return click.option(name, type=bool, default=default, is_flag=False, flag_value=True, show_default=True,
                        help=f"{help} Alone, {name} means True.")


ANALYSIS_RESULTS_OPTION = click.option(
    "--analysis-results", type=click.Choice(ANALYSIS_RESULTS, case_sensitive=False), default="include",
    show_default=True, help="Select analysis-result series too (include), not (exclude), or only them (only).")
SOURCE_OPTION = click.option(
    "--source-bucket-location", type=click.Choice(SOURCE_LOCATIONS), default="aws", show_default=True,
    help="Read the files from AWS or from Google Cloud Storage.")


def selection_options(func: Any) -> Any:
    """The options that select series (or slide microscopy instances), as download_from_selection's
    arguments do, with the analysis results to keep and the source of the files."""
    options = [
        click.option("--collection-id", multiple=True, help="Collection id(s) to select (repeat, or comma-separated)."),
        click.option("--patient-id", multiple=True, help="PatientID(s) to select."),
        click.option("--study-instance-uid", multiple=True, help="StudyInstanceUID(s) to select."),
        click.option("--series-instance-uid", multiple=True, help="SeriesInstanceUID(s) to select."),
        click.option("--sop-instance-uid", multiple=True,
                     help="SOPInstanceUID(s) of slide microscopy instances to select."),
        click.option("--crdc-series-uuid", multiple=True,
                     help="crdc_series_uuid(s) to select (earlier releases too)."),
        click.option("--analysis-result-id", multiple=True, help="Keep only the series of these analysis result(s)."),
        ANALYSIS_RESULTS_OPTION,
        SOURCE_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def flag_options(func: Any, manifest: bool = False) -> Any:
    options = [
        bool_option("--quiet", True,
                     "Accepted for compatibility: the downloader prints only its progress bar and summary."),
        bool_option("--show-progress-bar", True, "Show a progress bar."),
        bool_option("--use-s5cmd-sync", False,
                     "Accepted for compatibility: files already present and complete are always skipped."),
    ]
    if manifest:
        options.insert(1, bool_option("--validate-manifest", True, "Check that each line's bucket holds its series."))
    for option in reversed(options):
        func = option(func)
    return func


def id_values(values: tuple[str, ...] | None) -> list[str] | None:
    """Values of a repeatable, comma-separated option."""
    if not values:
        return None
    out = [v.strip() for v in ",".join(values).split(",") if v.strip()]
    return out or None



def flag_options_manifest(func: Any) -> Any:
    return flag_options(func, manifest=True)


__all__ = [
    "ANALYSIS_RESULTS_OPTION",
    "LOG_LEVELS",
    "SOURCE_OPTION",
    "TEMPLATE_HELP",
    "WITH_REFERENCES_OPTION",
    "bool_option",
    "check_report_file",
    "download_options",
    "flag_options",
    "flag_options_manifest",
    "id_values",
    "limit_rate_value",
]
