"""``IDCClient``: search the NCI Imaging Data Commons indices with SQL and plain methods.

The client keeps idc-index 0.13's public API. Underneath, each client owns one query session
(DataFusion, in the native core) with every installed index registered as a table; nothing
is read into memory until a query asks for it.
"""

from __future__ import annotations

import functools
import logging
import os
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from idc_index import _core
from idc_index.arguments import as_list, as_one, as_str, shorten
from idc_index.client_attributes import AttributeTables
from idc_index.client_changes import ReleaseChanges
from idc_index.client_download import DownloadMethods
from idc_index.client_metadata import InstanceMetadata
from idc_index.client_references import DerivedSeries
from idc_index.download import destinations as selection
from idc_index.download.locations import check_location, resolve_endpoint
from idc_index.download.selector import Selector
from idc_index.download.transfer import download_config
from idc_index.errors import IDCClientInsufficientDiskSpaceError, UnknownIndexError
from idc_index.query import citations, user_tables
from idc_index.query.citations import Citations
from idc_index.query.connection import Connection
from idc_index.query.dicomweb import DicomwebLocator
from idc_index.query.index_tables import IndexTables, optimize_from_env
from idc_index.query.lookup import IndexLookup
from idc_index.query.result import QueryResult
from idc_index.query.schemas import find_columns
from idc_index.query.sql import Params, in_list
from idc_index.releases.catalog import Catalog
from idc_index.releases.clinical import fetch_clinical_tables, read_clinical_table
from idc_index.releases.files import MAIN_INDEX_FILE_STEM
from idc_index.selection import Selection

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("idc_index")

VIEWER_BASE_URL = "https://viewer.imaging.datacommons.cancer.gov"


_OUTPUT_FORMATS = ("dict", "df", "list")
_VIEWERS = ("ohif_v2", "ohif_v3", "slim")

T = TypeVar("T")


