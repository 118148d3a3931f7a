"""The clinical tables of an IDC release: fetched from ``s3://idc-open-metadata`` into the cache,
read as pandas DataFrames.

``clinical_index`` lists the tables; the tables themselves are BigQuery exports
(``bigquery_export/idc_v<N>_clinical/<table>``, a parquet file or a folder of shards).

Example:
    >>> directory = fetch_clinical_tables("v25", Path("~/.cache/idc-index"))  # doctest: +SKIP
    >>> read_clinical_table(str(directory), "nlst_canc", "v25")  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from idc_index.download.plan_table import PlanItem
from idc_index.download.transfer import download
from idc_index.errors import DownloadFailedError, IDCError, IndexFileError
from idc_index.releases.cache import CLINICAL_DIR

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("idc_index")

#: The bucket holding IDC's metadata exports, the clinical tables among them.
CLINICAL_BUCKET = "idc-open-metadata"


def fetch_clinical_tables(idc_version: str, cache_dir: Path, endpoint_url: str | None = None) -> Path:
    """Download the clinical tables of ``idc_version`` under ``cache_dir`` and return their folder.

    Files already there and complete are not fetched again.

    Raises:
        IDCError: they could not be downloaded, or the release has none.
    """
    release = f"idc_{idc_version}_clinical"
    prefix = f"bigquery_export/{release}"
    target = cache_dir / CLINICAL_DIR / release
    try:
        download(
            [PlanItem.series(CLINICAL_BUCKET, prefix, ".")],
            target,
            endpoint_url=endpoint_url,
            show_progress_bar=False,
            quiet=True,
        )
    except DownloadFailedError as e:
        raise IDCError(
            f"The clinical tables of IDC {idc_version} could not be downloaded from "
            f"s3://{CLINICAL_BUCKET}/{prefix}/ into {target}: {e}"
        ) from e
    if not any(target.iterdir()):
        raise IDCError(f"s3://{CLINICAL_BUCKET}/{prefix}/ holds no clinical tables")
    logger.info("IDC clinical data downloaded to %s", target)
    return target


def read_clinical_table(clinical_data_dir: str | None, table_name: str, idc_version: str) -> pd.DataFrame:
    """The clinical table ``table_name`` in ``clinical_data_dir`` (``<table_name>`` as a parquet
    file or a folder of parquet files, or ``<table_name>.parquet``) as a DataFrame.

    Raises:
        IndexFileError: no folder is set, or the table is not in it (with the closest names).
    """
    if clinical_data_dir is None:
        raise IndexFileError(
            f"The clinical tables of IDC {idc_version} are not fetched: call "
            "client.fetch_index('clinical_index') (or run `idc fetch-index clinical_index`), which fetches "
            "them, or set client.clinical_data_dir to a directory that holds them."
        )
    base = Path(clinical_data_dir)
    for candidate in (base / table_name, base / f"{table_name}.parquet"):
        if candidate.exists():
            import pyarrow.parquet as pq

            return pq.read_table(candidate).to_pandas()
    available = sorted(p.name.removesuffix(".parquet") for p in base.glob("*")) if base.is_dir() else []
    close = difflib.get_close_matches(table_name, available, n=3)
    hint = f" Closest: {', '.join(close)}." if close else ""
    raise IndexFileError(f"No clinical table {table_name!r} in {base}.{hint}")


__all__ = ["CLINICAL_BUCKET", "fetch_clinical_tables", "read_clinical_table"]
