"""What a person sees of the objects they hold: short text reprs and notebook HTML, bounded
whatever the number of files or rows, values escaped; sizes in human units; what a dry run
says, and that it creates nothing."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from conftest_download import (  # noqa: F401  (fixtures)
    SMALL_COLLECTION,
    files_on_disk,
    idc_layout,
    moto_s3,
)
from idc_index.download import DownloadedFile, DownloadReport, FailedFile, failure_message
from idc_index.download.plan import DRY_RUN_NOTE, Plan
from idc_index.download.plan_table import plan_schema
from idc_index.errors import DownloadFailedError
from idc_index.query.result import QueryResult
from idc_index.units import format_size
from s3server import MotoS3, Series

N = 100_000
HOSTILE = "<script>alert(1)</script>"
SIZE = re.compile(r"\b\d+(\.\d+)? (B|kB|MB|GB|TB)\b")


class _Checker(HTMLParser):
    """Tags that open and close in order; any <script> is a failure."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.problems.append("a <script> element")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"</{tag}> closes nothing open")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def well_formed(markup: str) -> str:
    """The visible text of ``markup``, after checking that it is well formed and has no script."""
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    assert not checker.problems and not checker.stack, (checker.problems, checker.stack)
    return "".join(checker.text)


def big_report() -> DownloadReport:
    files = [
        DownloadedFile(f"d/{i}.dcm", "b", f"k{i}", 1000, "downloaded" if i % 2 else "already_present", "crc32c")
        for i in range(N)
    ]
    failed = [FailedFile("b", f"k{i}", f"d/{HOSTILE}{i}.dcm", "not_found", f"gone {HOSTILE} " * 50) for i in range(N)]
    return DownloadReport(files=files, failed=failed, bytes_downloaded=26_367_667_400_000, bytes_present=N * 500,
                          seconds=12.5, skipped_manifest_lines=[(i, "junk") for i in range(N)])


def test_sizes_are_shown_in_human_units():
    assert format_size(26_367_667_400_000) == "26.4 TB"
    assert format_size(1_234_567) == "1.23 MB"
    assert format_size(246_305_000) == "246 MB"
    assert format_size(999) == "999 B"
    assert format_size(999_999) == "1.00 MB"
    assert format_size(0) == "0 B"
    assert format_size(12_345) == "12.3 kB"


def test_a_report_of_100000_files_and_failures_stays_short():
    report = big_report()
    text = repr(report)
    assert text == str(report) and text.startswith("DownloadReport(") and "\n" not in text
    assert len(text) < 600, text
    assert "26.4 TB in 12.5 s, 2.11 TB/s" in text and f"{N // 2} files downloaded" in text
    assert f"{N // 2} already present, {N} failed ({N} not_found)" in text

    markup = report._repr_html_()
    assert len(markup) < 10_000
    shown = well_formed(markup)
    assert HOSTILE not in markup and "&lt;script&gt;" in markup
    assert f"{N // 2} files, 26.4 TB" in shown and f"{N // 2} files, 50.0 MB" in shown
    assert f"{N} files ({N} not_found)" in shown and "12.5 s" in shown
    assert shown.count("not_found") == 1 + 10  # the kinds, then the first 10 failures
    assert f"and {N - 10} more" in shown
    # The full lists stay one attribute away.
    assert len(report.failed) == N and len(report.files) == N


def test_a_failed_download_says_what_failed_in_a_few_lines():
    report = big_report()
    error = DownloadFailedError(failure_message(report), report)
    message = str(error)
    assert len(message) < 3_000 and len(message.splitlines()) <= 6, message
    assert f"and {N - 3} more" in message
    assert error.report is report


def test_a_dry_run_report_shows_sizes_in_human_units(client, tmp_path: Path):
    report = client.download_collection(SMALL_COLLECTION, tmp_path, dry_run=True)
    summary = report.summary()
    assert summary.startswith("dry run: ") and len(SIZE.findall(summary)) == 4, summary
    assert f"{format_size(report.plan.bytes_total)} in total" in summary and "0.0 MB" not in summary
    shown = well_formed(report._repr_html_())
    assert "dry run" in shown and format_size(report.plan.bytes_total) in shown


def hostile_plan(root: Path, n: int = N) -> Plan:
    import pyarrow as pa

    table = pa.table({
        "bucket": ["idc-open-data"] * n,
        "prefix": [f"uuid-{i}/" for i in range(n)],
        "key": [None] * n,
        "size": [264_000_000] * n,
        "destination": [f"{HOSTILE}/{i}" for i in range(n)],
        "collection_id": ["c"] * n,
        "SeriesInstanceUID": [f"1.2.{i}" for i in range(n)],
        "SOPInstanceUID": [None] * n,
    }, schema=plan_schema())
    return Plan.measure(table, root, "aws")


