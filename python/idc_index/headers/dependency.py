"""pydicom, which parses the headers: an optional dependency (the ``metadata`` extra), imported
when a header is first parsed or an attribute checked, never when idc_index is imported."""

from __future__ import annotations

import functools
from types import ModuleType

from idc_index.errors import MissingDependencyError

#: What to install for instance metadata.
INSTALL = 'pip install "idc-index[metadata]"'


@functools.cache
def require_pydicom() -> ModuleType:
    """The ``pydicom`` package, with its ``datadict`` and ``filereader`` loaded.

    Raises:
        MissingDependencyError: pydicom is not installed (the message says how to install it).
    """
    try:
        import pydicom
        import pydicom.datadict
        import pydicom.errors
        import pydicom.filereader
    except ImportError as e:
        raise MissingDependencyError(
            f"reading DICOM headers needs pydicom, which is not installed ({e}). Install it with {INSTALL}."
        ) from None
    return pydicom


__all__ = ["INSTALL", "require_pydicom"]
