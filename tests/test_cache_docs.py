"""docs/caching.md's Python examples run as written, against the mock, and print what they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parent.parent / "docs" / "caching.md"


def test_the_examples_run_and_print_what_their_comments_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples make demo-cache.sqlite3 where they run
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2
    expected: list[str] = []
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "docs"})
        expected += re.findall(r"print\(.*\)\s+# (.*)", block)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [line.split(" = ")[-1].strip() for line in expected]
