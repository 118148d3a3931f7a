"""A download's report as a file for pipelines (``--report FILE``): one row per file, JSON or CSV.

Every file the runs know of is one row with the same columns: ``status`` (``downloaded``,
``already_present`` or ``failed``), ``path``, ``bucket``, ``key``, ``size`` (bytes, of a file on
disk), ``verification`` (the check it passed), ``kind``, ``reason`` and ``attempts`` (of a
failure), ``SeriesInstanceUID`` and ``SOPInstanceUID``. A JSON file holds the rows under
``files``, beside ``ok``, ``cancelled``, ``stopped``, ``not_started`` (the items a cancelled or
stopped run never began, counted rather than listed), ``dry_run``, the byte counts and
``summary`` (the lines the CLI prints, one per run: ``idc download`` runs one per kind of
identifier); a CSV file holds the rows alone. The file is written under a temporary name and
renamed, so a reader never sees half of it.

Example:
    >>> write_report_file([report], Path("report.csv"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from idc_index.download.report import DownloadReport

#: The columns of a row, in the order a CSV file has them.
COLUMNS = ("status", "path", "bucket", "key", "size", "verification", "kind", "reason", "attempts",
           "SeriesInstanceUID", "SOPInstanceUID")

#: The formats, by the file's suffix.
FORMATS = {".json": "json", ".csv": "csv"}


def report_format(path: str | os.PathLike[str]) -> str:
    """The format a report file is written in, from its suffix.

    Raises:
        ValueError: a suffix other than ``.json`` or ``.csv``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"a report file ends in .json or .csv, not {suffix or 'no suffix'!r} ({os.fspath(path)})")
    return FORMATS[suffix]


def report_rows(report: DownloadReport[Any]) -> Iterator[dict[str, Any]]:
    """One row per file of ``report``: the files on disk, then the failures."""
    for f in report.files:
        yield {"status": f.status, "path": f.path, "bucket": f.bucket, "key": f.key, "size": f.size,
               "verification": f.verification, "kind": None, "reason": None, "attempts": None,
               "SeriesInstanceUID": f.series_instance_uid, "SOPInstanceUID": f.sop_instance_uid}
    for x in report.failed:
        yield {"status": "failed", "path": x.path, "bucket": x.bucket, "key": x.key, "size": None,
               "verification": None, "kind": x.kind, "reason": x.reason, "attempts": x.attempts,
               "SeriesInstanceUID": x.series_instance_uid, "SOPInstanceUID": x.sop_instance_uid}


def write_report_file(reports: Sequence[DownloadReport[Any]], path: str | os.PathLike[str]) -> None:
    """Write ``reports`` (the runs of one command) to ``path`` as JSON or CSV, by its suffix (see
    the module's documentation).

    Raises:
        ValueError: a suffix other than ``.json`` or ``.csv``.
        OSError: the file cannot be written (nothing is left under its name or a temporary one).
    """
    kind = report_format(path)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    rows = (row for report in reports for row in report_rows(report))
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            if kind == "csv":
                writer = csv.DictWriter(out, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            else:
                document = {
                    "ok": all(r.ok for r in reports),
                    "cancelled": any(r.cancelled for r in reports),
                    "stopped": next((r.stopped for r in reports if r.stopped), None),
                    "not_started": sum(r.not_started for r in reports),
                    "dry_run": bool(reports) and all(r.dry_run for r in reports),
                    "bytes_downloaded": sum(r.bytes_downloaded for r in reports),
                    "bytes_present": sum(r.bytes_present for r in reports),
                    "seconds": sum(r.seconds for r in reports),
                    "summary": [r.summary() for r in reports],
                    "files": list(rows),
                }
                json.dump(document, out, indent=1)
                out.write("\n")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


__all__ = ["COLUMNS", "report_format", "report_rows", "write_report_file"]
