"""``IDCClient``: search the NCI Imaging Data Commons indices with SQL and plain methods.

The client keeps idc-index 0.13's public API. Underneath, each client owns one query session
(DataFusion, in the native core) with every installed index registered as a table; nothing
is read into memory until a query asks for it.
"""

from __future__ import annotations

import atexit
import difflib
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

from . import _core
from ._sql import as_list, ident, in_list, literal, unique
from .catalog import MAIN_INDEX, MAIN_INDEX_FILE_STEM, Catalog
from .client_download import DownloadMethods
from .errors import (
    IDCClientInsufficientDiskSpaceError,
    IDCError,
    UnknownIdentifierError,
    UnknownIndexError,
)
from .result import QueryResult

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("idc_index")

aws_endpoint_url = "https://s3.amazonaws.com"
gcp_endpoint_url = "https://storage.googleapis.com"

#: AWS bucket -> the GCS bucket holding the same objects.
GCS_BUCKETS = {
    "idc-open-data": "idc-open-data",
    "idc-open-data-two": "idc-open-idc1",
    "idc-open-data-cr": "idc-open-cr",
}

VIEWER_BASE_URL = "https://viewer.imaging.datacommons.cancer.gov"

#: The publication describing IDC, cited with every selection.
IDC_PAPER_DOI = "10.1148/rg.230180"
IDC_PAPER_CITATION = (
    "Fedorov, A., Longabaugh, W. J. R., Pot, D., Clunie, D. A., Pieper, S. D., Gibbs, D. L., "
    "Bridge, C., Herrmann, M. D., Homeyer, A., Lewis, R., Aerts, H. J. W. L., Krishnaswamy, D., "
    "Thiriveedhi, V. K., Ciausu, C., Schacherer, D. P., Bontempi, D., Pihl, T., Wagner, U., "
    "Farahani, K., Kim, E., & Kikinis, R. (2023). National Cancer Institute Imaging Data Commons: "
    "Toward Transparency, Reproducibility, and Scalability in Imaging Artificial Intelligence. "
    "RadioGraphics, 43(12). https://doi.org/10.1148/rg.230180"
)

class _Layout(TypedDict):
    """The layout arguments of ``_core.Engine.start_optimize``."""

    sort_by: list[str]
    bloom_filter_columns: list[str]
    row_group_rows: int
    page_rows: int


#: Layout of the optimised copy of the main index (see idc_core::query::layout).
MAIN_INDEX_LAYOUT: _Layout = {
    "sort_by": ["collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID"],
    "bloom_filter_columns": ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "crdc_series_uuid"],
    "row_group_rows": 16384,
    "page_rows": 2048,
}
MAIN_INDEX_LAYOUT_VERSION = "1"

_OUTPUT_FORMATS = ("dict", "df", "list")
_VIEWERS = ("ohif_v2", "ohif_v3", "slim")

T = TypeVar("T")


