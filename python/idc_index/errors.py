"""The exceptions idc-index raises: one hierarchy, rooted in :class:`IDCError`.

Each message says what was wrong and what to do instead. Classes that replace a ``ValueError``
of idc-index 0.13 also derive from ``ValueError``, so existing ``except ValueError`` blocks
keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class IDCError(Exception):
    """Base class of every error that idc-index raises on purpose."""


class IDCClientInsufficientDiskSpaceError(IDCError):
    """There is not enough free disk space for a download.

    Attributes:
        disk_space_needed: human-readable size the download needs.
        disk_space_available: human-readable free space on the target disk.
    """

    def __init__(
        self,
        disk_space_needed: str,
        disk_space_available: str,
        message: str | None = None,
    ) -> None:
        self.disk_space_needed = disk_space_needed
        self.disk_space_available = disk_space_available
        if message is None:
            message = (
                f"Insufficient disk space. Need {disk_space_needed}, but only "
                f"{disk_space_available} available. Free some space or choose another "
                "download directory."
            )
        self.message = message
        super().__init__(message)


class UnknownIdentifierError(IDCError, ValueError):
    """A collection, patient, study, series or instance identifier matches nothing in IDC.

    The message starts with idc-index 0.13's sentence (``No data found for the <kind> with the
    values [...]``), so code that matches it keeps working, and goes on with the closest
    existing identifiers and where to look for the right ones.

    Attributes:
        kind: what was looked up, for example ``"collection_id"`` or ``"SeriesInstanceUID"``.
        missing: the values that matched nothing.
        suggestions: for each missing value, the closest existing identifiers.
    """

    def __init__(
        self,
        kind: str,
        missing: Sequence[str],
        suggestions: dict[str, list[str]] | None = None,
        where: str = "the IDC index",
        hint: str | None = None,
    ) -> None:
        self.kind = kind
        # numpy and pandas strings print as plain strings, as the values were typed.
        self.missing = [str(v) if isinstance(v, str) else v for v in missing]
        self.suggestions = suggestions or {}
        parts = []
        for value in self.missing:
            close = self.suggestions.get(value) or []
            suggestion = f" (closest: {', '.join(repr(c) for c in close)})" if close else ""
            parts.append(f"{value!r}{suggestion}")
        verb = "is" if len(parts) == 1 else "are"
        # idc-index 0.13's sentence first: scripts match on it.
        message = f"No data found for the {kind} with the values {self.missing}."
        message += f" {'; '.join(parts)} {verb} not in {where}."
        if hint:
            message += f" {hint}"
        super().__init__(message)


class UnknownIndexError(IDCError, ValueError):
    """An index name that this release does not have."""


class SQLError(IDCError):
    """A query could not be parsed, planned or run. The message names the problem."""


class QueryCancelledError(IDCError):
    """A query was cancelled before it finished (not an error in the SQL)."""


class ReadOnlySQLError(SQLError):
    """A statement that would change the indices or read other files: only queries run."""


class UnknownTableError(SQLError):
    """A table that is not registered; the message lists the tables that are."""


class TableRegistrationError(IDCError, ValueError):
    """A table of your own that cannot be registered or removed: the name of an index, data
    that is not a table, or a file that cannot be read (the message says which)."""


class IndexFileError(IDCError):
    """An index file is missing, unreadable, or cannot be written to the cache."""


class IndexFetchError(IndexFileError):
    """An optional index could not be downloaded (network, HTTP status, server)."""


class IndexIntegrityError(IndexFetchError):
    """A downloaded index does not match its expected size or sha256; nothing was cached."""


class DamagedIndexError(IndexFileError):
    """An index file that a query could not read is damaged (garbled or cut short), and it could
    not be replaced: the message names the file, says whether it was removed (a copy in the
    cache is; it is fetched again by the next query that reads it) and what to do.

    Attributes:
        path: the damaged file.
        removed: whether it was removed (a copy in the cache), or left in place (an installed
            file, which only a reinstall replaces).
    """

    def __init__(self, message: str, path: str, removed: bool) -> None:
        self.path = path
        self.removed = removed
        super().__init__(message)


class IDCVersionError(IDCError, ValueError):
    """An IDC version (a data release number such as 20 or ``"v20"``) that does not exist, or that
    the release in use cannot answer for; the message gives the valid range and what to do."""


class UnknownReleaseError(IndexFileError, ValueError):
    """An index release that is not published (nor cached); the message lists those that are."""


class ReleaseFetchError(IndexFetchError):
    """An index release could not be fetched and is not cached; the message says what to do."""


class DownloadError(IDCError):
    """A download could not start: an invalid setting or plan item, or a destination that
    cannot be created. Nothing was transferred; the message says what to change."""


class DownloadFailedError(DownloadError):
    """A download finished with files that are not on disk (or was stopped early).

    Attributes:
        report: the :class:`idc_index.download.DownloadReport` of the run: the files that were
            written or already present, and each failure with its reason. A rerun skips the
            files already present and fetches the rest.
    """

    # The report is typed loosely so that the exceptions depend on nothing else of the package.
    def __init__(self, message: str, report: Any = None) -> None:
        self.report = report
        super().__init__(message)


class DownloadInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a download: a ``KeyboardInterrupt`` that says what is complete.

    Complete files are kept (partial ones are removed), and running the same download again
    fetches only the rest.

    Attributes:
        files_complete: files on disk and complete (written by this run or found present).
        files_total: files known when it stopped (more may not have been listed yet).
        report: the :class:`~idc_index.download.DownloadReport` of what was done until then
            (``cancelled`` set), or None when the transfer ended without one.
    """

    def __init__(self, files_complete: int, files_total: int, bytes_done: int, report: Any = None) -> None:
        from idc_index.units import format_size

        self.files_complete = files_complete
        self.files_total = files_total
        self.report = report
        super().__init__(
            f"Interrupted: {files_complete} of {files_total} files are complete ({format_size(bytes_done)}) and "
            "kept; partial files were removed. Run the same download again to fetch the rest: complete files "
            "are skipped."
        )


