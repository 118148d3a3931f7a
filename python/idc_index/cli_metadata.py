"""``idc metadata``: attributes of the DICOM headers of a selection's instances, read from the
buckets without downloading the files (:meth:`~idc_index.IDCClient.get_instance_metadata`).

Example::

    idc metadata --series-instance-uid 1.3.6.1.4.1.5962.99.1... -a ContainerIdentifier \\
        -a TotalPixelMatrixRows -a "OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning" \\
        --out slides.parquet
"""

from __future__ import annotations

import base64
import json
from typing import Any

import click

from idc_index.cli_options import id_values, selection_options
from idc_index.cli_output import client_of, emit, format_option
from idc_index.download.locations import ENDPOINT_ENV
from idc_index.headers.table import ERROR_COLUMN, to_pandas
from idc_index.table_file import check_table_file, write_table_file


def _check_out(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--out FILE``, refused before anything is read when its suffix names no format."""
    try:
        return None if value is None else check_table_file(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def _cell(value: Any, fmt: str) -> Any:
    """A value as the output format shows it: lists as JSON in a table or CSV, bytes as base64
    (their size in a table)."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>" if fmt == "table" else base64.b64encode(value).decode("ascii")
    if isinstance(value, list) and fmt != "json":
        return json.dumps(value, default=lambda v: base64.b64encode(v).decode("ascii") if isinstance(v, bytes)
                          else str(v))
    return value


@click.command("metadata")
@click.option("--attribute", "-a", "attributes", multiple=True, required=True, metavar="ATTRIBUTE",
              help="An attribute to read (repeat for more): a DICOM keyword (Rows), a tag ((0028,0010), 00280010), "
                   "or a path through sequences (OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning; "
                   "[*] for every item); ':json' after it gives the element in DICOM's JSON model.")
@selection_options
@click.option("--endpoint-url", type=str, default=None, envvar=ENDPOINT_ENV,
              help="An S3-compatible endpoint for every bucket (mirror, proxy). Default: AWS or GCS.")
@click.option("--concurrency", type=click.IntRange(1, 4096), default=None,
              help="At most this many requests in flight (default 256).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, metavar="FILE", callback=_check_out,
              help="Also write the rows to FILE: CSV (.csv), Parquet (.parquet) or JSON (.json).")
@format_option
@click.pass_context
def metadata(ctx: click.Context, attributes: tuple[str, ...], collection_id: Any, patient_id: Any,
             study_instance_uid: Any, series_instance_uid: Any, sop_instance_uid: Any, crdc_series_uuid: Any,
             analysis_result_id: Any, analysis_results: str, source_bucket_location: str, endpoint_url: str | None,
             concurrency: int | None, out: str | None, fmt: str) -> None:
    """Attributes of the DICOM headers of the instances of a selection, one row per instance,
    read from the buckets with Range requests (the files are not downloaded) and cached. The
    most specific identifiers given select. Rows whose file could not be read say why in the
    error column; the exit status is 0 all the same."""
    client = client_of(ctx)
    table = client.get_instance_metadata(
        collection_id=id_values(collection_id), patientId=id_values(patient_id),
        studyInstanceUID=id_values(study_instance_uid), seriesInstanceUID=id_values(series_instance_uid),
        sopInstanceUID=id_values(sop_instance_uid), crdc_series_uuid=id_values(crdc_series_uuid),
        analysis_result_id=id_values(analysis_result_id), analysis_results=analysis_results.lower(),
        attributes=list(attributes), source_bucket_location=source_bucket_location, endpoint_url=endpoint_url,
        concurrency=concurrency, output="arrow",
    )
    rows = [{k: _cell(v, fmt) for k, v in row.items()} for row in table.to_pylist()]
    emit(rows, table.column_names, fmt)
    failed = sum(1 for row in rows if row[ERROR_COLUMN])
    click.echo(f"\n{len(rows)} instance(s)" + (f", {failed} with an error (see the error column)" if failed else ""),
               err=True)
    if out is not None:
        try:
            write_table_file(to_pandas(table), out)
        except OSError as e:
            raise click.ClickException(f"cannot write {out}: {e}") from e
        click.echo(f"{out}: {len(rows)} instance(s)", err=True)


__all__ = ["metadata"]
