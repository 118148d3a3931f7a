"""The native core of idc-index (Rust: DataFusion query engine)."""

from os import PathLike
from typing import Any, final

__all__ = [
    "AWS_ENDPOINT",
    "BUILD_PROFILE",
    "GCS_ENDPOINT",
    "PARTIAL_SUFFIX",
    "DownloadHandle",
    "Engine",
    "QueryResult",
    "list_objects",
    "start_download",
]

BUILD_PROFILE: str

# PyO3 classes cannot be subclassed unless declared `subclass`.

@final
class Engine:
    def __init__(self) -> None: ...
    def register_parquet(
        self, name: str, path: str | PathLike[str], aliases: list[str] = ...
    ) -> None: ...
    def sql(self, sql: str) -> QueryResult: ...
    def translate(self, sql: str) -> str: ...
    def table_names(self) -> list[str]: ...
    def table_path(self, name: str) -> str | None: ...
    def table_columns(self, name: str) -> list[str] | None: ...
    def start_optimize(
        self,
        name: str,
        dst: str | PathLike[str],
        sort_by: list[str],
        bloom_filter_columns: list[str],
        row_group_rows: int,
        page_rows: int,
        metadata: list[tuple[str, str]],
    ) -> None: ...
    def wait_optimized(self, name: str) -> str | None: ...

@final
class QueryResult:
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def to_pylist(self) -> list[dict[str, Any]]: ...
    def column(self, name: str) -> list[Any]: ...
    def to_ipc(self) -> bytes: ...

# Downloader (idc_core::download)

AWS_ENDPOINT: str
GCS_ENDPOINT: str
PARTIAL_SUFFIX: str

def start_download(
    items: list[dict[str, Any]],
    root: str | PathLike[str],
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
    fsync: bool = False,
    resume: bool = True,
    verify_existing: bool = True,
    checksums: bool = True,
) -> DownloadHandle: ...

def list_objects(
    bucket: str,
    prefix: str,
    endpoint: str,
    *,
    max_attempts: int | None = None,
    connect_timeout: float | None = None,
) -> list[dict[str, Any]]: ...

@final
class DownloadHandle:
    def progress(self) -> dict[str, int]: ...
    def cancel(self) -> None: ...
    def done(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def report(self) -> dict[str, Any] | None: ...
