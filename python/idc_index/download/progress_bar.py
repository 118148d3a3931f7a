"""The progress bar of a download: a tqdm bar set to the bytes done, on a terminal or in a
notebook as often as the counters move, and in a log (output that is not a terminal) at most
every :data:`LOG_SECONDS`, so that a pipeline's log gets a line every few seconds rather than
ten a second. ``TQDM_DISABLE=1`` in the environment hides it (tqdm's own setting).
"""

from __future__ import annotations

import sys
import time
from typing import Any

#: Seconds between two lines of the bar where output goes to a log, not a terminal.
LOG_SECONDS = 5.0


class ProgressBar:
    """A tqdm bar of bytes, with a postfix such as ``12/40 files``."""

    def __init__(self, desc: str) -> None:
        from tqdm.auto import tqdm

        self._bar: Any = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1000, desc=desc, dynamic_ncols=True,
                              mininterval=0.1)
        interactive = type(self._bar).__module__.startswith("tqdm.notebook") or _is_terminal()
        self._every = 0.0 if interactive else LOG_SECONDS
        self._shown = float("-inf")

    def show(self, done: int, total: int, postfix: str, *, present: int = 0, last: bool = False) -> None:
        """Set the bar to ``done`` of ``total`` bytes, of which ``present`` were found on disk
        (not transferred: left out of the rate and the time left); draw it now unless a log
        line was written less than :data:`LOG_SECONDS` ago (the last state is always drawn)."""
        bar = self._bar
        bar.total = max(total, done)
        bar.n = done
        bar.initial = min(present, done)  # tqdm's rate is (n - initial) over the time
        bar.set_postfix_str(postfix, refresh=False)
        now = time.monotonic()
        if last or now - self._shown >= self._every:
            self._shown = now
            bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


__all__ = ["LOG_SECONDS", "ProgressBar"]
