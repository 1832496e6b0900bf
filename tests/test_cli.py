"""The `composo` command's dispatcher: subcommands, version, usage errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from composo import __version__
from composo._cli import main


def test_no_command_prints_usage_and_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: composo <command>" in capsys.readouterr().err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "evaluate" in out
    assert "mock" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"composo {__version__}"


def test_unknown_command_exits_two_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evalute"]) == 2
    assert "unknown command 'evalute'" in capsys.readouterr().err


@pytest.mark.e2e
def test_installed_command_starts_the_mock_on_a_free_port() -> None:
    # The console script installed next to this interpreter (the venv need not be activated).
    script = Path(sys.executable).parent / "composo"
    command = str(script) if script.exists() else shutil.which("composo")
    if command is None:
        pytest.skip("the composo console script is not installed")
    process = subprocess.Popen(
        [command, "mock", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.get(url + "/api/v1/usage", headers={"API-Key": "k"}, timeout=10)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode in (0, -15)
