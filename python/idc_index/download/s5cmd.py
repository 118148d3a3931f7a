"""IDC portal manifests: the ``cp s3://<bucket>/<crdc_series_uuid>/* .`` lines a user exports
(and the ``cp s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm <file>`` lines of single
instances in the manifests idc-index writes), read into :class:`ManifestLine` values, and the
bucket location (AWS or GCS) they name.

As idc-index 0.13 did, lines that are not commands (a stray word, a pasted header) are
skipped, with a warning on the ``idc_index`` logger; a line that is meant as a command
(it starts with ``cp`` or ``sync``, or names an ``s3://`` URL) but is malformed is an error.

Example:
    >>> manifest = read_manifest("cohort_manifest.s5cmd")  # doctest: +SKIP
    >>> manifest_location(manifest.lines), manifest.skipped  # doctest: +SKIP
    ('aws', [])
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from idc_index._arrow import compute, scalar, strings
from idc_index.download.locations import GCS_BUCKETS, SourceLocation
from idc_index.errors import ManifestError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("idc_index")

_MANIFEST_URL = re.compile(r"s3://([A-Za-z0-9._-]+)/([^/\s*]+)(?:/\*?|/([^/\s*]+\.dcm))?(?=\s|$)")
#: The s5cmd commands that copy: a line starting with one of them is meant as a command.
_COPY_COMMANDS = ("cp", "sync")
_AWS_ONLY = {b for b in GCS_BUCKETS if b not in GCS_BUCKETS.values()}
_GCS_ONLY = {b for b in GCS_BUCKETS.values() if b not in GCS_BUCKETS}
_FORM = "'cp s3://<bucket>/<crdc_series_uuid>/* .' or 'cp s3://<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm <file>'"


@dataclass(frozen=True)
class ManifestLine:
    """One copy command of a manifest: ``cp s3://<bucket>/<crdc_series_uuid>/* <dest>``, or of
    one instance of the series, ``cp s3://<bucket>/<crdc_series_uuid>/<instance_file> <file>``."""

    number: int
    text: str
    bucket: str
    crdc_series_uuid: str
    #: ``<crdc_instance_uuid>.dcm`` for a line of one instance, None for a whole series.
    instance_file: str | None = None


@dataclass(frozen=True)
class Manifest:
    """The copy commands of a manifest file, and the lines skipped as not commands."""

    path: str
    lines: list[ManifestLine]
    #: ``(line number, text)`` of each line that is neither a comment nor a command.
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _is_meant_as_command(line: str) -> bool:
    words = line.split(maxsplit=1)
    return "s3://" in line or (bool(words) and words[0].lower() in _COPY_COMMANDS)


def _numbered(lines: Sequence[tuple[int, str]], n: int = 3) -> str:
    """``line 3: 'text'; line 7: 'more'`` for the first ``n``, and how many more."""
    shown = "; ".join(f"line {number}: {text[:120]!r}" for number, text in lines[:n])
    return shown + (f" and {len(lines) - n} more" if len(lines) > n else "")


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The copy commands of an IDC portal manifest (AWS or GCS). ``#`` lines are comments;
    lines that are not commands are skipped, with a warning on the ``idc_index`` logger.

    Raises:
        ManifestError: the file cannot be read, has no command at all, or has commands that
            are not ``cp s3://<bucket>/<uuid>/* ...`` (the first ones are named).

    Example:
        >>> [l.crdc_series_uuid for l in read_manifest("manifest.s5cmd").lines]  # doctest: +SKIP
        ['0a1b...', ...]
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"cannot read the manifest {path}: {e}") from e
    lines: list[ManifestLine] = []
    bad: list[tuple[int, str]] = []
    skipped: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _MANIFEST_URL.search(line)
        if m is not None:
            lines.append(ManifestLine(number, line, m.group(1), m.group(2), m.group(3)))
        elif _is_meant_as_command(line):
            bad.append((number, line))
        else:
            skipped.append((number, line))
    if bad:
        raise ManifestError(
            f"{path} has malformed copy commands (each must be {_FORM}): {_numbered(bad)}. "
            "Fix or remove these lines, or export the manifest again from the IDC portal."
        )
    if not lines:
        what = f"; its other lines are not commands: {_numbered(skipped)}" if skipped else ""
        raise ManifestError(f"{path} has no copy commands of the form {_FORM}{what}")
    if skipped:
        logger.warning(
            "%s: skipped %d line(s) that are not copy commands: %s", path, len(skipped), _numbered(skipped, 5)
        )
    return Manifest(os.fspath(path), lines, skipped)


def parse_manifest(path: str | os.PathLike[str]) -> list[ManifestLine]:
    """The copy commands of a manifest (see :func:`read_manifest`, which also gives the lines
    skipped).

    Raises:
        ManifestError: as :func:`read_manifest`.
    """
    return read_manifest(path).lines


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


def manifest_commands(table: pa.Table) -> list[str]:
    """The s5cmd copy command of each item of a plan table (:data:`idc_index.download.plan_table.PLAN_COLUMNS`):
    ``cp s3://<bucket>/<prefix>* <folder>/`` for a series, ``cp s3://<bucket>/<key> <file>`` for
    one object; destinations are quoted for a shell where they need it.

    Example:
        >>> from idc_index.download import PlanItem
        >>> from idc_index.download.plan_table import items_table
        >>> manifest_commands(items_table([PlanItem.series("idc-open-data", "0a1b", "c/my p")]))
        ["cp s3://idc-open-data/0a1b/* 'c/my p/'"]
    """
    pc = compute()

    series = pc.is_valid(table["prefix"])
    empty, slash = scalar(""), scalar("/")
    source = pc.if_else(series, pc.binary_join_element_wise(table["prefix"], scalar("*"), empty), table["key"])
    folder = pc.binary_join_element_wise(pc.utf8_rtrim(table["destination"], "/"), slash, empty)
    target = pc.if_else(series, folder, table["destination"])
    # shlex.quote leaves a word of these characters as it is, and quotes anything else.
    plain = pc.match_substring_regex(target, r"^[\w@%+=:,./-]+$")
    if pc.all(plain).as_py() is False:
        quoted = [t if ok else shlex.quote(t) for t, ok in zip(target.to_pylist(), plain.to_pylist())]
        target = strings(quoted)
    commands: list[str] = pc.binary_join_element_wise(
        scalar("cp s3://"), table["bucket"], slash, source, scalar(" "), target, empty
    ).to_pylist()
    return commands


def write_manifest(path: str | os.PathLike[str], table: pa.Table, comments: Sequence[str] = ()) -> Path:
    """Write the items of a plan table as an s5cmd manifest (``# comment`` lines first), which
    s5cmd runs (``s5cmd run``) and :func:`read_manifest` reads back when every item is a series.

    Raises:
        ManifestError: the file cannot be written.
    """
    out = Path(path)
    text = "".join(f"# {c}\n" for c in comments) + "".join(c + "\n" for c in manifest_commands(table))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ManifestError(f"cannot write the manifest {out}: {e}; choose another path") from e
    return out


__all__ = [
    "Manifest",
    "ManifestLine",
    "manifest_commands",
    "manifest_location",
    "parse_manifest",
    "read_manifest",
    "write_manifest",
]
