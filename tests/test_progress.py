"""Which progress display a helper shows where (`composo/_progress.py`), and what it draws.

The displays read a fake clock, so throttling and rates are tested without sleeping. The real
notebook displays are exercised in test_frames_notebook.py.
"""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest

from composo import BatchProgress, MalformedError
from composo._progress import (
    LogLines,
    NotebookText,
    NotebookWidget,
    TerminalBar,
    in_notebook,
    progress_bar,
    progress_display,
    progress_text,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def counts(done: int, failed: int = 0, started: float = 990.0) -> BatchProgress:
    return BatchProgress(done=done, failed=failed, started=started)


def test_the_bar_matches_the_command_line_one(clock: FakeClock) -> None:
    # 10 s in, 25 of 100 done: 2.5/s, 75 left, 30 s to go.
    assert progress_bar(counts(25, 2), 100, clock()) == (
        "[#######.......................] 25/100 done, 2 failed, 2.5/s, 30 s left"
    )
    assert progress_bar(counts(100), 100, clock()).startswith("[" + "#" * 30 + "] 100/100 done")
    assert progress_bar(counts(0, started=1000.0), 0, clock()).endswith(
        "0/0 done, 0 failed, 0.0/s, -"
    )


def test_pairs_answered_from_the_cache_are_shown_when_there_are_any(clock: FakeClock) -> None:
    progress = counts(25, 2)
    progress.cached = 20
    assert progress_text(progress, 100, clock()).endswith("30 s left, 20 from the cache")
    assert "cache" not in progress_text(counts(25, 2), 100, clock())


def test_off_by_request_and_off_by_default_where_nobody_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_display(False, 10) is None
    assert progress_display(None, 10) is None
    assert isinstance(progress_display(True, 10), LogLines)
    with pytest.raises(MalformedError, match="progress must be True, False or None"):
        progress_display("yes", 10)  # type: ignore[arg-type]


def test_a_terminal_gets_the_bar_redrawn_in_place(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    display = progress_display(None, 4, clock)
    assert isinstance(display, TerminalBar)
    display.update(counts(1))
    display.update(counts(2))  # within the refresh interval: not drawn
    clock.now += 1
    display.update(counts(3, 1))
    display.close(counts(4, 1))
    lines = terminal.getvalue().split("\r")[1:]
    assert [line.split("]")[1].split(",")[0] for line in lines] == [
        " 1/4 done",
        " 3/4 done",
        " 4/4 done",
    ]
    assert all(line.endswith("\x1b[K") for line in lines[:-1])
    assert lines[-1].endswith("\x1b[K\n")


def test_logs_get_a_line_every_few_seconds(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    display = progress_display(True, 10, clock)
    assert display is not None
    display.update(counts(1))
    clock.now += 1
    display.update(counts(2))
    clock.now += 5
    display.update(counts(7))
    display.close(counts(10, 3))
    assert [line.split(",")[0] for line in log.getvalue().splitlines()] == [
        "composo: 1/10 done",
        "composo: 7/10 done",
        "composo: 10/10 done",
    ]
    assert log.getvalue().splitlines()[-1].startswith("composo: 10/10 done, 3 failed, ")


class FakeHandle:
    def __init__(self, shown: list[str]) -> None:
        self.shown = shown

    def update(self, data: dict[str, str], raw: bool) -> None:
        assert raw
        self.shown.append(data["text/plain"])


def fake_kernel(monkeypatch: pytest.MonkeyPatch, shown: list[str]) -> None:
    """IPython as a Jupyter kernel has it: a shell with a kernel, and display handles."""
    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    display = types.ModuleType("IPython.display")

    def show(data: dict[str, str], raw: bool, display_id: bool) -> FakeHandle:
        assert raw
        assert display_id
        shown.append(data["text/plain"])
        return FakeHandle(shown)

    display.display = show  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)


def test_no_notebook_unless_ipython_runs_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_notebook()
    terminal_ipython = types.ModuleType("IPython")
    terminal_ipython.get_ipython = lambda: types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", terminal_ipython)
    assert not in_notebook()


def test_a_notebook_without_widgets_gets_the_text_bar_as_one_updated_output(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    shown: list[str] = []
    fake_kernel(monkeypatch, shown)
    # tqdm is there, ipywidgets is not (tqdm.auto would warn and draw on stderr).
    monkeypatch.setitem(sys.modules, "tqdm.notebook", types.ModuleType("tqdm.notebook"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    # Even with progress=None and no terminal: someone is watching a notebook.
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    display = progress_display(None, 2, clock)
    assert isinstance(display, NotebookText)
    display.update(counts(1))
    display.close(counts(2))
    assert [text.split("] ")[1].split(",")[0] for text in shown] == [
        "0/2 done",
        "1/2 done",
        "2/2 done",
    ]
    assert sys.stderr.getvalue() == ""


def test_a_notebook_with_tqdm_and_widgets_gets_the_widget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []

    class FakeTqdm:
        def __init__(self, total: int, desc: str, unit: str) -> None:
            self.total, self.n, self.postfix, self.closed = total, 0, {}, False
            made.append(self)

        def update(self, step: int) -> None:
            self.n += step

        def set_postfix(self, refresh: bool, **postfix: Any) -> None:
            self.postfix = postfix

        def close(self) -> None:
            self.closed = True

    fake_kernel(monkeypatch, [])
    notebook = types.ModuleType("tqdm.notebook")
    notebook.tqdm = FakeTqdm  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm.notebook", notebook)
    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    display = progress_display(None, 5)
    assert isinstance(display, NotebookWidget)
    display.update(counts(2))
    display.update(counts(3, 1))
    display.close(counts(5, 1))
    (bar,) = made
    assert (bar.total, bar.n, bar.postfix, bar.closed) == (5, 5, {"failed": 1}, True)
