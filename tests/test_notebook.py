"""A notebook of the README's examples, executed in a real Jupyter kernel (nbclient), and what it
shows checked cell by cell: what a person sees of the client, query results, a download's
report, a dry run and a failure, each short and bounded, with no warning or traceback of ours
in the way. Downloads go to the tests' S3 server (``IDC_ENDPOINT_URL``), never the internet."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    idc_layout,
    moto_s3,
    small_collection,
)
from s3server import MotoS3, Series

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

#: The most a cell's display may take, whatever the number of rows or files behind it.
MAX_TEXT = 2_000
MAX_HTML = 20_000


def _notebook(cells: list[str]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells]
    return nb


def _outputs(cell: Any, kind: str) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == kind]


def _shown(cell: Any) -> dict[str, str]:
    """What the cell displays as its value: mime type -> text."""
    (result,) = _outputs(cell, "execute_result")
    return dict(result.data)


@pytest.fixture()
def executed(moto_s3: MotoS3, idc_layout: list[Series], small_collection: list[Series], cache_dir: Path,
             tmp_path: Path) -> list[Any]:
    series = idc_layout[0]
    cells = [
        f"""
        import os
        os.environ["IDC_ENDPOINT_URL"] = {moto_s3.endpoint!r}   # the tests' S3 server
        os.environ["IDC_INDEX_CACHE_DIR"] = {str(cache_dir)!r}
        os.chdir({str(tmp_path)!r})
        from idc_index import IDCClient
        client = IDCClient()
        client
        """,
        "client.get_collections()[:3]",
        """
        client.sql_query(\"\"\"
            SELECT collection_id, COUNT(DISTINCT PatientID) AS patients, SUM(series_size_MB) AS mb
            FROM index WHERE Modality = 'MR' GROUP BY collection_id ORDER BY mb DESC
        \"\"\")
        """,
        "result = client.sql(\"SELECT * FROM index WHERE Modality = 'SM'\")\nresult",
        f"report = client.download_dicom_series({series.series_instance_uid!r}, 'data')\nreport",
        "report.paths[:2]",
        f"client.download_collection({SMALL_COLLECTION!r}, 'data', dry_run=True)",
        f"""
        client.download_dicom_series({series.series_instance_uid!r}, 'elsewhere', source_bucket_location='gcs',
                                     endpoint_url={moto_s3.endpoint + '/nowhere'!r})
        """,
    ]
    nb = _notebook(cells)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    return list(nb.cells)


def test_the_readme_in_a_notebook_shows_short_bounded_outputs(executed: list[Any], idc_layout: list[Series]) -> None:
    client, collections, df, sm, report, paths, dry, failure = executed
    for cell in executed[:-1]:
        assert not _outputs(cell, "error"), cell.outputs
    # No cell but the download's writes to stderr, and that is the progress bar alone.
    for cell in executed:
        for stream in _outputs(cell, "stream"):
            assert stream.name != "stderr" or cell is report or cell is failure, (cell.source, stream.text)
            assert "Warning" not in stream.text and "Traceback" not in stream.text, stream.text

    shown = _shown(client)["text/plain"]
    assert shown.startswith("IDCClient(") and "\n" not in shown and len(shown) < 300, shown
    assert eval(_shown(collections)["text/plain"]) == sorted(eval(_shown(collections)["text/plain"]))

    # A DataFrame and a query result: a preview of rows, as text and as an HTML table.
    html = _shown(df)["text/html"]
    assert "<table" in html and "patients" in html and len(html) < MAX_HTML * 5
    sm_shown = _shown(sm)
    assert "<table" in sm_shown["text/html"] and len(sm_shown["text/html"]) < MAX_HTML, len(sm_shown["text/html"])
    assert re.match(r"QueryResult: \d+ rows × \d+ columns\n", sm_shown["text/plain"]), sm_shown["text/plain"]
    assert len(sm_shown["text/plain"]) < MAX_TEXT

    # The report: one line, sizes in human units; a small table in HTML; the files one attribute away.
    s = idc_layout[0]
    line = _shown(report)["text/plain"]
    assert f"{len(s.objects)} files downloaded" in line and "\n" not in line and len(line) < 300, line
    assert re.search(r"\d (B|kB|MB|GB)\b", line), line
    assert "<table" in _shown(report)["text/html"] and len(_shown(report)["text/html"]) < MAX_HTML
    assert len(eval(_shown(paths)["text/plain"])) == 2

    # A dry run says so, with the sizes, in a line.
    dry_line = _shown(dry)["text/plain"]
    assert "dry run" in dry_line.lower() and len(dry_line) < MAX_TEXT, dry_line

    # A failure: the error names what failed and why, in a bounded message.
    (error,) = _outputs(failure, "error")
    assert error.ename == "DownloadFailedError"
    assert "failed" in error.evalue and "not_found" in error.evalue and len(error.evalue) < MAX_TEXT, error.evalue

