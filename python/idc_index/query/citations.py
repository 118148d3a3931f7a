"""The publications to cite for a selection of IDC data: its source DOIs, plus the IDC paper.

Citations are requested from a DOI resolver by content negotiation (APA text, BibTeX, CSL JSON,
Turtle). When the resolver cannot be reached, the citation texts the indices record
(``collections_index``, ``analysis_results_index``) are returned instead, so citing works
offline too.

Example:
    >>> Citations(lookup).for_selection(Selection.of(collection_id="rider_pilot"))  # doctest: +SKIP
    ['Armato III, S. G., ... https://doi.org/10.7937/...', 'Fedorov, A., ...']
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from idc_index.download import documents
from idc_index.errors import DownloadError, IDCError, UnknownIdentifierError
from idc_index.query.lookup import IndexLookup
from idc_index.query.sql import in_list, literal, unique
from idc_index.selection import Selection

logger = logging.getLogger("idc_index")

CITATION_FORMAT_APA = "text/x-bibliography; style=apa; locale=en-US"
CITATION_FORMAT_TURTLE = "text/turtle"
CITATION_FORMAT_JSON = "application/vnd.citationstyles.csl+json"
CITATION_FORMAT_BIBTEX = "application/x-bibtex"

#: Where DOIs are resolved to citations (content negotiation).
DOI_RESOLVER_URL = "https://dx.doi.org/"
#: A citation is a few kB; a resolver that sends more is not sending one.
MAX_CITATION_BYTES = 1 << 20

#: The publication describing IDC, cited with every selection.
IDC_PAPER_DOI = "10.1148/rg.230180"
IDC_PAPER_TITLE = "National Cancer Institute Imaging Data Commons"
IDC_PAPER_CITATION = (
    "Fedorov, A., Longabaugh, W. J. R., Pot, D., Clunie, D. A., Pieper, S. D., Gibbs, D. L., "
    "Bridge, C., Herrmann, M. D., Homeyer, A., Lewis, R., Aerts, H. J. W. L., Krishnaswamy, D., "
    "Thiriveedhi, V. K., Ciausu, C., Schacherer, D. P., Bontempi, D., Pihl, T., Wagner, U., "
    "Farahani, K., Kim, E., & Kikinis, R. (2023). National Cancer Institute Imaging Data Commons: "
    "Toward Transparency, Reproducibility, and Scalability in Imaging Artificial Intelligence. "
    "RadioGraphics, 43(12). https://doi.org/10.1148/rg.230180"
)


class Citations:
    """Finds the DOIs of selections and manifests in the indices and the citation of each.

    Args:
        lookup: runs SQL over the client's indices and checks identifiers.
    """

    def __init__(self, lookup: IndexLookup) -> None:
        self._lookup = lookup

    def for_selection(
        self,
        selection: Selection,
        citation_format: str = CITATION_FORMAT_APA,
        resolver_url: str = DOI_RESOLVER_URL,
    ) -> list[Any]:
        """The citations of the source DOIs of a selection (most specific level given), then
        the IDC paper's; empty when the selection records no DOI.

        Raises:
            UnknownIdentifierError: an identifier that matches nothing (with the closest ones).
            ValueError: the selection names no collection, patient, study or series.
        """
        level = self._lookup.selection_level(selection)
        if level is None:
            raise ValueError("Give a selection: collection_id, patientId, studyInstanceUID or seriesInstanceUID.")
        column, values = level
        self._lookup.require(column, values)
        where = in_list(column, values)
        dois = [
            d
            for d in self._lookup.values(
                f"SELECT DISTINCT source_DOI FROM index WHERE {where} ORDER BY source_DOI", "source_DOI"
            )
            if d
        ]
        if not dois:
            return []
        dois.append(IDC_PAPER_DOI)
        return self._citations(dois, citation_format, resolver_url)

    def for_manifest(
        self,
        manifest_file: str | os.PathLike[str],
        citation_format: str = CITATION_FORMAT_APA,
        resolver_url: str = DOI_RESOLVER_URL,
    ) -> list[Any]:
        """The citations of the series of an IDC portal manifest (earlier releases' too) that
        are in the current release, as :meth:`for_selection` gives them.

        Raises:
            IDCError: the manifest cannot be read.
            ValueError: it has no ``cp s3://<bucket>/<uuid>/* .`` line.
            UnknownIdentifierError: none of its series is in any IDC release.
        """
        uuids = unique(re.findall(r"s3://[^/\s]+/([^/\s]+)/\*", _manifest_text(manifest_file)))
        if not uuids:
            raise ValueError(f"{manifest_file} has no lines of the form 'cp s3://<bucket>/<uuid>/* .'")
        sql = f"SELECT DISTINCT SeriesInstanceUID FROM index WHERE {in_list('crdc_series_uuid', uuids)}"
        if self._lookup.has_table("prior_versions_index"):
            sql += (
                " UNION SELECT DISTINCT SeriesInstanceUID FROM prior_versions_index"
                f" WHERE {in_list('crdc_series_uuid', uuids)}"
            )
        series = [s for s in self._lookup.values(sql, "SeriesInstanceUID") if s]
        if not series:
            raise UnknownIdentifierError("crdc_series_uuid", uuids[:5], where=f"IDC {self._lookup.idc_version}")
        current = self._lookup.values(
            f"SELECT DISTINCT SeriesInstanceUID FROM index WHERE {in_list('SeriesInstanceUID', series)}",
            "SeriesInstanceUID",
        )
        if not current:
            return []
        return self.for_selection(Selection.of(seriesInstanceUID=current), citation_format, resolver_url)

    def _citations(self, dois: list[str], citation_format: str, resolver_url: str) -> list[Any]:
        """The citation of each DOI: from the resolver while it answers, else from the indices."""
        citations: list[Any] = []
        offline = False
        for doi in dois:
            if not offline:
                try:
                    fetched = _fetch_citation(resolver_url, doi, citation_format)
                except DownloadError as e:
                    logger.warning("The DOI service is unreachable (%s); using the citations in the index", e)
                    offline = True
                else:
                    if fetched is not None:
                        citations.append(fetched)
                        continue
                    logger.warning("The DOI service has no citation for %s", doi)
            citations.append(self._offline_citation(doi, citation_format))
        return citations

    def _offline_citation(self, doi: str, citation_format: str) -> Any:
        """The citation of ``doi`` in ``citation_format`` from what the indices record."""
        text, title = self._recorded_citation(doi)
        if citation_format == CITATION_FORMAT_JSON:
            return {"DOI": doi, "type": "dataset", "title": title, "note": text, "URL": f"https://doi.org/{doi}"}
        if citation_format == CITATION_FORMAT_BIBTEX:
            key = re.sub(r"[^A-Za-z0-9]", "_", doi)
            return (
                f"@misc{{{key},\n  doi = {{{doi}}},\n  title = {{{title}}},\n  note = {{{text}}},\n"
                f"  url = {{https://doi.org/{doi}}}\n}}"
            )
        return text

    def _recorded_citation(self, doi: str) -> tuple[str, str]:
        """The citation text and title the indices record for ``doi``."""
        if doi == IDC_PAPER_DOI:
            return IDC_PAPER_CITATION, IDC_PAPER_TITLE
        lit = literal(doi.lower())
        if self._lookup.has_table("analysis_results_index"):
            rows = self._lookup.rows(
                "SELECT citation, analysis_result_title AS title FROM analysis_results_index "
                f"WHERE lower(source_DOI) = {lit} LIMIT 1"
            )
            if rows and rows[0]["citation"]:
                return rows[0]["citation"], rows[0]["title"] or doi
        if self._lookup.has_table("collections_index"):
            rows = self._lookup.rows(
                f"""SELECT s['citation'] AS citation, s['source_title'] AS title
                    FROM (SELECT unnest(sources) AS s FROM collections_index)
                    WHERE lower(s['source_doi']) = {lit} LIMIT 1"""
            )
            if rows and rows[0]["citation"]:
                return rows[0]["citation"], rows[0]["title"] or doi
        return f"https://doi.org/{doi}", doi


def _fetch_citation(resolver_url: str, doi: str, citation_format: str) -> Any:
    """The citation of ``doi`` from the resolver: text, or a dict for CSL JSON; None when it
    has none (HTTP 404)."""
    doc = documents.get(resolver_url + doi, max_bytes=MAX_CITATION_BYTES, deadline=30, accept=citation_format)
    if not doc.published:
        return None
    text = doc.body.decode("utf-8", errors="replace")
    return json.loads(text) if citation_format == CITATION_FORMAT_JSON else text


def _manifest_text(manifest_file: str | os.PathLike[str]) -> str:
    """The text of a manifest file."""
    try:
        return Path(manifest_file).read_text(encoding="utf-8")
    except OSError as e:
        raise IDCError(f"cannot read the manifest {manifest_file}: {e}") from e


__all__ = [
    "CITATION_FORMAT_APA",
    "CITATION_FORMAT_BIBTEX",
    "CITATION_FORMAT_JSON",
    "CITATION_FORMAT_TURTLE",
    "DOI_RESOLVER_URL",
    "IDC_PAPER_CITATION",
    "IDC_PAPER_DOI",
    "Citations",
]
