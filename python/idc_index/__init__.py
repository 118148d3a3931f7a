"""idc-index: search NCI Imaging Data Commons and download the DICOM files you pick.

Examples:
    >>> from idc_index import IDCClient
    >>> client = IDCClient()
    >>> client.sql_query("SELECT collection_id, COUNT(*) AS series FROM index GROUP BY 1")
"""

from __future__ import annotations

import logging

from idc_index import _core
from idc_index.client import IDCClient
from idc_index.download.plan import Plan
from idc_index.download.report import DownloadReport
from idc_index.errors import (
    DownloadFailedError,
    IDCClientInsufficientDiskSpaceError,
    IDCError,
    IDCVersionError,
    IndexFetchError,
    IndexFileError,
    IndexIntegrityError,
    MissingDependencyError,
    ReadOnlySQLError,
    ReleaseFetchError,
    SQLError,
    TableRegistrationError,
    UnknownAttributeError,
    UnknownIdentifierError,
    UnknownIndexError,
    UnknownReleaseError,
    UnknownTableError,
)
from idc_index.query.result import QueryResult

#: The package's version, as the extension was built (importlib.metadata would add 30 ms to
#: every import).
__version__: str = _core.VERSION

logging.getLogger("idc_index").addHandler(logging.NullHandler())

if _core.BUILD_PROFILE != "optimized":  # pragma: no cover - depends on how it was built
    import warnings

    warnings.warn(
        "idc_index._core was built without optimisations: queries will be slow. "
        "Reinstall with `pip install .` or `maturin develop --release`.",
        stacklevel=2,
    )

__all__ = [
    "DownloadFailedError",
    "DownloadReport",
    "IDCClient",
    "IDCClientInsufficientDiskSpaceError",
    "IDCError",
    "IDCVersionError",
    "IndexFetchError",
    "IndexFileError",
    "IndexIntegrityError",
    "MissingDependencyError",
    "Plan",
    "QueryResult",
    "ReadOnlySQLError",
    "ReleaseFetchError",
    "SQLError",
    "TableRegistrationError",
    "UnknownAttributeError",
    "UnknownIdentifierError",
    "UnknownIndexError",
    "UnknownReleaseError",
    "UnknownTableError",
    "__version__",
]
