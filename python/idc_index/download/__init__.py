"""Downloads: from a selection to files on disk, verified.

The modules of this folder, in the order a download passes through them:
:mod:`~idc_index.download.selector` (a selection or a manifest -> SQL over the indices -> a
plan table), :mod:`~idc_index.download.references` (with ``with_references``, the series that the
selection's segmentations, structure sets and annotations reference, added to it),
:mod:`~idc_index.download.destinations` (where each item lands, by ``dirTemplate``),
:mod:`~idc_index.download.s5cmd` (portal and s5cmd manifests, read and written),
:mod:`~idc_index.download.plan_table` (the Arrow table of items every step passes on),
:mod:`~idc_index.download.plan` (the plan measured on disk, split, run),
:mod:`~idc_index.download.sharding` and :mod:`~idc_index.download.disk` (its helpers),
:mod:`~idc_index.download.locations` (buckets and endpoints),
:mod:`~idc_index.download.transfer` (the native downloader, started and watched) and
:mod:`~idc_index.download.report` (the one report of a run).

The names below are the public face of downloads, importable from ``idc_index.download``::

    from idc_index.download import PlanItem, download

    report = download(
        [PlanItem.series("idc-open-data", "0a1b...-uuid", "collection/patient/series")],
        destination_root="downloads",
    )
    for f in report.files:
        print(f.path, f.series_instance_uid)
"""

from idc_index.download.locations import (
    AWS_ENDPOINT,
    ENDPOINT_ENV,
    GCS_BUCKETS,
    GCS_ENDPOINT,
    SourceLocation,
    bucket_for,
    resolve_endpoint,
)
from idc_index.download.plan_table import PlanItem
from idc_index.download.report import DownloadedFile, DownloadReport, FailedFile, PlanSummary, failure_message
from idc_index.download.transfer import (
    Download,
    DownloadProgress,
    ProgressCallback,
    download,
    download_config,
    start_download,
)

__all__ = [
    "AWS_ENDPOINT",
    "ENDPOINT_ENV",
    "GCS_BUCKETS",
    "GCS_ENDPOINT",
    "Download",
    "DownloadProgress",
    "DownloadReport",
    "DownloadedFile",
    "FailedFile",
    "PlanItem",
    "PlanSummary",
    "ProgressCallback",
    "SourceLocation",
    "bucket_for",
    "download",
    "download_config",
    "failure_message",
    "resolve_endpoint",
    "start_download",
]
