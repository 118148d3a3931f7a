"""IDC portal manifests: the ``cp s3://<bucket>/<crdc_series_uuid>/* .`` lines a user exports,
read into :class:`ManifestLine` values, and the bucket location (AWS or GCS) they name.

Example:
    >>> lines = parse_manifest("cohort_manifest.s5cmd")  # doctest: +SKIP
    >>> manifest_location(lines)  # doctest: +SKIP
    'aws'
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .download import GCS_BUCKETS, SourceLocation
from .errors import ManifestError

_MANIFEST_URL = re.compile(r"s3://([A-Za-z0-9._-]+)/([^/\s*]+)(/\*?)?(?=\s|$)")
_AWS_ONLY = {b for b in GCS_BUCKETS if b not in GCS_BUCKETS.values()}
_GCS_ONLY = {b for b in GCS_BUCKETS.values() if b not in GCS_BUCKETS}


@dataclass(frozen=True)
class ManifestLine:
    """One copy command of a manifest: ``cp s3://<bucket>/<crdc_series_uuid>/* <dest>``."""

    number: int
    text: str
    bucket: str
    crdc_series_uuid: str


def parse_manifest(path: str | os.PathLike[str]) -> list[ManifestLine]:
    """The copy commands of an IDC portal manifest (AWS or GCS); ``#`` lines are comments.

    Raises:
        ManifestError: the file cannot be read, has no command, or has lines that are not
            ``cp s3://<bucket>/<uuid>/* ...`` commands (the first ones are named).

    Example:
        >>> [l.crdc_series_uuid for l in parse_manifest("manifest.s5cmd")]  # doctest: +SKIP
        ['0a1b...', ...]
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"cannot read the manifest {path}: {e}") from e
    lines, bad = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _MANIFEST_URL.search(line)
        if m is None:
            bad.append(f"line {number}: {line[:120]!r}")
            continue
        lines.append(ManifestLine(number, line, m.group(1), m.group(2)))
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ManifestError(
            f"{path} has lines that are not IDC copy commands ('cp s3://<bucket>/<crdc_series_uuid>/* .'): "
            + "; ".join(bad[:3])
            + more
        )
    if not lines:
        raise ManifestError(f"{path} has no copy commands of the form 'cp s3://<bucket>/<crdc_series_uuid>/* .'")
    return lines


def manifest_location(lines: Sequence[ManifestLine]) -> SourceLocation:
    """``"aws"`` or ``"gcs"``: where a manifest's buckets are (``idc-open-data`` is in both).

    Raises:
        ManifestError: a mix of AWS-only and GCS-only buckets.
    """
    buckets = {line.bucket for line in lines}
    aws, gcs = buckets & _AWS_ONLY, buckets & _GCS_ONLY
    if aws and gcs:
        raise ManifestError(
            f"the manifest mixes AWS buckets ({', '.join(sorted(aws))}) and GCS buckets "
            f"({', '.join(sorted(gcs))}); export it again for one provider"
        )
    return "gcs" if gcs else "aws"


__all__ = ["ManifestLine", "manifest_location", "parse_manifest"]