class _either_method(Generic[T]):
    """A method that works on the class (default release) and on an instance (its release)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[[], T]:
        target = instance if instance is not None else owner
        return lambda: self.func(target)


class IDCClient(DownloadMethods):
    """Search NCI Imaging Data Commons and get the files you pick.

    Args:
        data_dir: a local index release directory (parquet files and ``manifest.json``, as
            written by ``index_builder``). Default: ``IDC_INDEX_DATA_DIR``, else the installed
            ``idc-index-data`` package.
        cache_dir: where fetched indices and the optimised copy of the main index are kept.
            Default: ``IDC_INDEX_CACHE_DIR``, else the user cache directory.
        release_base_url: where optional indices are fetched from. Default:
            ``IDC_RELEASE_BASE_URL``, else the release's published assets.
        optimize_index: write (once, in the background) a copy of the main index sorted along
            the IDC hierarchy with small row groups and bloom filters, which makes lookups by
            identifier fast. On by default.

    Examples:
        >>> from idc_index import IDCClient
        >>> client = IDCClient()
        >>> client.get_idc_version()
        'v25'
        >>> client.sql_query("SELECT Modality, COUNT(*) AS n FROM index GROUP BY Modality")
    """

    DOWNLOAD_HIERARCHY_DEFAULT = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"

    CITATION_FORMAT_APA = "text/x-bibliography; style=apa; locale=en-US"
    CITATION_FORMAT_TURTLE = "text/turtle"
    CITATION_FORMAT_JSON = "application/vnd.citationstyles.csl+json"
    CITATION_FORMAT_BIBTEX = "application/x-bibtex"

    #: Where DOIs are resolved to citations (content negotiation).
    DOI_RESOLVER_URL = "https://dx.doi.org/"

    _client: ClassVar[IDCClient | None] = None

    @classmethod
    def client(cls) -> IDCClient:
        """The process-wide shared client, created on first use.

        Examples:
            >>> client = IDCClient.client()
            >>> client is IDCClient.client()
            True
        """
        if cls._client is None:
            cls._client = cls()
        return cls._client

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        release_base_url: str | None = None,
        optimize_index: bool = True,
    ) -> None:
        self._catalog = Catalog.resolve(data_dir, cache_dir, release_base_url)
        self._engine = _core.Engine()
        self._collection_map: dict[str, str] | None = None
        main = self._catalog.entry(MAIN_INDEX)
        assert main.path is not None
        main_path = main.path
        optimized = self._optimized_main_index_path(main_path) if optimize_index else None
        if optimized is not None and optimized.is_file():
            main_path = optimized
        for entry in self._catalog.indices.values():
            if entry.path is not None:
                path = main_path if entry.name == MAIN_INDEX else entry.path
                self._register(entry.name, path)
        if optimized is not None and main_path != optimized:
            # Finish the rewrite before the interpreter exits (once per cache), so that a
            # short-lived process leaves a complete copy for the next one.
            atexit.register(self._engine.wait_optimized, MAIN_INDEX)
            self._engine.start_optimize(
                MAIN_INDEX,
                str(optimized),
                metadata=[
                    ("idc_index.release", self._catalog.release),
                    ("idc_index.layout", MAIN_INDEX_LAYOUT_VERSION),
                ],
                **MAIN_INDEX_LAYOUT,
            )
        self.idc_version = f"v{self._catalog.idc_version}"
        self.indices_data_dir = str(self._catalog.cache_dir)
        self.clinical_data_dir: str | None = None

    # -- internals ------------------------------------------------------------------------
    def _register(self, name: str, path: Path) -> None:
        aliases = [MAIN_INDEX_FILE_STEM] if name == MAIN_INDEX else []
        self._engine.register_parquet(name, str(path), aliases)

    def _optimized_main_index_path(self, source: Path) -> Path:
        stat = source.stat()
        key = f"layout{MAIN_INDEX_LAYOUT_VERSION}-{stat.st_size}-{stat.st_mtime_ns}"
        return self._catalog.cache_dir / "optimized" / key / f"{MAIN_INDEX_FILE_STEM}.parquet"

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        return self._engine.sql(sql).to_pylist()

    def _values(self, sql: str, column: str) -> list[Any]:
        return self._engine.sql(sql).column(column)

    def _require(self, column: str, values: list[str], table: str = MAIN_INDEX) -> None:
        """Raise UnknownIdentifierError naming the values of ``column`` that ``table`` lacks."""
        found = set(
            self._values(
                f"SELECT DISTINCT {ident(column)} AS v FROM {ident(table)} WHERE {in_list(column, values)}",
                "v",
            )
        )
        missing = [v for v in unique(values) if v not in found]
        if missing:
            suggestions = {v: self._closest(column, v, table) for v in missing}
            raise UnknownIdentifierError(column, missing, suggestions, where=f"IDC {self.idc_version} ({table})")

    def _existing(self, column: str, values: list[str], query: Callable[[], T]) -> T:
        """Run ``query`` for children of ``values``; raise if any of ``values`` does not exist.

        A non-empty answer for a single value proves it exists, so the common case is one
        query; otherwise the values are checked one by one.
        """
        result = query()
        if len(values) > 1 or len(result) == 0:  # type: ignore[arg-type]
            self._require(column, values)
        return result

    def _closest(self, column: str, value: str, table: str = MAIN_INDEX, n: int = 3) -> list[str]:
        """The existing values of ``column`` nearest to ``value`` in edit distance."""
        col = ident(column)
        prefilter = ""
        if len(value) > 16:
            # Long identifiers (DICOM UIDs): a typo leaves either end intact; compare only
            # values that share one, not a million.
            prefilter = (
                f"AND (starts_with({col}, {literal(value[:12])}) OR ends_with({col}, {literal(value[-8:])}))"
            )
        limit = max(2, len(value) // 3)
        sql = (
            f"SELECT v FROM (SELECT DISTINCT {col} AS v FROM {ident(table)} WHERE {col} IS NOT NULL {prefilter}) "
            f"WHERE levenshtein(lower(v), lower({literal(value)})) <= {limit} "
            f"ORDER BY levenshtein(lower(v), lower({literal(value)})), v LIMIT {n}"
        )
        return [str(v) for v in self._values(sql, "v")]

    def _collection_ids(self, collection_id: str | list[str]) -> list[str]:
        """Collection ids for the given ids or portal names (``NSCLC-Radiomics``)."""
        values = as_list(collection_id, "collection_id")
        mapping = self._collection_names()
        resolved, missing = [], []
        for value in values:
            found = mapping.get(_normalize_collection(value))
            if found is None:
                missing.append(value)
            else:
                resolved.append(found)
        if missing:
            known = sorted(set(mapping.values()))
            suggestions = {
                v: difflib.get_close_matches(_normalize_collection(v), known, n=3, cutoff=0.6) for v in missing
            }
            raise UnknownIdentifierError(
                "collection_id", missing, suggestions, where=f"IDC {self.idc_version} (see get_collections())"
            )
        return unique(resolved)

    def _collection_names(self) -> dict[str, str]:
        if self._collection_map is None:
            mapping: dict[str, str] = {}
            for cid in self._values("SELECT DISTINCT collection_id FROM index", "collection_id"):
                if cid is not None:
                    mapping[_normalize_collection(cid)] = cid
            if "collections_index" in self._engine.table_names():
                for row in self._rows("SELECT collection_id, collection_name FROM collections_index"):
                    if row["collection_id"] and row["collection_name"]:
                        mapping.setdefault(_normalize_collection(row["collection_name"]), row["collection_id"])
            self._collection_map = mapping
        return self._collection_map

    @staticmethod
    def _check_output_format(outputFormat: str) -> None:
        if outputFormat not in _OUTPUT_FORMATS:
            raise ValueError(f"outputFormat must be one of 'dict', 'df' or 'list', not {outputFormat!r}")

    def _shape(self, sql: str, outputFormat: str) -> Any:
        result = self._engine.sql(sql)
        if outputFormat == "df":
            return QueryResult(result).to_pandas()
        return result.to_pylist()

    def __getattr__(self, name: str) -> Any:
        # idc-index 0.13 kept each loaded index as a pandas DataFrame attribute (client.index,
        # client.sm_index, ...). They are loaded here on first access, and are None for an
        # index that is not installed, as they were.
        if name.startswith("_"):
            raise AttributeError(name)
        catalog = self.__dict__.get("_catalog")
        if catalog is not None and name in catalog.indices:
            if name not in self._engine.table_names():
                return None
            frame = self.sql_query(f"SELECT * FROM {ident(name)}")
            setattr(self, name, frame)
            return frame
        if name == "collection_summary":
            frame = self.sql_query(
                "SELECT collection_id, array_agg(DISTINCT Modality) AS Modality, "
                "SUM(series_size_MB) AS series_size_MB FROM index GROUP BY collection_id ORDER BY collection_id"
            ).set_index("collection_id")
            setattr(self, name, frame)
            return frame
        if name == "prior_versions_index_path":
            entry = catalog.indices.get("prior_versions_index") if catalog else None
            return str(entry.path) if entry and entry.path else None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- release and indices ----------------------------------------------------------------
    @_either_method
    def get_idc_version(self_or_cls: Any) -> str:
        """The IDC data release in use, as ``"v<N>"``.

        Works on the class (the default release) and on a client (its release).

        Examples:
            >>> IDCClient.get_idc_version()
            'v25'
        """
        if isinstance(self_or_cls, IDCClient):
            return self_or_cls.idc_version
        return f"v{Catalog.resolve().idc_version}"

    @property
    def indices_overview(self) -> dict[str, dict[str, Any]]:
        """Every index of the release: description, installed, url, file_path, schema.

        Examples:
            >>> [n for n, i in client.indices_overview.items() if not i["installed"]]
            ['clinical_index', 'sm_index', ...]
        """
        return {
            name: {
                "description": entry.description,
                "installed": entry.installed,
                "url": entry.url,
                "file_path": str(entry.path) if entry.path else None,
                "schema": entry.schema(),
            }
            for name, entry in self._catalog.indices.items()
        }

    def refresh_indices_overview(self) -> dict[str, dict[str, Any]]:
        """The indices overview, re-read (kept for idc-index 0.13 compatibility).

        Examples:
            >>> overview = client.refresh_indices_overview()
        """
        return self.indices_overview

    def get_index_schema(self, index_name: str) -> dict[str, Any] | None:
        """The schema of an index: its table_description and columns (name, type, mode, description).

        Raises:
            UnknownIndexError: the release has no index of that name (the message lists them).

        Examples:
            >>> schema = client.get_index_schema("index")
            >>> [c["name"] for c in schema["columns"]][:3]
            ['collection_id', 'analysis_result_id', 'PatientID']
        """
        return self._catalog.entry(index_name).schema()

    def fetch_index(self, index_name: str) -> None:
        """Make an optional index queryable: download it (once, cached) and register it.

        Installed indices are registered at start-up already; fetching one is a no-op.
        Fetching ``clinical_index`` also downloads the release's clinical tables
        (``s3://idc-open-metadata/bigquery_export/idc_v<N>_clinical/``) into the cache and sets
        ``clinical_data_dir``, so that :meth:`get_clinical_table` finds them.

        Raises:
            UnknownIndexError: no such index (with the closest names).
            IndexFetchError: it could not be downloaded (the message says why and what to set).
            IndexIntegrityError: the download did not match its size or sha256; nothing was cached.

        Examples:
            >>> client.fetch_index("sm_index")
            >>> client.sql_query("SELECT COUNT(*) FROM sm_index")
        """
        entry = self._catalog.entry(index_name)
        if entry.name in self._engine.table_names():
            logger.debug("index %s is already installed", entry.name)
        else:
            path = self._catalog.fetch(entry.name)
            self._register(entry.name, path)
            self.__dict__.pop(entry.name, None)
        if entry.name == "clinical_index" and self.clinical_data_dir is None:
            # The clinical tables go with their index (small: a few MB), as in idc-index 0.13.
            self._fetch_clinical_data()

    def get_clinical_table(self, table_name: str) -> pd.DataFrame:
        """A clinical data table (see ``clinical_index.table_name``) as a DataFrame.

        Clinical tables are read from ``clinical_data_dir`` (``<table_name>`` as a parquet file
        or a directory of parquet files, or ``<table_name>.parquet``).

        Raises:
            IndexFileError: the clinical data directory or the table is not there.

        Examples:
            >>> client.clinical_data_dir = "/data/idc_v25_clinical"
            >>> client.get_clinical_table("nlst_canc")
        """
        from .errors import IndexFileError

        if self.clinical_data_dir is None:
            raise IndexFileError(
                "No clinical data directory is set: set client.clinical_data_dir to the "
                f"directory holding the IDC {self.idc_version} clinical tables."
            )
        base = Path(self.clinical_data_dir)
        for candidate in (base / table_name, base / f"{table_name}.parquet"):
            if candidate.exists():
                import pyarrow.parquet as pq

                return pq.read_table(candidate).to_pandas()
        available = sorted(p.name.removesuffix(".parquet") for p in base.glob("*")) if base.is_dir() else []
        close = difflib.get_close_matches(table_name, available, n=3)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise IndexFileError(f"No clinical table {table_name!r} in {base}.{hint}")

    # -- SQL ------------------------------------------------------------------------------
    def sql(self, sql: str) -> QueryResult:
        """Run a read-only SQL query over the indices; the result is Arrow-native.

        Every installed index is a table (the main index as ``index`` or ``idc_index``).
        Identifiers are case-insensitive as in DuckDB; DuckDB's ``regexp_extract``,
        ``string_agg(x)`` and ``any_value`` work. Ctrl-C interrupts a long query.

        Raises:
            SQLError: the query could not be parsed, planned or run.
            ReadOnlySQLError: the statement is not a query (CREATE, COPY, INSERT, ...).
            UnknownTableError: a table that does not exist (the message lists those that do).

        Examples:
            >>> r = client.sql("SELECT * FROM index WHERE Modality = 'SM' LIMIT 5")
            >>> import polars as pl; pl.DataFrame(r)
        """
        return QueryResult(self._engine.sql(sql))

    def sql_query(self, sql_query: str) -> pd.DataFrame:
        """Run a read-only SQL query over the indices and return a pandas DataFrame.

        See :meth:`sql` for the dialect and the errors.

        Examples:
            >>> client.sql_query(
            ...     "SELECT collection_id, COUNT(DISTINCT PatientID) AS patients "
            ...     "FROM index GROUP BY collection_id ORDER BY patients DESC LIMIT 5")
        """
        return self.sql(sql_query).to_pandas()

    # -- browsing -------------------------------------------------------------------------
    def get_collections(self) -> list[str]:
        """All collection ids, sorted.

        Examples:
            >>> "nsclc_radiomics" in client.get_collections()
            True
        """
        return self._values("SELECT DISTINCT collection_id FROM index ORDER BY collection_id", "collection_id")

    def get_series_size(self, seriesInstanceUID: str) -> float:
        """Total size in MB of the instances of one series.

        Raises:
            UnknownIdentifierError: no such series (with the closest existing UIDs).

        Examples:
            >>> client.get_series_size("1.3.6.1.4.1.32722.99.99.298991776521342375010861296712563382046")
        """
        values = self._values(
            f"SELECT series_size_MB FROM index WHERE {in_list('SeriesInstanceUID', [seriesInstanceUID])} LIMIT 1",
            "series_size_MB",
        )
        if not values:
            self._require("SeriesInstanceUID", [seriesInstanceUID])
        return float(values[0])

    def get_patients(self, collection_id: str | list[str], outputFormat: str = "dict") -> Any:
        """The patients of one or more collections.

        Args:
            collection_id: collection id(s) as in ``get_collections()`` or the names the IDC
                portal shows (``"NSCLC-Radiomics"`` and ``"nsclc_radiomics"`` both work).
            outputFormat: ``"dict"`` (a list of records: PatientID, PatientSex, PatientAge),
                ``"df"`` (a DataFrame of the same) or ``"list"`` (PatientIDs only).

        Raises:
            UnknownIdentifierError: a collection that does not exist (with the closest ones).

        Examples:
            >>> client.get_patients("NSCLC-Radiomics", outputFormat="list")[:2]
            ['LUNG1-001', 'LUNG1-002']
        """
        self._check_output_format(outputFormat)
        where = in_list("collection_id", self._collection_ids(collection_id))
        if outputFormat == "list":
            return self._values(f"SELECT DISTINCT PatientID FROM index WHERE {where} ORDER BY PatientID", "PatientID")
        return self._shape(
            f"""SELECT PatientID,
                   STRING_AGG(DISTINCT PatientSex) AS PatientSex,
                   STRING_AGG(DISTINCT PatientAge) AS PatientAge
                FROM index WHERE {where} GROUP BY PatientID ORDER BY PatientID""",
            outputFormat,
        )

    def get_dicom_studies(self, patientId: str | list[str], outputFormat: str = "dict") -> Any:
        """The studies of one or more patients.

        Args:
            patientId: PatientID(s).
            outputFormat: ``"dict"`` (records: StudyInstanceUID, StudyDate, StudyDescription,
                SeriesCount), ``"df"`` or ``"list"`` (StudyInstanceUIDs only).

        Raises:
            UnknownIdentifierError: a patient that does not exist (with the closest ones).

        Examples:
            >>> client.get_dicom_studies("LUNG1-001", outputFormat="list")
        """
        self._check_output_format(outputFormat)
        patients = as_list(patientId, "patientId")
        where = in_list("PatientID", patients)
        if outputFormat == "list":
            sql = f"SELECT DISTINCT StudyInstanceUID FROM index WHERE {where} ORDER BY StudyInstanceUID"
            return self._existing("PatientID", patients, lambda: self._values(sql, "StudyInstanceUID"))
        sql = f"""SELECT StudyInstanceUID,
                   STRING_AGG(DISTINCT StudyDate) AS StudyDate,
                   STRING_AGG(DISTINCT StudyDescription) AS StudyDescription,
                   COUNT(SeriesInstanceUID) AS SeriesCount
                FROM index WHERE {where} GROUP BY StudyInstanceUID
                ORDER BY 2, 3, 4, StudyInstanceUID"""
        return self._existing("PatientID", patients, lambda: self._shape(sql, outputFormat))

    def get_dicom_series(self, studyInstanceUID: str | list[str], outputFormat: str = "dict") -> Any:
        """The series of one or more studies.

        Args:
            studyInstanceUID: StudyInstanceUID(s).
            outputFormat: ``"dict"`` (records with StudyInstanceUID, SeriesInstanceUID, Modality,
                SeriesDate, Collection, BodyPartExamined, SeriesDescription, Manufacturer,
                ManufacturerModelName, series_size_MB, SeriesNumber, instance_count,
                ImageCount), ``"df"`` or ``"list"`` (SeriesInstanceUIDs only).

        Raises:
            UnknownIdentifierError: a study that does not exist (with the closest ones).

        Examples:
            >>> series = client.get_dicom_series("1.3.6.1.4.1.32722.99.99.2390...", outputFormat="df")
        """
        self._check_output_format(outputFormat)
        studies = as_list(studyInstanceUID, "studyInstanceUID")
        where = in_list("StudyInstanceUID", studies)
        if outputFormat == "list":
            sql = f"SELECT DISTINCT SeriesInstanceUID FROM index WHERE {where} ORDER BY SeriesInstanceUID"
            return self._existing("StudyInstanceUID", studies, lambda: self._values(sql, "SeriesInstanceUID"))
        sql = f"""SELECT DISTINCT StudyInstanceUID, SeriesInstanceUID, Modality, SeriesDate,
                   collection_id AS Collection, BodyPartExamined, SeriesDescription, Manufacturer,
                   ManufacturerModelName, series_size_MB, SeriesNumber,
                   instanceCount AS instance_count, 1 AS ImageCount
                FROM index WHERE {where}
                ORDER BY Modality, SeriesDate, SeriesDescription, BodyPartExamined, SeriesNumber"""
        return self._existing("StudyInstanceUID", studies, lambda: self._shape(sql, outputFormat))

    # -- URLs -----------------------------------------------------------------------------
    def get_viewer_URL(
        self,
        seriesInstanceUID: str | None = None,
        studyInstanceUID: str | None = None,
        viewer_selector: str | None = None,
    ) -> str:
        """The URL that opens a series or study in the IDC viewer.

        Args:
            seriesInstanceUID: a series to open (its study is found from the index).
            studyInstanceUID: a study to open.
            viewer_selector: ``"ohif_v3"`` (default for radiology), ``"ohif_v2"`` or ``"slim"``
                (default when the study has slide microscopy, SM).

        Raises:
            ValueError: neither UID given, or an unknown viewer.
            UnknownIdentifierError: a UID that is not in IDC (with the closest ones).

        Examples:
            >>> client.get_viewer_URL(seriesInstanceUID="1.3.6.1.4.1.14519.5.2.1.7009.9004.1807...")
            'https://viewer.imaging.datacommons.cancer.gov/v3/viewer/?StudyInstanceUIDs=...'
        """
        if seriesInstanceUID is None and studyInstanceUID is None:
            raise ValueError("Either SeriesInstanceUID or StudyInstanceUID, or both, must be provided.")
        if viewer_selector is not None and viewer_selector not in _VIEWERS:
            raise ValueError(f"viewer_selector must be one of 'ohif_v2', 'ohif_v3' or 'slim', not {viewer_selector!r}")
        if seriesInstanceUID is not None:
            rows = self._rows(
                f"SELECT StudyInstanceUID FROM index WHERE {in_list('SeriesInstanceUID', [seriesInstanceUID])} LIMIT 1"
            )
            if not rows:
                self._require("SeriesInstanceUID", [seriesInstanceUID])
            if studyInstanceUID is None:
                studyInstanceUID = rows[0]["StudyInstanceUID"]
        modalities = self._values(
            f"SELECT DISTINCT Modality FROM index WHERE {in_list('StudyInstanceUID', [str(studyInstanceUID)])}",
            "Modality",
        )
        if not modalities:
            self._require("StudyInstanceUID", [str(studyInstanceUID)])
        viewer = viewer_selector or ("slim" if "SM" in modalities else "ohif_v3")
        base = VIEWER_BASE_URL
        if viewer == "ohif_v2":
            url = f"{base}/viewer/{studyInstanceUID}"
            return url if seriesInstanceUID is None else f"{url}?SeriesInstanceUID={seriesInstanceUID}"
        if viewer == "ohif_v3":
            url = f"{base}/v3/viewer/?StudyInstanceUIDs={studyInstanceUID}"
            return url if seriesInstanceUID is None else f"{url}&initialSeriesInstanceUID={seriesInstanceUID}"
        url = f"{base}/slim/studies/{studyInstanceUID}"
        return url if seriesInstanceUID is None else f"{url}/series/{seriesInstanceUID}"

    def get_instance_file_URL(self, sopInstanceUID: str, source_bucket_location: str = "aws") -> str:
        """The bucket URL (``s3://<bucket>/<series uuid>/<instance uuid>.dcm``) of one instance.

        Instance-level locations come from ``sm_instance_index`` (slide microscopy), which is
        fetched on first use if it is not installed.

        Args:
            sopInstanceUID: the SOPInstanceUID.
            source_bucket_location: ``"aws"`` (default) or ``"gcs"``.

        Raises:
            UnknownIdentifierError: the instance is not in ``sm_instance_index``.

        Examples:
            >>> client.get_instance_file_URL("1.3.6.1.4.1.5962.99.1.3206...")
            's3://idc-open-data/6b0d.../3a1f....dcm'
        """
        _check_bucket_location(source_bucket_location)
        self.fetch_index("sm_instance_index")
        rows = self._rows(
            f"""SELECT i.crdc_instance_uuid, s.aws_bucket, s.crdc_series_uuid
                FROM sm_instance_index i JOIN index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
                WHERE i.SOPInstanceUID = {literal(sopInstanceUID)}
                LIMIT 1"""
        )
        if not rows:
            self._require("SOPInstanceUID", [sopInstanceUID], table="sm_instance_index")
        row = rows[0]
        bucket = row["aws_bucket"]
        if source_bucket_location == "gcs":
            bucket = GCS_BUCKETS.get(bucket, bucket)
        return f"s3://{bucket}/{row['crdc_series_uuid']}/{row['crdc_instance_uuid']}.dcm"

    # -- citations ------------------------------------------------------------------------
    def citations_from_selection(
        self,
        collection_id: str | list[str] | None = None,
        patientId: str | list[str] | None = None,
        studyInstanceUID: str | list[str] | None = None,
        seriesInstanceUID: str | list[str] | None = None,
        citation_format: str = CITATION_FORMAT_APA,
    ) -> list[Any]:
        """The publications to cite for a selection: each source DOI, plus the IDC paper.

        Citations are requested from the DOI service in ``citation_format`` (APA text by
        default; BibTeX, CSL JSON, Turtle). When the service cannot be reached, the citation
        texts recorded in the indices are returned instead, so this also works offline.

        Examples:
            >>> client.citations_from_selection(collection_id="rider_pilot")
            ['Armato III, S. G., ... https://doi.org/10.7937/...']
        """
        column, values = self._selection_level(collection_id, patientId, studyInstanceUID, seriesInstanceUID)
        self._require(column, values)
        where = in_list(column, values)
        dois = [
            d
            for d in self._values(f"SELECT DISTINCT source_DOI FROM index WHERE {where} ORDER BY source_DOI", "source_DOI")
            if d
        ]
        if not dois:
            return []
        dois.append(IDC_PAPER_DOI)
        return self._citations(dois, citation_format)

    def citations_from_manifest(self, manifestFile: str, citation_format: str = CITATION_FORMAT_APA) -> list[Any]:
        """The publications to cite for the series of an IDC portal manifest.

        Manifest lines look like ``cp s3://<bucket>/<crdc_series_uuid>/* .``; lines starting
        with ``#`` are comments. Series of earlier IDC releases are found through
        ``prior_versions_index``.

        Examples:
            >>> client.citations_from_manifest("cohort_manifest.s5cmd")
        """
        uuids = unique(re.findall(r"s3://[^/\s]+/([^/\s]+)/\*", _manifest_text(manifestFile)))
        if not uuids:
            raise ValueError(f"{manifestFile} has no lines of the form 'cp s3://<bucket>/<uuid>/* .'")
        sql = f"SELECT DISTINCT SeriesInstanceUID FROM index WHERE {in_list('crdc_series_uuid', uuids)}"
        if "prior_versions_index" in self._engine.table_names():
            sql += (
                " UNION SELECT DISTINCT SeriesInstanceUID FROM prior_versions_index"
                f" WHERE {in_list('crdc_series_uuid', uuids)}"
            )
        series = [s for s in self._values(sql, "SeriesInstanceUID") if s]
        if not series:
            raise UnknownIdentifierError("crdc_series_uuid", uuids[:5], where=f"IDC {self.idc_version}")
        current = self._values(
            f"SELECT DISTINCT SeriesInstanceUID FROM index WHERE {in_list('SeriesInstanceUID', series)}",
            "SeriesInstanceUID",
        )
        return self.citations_from_selection(seriesInstanceUID=current, citation_format=citation_format) if current else []

    def _selection_level(
        self,
        collection_id: str | list[str] | None,
        patientId: str | list[str] | None,
        studyInstanceUID: str | list[str] | None,
        seriesInstanceUID: str | list[str] | None,
    ) -> tuple[str, list[str]]:
        """The column and values of the most specific level given (as 0.13 applies them).
        Collection ids are resolved (portal names too) and checked; identifiers are not."""
        for column, value, argument in (
            ("SeriesInstanceUID", seriesInstanceUID, "seriesInstanceUID"),
            ("StudyInstanceUID", studyInstanceUID, "studyInstanceUID"),
            ("PatientID", patientId, "patientId"),
        ):
            if value is not None:
                return column, as_list(value, argument)
        if collection_id is not None:
            return "collection_id", self._collection_ids(collection_id)
        raise ValueError("Give a selection: collection_id, patientId, studyInstanceUID or seriesInstanceUID.")

    def _citations(self, dois: list[str], citation_format: str) -> list[Any]:
        citations: list[Any] = []
        offline = False
        for doi in dois:
            if not offline:
                try:
                    citations.append(self._fetch_citation(doi, citation_format))
                    continue
                except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                    if isinstance(e, urllib.error.HTTPError) and e.code < 500:
                        logger.warning("The DOI service has no citation for %s (HTTP %s)", doi, e.code)
                    else:
                        logger.warning("The DOI service is unreachable (%s); using the citations in the index", e)
                        offline = True
            citations.append(self._offline_citation(doi, citation_format))
        return citations

    def _fetch_citation(self, doi: str, citation_format: str) -> Any:
        request = urllib.request.Request(self.DOI_RESOLVER_URL + doi, headers={"Accept": citation_format})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode("utf-8")
        return json.loads(text) if citation_format == self.CITATION_FORMAT_JSON else text

    def _offline_citation(self, doi: str, citation_format: str) -> Any:
        text, title = self._recorded_citation(doi)
        if citation_format == self.CITATION_FORMAT_JSON:
            return {"DOI": doi, "type": "dataset", "title": title, "note": text, "URL": f"https://doi.org/{doi}"}
        if citation_format == self.CITATION_FORMAT_BIBTEX:
            key = re.sub(r"[^A-Za-z0-9]", "_", doi)
            return f"@misc{{{key},\n  doi = {{{doi}}},\n  title = {{{title}}},\n  note = {{{text}}},\n  url = {{https://doi.org/{doi}}}\n}}"
        return text

    def _recorded_citation(self, doi: str) -> tuple[str, str]:
        """The citation text and title the indices record for ``doi``."""
        if doi == IDC_PAPER_DOI:
            return IDC_PAPER_CITATION, "National Cancer Institute Imaging Data Commons"
        tables = self._engine.table_names()
        lit = literal(doi.lower())
        if "analysis_results_index" in tables:
            rows = self._rows(
                f"SELECT citation, analysis_result_title AS title FROM analysis_results_index WHERE lower(source_DOI) = {lit} LIMIT 1"
            )
            if rows and rows[0]["citation"]:
                return rows[0]["citation"], rows[0]["title"] or doi
        if "collections_index" in tables:
            rows = self._rows(
                f"""SELECT s['citation'] AS citation, s['source_title'] AS title
                    FROM (SELECT unnest(sources) AS s FROM collections_index)
                    WHERE lower(s['source_doi']) = {lit} LIMIT 1"""
            )
            if rows and rows[0]["citation"]:
                return rows[0]["citation"], rows[0]["title"] or doi
        return f"https://doi.org/{doi}", doi


def _normalize_collection(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", name.strip().lower())


def _check_bucket_location(location: str) -> None:
    if location not in ("aws", "gcs"):
        raise ValueError(f"source_bucket_location must be 'aws' or 'gcs', not {location!r}")


def _manifest_text(manifest_file: str | os.PathLike[str]) -> str:
    try:
        return Path(manifest_file).read_text(encoding="utf-8")
    except OSError as e:
        raise IDCError(f"cannot read the manifest {manifest_file}: {e}") from e


__all__ = ["IDCClient", "IDCClientInsufficientDiskSpaceError", "UnknownIndexError"]
