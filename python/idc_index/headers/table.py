"""The result of :meth:`~idc_index.IDCClient.get_instance_metadata`: one row per instance, as an
Arrow table or a pandas DataFrame.

Columns: ``SeriesInstanceUID`` (from the index), ``SOPInstanceUID`` (from the header; from the
index when the header could not be read), ``url`` (``s3://<bucket>/<key>``), one column per
attribute asked for, named as it was written, and ``error`` (None, or why the row has no
values: a file that is not DICOM or is truncated, a read that failed, a value that cannot be
decoded).

A column takes the Arrow type of its values (numbers, strings, lists of them); a column whose
values have no type in common (an attribute that files write differently) holds them as texts,
lists in JSON.

Example:
    >>> columns = MetadataColumns(specs)  # doctest: +SKIP
    >>> columns.add(instances, headers)  # doctest: +SKIP
    >>> columns.table().column_names  # doctest: +SKIP
    ['SeriesInstanceUID', 'SOPInstanceUID', 'url', 'Rows', 'error']
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from idc_index.headers.attributes import AttributeSpec, value

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from idc_index.headers.objects import Instance
    from idc_index.headers.reader import Header

#: The columns every result has, before the attributes (``error`` comes after them).
FIXED_COLUMNS = ("SeriesInstanceUID", "SOPInstanceUID", "url")
ERROR_COLUMN = "error"
#: Column names an attribute cannot take: asking for one of these gives the fixed column.
RESERVED = frozenset((*FIXED_COLUMNS, ERROR_COLUMN))


class MetadataColumns:
    """The result's columns, filled a part of the instances at a time (each part's headers can
    then be let go), made into one table at the end (:meth:`table`), with a column per
    attribute of ``specs``."""

    def __init__(self, specs: Sequence[AttributeSpec]) -> None:
        self._specs = [s for s in specs if s.column not in RESERVED]
        self._columns: dict[str, list[Any]] = {
            name: [] for name in (*FIXED_COLUMNS, *(s.column for s in self._specs), ERROR_COLUMN)
        }

    def add(self, instances: Sequence[Instance], headers: Sequence[Header | None]) -> None:
        """The rows of ``instances``, each with its header (None: not read, the instance has an
        error)."""
        columns = self._columns
        for instance, header in zip(instances, headers):
            dataset = header.dataset if header is not None else None
            errors = [e for e in (instance.error, header.error if header is not None else None) if e]
            sop = instance.sop_instance_uid
            if dataset is not None:
                try:
                    sop = str(dataset.SOPInstanceUID) if "SOPInstanceUID" in dataset else sop
                except Exception as e:  # noqa: BLE001  (pydicom's decoding errors are of many kinds)
                    errors.append(f"SOPInstanceUID: cannot be decoded ({type(e).__name__}: {e})")
            columns["SeriesInstanceUID"].append(instance.series_instance_uid)
            columns["SOPInstanceUID"].append(sop)
            columns["url"].append(instance.url)
            for spec in self._specs:
                got = None
                if dataset is not None:
                    try:
                        got = value(dataset, spec)
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"{spec.column}: cannot be decoded ({type(e).__name__}: {e})")
                columns[spec.column].append(got)
            columns[ERROR_COLUMN].append("; ".join(errors) or None)

    def table(self) -> pa.Table:
        """Every row added, as an Arrow table."""
        import pyarrow as pa

        return pa.table({name: _array(values, name in FIXED_COLUMNS or name == ERROR_COLUMN)
                         for name, values in self._columns.items()})


def _array(values: list[Any], text: bool) -> Any:
    """``values`` as an Arrow array of their common type, or of texts when they have none."""
    import pyarrow as pa

    if text:
        return pa.array(values, pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v, default=_jsonable)
                         for v in values], pa.string())


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    return str(v)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as a DataFrame: integers with NULLs as pandas' nullable integers, lists as
    Python lists (not numpy arrays)."""
    import pandas as pd
    import pyarrow as pa

    frame = table.to_pandas()
    for i, (field, column) in enumerate(zip(table.schema, table.columns)):
        if column.null_count and pa.types.is_integer(field.type):
            frame.isetitem(i, pd.array(column.to_pylist(), dtype="Int64"))
        elif pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            frame.isetitem(i, column.to_pylist())
    return frame


__all__ = ["ERROR_COLUMN", "FIXED_COLUMNS", "RESERVED", "MetadataColumns", "to_pandas"]