class _either_method(Generic[T]):
    """A method that works on the class (default release) and on an instance (its release)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[[], T]:
        # A bound method, so that help() and tab completion show the function and its docstring.
        return types.MethodType(self.func, instance if instance is not None else owner)


class IDCClient(AttributeTables, DownloadMethods, ReleaseChanges, DerivedSeries, InstanceMetadata):
    """Search NCI Imaging Data Commons and get the files you pick.

    Args:
        data_dir: a local index release directory (parquet files and ``manifest.json``, as
            written by ``index_builder``). Default: ``IDC_INDEX_DATA_DIR``, else the installed
            ``idc-index-data`` package.
        cache_dir: where fetched indices and the optimised copy of the main index are kept.
            Default: ``IDC_INDEX_CACHE_DIR``, else the user cache directory.
        release_base_url: where optional indices are fetched from. Default:
            ``IDC_RELEASE_BASE_URL``, else the release's published assets.
        optimize_index: write (once per cache, in the background, in bounded memory) a copy of
            the main index sorted along the IDC hierarchy with small row groups and bloom
            filters, which makes lookups by identifier fast. The process does not wait for it:
            one that ends first leaves it for the next. Default: ``IDC_INDEX_OPTIMIZE`` (``0``
            turns it off), else on.
        release: use a published index release instead of the bundled one: ``"current"`` (the
            newest) or a version such as ``"26.0.0"``. Its manifest and main indices are
            downloaded once, verified and cached; later clients use the cache without the
            network. Not with ``data_dir``; ``release_base_url`` does not apply to it.
        releases_url: where index releases are published. Default: ``IDC_RELEASES_URL``, else
            ``https://storage.googleapis.com/idc-index-data-artifacts``.
        remote: query the ``release`` where it is published instead of downloading it: only
            its manifest is fetched, and each query reads over HTTP(S) the parts of the files
            it needs (a lookup reads a few MB, not the whole index). Needs the network for
            every query; indices already in the cache are read from there. File sizes are
            checked against the manifest (the sha256 of a whole file is checked only when it
            is downloaded).

    Examples:
        >>> from idc_index import IDCClient
        >>> client = IDCClient()
        >>> client.get_idc_version()
        'v25'
        >>> client.sql_query("SELECT Modality, COUNT(*) AS n FROM index GROUP BY Modality")
        >>> IDCClient(release="current").get_idc_version()   # the newest published release
        'v26'
        >>> IDCClient(release="current", remote=True).get_dicom_series("1.3.6.1.4.1.14519.5.2.1.7695.1700.2")
    """

    DOWNLOAD_HIERARCHY_DEFAULT = selection.DOWNLOAD_HIERARCHY_DEFAULT

    CITATION_FORMAT_APA = citations.CITATION_FORMAT_APA
    CITATION_FORMAT_TURTLE = citations.CITATION_FORMAT_TURTLE
    CITATION_FORMAT_JSON = citations.CITATION_FORMAT_JSON
    CITATION_FORMAT_BIBTEX = citations.CITATION_FORMAT_BIBTEX

    #: Where DOIs are resolved to citations (content negotiation).
    DOI_RESOLVER_URL = citations.DOI_RESOLVER_URL

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
        optimize_index: bool | None = None,
        release: str | None = None,
        releases_url: str | None = None,
        remote: bool = False,
    ) -> None:
        self._catalog = Catalog.resolve(data_dir, cache_dir, release_base_url, release, releases_url, remote)
        self._engine = _core.Engine()
        optimize = optimize_index if optimize_index is not None else optimize_from_env()
        self._tables = IndexTables(self._engine, self._catalog, optimize_index=optimize, remote=remote)
        self.idc_version = f"v{self._catalog.idc_version}"
        self.indices_data_dir = str(self._catalog.cache_dir)
        self.clinical_data_dir: str | None = None
        self._lookup = IndexLookup(self._tables, self.idc_version)
        self._selector = Selector(self._lookup, self.fetch_index)
        self._citations = Citations(self._lookup)
        self._dicomweb = DicomwebLocator(self._lookup, self.fetch_index, self._instance_indices())

    def __repr__(self) -> str:
        """One line: the IDC release, where its indices come from, which are ready to query."""
        registered = set(self._engine.table_names()) - self._tables.removed
        ready = [name for name, entry in self._catalog.indices.items() if entry.installed or name in registered]
        names = ", ".join(ready[:6]) + (", …" if len(ready) > 6 else "")
        return (
            f"IDCClient(IDC {self.idc_version} from {shorten(self._catalog.source, 80)}; "
            f"{len(ready)} of {len(self._catalog.indices)} indices ready: {names})"
        )

    # -- internals ------------------------------------------------------------------------
    def _instance_indices(self) -> list[str]:
        """The indices of the release that list single instances (sm_instance_index first)."""
        names = []
        for name, entry in self._catalog.indices.items():
            columns = {c.get("name") for c in entry.columns or []}
            if name == "sm_instance_index" or {"SOPInstanceUID", "SeriesInstanceUID"} <= columns:
                names.append(name)
        return sorted(names, key=lambda n: n != "sm_instance_index")

    @staticmethod
    def _check_output_format(outputFormat: str) -> None:
        if outputFormat not in _OUTPUT_FORMATS:
            raise ValueError(f"outputFormat must be one of 'dict', 'df' or 'list', not {outputFormat!r}")

    def _shape(self, sql: str, outputFormat: str) -> Any:
        result = self._tables.sql(sql)
        if outputFormat == "df":
            return QueryResult(result).to_pandas()
        return result.to_pylist()

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
        """Every index of the release: description, installed (queryable without a fetch: a
        local file, or with ``remote=True`` registered at its URL), url, file_path, schema.

        Examples:
            >>> [n for n, i in client.indices_overview.items() if not i["installed"]]
            ['clinical_index', 'sm_index', ...]
        """
        registered = set(self._engine.table_names()) - self._tables.removed
        return {
            name: {
                "description": entry.description,
                "installed": entry.installed or entry.name in registered,
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
        return self._catalog.entry(as_str(index_name, "index_name", "an index name such as 'sm_index'")).schema()

    def find_columns(self, pattern: str, descriptions: bool = False) -> list[dict[str, Any]]:
        """Which indices have a column like ``pattern``: from the schemas the release ships, for
        every index, fetched or not.

        ``pattern`` is matched in any case, inside the name (``"thick"`` finds
        ``SliceThickness``), or against the whole name when it has ``*`` or ``?``
        (``"*UID"``); with ``descriptions``, column descriptions are searched too. Each match is
        a dict of ``index``, ``column``, ``type``, ``installed`` (False: call
        :meth:`fetch_index` before querying it) and ``description``. ``idc columns PATTERN``
        does the same on the command line.

        Examples:
            >>> [(c["index"], c["column"]) for c in client.find_columns("slicethickness")]
            [('ct_index', 'SliceThickness'), ('mr_index', 'SliceThickness'), ('pt_index', 'SliceThickness')]
        """
        pattern = as_str(pattern, "pattern", "a part of a column name such as 'Thickness'")
        return find_columns(self._catalog, self._engine.table_names(), pattern, descriptions)

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
        entry = self._catalog.entry(as_str(index_name, "index_name", "an index name such as 'sm_index'"))
        if self._tables.make_queryable(entry):
            self.__dict__.pop(entry.name, None)  # a 0.13 attribute read before, as None
        else:
            logger.debug("index %s is already installed", entry.name)
        if entry.name == "clinical_index" and self.clinical_data_dir is None:
            # The clinical tables go with their index (small: a few MB), as in idc-index 0.13.
            self.clinical_data_dir = str(fetch_clinical_tables(self.idc_version, self._catalog.cache_dir))

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
        table_name = as_str(table_name, "table_name", "a table_name of clinical_index")
        return read_clinical_table(self.clinical_data_dir, table_name, self.idc_version)

    # -- SQL ------------------------------------------------------------------------------
    def sql(self, sql: str, params: Params = None) -> QueryResult:
        """Run a read-only SQL query over the indices; the result is Arrow-native.

        Every installed index is a table (the main index as ``index`` or ``idc_index``), and
        so is every table you registered with :meth:`register_table`.
        Identifiers are case-insensitive as in DuckDB; DuckDB's ``regexp_extract``,
        ``string_agg(x)`` and ``any_value`` work. Ctrl-C interrupts a long query.

        An index file in the cache that the query cannot read (garbled, cut short) is removed,
        fetched again (the optimised copy of the main index: read from the shipped file and
        written again) and the query run again.

        Values go in ``params``, never into the text: one per ``?`` (in order) or ``$1``, ``$2``
        (a list or tuple), or one per ``$name`` (a dict), as DuckDB's ``execute(sql, params)``
        binds them. A list bound right after ``IN`` (``WHERE SeriesInstanceUID IN ?``) stands
        for its elements; anywhere else a list is one array value.

        Raises:
            SQLError: the query could not be parsed, planned or run, or a placeholder has no
                value (the message names it) or a value has no placeholder.
            TypeError: ``params`` is not a list, tuple or dict, or holds a value that cannot be
                bound (the message names which).
            ReadOnlySQLError: the statement is not a query (CREATE, COPY, INSERT, ...).
            UnknownTableError: a table that does not exist (the message lists those that do).
            DamagedIndexError: an index file the query reads is damaged and could not be
                replaced (the message names it, says whether it was removed and what to do).

        Examples:
            >>> r = client.sql("SELECT * FROM index WHERE Modality = 'SM' LIMIT 5")
            >>> import polars as pl; pl.DataFrame(r)
            >>> client.sql("SELECT * FROM index WHERE collection_id = ? AND Modality IN ?",
            ...            ["nsclc_radiomics", ["CT", "SEG"]])
        """
        return QueryResult(self._tables.sql(as_str(sql, "sql", "one SQL query"), params))

    def register_table(self, name: str, data: Any) -> None:
        """Make a table of your own queryable next to the indices, to join it with them.

        ``data`` is a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, any
        object with ``__arrow_c_stream__``, or the path of a ``.parquet`` or ``.csv`` file
        (CSV with a header line; column types are inferred). The rows are held in memory: a
        file is read once, now, so register it again after changing it. The table is
        read-only and belongs to this client; registering a name again replaces your table.

        Raises:
            TableRegistrationError: ``name`` is an index's (installed or not), ``data`` is none
                of the above, or the file cannot be read.

        Examples:
            >>> labels = pd.DataFrame({"SeriesInstanceUID": [uid], "label": ["nodule"]})
            >>> client.register_table("labels", labels)
            >>> client.sql_query("SELECT collection_id, label FROM index JOIN labels USING (SeriesInstanceUID)")
        """
        user_tables.register(self._engine, name, data, [*self._catalog.indices, MAIN_INDEX_FILE_STEM])

    def unregister_table(self, name: str) -> None:
        """Remove a table registered with :meth:`register_table`.

        Raises:
            TableRegistrationError: no table of yours has that name, or it names an index.
        """
        self._engine.unregister_table(name)

    def sql_query(self, sql_query: str, params: Params = None) -> pd.DataFrame:
        """Run a read-only SQL query over the indices and return a pandas DataFrame.

        See :meth:`sql` for the dialect, ``params`` and the errors.

        Examples:
            >>> client.sql_query(
            ...     "SELECT collection_id, COUNT(DISTINCT PatientID) AS patients "
            ...     "FROM index GROUP BY collection_id ORDER BY patients DESC LIMIT 5")
        """
        return self.sql(as_str(sql_query, "sql_query", "one SQL query"), params).to_pandas()

    @functools.cached_property
    def _duckdb_conn(self) -> Connection:
        """What code written for idc-index 0.13 reached for: a DuckDB-shaped connection
        (``execute(sql, params).df()``, ``register(name, df)``, ``fetchall()``) over this
        client's engine. New code calls :meth:`sql` / :meth:`sql_query` with ``params``."""
        return Connection(self)

    # -- browsing -------------------------------------------------------------------------
    def get_collections(self) -> list[str]:
        """All collection ids, sorted.

        Examples:
            >>> "nsclc_radiomics" in client.get_collections()
            True
        """
        return self._lookup.values("SELECT DISTINCT collection_id FROM index ORDER BY collection_id", "collection_id")

    def get_series_size(self, seriesInstanceUID: str) -> float:
        """Total size in MB of the instances of one series.

        Raises:
            TypeError: ``seriesInstanceUID`` is not one UID (a string).
            UnknownIdentifierError: no such series (with the closest existing UIDs).

        Examples:
            >>> client.get_series_size("1.3.6.1.4.1.32722.99.99.298991776521342375010861296712563382046")
        """
        seriesInstanceUID = as_one(seriesInstanceUID, "seriesInstanceUID", "SeriesInstanceUID")
        values = self._lookup.values(
            f"SELECT series_size_MB FROM index WHERE {in_list('SeriesInstanceUID', [seriesInstanceUID])} LIMIT 1",
            "series_size_MB",
        )
        if not values:
            self._lookup.require("SeriesInstanceUID", [seriesInstanceUID])
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
        where = in_list("collection_id", self._lookup.collection_ids(collection_id))
        if outputFormat == "list":
            sql = f"SELECT DISTINCT PatientID FROM index WHERE {where} ORDER BY PatientID"
            return self._lookup.values(sql, "PatientID")
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
            return self._lookup.existing("PatientID", patients, lambda: self._lookup.values(sql, "StudyInstanceUID"))
        sql = f"""SELECT StudyInstanceUID,
                   STRING_AGG(DISTINCT StudyDate) AS StudyDate,
                   STRING_AGG(DISTINCT StudyDescription) AS StudyDescription,
                   COUNT(SeriesInstanceUID) AS SeriesCount
                FROM index WHERE {where} GROUP BY StudyInstanceUID
                ORDER BY 2, 3, 4, StudyInstanceUID"""
        return self._lookup.existing("PatientID", patients, lambda: self._shape(sql, outputFormat))

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
            return self._lookup.existing(
                "StudyInstanceUID", studies, lambda: self._lookup.values(sql, "SeriesInstanceUID")
            )
        sql = f"""SELECT DISTINCT StudyInstanceUID, SeriesInstanceUID, Modality, SeriesDate,
                   collection_id AS Collection, BodyPartExamined, SeriesDescription, Manufacturer,
                   ManufacturerModelName, series_size_MB, SeriesNumber,
                   instanceCount AS instance_count, 1 AS ImageCount
                FROM index WHERE {where}
                ORDER BY Modality, SeriesDate, SeriesDescription, BodyPartExamined, SeriesNumber"""
        return self._lookup.existing("StudyInstanceUID", studies, lambda: self._shape(sql, outputFormat))

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
            TypeError: a UID that is not a string.
            UnknownIdentifierError: a UID that is not in IDC (with the closest ones).

        Examples:
            >>> client.get_viewer_URL(seriesInstanceUID="1.3.6.1.4.1.14519.5.2.1.7009.9004.1807...")
            'https://viewer.imaging.datacommons.cancer.gov/v3/viewer/?StudyInstanceUIDs=...'
        """
        if seriesInstanceUID is None and studyInstanceUID is None:
            raise ValueError("Either SeriesInstanceUID or StudyInstanceUID, or both, must be provided.")
        if seriesInstanceUID is not None:
            seriesInstanceUID = as_one(seriesInstanceUID, "seriesInstanceUID", "SeriesInstanceUID")
        if studyInstanceUID is not None:
            studyInstanceUID = as_one(studyInstanceUID, "studyInstanceUID", "StudyInstanceUID")
        if viewer_selector is not None and viewer_selector not in _VIEWERS:
            raise ValueError(f"viewer_selector must be one of 'ohif_v2', 'ohif_v3' or 'slim', not {viewer_selector!r}")
        if seriesInstanceUID is not None:
            rows = self._lookup.rows(
                f"SELECT StudyInstanceUID FROM index WHERE {in_list('SeriesInstanceUID', [seriesInstanceUID])} LIMIT 1"
            )
            if not rows:
                self._lookup.require("SeriesInstanceUID", [seriesInstanceUID])
            if studyInstanceUID is None:
                studyInstanceUID = rows[0]["StudyInstanceUID"]
        modalities = self._lookup.values(
            f"SELECT DISTINCT Modality FROM index WHERE {in_list('StudyInstanceUID', [str(studyInstanceUID)])}",
            "Modality",
        )
        if not modalities:
            self._lookup.require("StudyInstanceUID", [str(studyInstanceUID)])
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

    def get_dicomweb_URL(
        self,
        studyInstanceUID: str | None = None,
        seriesInstanceUID: str | None = None,
        sopInstanceUID: str | None = None,
        endpoint: str = "proxy",
    ) -> str:
        """The DICOMweb URL of a study, series or instance, to read it without downloading files.

        The URL is the store's service root followed by ``/studies/<uid>``, then
        ``/series/<uid>`` and ``/instances/<uid>`` as far as given; DICOMweb clients
        (``dicomweb-client``, ``wsidicom``, OHIF) take the service root, which is returned when
        no UID is given. The UIDs are checked against the index first: a series must belong to
        the study given and an instance to the series given; a study (series) left out is found
        from the index. An instance given without its series is looked up in
        ``sm_instance_index`` (fetched on first use), which lists the instances of slide
        microscopy series; an instance of another series needs its ``seriesInstanceUID``.

        Args:
            studyInstanceUID: the study.
            seriesInstanceUID: a series (of the study, when both are given).
            sopInstanceUID: an instance (of the series, when both are given).
            endpoint: ``"proxy"`` (default): IDC's public proxy, no login, the current IDC
                release, daily quotas per IP address. ``"google"``: the Google Healthcare DICOM
                store of this client's release (``idc-store-v<N>``), which needs a Google account
                (OAuth) and holds the series of the ``idc-open-data`` bucket only; a warning on
                the ``idc_index`` logger says when a series is elsewhere.

        Raises:
            ValueError: an unknown endpoint.
            TypeError: a UID that is not a string.
            UnknownIdentifierError: a UID that is not in IDC, or a series (instance) that is not
                in the study (series) given; the message says where it belongs.
            IndexFetchError: an instance given alone while ``sm_instance_index`` cannot be fetched.

        Examples:
            >>> client.get_dicomweb_URL(seriesInstanceUID="1.3.6.1.4.1.5962.99.1.3380245274...")
            'https://proxy.imaging.datacommons.cancer.gov/.../dicomWeb/studies/2.25.2533.../series/1.3.6.1.4.1.5962...'
            >>> client.get_dicomweb_URL(endpoint="google")
            'https://healthcare.googleapis.com/v1/projects/nci-idc-data/locations/us-central1/datasets/idc/dicomStores/idc-store-v25/dicomWeb'
        """
        return self._dicomweb.url(studyInstanceUID, seriesInstanceUID, sopInstanceUID, endpoint)

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
        location = check_location(source_bucket_location)
        bucket, key = self._selector.instance_key(sopInstanceUID, location)
        return f"s3://{bucket}/{key}"

    def get_series_file_URLs(
        self, seriesInstanceUID: str, source_bucket_location: str = "aws", *, endpoint_url: str | None = None
    ) -> list[str]:
        """The bucket URLs (``s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm``) of
        every file of a series, listed from the bucket.

        Raises:
            UnknownIdentifierError: no such series (with the closest ones).
            DownloadError: the bucket could not be listed (the message says why).

        Examples:
            >>> client.get_series_file_URLs("1.3.6.1.4.1.14519.5.2.1.6279.6001.1...")[:1]
            ['s3://idc-open-data/0a1b.../3c4d....dcm']
        """
        location = check_location(source_bucket_location)
        bucket, prefix = self._selector.series_prefix(seriesInstanceUID, location)
        listed = _core.list_objects(bucket, prefix, download_config(resolve_endpoint(endpoint_url, location)))
        return [f"s3://{bucket}/{o.key}" for o in listed if o.key.endswith(".dcm")]

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
        selection = Selection.of(
            collection_id=collection_id, patientId=patientId, studyInstanceUID=studyInstanceUID,
            seriesInstanceUID=seriesInstanceUID,
        )
        return self._citations.for_selection(selection, citation_format, self.DOI_RESOLVER_URL)

    def citations_from_manifest(self, manifestFile: str, citation_format: str = CITATION_FORMAT_APA) -> list[Any]:
        """The publications to cite for the series of an IDC portal manifest.

        Manifest lines look like ``cp s3://<bucket>/<crdc_series_uuid>/* .``; lines starting
        with ``#`` are comments. Series of earlier IDC releases are found through
        ``prior_versions_index``.

        Examples:
            >>> client.citations_from_manifest("cohort_manifest.s5cmd")
        """
        return self._citations.for_manifest(manifestFile, citation_format, self.DOI_RESOLVER_URL)


__all__ = ["IDCClient", "IDCClientInsufficientDiskSpaceError", "UnknownIndexError"]
