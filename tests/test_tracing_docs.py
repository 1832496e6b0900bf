"""The README's "Tracing agents" example and examples/trace_agent.py run as written, each in a
fresh interpreter (ComposoTracer.init sets the process-wide provider), against the mock."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")
pytest.importorskip("openai", reason="needs openai (a test dependency in the dev extra)")

from tests._tracing_util import ROOT

pytestmark = pytest.mark.e2e


def _run(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-W", "error", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    return completed.stdout


def test_the_readme_tracing_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tracing agents", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert _run("-c", code).splitlines() == ["['planner', 'researcher']"]


def test_the_trace_agent_example_runs() -> None:
    lines = _run("examples/trace_agent.py").splitlines()
    assert lines[:4] == [
        "writer: Noted: Write a day plan: Noted: Rome: 24°C and sunny",
        "planner: 3 items",
        "weather: 2 items",
        "writer: 1 items",
    ]
    assert [line.split(" ", 1)[0] for line in lines[4:]] == ["planner", "weather", "writer"]
