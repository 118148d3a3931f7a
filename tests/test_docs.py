"""The documentation site builds with ``mkdocs build --strict`` (no warning allowed), offline,
and its generated pages hold what they are generated from: every index and column the index
builder declares, and every public method of the client."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the docs build needs the docs extra (Python 3.11+)")
pytest.importorskip("mkdocstrings", reason="the docs build needs the docs extra (Python 3.11+)")
pytest.importorskip("material", reason="the docs build needs the docs extra (Python 3.11+)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _text(page: Path) -> str:
    """The visible text of a built page, tags removed."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def _builder_indices() -> dict[str, list[str]]:
    sys.path.insert(0, str(ROOT / "index_builder"))
    try:
        from index_builder.indices import INDICES
        from index_builder.sqlfile import documented_paths
    finally:
        sys.path.remove(str(ROOT / "index_builder"))
    return {name: documented_paths(spec.schema) for name, spec in INDICES.items()}


def test_every_page_is_built(site: Path) -> None:
    for page in [
        "index.html",
        "guide/querying/index.html",
        "guide/downloading/index.html",
        "guide/scale/index.html",
        "guide/changes/index.html",
        "guide/metadata/index.html",
        "guide/cli/index.html",
        "guide/environment/index.html",
        "reference/api/index.html",
        "reference/indices/index.html",
        "manifest/index.html",
        "migration/index.html",
        "benchmarks/index.html",
        "maintainers/index.html",
    ]:
        assert (site / page).is_file(), page
    # The hook is build machinery, not a page.
    assert not list(site.rglob("*.py"))


def test_index_reference_lists_every_index_and_column(site: Path) -> None:
    text = _text(site / "reference/indices/index.html")
    indices = _builder_indices()
    assert len(indices) == 17
    for name, paths in indices.items():
        assert f"{name}.parquet" in text, name
        for path in paths:
            assert re.search(rf"(?<![\w.]){re.escape(path)}(?![\w.])", text), f"{name}.{path}"
    # Known columns with their types and descriptions.
    assert re.search(r"series_size_MB\s+double\s+total size of the series", text, re.IGNORECASE)
    assert re.search(r"instanceCount\s+int64", text)
    assert "sources.license.license_short_name" in text
    assert "ImageType" in text and "list<element: string>" in text
    assert "<!-- index-reference -->" not in (site / "reference/indices/index.html").read_text(encoding="utf-8")


def test_api_reference_documents_the_client(site: Path) -> None:
    page = (site / "reference/api/index.html").read_text(encoding="utf-8")
    for name in [
        "IDCClient",
        "IDCClient.client",
        "IDCClient.get_idc_version",
        "IDCClient.get_collections",
        "IDCClient.get_patients",
        "IDCClient.get_dicom_studies",
        "IDCClient.get_dicom_series",
        "IDCClient.get_series_size",
        "IDCClient.get_derived_series",
        "IDCClient.get_viewer_URL",
        "IDCClient.get_dicomweb_URL",
        "IDCClient.get_instance_file_URL",
        "IDCClient.get_series_file_URLs",
        "IDCClient.sql",
        "IDCClient.sql_query",
        "IDCClient.fetch_index",
        "IDCClient.get_index_schema",
        "IDCClient.indices_overview",
        "IDCClient.get_clinical_table",
        "IDCClient.citations_from_selection",
        "IDCClient.citations_from_manifest",
        "IDCClient.release_changes",
        "IDCClient.download_from_selection",
        "IDCClient.download_dicom_series",
        "IDCClient.download_dicom_studies",
        "IDCClient.download_dicom_patients",
        "IDCClient.download_dicom_instance",
        "IDCClient.download_collection",
        "IDCClient.download_analysis_result",
        "IDCClient.download_from_manifest",
        "QueryResult.to_arrow",
        "QueryResult.to_pandas",
    ]:
        assert f'id="idc_index.{name}"' in page, name
    for name in ["IDCError", "UnknownIdentifierError", "SQLError", "DownloadFailedError"]:
        assert f'id="idc_index.errors.{name}"' in page, name
    assert 'id="idc_index.download.DownloadReport"' in page
    assert 'id="idc_index.download.references.References"' in page
    assert "skipped_manifest_lines" in page
    # reStructuredText roles left in docstrings are turned into code, not shown raw.
    assert ":meth:" not in page and ":class:" not in page
