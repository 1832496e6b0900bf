"""The README's runnable examples run as written (in a fresh interpreter, warnings as errors)
and print what their comments say; those that repeat a docs page's example stay identical to
it (the docs page's own test runs it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def code_blocks(title: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(title), flags=re.DOTALL)


def run(code: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_the_rate_limit_example_scores_every_item_through_the_429s() -> None:
    (code,) = code_blocks("Rate limits and retries")
    assert run(code) == ["100 scored, True"]


def test_the_stored_data_example_prints_what_its_comments_say() -> None:
    (code,) = code_blocks("Stored data: traces, annotations, analytics and your account")
    assert run(code) == [
        "3",
        "False",
        "2 ['Reward responses that state the refund window']",
        "True",
    ]


@pytest.mark.parametrize(
    ("title", "page"), [("Caching", "docs/caching.md"), ("Spark", "docs/spark.md")]
)
def test_examples_shared_with_a_docs_page_are_the_same(title: str, page: str) -> None:
    docs = (ROOT / page).read_text(encoding="utf-8")
    first = re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL)[0]
    assert code_blocks(title)[0] == first
