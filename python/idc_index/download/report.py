"""What a download asks for and what it got: the plan's measurements, and the report of the run.

A :class:`PlanSummary` is measured once, before anything moves; a :class:`DownloadReport` is
built once, when the run ends (:meth:`DownloadReport.of`), with the plan it ran and the
manifest lines skipped while planning it, and raised with
:class:`~idc_index.errors.DownloadFailedError` when a file is not on disk.

Example:
    >>> report = client.download_collection("rider_pilot", "data")  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    '36 files downloaded (18.9 MB in 2.1 s, 9.00 MB/s), 0 already present, 0 failed; checked by crc32c: 36'

Whatever the number of files, ``repr(report)`` is that one line and a notebook shows a small
table (``_repr_html_``) with the first failures only; the full lists are ``report.files`` and
``report.failed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from idc_index import _core
from idc_index._display import fields_table, rows_table
from idc_index.arguments import shorten
from idc_index.units import format_size

#: A file that is at its destination, complete and verified.
DownloadedFile = _core.DownloadedFile
#: A file (or a whole series prefix, when its listing failed) that is not on disk.
FailedFile = _core.FailedFile

#: The failures a notebook's table of a report lists; the rest are counted ("and N more").
HTML_FAILURES = 10
#: The failures an exception's message lists, and the characters of each reason it shows.
MESSAGE_FAILURES = 3
REASON_CHARS = 300


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
    #: Series that came into the plan as references of its SEG, RTSTRUCT or ANN series
    #: (``with_references``; counted in ``series`` too).
    references: int = 0

    @property
    def bytes_needed(self) -> int:
        """Bytes still to fetch."""
        return max(0, self.bytes_total - self.bytes_present)

    @property
    def fits(self) -> bool:
        """Whether the bytes still to fetch fit on the disk."""
        return self.bytes_needed <= self.bytes_free

    def __repr__(self) -> str:
        """The counts, and the sizes in human units (the exact bytes are the attributes)."""
        refs = f" ({self.references} as references)" if self.references else ""
        return (
            f"PlanSummary({self.series} series{refs}, {self.instances} instances; "
            f"{format_size(self.bytes_total)} in total, "
            f"{format_size(self.bytes_present)} already present, {format_size(self.bytes_needed)} to fetch, "
            f"{format_size(self.bytes_free)} free)"
        )


class Measured(Protocol):
    """What a report reads of the plan it ran: its measurements."""

    @property
    def summary(self) -> PlanSummary: ...


P = TypeVar("P", bound=Measured)


@dataclass(frozen=True, repr=False)
class DownloadReport(Generic[P]):
    """The outcome of one download: what is on disk, what is not and why, and the plan it ran."""

    #: Every file on disk, sorted by path: a list, or (from the core) a sequence that makes each
    #: ``DownloadedFile`` as it is read, so that a million files are not a million objects.
    files: Sequence[DownloadedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    bytes_downloaded: int = 0
    bytes_present: int = 0
    seconds: float = 0.0
    #: The download was cancelled (Ctrl-C or ``cancel()``).
    cancelled: bool = False
    #: Why the run stopped early on its own (the disk is full), if it did.
    stopped: str | None = None
    #: Items of the plan, and files of listed series, never begun because the run was cancelled
    #: or stopped (a series not listed yet counts as one): counted, not listed in ``failed``
    #: (which has those under way), so that a cancelled plan of a million series does not make
    #: a million records. A rerun fetches them.
    not_started: int = 0
    #: The plan as measured before the transfer (a :class:`~idc_index.Plan`; None for a list of
    #: items run with :func:`~idc_index.download.download`): its items, and its counts and bytes
    #: (``plan.series``, ``plan.bytes_needed``, ...).
    plan: P | None = None
    #: Nothing was transferred: the report only describes the plan.
    dry_run: bool = False
    #: ``(line number, text)`` of the manifest lines skipped as not copy commands (set by
    #: ``download_from_manifest``; empty otherwise).
    skipped_manifest_lines: list[tuple[int, str]] = field(default_factory=list)
    #: What the limit of requests in flight did during the transfer: the ``cap``
    #: (``concurrency=``), the ``start``, the ``peak`` and ``lowest`` reached, the ``last``, and
    #: how many ``decreases`` (halvings on throttling or failures) it made. Empty when nothing
    #: was transferred (a dry run, or a report merged from shards).
    concurrency: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, r: _core.TransferReport, plan: P | None = None, skipped_manifest_lines: Sequence[tuple[int, str]] = ()
    ) -> DownloadReport[P]:
        """The report of a transfer the core ran, with the plan it ran and the manifest lines
        that were skipped while planning it: built once, complete."""
        files: _core.FileList = r.files  # made into DownloadedFile values as they are read
        return cls(
            files=files,
            failed=r.failed,
            bytes_downloaded=r.bytes_downloaded,
            bytes_present=r.bytes_present,
            seconds=r.seconds,
            cancelled=r.cancelled,
            stopped=r.stopped,
            not_started=r.not_started,
            plan=plan,
            skipped_manifest_lines=list(skipped_manifest_lines),
            concurrency=dict(r.concurrency),
        )

    def __repr__(self) -> str:
        """One line, whatever the number of files (a notebook shows this): the summary; the
        files and failures are in ``files`` and ``failed``."""
        return f"DownloadReport({self.summary()})"

    def _repr_html_(self) -> str:
        """A small table for notebooks: counts, bytes, seconds, and the first
        :data:`HTML_FAILURES` failures with their reasons (then "and N more")."""
        if self.dry_run and self.plan is not None:
            p = self.plan.summary
            fields = [
                ("series", f"{p.series}" + (f" ({p.references} as references)" if p.references else "")),
                ("instances", f"{p.instances}"),
                ("in total", format_size(p.bytes_total)),
                ("already present", format_size(p.bytes_present)),
                ("to fetch", format_size(p.bytes_needed)),
                ("free on disk", format_size(p.bytes_free) + ("" if p.fits else " (not enough)")),
            ]
            return fields_table("DownloadReport (dry run: nothing transferred)", fields + self._html_notes())
        downloaded, present, _ = self._counts()
        rate = self._rate()
        fields = [
            ("downloaded", f"{downloaded} files, {format_size(self.bytes_downloaded)}"),
            ("already present", f"{present} files, {format_size(self.bytes_present)}"),
            ("failed", f"{len(self.failed)} files" + self._failure_kinds()),
            ("seconds", f"{self.seconds:.1f} s" + (f" ({rate})" if rate else "")),
        ]
        if self.cancelled:
            fields.append(("cancelled", "yes"))
        if self.stopped:
            fields.append(("stopped", self.stopped))
        table = fields_table("DownloadReport", fields + self._html_notes())
        if not self.failed:
            return table
        first = self.failed[:HTML_FAILURES]
        rows = [[f.path or f"s3://{f.bucket}/{f.key}", f.kind, f.reason] for f in first]
        more = len(self.failed) - len(first)
        note = f"and {more} more (report.failed lists them all)" if more else None
        return table + rows_table(["file", "kind", "reason"], rows, caption="failures", note=note)

    def _html_notes(self) -> list[tuple[str, str]]:
        lines = self.skipped_manifest_lines
        if not lines:
            return []
        numbers = ", ".join(str(number) for number, _ in lines[:10]) + (", ..." if len(lines) > 10 else "")
        return [("manifest lines skipped", f"{len(lines)} (lines {numbers})")]

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
            what = f"{p.series} series" + (f" ({p.references} as references)" if p.references else "")
            what += f" and {p.instances} instances" if p.instances else ""
            if p.instances and not p.series:
                what = f"{p.instances} instances"
            line = (
                f"dry run: {what}, {format_size(p.bytes_total)} in total, {format_size(p.bytes_present)} already "
                f"present, {format_size(p.bytes_needed)} to fetch, {format_size(p.bytes_free)} free on disk"
            )
            if not p.fits:
                line += " (not enough free space)"
            return line
        downloaded, present, checks = self._counts()
        rate = self._rate()
        line = (
            f"{downloaded} files downloaded ({format_size(self.bytes_downloaded)} in {self.seconds:.1f} s"
            f"{', ' + rate if rate else ''}), {present} already present, {len(self.failed)} failed"
        )
        line += self._failure_kinds()
        if downloaded:
            line += "; checked by " + ", ".join(f"{k}: {n}" for k, n in checks.most_common())
        if self.not_started:
            line += f"; {self.not_started} not started"
        if self.plan is not None and self.plan.summary.references:
            line += f"; {self.plan.summary.references} series came in as references"
        if self.cancelled:
            line += "; cancelled"
        if self.stopped:
            line += f"; stopped: {shorten(self.stopped, REASON_CHARS)}"
        return line

    def _counts(self) -> tuple[int, int, Counter[str]]:
        """Files downloaded, files already present, and the checks the downloaded ones passed,
        counted in one pass over the files."""
        tally: Counter[tuple[str, str]] = Counter((f.status, f.verification) for f in self.files)
        checks: Counter[str] = Counter({check: n for (status, check), n in tally.items() if status == "downloaded"})
        present = sum(n for (status, _), n in tally.items() if status == "already_present")
        return checks.total(), present, checks

    def _rate(self) -> str:
        """Bytes per second while downloading ("" when nothing was downloaded)."""
        if self.bytes_downloaded <= 0 or self.seconds <= 0:
            return ""
        return f"{format_size(self.bytes_downloaded / self.seconds)}/s"

    def _failure_kinds(self) -> str:
        """`` (3 not_found, 1 http)``: the kinds of failure, most frequent first ("" if none)."""
        if not self.failed:
            return ""
        kinds = Counter(f.kind for f in self.failed)
        return " (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")"

    def _skipped_lines_note(self) -> str:
        lines = self.skipped_manifest_lines
        if not lines:
            return ""
        numbers = ", ".join(str(number) for number, _ in lines[:10]) + (", ..." if len(lines) > 10 else "")
        if len(lines) == 1:
            return f"; 1 manifest line skipped as not a copy command (line {numbers})"
        return f"; {len(lines)} manifest lines skipped as not copy commands (lines {numbers})"


def failure_message(report: DownloadReport[Any]) -> str:
    """What went wrong in a report, for an exception: counts, kinds, the first reasons, what to
    do; a few lines whatever the number of failures (each reason clipped to :data:`REASON_CHARS`)."""
    if report.stopped:
        head = f"The download stopped early: {shorten(report.stopped, REASON_CHARS)}"
    elif report.cancelled:
        head = "The download was cancelled"
    else:
        head = "The download did not complete"
    lines = [f"{head}. {report.summary()}."]
    real = [f for f in report.failed if f.kind not in ("cancelled", "not_attempted")]
    for f in real[:MESSAGE_FAILURES]:
        lines.append(f"  - {shorten(f.reason, REASON_CHARS)}")
    if len(real) > MESSAGE_FAILURES:
        lines.append(f"  ... and {len(real) - MESSAGE_FAILURES} more (see the report attribute of this exception)")
    kinds = {f.kind for f in real}
    if report.cancelled or report.stopped or kinds - PERMANENT.keys() or not kinds:
        lines.append("Run the same download again to fetch what is missing: files already present are skipped.")
    lines.extend(PERMANENT[k] for k in sorted(kinds & PERMANENT.keys()))
    return "\n".join(lines)


#: Failures that running the same download again would repeat, and what to do instead.
PERMANENT = {
    "not_found": "Objects that are not in the bucket (not_found) will not appear on a rerun: check that the "
                 "manifest or selection is of this IDC release, and the endpoint (--endpoint-url, endpoint_url=).",
    "access_denied": "The bucket refused access (access_denied), which a rerun does not change: IDC's buckets are "
                     "public; check the endpoint and any proxy in between.",
    "unsafe_path": "Files whose destination would leave the download directory (unsafe_path) are never written: "
                   "check the directory template and the manifest's destinations.",
    "tls": "The server's TLS certificate is not trusted (tls): if a proxy on this network re-signs HTTPS, set "
           "SSL_CERT_FILE to its CA bundle (PEM), then run the same download again.",
}


__all__ = ["DownloadReport", "DownloadedFile", "FailedFile", "Measured", "PlanSummary", "failure_message"]
