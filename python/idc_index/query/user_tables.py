"""Tables of your own next to IDC's: what ``IDCClient.register_table`` accepts, and how each
kind reaches the core (files by path, everything else through the Arrow C stream)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from idc_index import _core
from idc_index.errors import TableRegistrationError

#: File suffixes a path may have, and the format the core reads it as.
FILE_FORMATS: dict[str, Literal["parquet", "csv"]] = {".parquet": "parquet", ".csv": "csv"}

_ACCEPTED = (
    "a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, any object with "
    "__arrow_c_stream__, or the path of a .parquet or .csv file"
)


def register(engine: _core.Engine, name: str, data: Any, index_names: Iterable[str]) -> None:
    """Register ``data`` as table ``name`` in ``engine``, refusing the names in ``index_names``."""
    if not isinstance(name, str) or not name.strip():
        raise TableRegistrationError(f"the table name must be a non-empty string, not {name!r}")
    taken = next((i for i in index_names if i.lower() == name.lower()), None)
    if taken is not None:
        raise TableRegistrationError(
            f"{name!r} is the name of the IDC index {taken!r}; register your table under another name"
        )
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        fmt = FILE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise TableRegistrationError(
                f"{str(path)!r} is neither a .parquet nor a .csv file; register_table takes {_ACCEPTED}"
            )
        engine.register_file(name, str(path), fmt)
        return
    engine.register_arrow(name, _arrow_stream(data))


def _arrow_stream(data: Any) -> Any:
    """``data`` as an object with ``__arrow_c_stream__``."""
    if type(data).__module__.startswith("pandas") and type(data).__name__ == "DataFrame":
        import pyarrow as pa

        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return data
    raise TableRegistrationError(
        f"register_table takes {_ACCEPTED}; got a {type(data).__module__}.{type(data).__name__}"
    )