def test_a_plan_of_100000_series_shows_counts_size_and_destination(tmp_path: Path):
    plan = hostile_plan(tmp_path / HOSTILE)
    text = repr(plan)
    assert len(text) < 300 and "\n" not in text, text
    assert text.startswith(f"Plan({N} items: {N} series; 26.4 TB in total, 26.4 TB to fetch; into ")
    assert text.endswith("from AWS)")

    markup = plan._repr_html_()
    assert len(markup) < 10_000 and HOSTILE not in markup
    shown = well_formed(markup)
    assert HOSTILE in shown  # escaped, so shown as text
    assert "26.4 TB" in shown and "264 MB" in shown and f"and {N - 10} more" in shown
    assert shown.count("uuid-") == 10


def test_a_dry_run_logs_what_0_13_logged_and_creates_nothing(client, tmp_path: Path, caplog):
    target = tmp_path / "not" / "yet"
    with caplog.at_level(logging.INFO, logger="idc_index"):
        report = client.download_collection(SMALL_COLLECTION, target, dry_run=True)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("idc_index") and r.levelno == logging.INFO]
    needed, available, note = messages[-3:]
    assert needed == f"Disk size needed: {format_size(report.plan.bytes_needed)}" and SIZE.search(needed)
    assert available.startswith(f"Disk size available: {format_size(report.plan.bytes_free)} (on the disk of ")
    assert note == DRY_RUN_NOTE == "Dry run. Not downloading files. Rerun with dry_run=False to download the files."
    assert not (tmp_path / "not").exists()


def test_a_dry_run_of_a_manifest_creates_nothing(client, idc_layout: list[Series], tmp_path: Path):
    s = idc_layout[0]
    manifest = tmp_path / "m.s5cmd"
    manifest.write_text(f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n")
    report = client.download_from_manifest(manifest, tmp_path / "out", dry_run=True)
    assert report.dry_run and report.plan.series == 1
    assert not (tmp_path / "out").exists()


def test_the_plan_of_a_dry_run_runs_into_the_directory_it_then_creates(
    client, moto_s3: MotoS3, idc_layout: list[Series], tmp_path: Path
):
    s = idc_layout[0]
    report = client.download_dicom_series(s.series_instance_uid, tmp_path / "later", dry_run=True, dirTemplate=None)
    assert not (tmp_path / "later").exists()
    done = report.plan.run(endpoint_url=moto_s3.endpoint, show_progress_bar=False)
    assert done.ok and len(files_on_disk(tmp_path / "later")) == len(s.objects)


def test_a_query_result_previews_its_first_rows_without_converting_the_rest(client, monkeypatch):
    result = client.sql("SELECT * FROM index")
    assert result.num_rows > 10_000 and len(result.column_names) > 20

    def refuse(self):
        raise AssertionError("a preview converted the whole result")

    monkeypatch.setattr(QueryResult, "to_arrow", refuse)
    monkeypatch.setattr(QueryResult, "to_pandas", refuse)
    lines = repr(result).splitlines()
    assert lines[0] == f"QueryResult: {result.num_rows} rows × {len(result.column_names)} columns"
    assert len(lines) == 1 + 1 + 10 + 1 and lines[-1].startswith(f"… {result.num_rows - 10} more rows")
    assert all(len(line) < 250 for line in lines), max(lines, key=len)
    assert lines[1].split()[0] == "collection_id" and "…" in lines[1].split()

    markup = result._repr_html_()
    assert len(markup) < 40_000
    shown = well_formed(markup)
    assert f"{result.num_rows} rows × {len(result.column_names)} columns; the first 10 shown" in shown
    assert markup.count("<tr>") == 11 and markup.count("<th>") <= 21


def test_a_query_result_escapes_its_values_and_clips_long_ones(client):
    wide = ", ".join(f"{i} AS c{i}" for i in range(300))
    result = client.sql(f"SELECT '{HOSTILE}' AS \"{HOSTILE}\", repeat('x', 100000) AS long, {wide}")
    text = repr(result)
    assert len(text) < 1_000 and "xxx…xxx" in text
    markup = result._repr_html_()
    assert len(markup) < 5_000 and HOSTILE not in markup
    shown = well_formed(markup)
    assert shown.count(HOSTILE) == 2 and "c299" in shown and "c150" not in shown
    assert "1 row × 302 columns" in shown

    empty = client.sql("SELECT collection_id FROM index WHERE false")
    assert repr(empty) == "QueryResult: 0 rows × 1 column\ncollection_id"
    assert "0 rows × 1 column" in well_formed(empty._repr_html_())


def test_a_client_shows_its_release_and_the_indices_ready(client):
    text = repr(client)
    assert text.startswith(f"IDCClient(IDC {client.idc_version} from ") and "\n" not in text and len(text) < 300
    assert "indices ready: index, " in text


def test_a_failed_files_repr_is_bounded_and_its_reason_whole() -> None:
    from idc_index._core import FailedFile

    reason = "x" * 5000 + " the end"
    failed = FailedFile("idc-open-data", "k" * 1000, "p", "network", reason)
    text = repr(failed)
    assert len(text) < 600 and "…" in text and text.endswith('the end")')
    assert failed.reason == reason
