"""The public API's static types, as `mypy --strict` and pyright (strict) see application code.

tests/typecheck/usage.py calls every public method and `assert_type`s each result, so a result
that drifts to `Any` (or to a wider union) fails here; tests/typecheck/negative.py holds the
mistakes both checkers must report (`result.scor`), one per line marked `# error`, and
nothing else may be reported. Each checker runs once over both files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USAGE = ROOT / "tests" / "typecheck" / "usage.py"
NEGATIVE = ROOT / "tests" / "typecheck" / "negative.py"
TIMEOUT = 300

pytestmark = pytest.mark.slow

# file name -> the 1-based lines a checker reported errors on
Report = dict[str, set[int]]


def _marked_lines(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number for number, line in enumerate(lines, start=1) if line.endswith("# error")}


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def mypy_report() -> tuple[Report, str]:
    done = subprocess.run(
        [
            _bin("mypy"),
            "--strict",
            "--no-color-output",
            "--no-error-summary",
            str(USAGE),
            str(NEGATIVE),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TIMEOUT,
    )
    report: Report = {USAGE.name: set(), NEGATIVE.name: set()}
    for match in re.finditer(r"^(.+?):(\d+): error:", done.stdout, re.MULTILINE):
        report.setdefault(Path(match[1]).name, set()).add(int(match[2]))
    return report, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pyright_report() -> tuple[Report, str]:
    if shutil.which("node") is None:
        pytest.skip("pyright runs on Node.js, which is not on PATH (CI has it for `npm ci`)")
    # --outputjson also skips pyright-python's check for a newer release: nothing is fetched.
    done = subprocess.run(
        [
            _bin("pyright"),
            "--outputjson",
            "--pythonpath",
            sys.executable,
            str(USAGE),
            str(NEGATIVE),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TIMEOUT,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
    )
    output = json.loads(done.stdout)
    report: Report = {USAGE.name: set(), NEGATIVE.name: set()}
    for diagnostic in output["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            line = diagnostic["range"]["start"]["line"] + 1
            report.setdefault(Path(diagnostic["file"]).name, set()).add(line)
    assert output["summary"]["filesAnalyzed"] == 2
    return report, done.stdout + done.stderr


def test_the_negative_file_marks_the_mistakes() -> None:
    assert len(_marked_lines(NEGATIVE)) >= 5
    assert "result.scor" in NEGATIVE.read_text(encoding="utf-8")


def test_usage_passes_mypy_strict_with_every_type_as_asserted(
    mypy_report: tuple[Report, str],
) -> None:
    report, output = mypy_report
    assert report[USAGE.name] == set(), output


def test_usage_passes_pyright_strict_with_every_type_as_asserted(
    pyright_report: tuple[Report, str],
) -> None:
    report, output = pyright_report
    assert report[USAGE.name] == set(), output


def test_mypy_reports_each_mistake_and_nothing_else(mypy_report: tuple[Report, str]) -> None:
    report, output = mypy_report
    assert report[NEGATIVE.name] == _marked_lines(NEGATIVE), output
    assert set(report) == {USAGE.name, NEGATIVE.name}, output
    assert '"EvaluationResponse" has no attribute "scor"' in output


def test_pyright_reports_each_mistake_and_nothing_else(
    pyright_report: tuple[Report, str],
) -> None:
    report, output = pyright_report
    assert report[NEGATIVE.name] == _marked_lines(NEGATIVE), output
    assert set(report) == {USAGE.name, NEGATIVE.name}, output
    assert 'Cannot access attribute \\"scor\\" for class \\"EvaluationResponse\\"' in output