class InvalidLocationError(DownloadError, ValueError):
    """A ``source_bucket_location`` other than ``"aws"`` or ``"gcs"`` (or an AWS bucket with no
    known GCS copy)."""


class InvalidTemplateError(IDCError, ValueError):
    """A ``dirTemplate`` with something other than ``%<attribute>`` and ``_``, ``-``, ``/``."""


class EmptySelectionError(IDCError, ValueError):
    """A selection whose filters leave nothing to download (the message says which filter)."""


class ManifestError(IDCError, ValueError):
    """A manifest file that cannot be read or has lines that are not IDC copy commands."""


class UnknownAttributeError(IDCError, ValueError):
    """A DICOM attribute asked for by a keyword that is not in the DICOM dictionary, or written
    as neither a keyword, a tag nor a path of them; the message names the closest keywords and
    the forms that work."""


class MissingDependencyError(IDCError, ImportError):
    """An optional package that a feature needs is not installed; the message names the
    ``pip install`` command (for example ``pip install "idc-index[metadata]"``)."""


class _NeedMoreBytes(Exception):
    """Internal, never raised to a caller: a parse of an object's first bytes asked for bytes
    beyond those read (:mod:`idc_index.headers.reader` reads more and parses again). Not an
    ``EOFError``, which pydicom takes as the end of a dataset."""


__all__ = [
    "DamagedIndexError",
    "DownloadError",
    "DownloadFailedError",
    "DownloadInterrupted",
    "EmptySelectionError",
    "IDCClientInsufficientDiskSpaceError",
    "IDCError",
    "IDCVersionError",
    "IndexFetchError",
    "IndexFileError",
    "IndexIntegrityError",
    "InvalidLocationError",
    "InvalidTemplateError",
    "ManifestError",
    "MissingDependencyError",
    "QueryCancelledError",
    "ReadOnlySQLError",
    "ReleaseFetchError",
    "SQLError",
    "TableRegistrationError",
    "UnknownAttributeError",
    "UnknownIdentifierError",
    "UnknownIndexError",
    "UnknownReleaseError",
    "UnknownTableError",
]
