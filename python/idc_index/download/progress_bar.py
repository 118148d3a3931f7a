"""The progress bar of a download: a tqdm bar set to the bytes done, on a terminal or in a
notebook as often as the counters move, and in a log (output that is not a terminal) at most
every :data:`LOG_SECONDS`, so that a pipeline's log gets a line every few seconds rather than
ten a second. ``TQDM_DISABLE=1`` in the environment hides it (tqdm's own setting). In a notebook
it is tqdm's widget where ipywidgets is installed, else the text bar.
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
        self._bar: Any = _tqdm()(total=0, unit="B", unit_scale=True, unit_divisor=1000, desc=desc,
                                 dynamic_ncols=True, mininterval=0.1)
        # A notebook redraws the text bar in place too (its output honours carriage returns).
        interactive = _is_terminal() or _in_notebook()
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


def _tqdm() -> Any:
    """tqdm's bar class: the notebook widget where ipywidgets is installed (tqdm.auto picks it in
    a notebook), else the text bar, which a notebook shows too. tqdm.auto without ipywidgets
    would show a notebook user a warning to install them, on every download."""
    from importlib.util import find_spec

    if find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (as tqdm.autonotebook tells)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


__all__ = ["LOG_SECONDS", "ProgressBar"]
