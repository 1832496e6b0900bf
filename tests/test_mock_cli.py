"""`composo mock` (run_cli) and `python -m composo._mock`, run as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from composo._mock import run_cli

ROOT = Path(__file__).resolve().parent.parent

BODY = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    "evaluation_criteria": "Reward friendly greetings.",
}


@contextmanager
def serving(*command: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Starts a mock process and yields the URL from its first stdout line."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip(), process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.e2e
def test_run_cli_prints_the_url_serves_and_stops_on_sigterm() -> None:
    code = "from composo._mock._cli import run_cli; raise SystemExit(run_cli(['--port', '0']))"
    with serving("-c", code) as (url, process):
        assert url.startswith("http://127.0.0.1:")
        response = httpx.post(f"{url}/api/v1/evals/reward", json=BODY, headers={"API-Key": "k"})
        assert response.status_code == 200

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0


@pytest.mark.e2e
def test_ctrl_c_stops_the_server_cleanly() -> None:
    with serving("-m", "composo._mock", "--port", "0") as (url, process):
        assert httpx.get(f"{url}/api/v1/usage", headers={"API-Key": "k"}).status_code == 200

        process.send_signal(signal.SIGINT)

        assert process.wait(timeout=10) == 0


@pytest.mark.e2e
def test_flags_configure_faults_and_keys() -> None:
    command = ["-m", "composo._mock", "--p429", "1", "--retry-after", "3", "--api-key", "secret"]
    with serving(*command) as (url, _):
        refused = httpx.get(f"{url}/api/v1/usage", headers={"API-Key": "secret"})

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"


@pytest.mark.e2e
def test_api_key_flag_refuses_other_keys() -> None:
    with serving("-m", "composo._mock", "--api-key", "a", "--api-key", "b") as (url, _):
        codes = [
            httpx.get(f"{url}/api/v1/usage", headers={"API-Key": key}).status_code
            for key in ("a", "b", "c")
        ]

    assert codes == [200, 200, 401]


@pytest.mark.parametrize(
    "argv",
    [
        ["--p503", "1.5"],
        ["--latency", "10", "--latency-range", "1", "2"],
        ["--rate-limit", "ten"],
        ["--rate-limit", "0/1"],
        ["--port", "http"],
    ],
)
def test_bad_arguments_exit_with_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(argv) == 2
    assert "composo mock" in capsys.readouterr().err


def test_help_exits_with_status_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    assert "--rate-limit" in capsys.readouterr().out
