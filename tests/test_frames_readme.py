"""The README's "DataFrames and notebooks" examples run as written, against the mock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

pytest.importorskip("pandas", reason="needs the pandas extra")

ROOT = Path(__file__).resolve().parent.parent
SECTION = "\n## DataFrames and notebooks"


def section_code() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", readme[start:end], flags=re.DOTALL)


def test_the_examples_run_and_print_scores(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # the example reads examples/conversations.jsonl
    blocks = section_code()
    assert len(blocks) == 2
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    scored = namespace["scored"]
    long = namespace["long"]
    assert list(scored.columns) == [  # type: ignore[attr-defined]
        "question",
        "answer",
        "refund_score",
        "refund_explanation",
        "refund_error",
        "polite_score",
        "polite_explanation",
        "polite_error",
    ]
    assert scored["refund_error"].isna().all()  # type: ignore[index]
    assert len(long) == 120  # type: ignore[arg-type]
    assert long["error"].isna().all()  # type: ignore[index]
    printed = capsys.readouterr().out
    assert "refund_score" in printed
    assert "polite" in printed
