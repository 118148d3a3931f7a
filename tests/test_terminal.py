"""The CLI as a person sees it in a terminal: run in a real pseudo-terminal (the child's stdin,
stdout and stderr are the terminal, which is its controlling terminal), so the progress bar
draws as on a screen and Ctrl-C is the character typed, sent as SIGINT by the terminal itself."""

from __future__ import annotations

import os
import re
import select
import struct
import sys
import time
from pathlib import Path

import pytest
from conftest_download import (  # noqa: F401  (fixtures)
    files_on_disk,
    idc_layout,
    moto_s3,
    proxy,
)
from s3server import FaultProxy, MotoS3, Series

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals on Windows")

if sys.platform != "win32":
    import fcntl
    import termios

#: What ends a read of a child that never stops (it would otherwise hang the tests).
LIMIT_SECONDS = 120


class Terminal:
    """A child process on a pseudo-terminal of its own, and what it wrote there."""

    def __init__(self, argv: list[str]) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the terminal is its stdin, stdout, stderr and controlling terminal
            # A terminal of 40 rows and 120 columns (a new pseudo-terminal has none, and a bar
            # drawn in 0 columns is empty), as a window gives it.
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.execv(argv[0], argv)
        self.output = b""

    def read_until(self, seen, limit: float = LIMIT_SECONDS) -> bool:
        """Read what the child writes until ``seen(output)`` holds or it closes the terminal."""
        deadline = time.monotonic() + limit
        while not seen(self.output) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal (EIO on Linux)
                    return seen(self.output)
                if not chunk:
                    return seen(self.output)
                self.output += chunk
        return seen(self.output)

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def wait(self) -> int:
        """The child's exit status (128 + the signal that ended it), once it has ended."""
        self.read_until(lambda _: False)
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


def _idc() -> str:
    return os.fspath(Path(sys.executable).parent / "idc")


def _manifest(tmp_path: Path, series: list[Series]) -> Path:
    manifest = tmp_path / "manifest.s5cmd"
    manifest.write_text("".join(f"cp s3://{s.bucket}/{s.crdc_series_uuid}/* .\n" for s in series))
    return manifest


def test_a_download_in_a_terminal_draws_its_bar_and_ends_with_the_summary(moto_s3: MotoS3, idc_layout: list[Series],
                                                                          tmp_path: Path) -> None:
    series = idc_layout[:2]
    files = sum(len(s.objects) for s in series)
    term = Terminal([_idc(), "download-from-manifest", "--manifest-file", os.fspath(_manifest(tmp_path, series)),
                     "--download-dir", os.fspath(tmp_path / "d"), "--endpoint-url", moto_s3.endpoint])
    status = term.wait()
    text = term.text
    assert status == 0, text
    # The bar redraws its line in place (carriage returns, no new line per update) and ends full.
    bar = [part for part in re.split(r"[\r\n]+", text) if part.startswith("Downloading")]
    assert bar and "\r" in text, text
    assert re.search(rf"Downloading: 100%\|.*\| .*{files}/{files} files\]", bar[-1]), bar[-1]
    # Then the summary, on a line of its own, and nothing that is not for a person.
    assert re.search(rf"(^|\n){files} files downloaded \(.* in .* s, .*/s\), 0 already present, 0 failed", text), text
    assert "Traceback" not in text and "Warning" not in text


def test_a_rerun_in_a_terminal_shows_no_rate_for_files_found_present(moto_s3: MotoS3, idc_layout: list[Series],
                                                                     tmp_path: Path) -> None:
    series = idc_layout[:1]
    files = len(series[0].objects)
    argv = [_idc(), "download-from-manifest", "--manifest-file", os.fspath(_manifest(tmp_path, series)),
            "--download-dir", os.fspath(tmp_path / "d"), "--endpoint-url", moto_s3.endpoint]
    assert Terminal(argv).wait() == 0
    rerun = Terminal(argv)
    assert rerun.wait() == 0, rerun.text
    last_bar = [part for part in re.split(r"[\r\n]+", rerun.text) if part.startswith("Downloading")][-1]
    assert "?B/s" in last_bar, last_bar  # nothing was transferred: no rate, no time left made up
    assert "0 files downloaded" in rerun.text and f"{files} already present" in rerun.text


def test_ctrl_c_typed_in_a_terminal_says_what_is_complete(proxy: FaultProxy, idc_layout: list[Series],
                                                           tmp_path: Path) -> None:
    series = idc_layout[:3]
    for s in series:
        for key in s.objects:
            proxy.fault_always(key, "trickle")
    out = tmp_path / "d"
    term = Terminal([_idc(), "download-from-manifest", "--manifest-file", os.fspath(_manifest(tmp_path, series)),
                     "--download-dir", os.fspath(out), "--endpoint-url", proxy.endpoint])
    # Ctrl-C once a file is complete, as a person would type it: the terminal sends SIGINT. The
    # terminal is read meanwhile, as a screen would show it (a full terminal would block the bar).
    assert term.read_until(lambda _: out.exists() and any(
        not p.name.endswith(".idc-partial") for p in files_on_disk(out))), term.text
    term.type(b"\x03")
    status = term.wait()
    text = term.text
    assert status == 130, text
    assert re.search(r"Interrupted: [1-9]\d* of \d+ files are complete .* Run the same download again", text), text
    assert "Traceback" not in text and "Aborted!" not in text
    assert not [p for p in files_on_disk(out) if p.name.endswith(".idc-partial")]
