"""Where the files of IDC are: the bucket locations (AWS, GCS), their buckets and endpoints.

Every check of a ``source_bucket_location`` is :func:`check_location`, and every bad one raises
:class:`~idc_index.errors.InvalidLocationError` (an ``IDCError`` and a ``ValueError``).

Example:
    >>> bucket_for("idc-open-data-two", "gcs")
    'idc-open-idc1'
"""

from __future__ import annotations

import os
from typing import Literal

from idc_index import _core
from idc_index.errors import InvalidLocationError

SourceLocation = Literal["aws", "gcs"]
#: The bucket locations a download can read from.
SOURCE_LOCATIONS: tuple[SourceLocation, ...] = ("aws", "gcs")

AWS_ENDPOINT = _core.AWS_ENDPOINT
GCS_ENDPOINT = _core.GCS_ENDPOINT
ENDPOINT_ENV = "IDC_ENDPOINT_URL"

#: The GCS bucket holding the same objects as each AWS bucket of IDC.
GCS_BUCKETS: dict[str, str] = {
    "idc-open-data": "idc-open-data",
    "idc-open-data-two": "idc-open-idc1",
    "idc-open-data-cr": "idc-open-cr",
}


def check_location(source_bucket_location: object) -> SourceLocation:
    """``source_bucket_location`` as a bucket location, once checked.

    Raises:
        InvalidLocationError: it is neither ``"aws"`` nor ``"gcs"``.
    """
    for location in SOURCE_LOCATIONS:
        if source_bucket_location == location:
            return location
    raise InvalidLocationError(f"source_bucket_location must be 'aws' or 'gcs', not {source_bucket_location!r}")


def resolve_endpoint(endpoint_url: str | None = None, source_bucket_location: str = "aws") -> str:
    """The endpoint to use: ``endpoint_url``, else ``$IDC_ENDPOINT_URL``, else the one of the location.

    >>> resolve_endpoint(source_bucket_location="gcs")  # doctest: +SKIP
    'https://storage.googleapis.com'
    """
    location = check_location(source_bucket_location)
    if endpoint_url:
        return endpoint_url
    from_env = os.environ.get(ENDPOINT_ENV, "").strip()
    return from_env or {"aws": AWS_ENDPOINT, "gcs": GCS_ENDPOINT}[location]


def bucket_for(aws_bucket: str, source_bucket_location: str = "aws") -> str:
    """The bucket name at ``source_bucket_location`` of an IDC bucket named as on AWS.

    Raises:
        InvalidLocationError: an unknown location, or an AWS bucket with no known GCS copy.
    """
    if check_location(source_bucket_location) == "aws":
        return aws_bucket
    try:
        return GCS_BUCKETS[aws_bucket]
    except KeyError:
        known = ", ".join(sorted(GCS_BUCKETS))
        raise InvalidLocationError(
            f"no GCS bucket is known for {aws_bucket!r}; IDC's AWS buckets are {known}"
        ) from None


__all__ = [
    "AWS_ENDPOINT",
    "ENDPOINT_ENV",
    "GCS_BUCKETS",
    "GCS_ENDPOINT",
    "SOURCE_LOCATIONS",
    "SourceLocation",
    "bucket_for",
    "check_location",
    "resolve_endpoint",
]
