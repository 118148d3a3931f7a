"""The idc-index 0.13 import path: ``from idc_index import index; index.IDCClient()``."""

from __future__ import annotations

from .client import IDCClient, aws_endpoint_url, gcp_endpoint_url, logger
from .errors import IDCClientInsufficientDiskSpaceError

__all__ = [
    "IDCClient",
    "IDCClientInsufficientDiskSpaceError",
    "aws_endpoint_url",
    "gcp_endpoint_url",
    "logger",
]
