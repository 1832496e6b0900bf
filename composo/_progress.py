"""Progress displays for long helpers: a notebook bar in Jupyter, a terminal bar otherwise.

`progress_display(setting, total)` picks one:

| where                         | display                                                    |
|-------------------------------|------------------------------------------------------------|
| a Jupyter kernel, tqdm and    | `tqdm.notebook.tqdm`, the widget bar (what `tqdm.auto`     |
| ipywidgets installed          | picks there)                                               |
| a Jupyter kernel otherwise    | one text line redrawn in place with IPython's display      |
|                               | updates: the same bar as the terminal's, no dependency     |
| a terminal (stderr is a TTY)  | the bar `composo evaluate` draws, redrawn with `\\r`        |
| anything else                 | nothing by default; with `progress=True`, a log line on    |
|                               | stderr every few seconds                                   |

`tqdm.auto` itself is not used: in a kernel without ipywidgets it warns and falls back to a
text bar on stderr, which a notebook shows as a red stream of redraws. Every display is driven
from the thread that consumes the batch (the caller's), so none needs a lock.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from composo._batch import BatchProgress
from composo._exceptions import bad_input

# How often a bar is redrawn: often enough to look live, rarely enough to cost nothing.
_REFRESH = 0.1
# How often a plain log line is written when stderr is not a terminal.
_LOG_EVERY = 5.0
_BAR_WIDTH = 30


class Display(Protocol):
    """Something that shows a running batch's progress."""

    def update(self, progress: BatchProgress) -> None:
        """Show the counts after a result (a display may skip some updates)."""

    def close(self, progress: BatchProgress) -> None:
        """Show the final counts and release the display."""


def rate_limit_text(progress: BatchProgress) -> str:
    """`paced at R/s, N answered 429` once the rate limiter has a pace or a 429 was seen, else
    empty."""
    if progress.rate_limit is None and not progress.throttled:
        return ""
    pace = f"paced at {progress.rate_limit:.1f}/s" if progress.rate_limit is not None else ""
    return ", ".join(filter(None, [pace, f"{progress.throttled} answered 429"]))


def progress_text(progress: BatchProgress, total: int, now: float) -> str:
    """`done/total done, failed, rate, time left` (and how many came from the result cache, and
    the rate limiter's pace and 429s, if any): the words every text display shows, `now` being
    a `time.monotonic()` reading."""
    elapsed = now - progress.started
    rate = progress.done / elapsed if elapsed > 0 else 0.0
    left = max(total - progress.done, 0)
    eta = f"{left / rate:.0f} s left" if rate > 0 and left else "-"
    text = f"{progress.done}/{total} done, {progress.failed} failed, {rate:.1f}/s, {eta}"
    if progress.cached:
        text = f"{text}, {progress.cached} from the cache"
    limits = rate_limit_text(progress)
    return f"{text} ({limits})" if limits else text


def progress_bar(progress: BatchProgress, total: int, now: float) -> str:
    """The bar `composo evaluate` draws on a terminal, followed by `progress_text`."""
    filled = int(_BAR_WIDTH * progress.done / total) if total else _BAR_WIDTH
    filled = min(filled, _BAR_WIDTH)
    bar = "#" * filled + "." * (_BAR_WIDTH - filled)
    return f"[{bar}] {progress_text(progress, total, now)}"


Clock = Callable[[], float]


class _Throttled:
    """Redraws at most every `every` seconds, and always on close."""

    every = _REFRESH

    def __init__(self, total: int, clock: Clock) -> None:
        self.total = total
        self._clock = clock
        self._last: float | None = None

    def update(self, progress: BatchProgress) -> None:
        now = self._clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self._draw(progress, now, final=False)

    def close(self, progress: BatchProgress) -> None:
        self._draw(progress, self._clock(), final=True)

    def _draw(self, progress: BatchProgress, now: float, final: bool) -> None:
        raise NotImplementedError


class TerminalBar(_Throttled):
    """The `composo evaluate` bar on a terminal, redrawn in place with a carriage return."""

    def __init__(self, total: int, stream: IO[str], clock: Clock) -> None:
        super().__init__(total, clock)
        self._stream = stream

    def _draw(self, progress: BatchProgress, now: float, final: bool) -> None:
        # \x1b[K clears what a longer previous line left behind.
        line = f"\r{progress_bar(progress, self.total, now)}\x1b[K" + ("\n" if final else "")
        self._stream.write(line)
        self._stream.flush()


class LogLines(_Throttled):
    """A `composo: ...` line every few seconds, for logs that are not a terminal."""

    every = _LOG_EVERY

    def __init__(self, total: int, stream: IO[str], clock: Clock) -> None:
        super().__init__(total, clock)
        self._stream = stream

    def _draw(self, progress: BatchProgress, now: float, final: bool) -> None:
        self._stream.write(f"composo: {progress_text(progress, self.total, now)}\n")
        self._stream.flush()


class NotebookText(_Throttled):
    """The terminal bar as one notebook output, replaced in place (IPython display updates)."""

    def __init__(self, total: int, clock: Clock) -> None:
        super().__init__(total, clock)
        display = importlib.import_module("IPython.display")
        now = clock()
        first = progress_bar(BatchProgress(started=now), total, now)
        self._handle: Any = display.display({"text/plain": first}, raw=True, display_id=True)

    def _draw(self, progress: BatchProgress, now: float, final: bool) -> None:
        text = progress_bar(progress, self.total, now)
        self._handle.update({"text/plain": text}, raw=True)


class NotebookWidget:
    """tqdm's notebook widget bar, with the failure count beside it."""

    def __init__(self, total: int) -> None:
        notebook = importlib.import_module("tqdm.notebook")
        self._bar: Any = notebook.tqdm(total=total, desc="composo", unit="eval")

    def update(self, progress: BatchProgress) -> None:
        # tqdm throttles its own redraws (mininterval); each update only adds a count.
        if progress.failed:
            self._bar.set_postfix(failed=progress.failed, refresh=False)
        self._bar.update(progress.done - self._bar.n)

    def close(self, progress: BatchProgress) -> None:
        self.update(progress)
        self._bar.close()


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (a notebook, JupyterLab, VS Code, Colab)."""
    # IPython is never imported here: if it is not loaded already, this is no kernel.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    # A kernel's shell (ipykernel's ZMQInteractiveShell and its subclasses) has a kernel; the
    # terminal IPython's has not.
    return shell is not None and getattr(shell, "kernel", None) is not None


def _importable(*names: str) -> bool:
    try:
        for name in names:
            importlib.import_module(name)
    except ImportError:
        return False
    return True


def progress_display(
    setting: bool | None, total: int, clock: Clock = time.monotonic
) -> Display | None:
    """The display for a batch of `total` results, or None for none.

    Args:
        setting: False for no display; None for one where someone watches (a notebook or a
            terminal); True for one anywhere (log lines on stderr when it is not a terminal).
        total: How many results the batch will yield.
        clock: What the displays read the time from (the clock `BatchProgress.started` is on).

    Raises:
        MalformedError: `setting` is not a bool or None.
    """
    if setting is False:
        return None
    if setting is not None and setting is not True:
        raise bad_input(f"progress must be True, False or None, got {setting!r}")
    if in_notebook():
        if _importable("tqdm.notebook", "ipywidgets"):
            return NotebookWidget(total)
        return NotebookText(total, clock)
    stream = sys.stderr
    if stream is not None and stream.isatty():
        return TerminalBar(total, stream, clock)
    if setting and stream is not None:
        return LogLines(total, stream, clock)
    return None
