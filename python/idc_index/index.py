"""The idc-index 0.13 import path: ``from idc_index import index; index.IDCClient()``."""

from __future__ import annotations

from idc_index.client import IDCClient, logger
from idc_index.download.locations import AWS_ENDPOINT, GCS_ENDPOINT
from idc_index.errors import IDCClientInsufficientDiskSpaceError

#: The endpoints of the AWS and GCS buckets, under their idc-index 0.13 names.
aws_endpoint_url = AWS_ENDPOINT
gcp_endpoint_url = GCS_ENDPOINT

__all__ = [
    "IDCClient",
    "IDCClientInsufficientDiskSpaceError",
    "aws_endpoint_url",
    "gcp_endpoint_url",
    "logger",
]
