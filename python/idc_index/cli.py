"""The ``idc`` command: query IDC from a shell.

Examples::

    idc collections                       # every collection: patients, series, size, modalities
    idc sql "SELECT Modality, COUNT(*) AS n FROM index GROUP BY 1 ORDER BY n DESC"
    idc indices                           # the indices of the release, and which are installed
    idc fetch-index sm_index
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from typing import Any

import click

from .client import IDCClient
from .errors import IDCError

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


def _client(ctx: click.Context) -> IDCClient:
    if ctx.obj is None:
        ctx.obj = IDCClient(data_dir=ctx.meta.get("data_dir"))
    return ctx.obj  # type: ignore[no-any-return]


def _emit(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=1, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r[c]) for r in rows if r[c] is not None) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out.write(line(columns) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
    help="Output format.",
)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IDCError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Group)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, envvar="IDC_INDEX_DATA_DIR",
    help="Index release directory (parquet files + manifest.json). Default: the installed idc-index-data.",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default="warning", show_default=True, help="How much idc-index logs to stderr.",
)
@click.pass_context
def idc(ctx: click.Context, data_dir: str | None, log_level: str) -> None:
    """Search NCI Imaging Data Commons (IDC) from the command line."""
    ctx.meta["data_dir"] = data_dir
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
@_format_option
@click.pass_context
def sql(ctx: click.Context, query: str, fmt: str) -> None:
    """Run a read-only SQL QUERY over the indices (the main index is the table `index`)."""
    result = _client(ctx).sql(query)
    _emit(result.to_pylist(), result.column_names, fmt)


@idc.command()
@_format_option
@click.pass_context
def indices(ctx: click.Context, fmt: str) -> None:
    """The indices of the release in use, and whether each is installed."""
    overview = _client(ctx).indices_overview
    rows = [
        {"index": name, "installed": "yes" if info["installed"] else "no", "description": (info["description"] or "")[:90]}
        for name, info in overview.items()
    ]
    _emit(rows, ["index", "installed", "description"], fmt)


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
    from . import __version__

    client = _client(ctx)
    click.echo(f"idc-index {__version__}; IDC data {client.idc_version} ({client._catalog.source})")


if __name__ == "__main__":  # pragma: no cover
    idc()
