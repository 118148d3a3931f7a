"""The download's progress bar: every change on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import pytest
from idc_index.download import progress_bar
from idc_index.download.progress_bar import LOG_SECONDS, ProgressBar


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("terminal", [True, False])
def test_a_log_gets_a_line_every_few_seconds_and_a_terminal_every_change(monkeypatch, terminal) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_bar.time, "monotonic", clock)
    monkeypatch.setattr(progress_bar, "_is_terminal", lambda: terminal)
    bar = ProgressBar("Downloading")
    drawn = []
    monkeypatch.setattr(bar._bar, "refresh", lambda *a, **k: drawn.append(bar._bar.n))
    ticks = 200  # 20 s of a download polled every 0.1 s
    for i in range(1, ticks + 1):
        clock.now += 0.1
        bar.show(i * 1000, ticks * 1000, f"{i}/{ticks} files", last=i == ticks)
    bar.close()
    if terminal:
        assert len(drawn) == ticks
    else:
        assert len(drawn) == 1 + int(ticks * 0.1 // LOG_SECONDS)  # every 5 s of 20, and the end
    assert drawn[-1] == ticks * 1000


def test_files_found_present_are_not_counted_in_the_rate() -> None:
    """A rerun that finds every file present has transferred nothing: its bar shows no rate of
    gigabytes a second (the bytes found present are tqdm's ``initial``)."""
    total = 5 * 10**9
    rerun = ProgressBar("Downloading")
    rerun.show(total, total, "40/40 files", present=total, last=True)
    assert rerun._bar.format_dict["initial"] == total
    assert "?B/s" in str(rerun._bar), str(rerun._bar)  # no rate: nothing was transferred
    rerun.close()
    # Without it, the rate would be the whole size over the bar's lifetime.
    counted = ProgressBar("Downloading")
    counted.show(total, total, "40/40 files", last=True)
    assert "?B/s" not in str(counted._bar) and "B/s" in str(counted._bar), str(counted._bar)
    counted.close()
