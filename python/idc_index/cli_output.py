"""What the ``idc`` commands share to show results: the client a command runs on (made once per
invocation from the group's options), rows printed as a table, CSV or JSON, and the
``--format`` option that chooses."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from idc_index.client import IDCClient


def client_of(ctx: click.Context) -> IDCClient:
    """The client of this invocation, made on first use from the ``idc`` group's options."""
    if ctx.obj is None:
        ctx.obj = IDCClient(data_dir=ctx.meta.get("data_dir"), release=ctx.meta.get("release"),
                            remote=ctx.meta.get("remote", False), optimize_index=ctx.meta.get("optimize_index"))
    return ctx.obj  # type: ignore[no-any-return]


def emit(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> None:
    """``rows`` (their ``columns``) on stdout as ``fmt``: ``table``, ``csv`` or ``json``."""
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


#: ``--format``: how a command prints its rows.
format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
    help="Output format.",
)


__all__ = ["client_of", "emit", "format_option"]
