"""pyarrow's compute functions, imported on first use: importing idc_index does not import
pyarrow. Typed loosely, because pyarrow-stubs refuse the str scalars its kernels broadcast
(``pc.binary_join_element_wise(column, "/", other, "")``)."""

from __future__ import annotations

import importlib
from typing import Any


def compute() -> Any:
    """The ``pyarrow.compute`` module."""
    return importlib.import_module("pyarrow.compute")
