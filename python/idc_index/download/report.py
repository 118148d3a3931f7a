"""What a download asks for and what it got: the plan's measurements, and the report of the run.

A :class:`PlanSummary` is measured once, before anything moves; a :class:`DownloadReport` is
built once, when the run ends (:meth:`DownloadReport.of`), with the plan it ran and the
manifest lines skipped while planning it, and raised with
:class:`~idc_index.errors.DownloadFailedError` when a file is not on disk.

Example:
    >>> report = client.download_collection("rider_pilot", "data")  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    '36 files downloaded (18.9 MB in 2.1 s, 9.0 MB/s), 0 already present, 0 failed; checked by crc32c: 36'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from idc_index import _core

#: A file that is at its destination, complete and verified.
DownloadedFile = _core.DownloadedFile
#: A file (or a whole series prefix, when its listing failed) that is not on disk.
FailedFile = _core.FailedFile


@dataclass(frozen=True)
class PlanSummary:
    """What a download asks for, measured before it starts (and all a dry run does).

    Sizes of series come from the index (``series_size_MB``), so they are close estimates;
    sizes of single objects are exact.
    """

    #: Series prefixes and single objects in the plan.
    series: int
    instances: int
    #: Bytes the selection holds.
    bytes_total: int
    #: Bytes of it already on disk under the destinations (not fetched again).
    bytes_present: int
    #: Free bytes on the disk of the download directory.
    bytes_free: int

    @property
    def bytes_needed(self) -> int:
        """Bytes still to fetch."""
        return max(0, self.bytes_total - self.bytes_present)

    @property
    def fits(self) -> bool:
        """Whether the bytes still to fetch fit on the disk."""
        return self.bytes_needed <= self.bytes_free


class Measured(Protocol):
    """What a report reads of the plan it ran: its measurements."""

    @property
    def summary(self) -> PlanSummary: ...


P = TypeVar("P", bound=Measured)


@dataclass(frozen=True, repr=False)
class DownloadReport(Generic[P]):
    """The outcome of one download: what is on disk, what is not and why, and the plan it ran."""

    files: list[DownloadedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    bytes_downloaded: int = 0
    bytes_present: int = 0
    seconds: float = 0.0
    #: The download was cancelled (Ctrl-C or ``cancel()``).
    cancelled: bool = False
    #: Why the run stopped early on its own (the disk is full), if it did.
    stopped: str | None = None
    #: The plan as measured before the transfer (a :class:`~idc_index.Plan`; None for a list of
    #: items run with :func:`~idc_index.download.download`): its items, and its counts and bytes
    #: (``plan.series``, ``plan.bytes_needed``, ...).
    plan: P | None = None
    #: Nothing was transferred: the report only describes the plan.
    dry_run: bool = False
    #: ``(line number, text)`` of the manifest lines skipped as not copy commands (set by
    #: ``download_from_manifest``; empty otherwise).
    skipped_manifest_lines: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def of(
        cls, r: _core.TransferReport, plan: P | None = None, skipped_manifest_lines: Sequence[tuple[int, str]] = ()
    ) -> DownloadReport[P]:
        """The report of a transfer the core ran, with the plan it ran and the manifest lines
        that were skipped while planning it: built once, complete."""
        return cls(
            files=r.files,
            failed=r.failed,
            bytes_downloaded=r.bytes_downloaded,
            bytes_present=r.bytes_present,
            seconds=r.seconds,
            cancelled=r.cancelled,
            stopped=r.stopped,
            plan=plan,
            skipped_manifest_lines=list(skipped_manifest_lines),
        )

    def __repr__(self) -> str:
        """One line, whatever the number of files (a notebook shows this): the summary; the
        files and failures are in ``files`` and ``failed``."""
        return f"DownloadReport({self.summary()})"

    @property
    def ok(self) -> bool:
        """Every file is on disk and the run was neither cancelled nor stopped."""
        return not self.failed and not self.cancelled and self.stopped is None

    @property
    def downloaded(self) -> list[DownloadedFile]:
        return [f for f in self.files if f.status == "downloaded"]

    @property
    def skipped(self) -> list[DownloadedFile]:
        """Files found already present and complete, not fetched again."""
        return [f for f in self.files if f.status == "already_present"]

    @property
    def paths(self) -> list[str]:
        """The local path of every file on disk (written or already present)."""
        return [f.path for f in self.files]

    def summary(self) -> str:
        """One line: counts, bytes, time, the kinds of failure, how downloaded files were
        checked, and the manifest lines skipped."""
        return self._summary() + self._skipped_lines_note()

    def _summary(self) -> str:
        if self.dry_run and self.plan is not None:
            p = self.plan.summary
            what = f"{p.series} series" + (f" and {p.instances} instances" if p.instances else "")
            if p.instances and not p.series:
                what = f"{p.instances} instances"
            line = (
                f"dry run: {what}, {p.bytes_total / 1e6:.1f} MB in total, {p.bytes_present / 1e6:.1f} MB already "
                f"present, {p.bytes_needed / 1e6:.1f} MB to fetch, {p.bytes_free / 1e6:.1f} MB free on disk"
            )
            if not p.fits:
                line += " (not enough free space)"
            return line
        mb = self.bytes_downloaded / 1e6
        rate = mb / self.seconds if self.seconds > 0 else 0.0
        line = (
            f"{len(self.downloaded)} files downloaded ({mb:.1f} MB in {self.seconds:.1f} s, {rate:.1f} MB/s), "
            f"{len(self.skipped)} already present, {len(self.failed)} failed"
        )
        if self.failed:
            kinds = Counter(f.kind for f in self.failed)
            line += " (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")"
        if self.downloaded:
            checks = Counter(f.verification for f in self.downloaded)
            line += "; checked by " + ", ".join(f"{k}: {n}" for k, n in checks.most_common())
        if self.cancelled:
            line += "; cancelled"
        if self.stopped:
            line += f"; stopped: {self.stopped}"
        return line

    def _skipped_lines_note(self) -> str:
        lines = self.skipped_manifest_lines
        if not lines:
            return ""
        numbers = ", ".join(str(number) for number, _ in lines[:10]) + (", ..." if len(lines) > 10 else "")
        if len(lines) == 1:
            return f"; 1 manifest line skipped as not a copy command (line {numbers})"
        return f"; {len(lines)} manifest lines skipped as not copy commands (lines {numbers})"


def failure_message(report: DownloadReport[Any]) -> str:
    """What went wrong in a report, for an exception: counts, kinds, the first reasons, what to do."""
    if report.stopped:
        head = f"The download stopped early: {report.stopped}"
    elif report.cancelled:
        head = "The download was cancelled"
    else:
        head = "The download did not complete"
    lines = [f"{head}. {report.summary()}."]
    real = [f for f in report.failed if f.kind not in ("cancelled", "not_attempted")]
    for f in real[:3]:
        lines.append(f"  - {f.reason}")
    if len(real) > 3:
        lines.append(f"  ... and {len(real) - 3} more (see the report attribute of this exception)")
    lines.append("Run the same download again to fetch what is missing: files already present are skipped.")
    return "\n".join(lines)


__all__ = ["DownloadReport", "DownloadedFile", "FailedFile", "Measured", "PlanSummary", "failure_message"]
