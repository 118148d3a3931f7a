"""The native core of idc-index (Rust: DataFusion query engine and S3 downloader)."""

from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from typing import Any, Literal, final, overload

from typing_extensions import Self, TypeAlias

__all__ = [
    "AWS_ENDPOINT",
    "BUILD_PROFILE",
    "GCS_ENDPOINT",
    "PARTIAL_SUFFIX",
    "VERSION",
    "DownloadConfig",
    "DownloadHandle",
    "DownloadProgress",
    "DownloadedFile",
    "Engine",
    "FailedFile",
    "FileList",
    "ListedObject",
    "PlanItem",
    "QueryBatches",
    "QueryResult",
    "RangeRead",
    "TransferReport",
    "fetch_document",
    "list_objects",
    "read_ranges",
    "start_download",
]

#: The version of idc-index this extension was built as (the package's version).
VERSION: str

#: How the extension was compiled: "debug" is slow (queries run many times slower).
BUILD_PROFILE: Literal["debug", "optimized"]

# PyO3 classes cannot be subclassed unless declared `subclass`.

@final
class Engine:
    """One DataFusion session with the IDC indices registered as tables."""

    def __init__(self) -> None:
        """A session with no table registered."""
    def register_parquet(
        self, name: str, path: str | PathLike[str], aliases: list[str] = ...
    ) -> None:
        """Register a parquet file as table `name` (and `aliases`); reads only its footer."""
    def register_remote_parquet(self, name: str, url: str, aliases: list[str] = ...) -> None:
        """Register the parquet file at an http(s) `url` as table `name` (and `aliases`)."""
    def declare_key(self, name: str, columns: list[str]) -> None:
        """Declare each of `columns` a key of index `name` (unique, never NULL)."""
    def register_arrow(self, name: str, data: object) -> None:
        """Register the rows of `data` (any object with `__arrow_c_stream__`) as the user's table `name`."""
    def register_file(self, name: str, path: str | PathLike[str], format: Literal["parquet", "csv"]) -> None:
        """Register a parquet or CSV file (`format` "parquet" or "csv") as the user's table `name`."""
    def unregister_table(self, name: str) -> None:
        """Remove the user's table `name`."""
    def user_table_names(self) -> list[str]:
        """The user's registered tables, sorted."""
    def sql(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> QueryResult:
        """Run one read-only SQL statement with `params` bound to its placeholders (`?`, `$1` or
        `$name`); the GIL is released while it runs and Ctrl-C stops it."""
    def sql_batches(
        self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> QueryBatches:
        """Run one read-only SQL statement as `sql` does, its rows coming batch by batch as they
        are computed: iterate the result for one `QueryResult` per batch."""
    def table_names(self) -> list[str]:
        """Registered index names, sorted."""
    def table_path(self, name: str) -> str | None:
        """The parquet file that table `name` reads now, or None."""
    def memory_held(self) -> dict[str, int]:
        """The indices held in memory as Arrow, and their bytes."""
    def start_optimize(
        self,
        name: str,
        dst: str | PathLike[str],
        sort_by: list[str],
        bloom_filter_columns: list[str],
        row_group_rows: int,
        page_rows: int,
        compression: str,
        metadata: list[tuple[str, str]],
        delay_seconds: float = 0.0,
    ) -> None:
        """Start rewriting table `name` into `dst` in the background after `delay_seconds`; the table then reads the new file."""
    def wait_optimized(self, name: str) -> str | None:
        """Wait for the background rewrite of `name`; the new file's path, or None when there is none."""

@final
class QueryResult:
    """The rows of a query, held as Arrow record batches in the core."""

    @property
    def num_rows(self) -> int:
        """The number of rows."""
    @property
    def column_names(self) -> list[str]:
        """The names of the columns, in order."""
    def __len__(self) -> int: ...
    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as a list of dicts (column name -> Python value)."""
    def column(self, name: str) -> list[Any]:
        """One column as a list of Python values."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The rows as an Arrow C stream capsule (the Arrow PyCapsule interface), without a copy."""

@final
class QueryBatches:
    """The rows of a query as they are computed, one `QueryResult` per batch; the GIL is released
    while the next batch is computed and Ctrl-C stops it."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> QueryResult: ...

# Downloader (idc_core::download)

#: The AWS endpoint of the IDC buckets.
AWS_ENDPOINT: str
#: The GCS endpoint (S3-compatible XML API) of the IDC buckets.
GCS_ENDPOINT: str
#: The suffix of the temporary name a file is written under until it is complete.
PARTIAL_SUFFIX: str

@final
class PlanItem:
    """One unit of a download: a series prefix (into a folder) or one object key (to a file)."""

    @property
    def bucket(self) -> str:
        """The bucket the objects are read from."""
    @property
    def destination(self) -> str:
        """The folder (prefix) or file (key), relative to the download directory or inside it."""
    @property
    def prefix(self) -> str | None:
        """The prefix listed and fetched (a series), or None for a single object."""
    @property
    def key(self) -> str | None:
        """The key of the single object, or None for a prefix."""
    @property
    def size(self) -> int | None:
        """The object's size in bytes (a key) or the expected total (a prefix), if known."""
    @property
    def series_instance_uid(self) -> str | None:
        """The series identity copied into the report."""
    @property
    def sop_instance_uid(self) -> str | None:
        """The instance identity copied into the report."""
    def __new__(
        cls,
        bucket: str,
        destination: str | PathLike[str],
        prefix: str | None = None,
        key: str | None = None,
        size: int | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> PlanItem:
        """An item with exactly one of `prefix` and `key`."""
    @classmethod
    def series(
        cls,
        bucket: str,
        crdc_series_uuid: str,
        destination: str | PathLike[str],
        *,
        size: int | None = None,
        series_instance_uid: str | None = None,
    ) -> PlanItem:
        """Every object of one series: `<bucket>/<crdc_series_uuid>/*` into the folder `destination`."""
    @classmethod
    def instance(
        cls,
        bucket: str,
        key: str,
        destination: str | PathLike[str],
        *,
        size: int | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> PlanItem:
        """One object `<bucket>/<key>` written to the file `destination`."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DownloadConfig:
    """How a download runs; every setting left as None keeps the core's default."""

    def __new__(
        cls,
        endpoint: str,
        *,
        concurrency: int | None = None,
        list_concurrency: int | None = None,
        part_size: int | None = None,
        multipart_threshold: int | None = None,
        max_large_files: int | None = None,
        ranges_per_file: int | None = None,
        max_attempts: int | None = None,
        retry_max_seconds: float | None = None,
        stall_timeout: float | None = None,
        connect_timeout: float | None = None,
        fsync: bool | None = None,
        resume: bool | None = None,
        verify_existing: bool | None = None,
        checksums: bool | None = None,
        max_bandwidth: int | None = None,
    ) -> DownloadConfig:
        """Settings for `endpoint`; those out of range are refused when the download starts.
        `max_bandwidth` is the most bytes per second all response bodies together bring (at
        least 1024; None: no limit)."""

@final
class DownloadProgress:
    """A reading of a running download's counters."""

    @property
    def bytes_done(self) -> int:
        """Bytes received, plus the size of files found already present."""
    @property
    def bytes_present(self) -> int:
        """The part of `bytes_done` that is files found already present (not transferred)."""
    @property
    def bytes_total(self) -> int:
        """Bytes of every file known so far (grows while listings are pending)."""
    @property
    def files_downloaded(self) -> int:
        """Files written by this run."""
    @property
    def files_skipped(self) -> int:
        """Files found already present and complete."""
    @property
    def files_failed(self) -> int:
        """Files that failed."""
    @property
    def files_total(self) -> int:
        """Files known so far (grows while listings are pending)."""
    @property
    def listings_pending(self) -> int:
        """Series not listed yet; while non-zero, the totals still grow."""
    @property
    def files_finished(self) -> int:
        """Files finished either way."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DownloadedFile:
    """A file that is at its destination, complete and verified."""

    def __new__(
        cls,
        path: str,
        bucket: str,
        key: str,
        size: int,
        status: Literal["downloaded", "already_present"],
        verification: Literal["crc32c", "crc32", "crc64nvme", "md5", "sha256", "size"],
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> DownloadedFile:
        """A record of a file on disk (as a report holds it: made by the downloader, or unpickled)."""
    def __getnewargs__(
        self,
    ) -> tuple[str, str, str, int, str, str, str | None, str | None]:
        """Pickle support (Dask sends reports between processes): the arguments of `new`."""

    @property
    def path(self) -> str:
        """Where the file is."""
    @property
    def bucket(self) -> str:
        """The bucket it was read from."""
    @property
    def key(self) -> str:
        """The object key."""
    @property
    def size(self) -> int:
        """Its size in bytes."""
    @property
    def status(self) -> Literal["downloaded", "already_present"]:
        """Downloaded by this run, or found complete and left alone."""
    @property
    def verification(self) -> Literal["crc32c", "crc32", "crc64nvme", "md5", "sha256", "size"]:
        """How it was checked: a checksum the server stated, or its size only."""
    @property
    def series_instance_uid(self) -> str | None:
        """The series identity given in the plan."""
    @property
    def sop_instance_uid(self) -> str | None:
        """The instance identity given in the plan."""
    def __eq__(self, value: object, /) -> bool: ...

_FailureKind: TypeAlias = Literal[
    "not_found",
    "access_denied",
    "http",
    "network",
    "tls",
    "integrity",
    "local_io",
    "disk_full",
    "unsafe_path",
    "protocol",
    "cancelled",
    "not_attempted",
    "internal",
    "shard_error",
]

@final
class FailedFile:
    """A file (or a whole series prefix, when its listing failed) that is not on disk."""

    def __new__(
        cls,
        bucket: str,
        key: str,
        path: str | None,
        kind: _FailureKind,
        reason: str,
        attempts: int = 0,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> FailedFile:
        """A record of a file not on disk (as a report holds it: made by the downloader, by the caller for work that never reached it, or unpickled)."""
    def __getnewargs__(
        self,
    ) -> tuple[str, str, str | None, str, str, int, str | None, str | None]:
        """Pickle support (Dask sends reports between processes): the arguments of `new`."""

    @property
    def bucket(self) -> str:
        """The bucket it was read from."""
    @property
    def key(self) -> str:
        """The object key, or the prefix when the listing itself failed."""
    @property
    def path(self) -> str | None:
        """Where it would have been written, when known."""
    @property
    def kind(self) -> _FailureKind:
        """What kind of failure it was."""
    @property
    def reason(self) -> str:
        """What happened and what to do, for a person."""
    @property
    def attempts(self) -> int:
        """The requests made for it."""
    @property
    def series_instance_uid(self) -> str | None:
        """The series identity given in the plan."""
    @property
    def sop_instance_uid(self) -> str | None:
        """The instance identity given in the plan."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class FileList(Sequence[DownloadedFile]):
    """The files of a transfer (`DownloadedFile` values, sorted by path), read from the core's
    records as they are asked for. It compares equal to any sequence of the same values, and
    pickles as a list."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> DownloadedFile: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[DownloadedFile]: ...
    def __iter__(self) -> Iterator[DownloadedFile]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> tuple[type[list[DownloadedFile]], tuple[list[DownloadedFile]]]: ...

@final
class TransferReport:
    """What the core reports at the end of a transfer. Its files are read from the core's records
    as they are asked for (`FileList`)."""

    @property
    def files(self) -> FileList:
        """Every file written or already present, sorted by path."""
    @property
    def failed(self) -> list[FailedFile]:
        """Every failure, sorted by bucket and key."""
    @property
    def bytes_downloaded(self) -> int:
        """Bytes received by this run."""
    @property
    def bytes_present(self) -> int:
        """Bytes of the files found already present."""
    @property
    def seconds(self) -> float:
        """How long the transfer took."""
    @property
    def cancelled(self) -> bool:
        """Whether the caller cancelled the download."""
    @property
    def stopped(self) -> str | None:
        """Why the run stopped early on its own (the disk is full), if it did."""
    @property
    def not_started(self) -> int:
        """Items never begun because the run was cancelled or stopped (a series not listed yet
        counts as one)."""
    @property
    def concurrency(self) -> dict[str, int]:
        """What the limit of requests in flight did: the user's `cap`, the `start`, the `peak`
        and `lowest` reached, the `last`, and how many `decreases` (halvings) it made."""

@final
class ListedObject:
    """One object of a listing."""

    @property
    def key(self) -> str:
        """The object key."""
    @property
    def size(self) -> int:
        """Its size in bytes."""
    def __eq__(self, value: object, /) -> bool: ...

def start_download(
    plan: object,
    root: str | PathLike[str],
    config: DownloadConfig,
) -> DownloadHandle:
    """Start downloading the items of `plan` (a plan's Arrow table: any object with `__arrow_c_stream__`) under `root` as `config` says; returns at once with a handle."""

def list_objects(bucket: str, prefix: str, config: DownloadConfig) -> list[ListedObject]:
    """List every object under `prefix` of `bucket` at `config`'s endpoint; nothing is downloaded."""

def fetch_document(
    url: str,
    config: DownloadConfig,
    *,
    max_bytes: int,
    deadline: float,
    head: bool = False,
    accept: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Fetch `url` whole (with `head`, only its status and headers): at most `max_bytes`
    bytes within `deadline` seconds, retries included, with `config`'s client settings (its
    endpoint is not used). Returns `(status, headers, body)`: a success, or 403/404 (not
    published) with an empty body; anything else raises DownloadError."""

@final
class RangeRead:
    """What was read of one object: its bytes, its size, or why it could not be read."""

    @property
    def data(self) -> bytes:
        """The bytes from the range's start: all that were asked for, fewer only where the
        object ends first; empty on error."""
    @property
    def object_size(self) -> int | None:
        """The whole object's size, when the server said it."""
    @property
    def error(self) -> str | None:
        """Why the range could not be read (after retries), or None."""

def read_ranges(requests: Sequence[tuple[str, str, int, int]], config: DownloadConfig) -> list[RangeRead]:
    """Read the `(bucket, key, start, length)` byte ranges in parallel Range requests at
    `config`'s endpoint, with the downloader's retries and adaptive limit on requests in flight
    (capped by `config.concurrency`); one RangeRead per request, in their order. Raises
    DownloadError for settings or ranges that could never be read (a length of 0 or over
    256 MiB). Ctrl-C stops it."""

@final
class DownloadHandle:
    """A running download: poll it, wait for it without the GIL, cancel it, read its report."""

    def progress(self) -> DownloadProgress:
        """The counters right now (totals grow while listings are pending)."""
    def cancel(self) -> None:
        """Stop the download; returns at once."""
    def done(self) -> bool:
        """Whether the download has finished (completed, failed, or cancelled)."""
    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (forever when None) for the end; whether it has finished."""
    def report(self) -> TransferReport | None:
        """The report once finished, else None."""
