"""`composo evaluate` end to end, over real sockets against the local mock server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from composo._cli import main
from composo._mock import MockServer
from tests._wait import wait_until

pytestmark = pytest.mark.e2e

CRITERIA = ["Reward answers that are correct", "Passes if the reply is polite"]


def write_input(path: Path, count: int, broken: tuple[int, ...] = ()) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            if i in broken:
                f.write('{"id": "broken", "messages": [\n')
                continue
            item = {
                "id": f"item-{i}",
                "messages": [
                    {"role": "user", "content": f"How do I reset password number {i}?"},
                    {"role": "assistant", "content": f"Open settings and choose reset ({i})."},
                ],
                "tags": {"batch": "test"},
            }
            f.write(json.dumps(item) + "\n")
    return path


def criteria_args() -> list[str]:
    return [arg for criterion in CRITERIA for arg in ("--criteria", criterion)]


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture
def env(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    monkeypatch.setenv("COMPOSO_API_KEY", "test-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    return server


def test_mock_run_scores_every_pair_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPOSO_API_KEY", raising=False)
    source = write_input(tmp_path / "in.jsonl", 12)
    code = main(["evaluate", str(source), *criteria_args(), "--mock", "--quiet"])
    out = capsys.readouterr()
    assert code == 0
    records = read_records(tmp_path / "in.results.jsonl")
    assert len(records) == 24
    assert [(r["line"], r["criterion"]) for r in records] == [
        (line, c) for line in range(1, 13) for c in CRITERIA
    ]
    assert all(0 <= r["score"] <= 1 for r in records)  # type: ignore[operator]
    assert "synthetic" in str(records[0]["explanation"]).lower()
    assert "pass rate" in out.out
    assert CRITERIA[1] in out.out
    assert "mock server" in out.err


def test_malformed_lines_become_error_records_and_the_exit_code_is_one(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 6, broken=(2,))
    with source.open("a") as f:
        f.write('["not", "an", "object"]\n{"messages": []}\n')
    output = tmp_path / "out.jsonl"
    code = main(["evaluate", str(source), *criteria_args(), "--output", str(output), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    records = read_records(output)
    assert len(records) == 8 * 2
    errors = {(r["line"], r["criterion"]): r["error"] for r in records if "error" in r}
    assert set(errors) == {(line, c) for line in (3, 7, 8) for c in CRITERIA}
    assert "not valid JSON" in errors[(3, CRITERIA[0])]["message"]  # type: ignore[index]
    assert "expected a JSON object" in errors[(7, CRITERIA[0])]["message"]  # type: ignore[index]
    assert "line 3" in err
    assert sum(1 for r in records if "score" in r) == 10


def test_resume_after_a_crash_gives_the_same_file_as_an_uninterrupted_run(
    env: MockServer, tmp_path: Path
) -> None:
    source = write_input(tmp_path / "in.jsonl", 30)
    reference = tmp_path / "reference.jsonl"
    # Without the cache: the second run would be answered from it (and say so in each record).
    plain = [*criteria_args(), "--quiet", "--no-cache"]
    assert main(["evaluate", str(source), *plain, "--output", str(reference)]) == 0
    # A crash: some pairs written, the last line cut short, plus an error record to redo.
    partial = tmp_path / "partial.jsonl"
    lines = reference.read_text().splitlines(keepends=True)
    error = {"line": 9, "id": "item-8", "criterion": CRITERIA[0], "error": {"message": "503"}}
    partial.write_text("".join(lines[5:25:2]) + json.dumps(error) + "\n" + lines[40][:30])
    before = env.counters.count("POST", "/api/v1/evals/reward")
    code = main(["evaluate", str(source), *plain, "--output", str(partial), "--resume"])
    assert code == 0
    assert partial.read_text() == reference.read_text()
    assert env.counters.count("POST", "/api/v1/evals/reward") - before == 60 - 10


def test_existing_output_is_not_overwritten_without_resume(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    output = tmp_path / "out.jsonl"
    output.write_text('{"kept": true}\n')
    code = main(["evaluate", str(source), "--criteria", CRITERIA[0], "--output", str(output)])
    assert code == 2
    assert "--resume" in capsys.readouterr().err
    assert output.read_text() == '{"kept": true}\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "at least one --criteria"),
        (["--criteria", "Score politeness"], "must start with"),
        (["--criteria", CRITERIA[0], "--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_arguments_exit_two_with_a_clear_message(
    env: MockServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    before = env.counters.total
    assert main(["evaluate", str(source), *args]) == 2
    assert message in capsys.readouterr().err
    assert env.counters.total == before


def test_api_key_comes_from_a_file_and_never_from_a_plain_argument(
    server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPOSO_API_KEY", raising=False)
    source = write_input(tmp_path / "in.jsonl", 2)
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    output = tmp_path / "out.jsonl"
    args = ["evaluate", str(source), "--criteria", CRITERIA[0], "--output", str(output)]
    args += ["--base-url", server.base_url, "--quiet"]
    assert main([*args, "--api-key-file", str(key_file)]) == 0
    for refused in (["--api-key", "sk-visible-in-history"], ["--api-key=sk-visible-in-history"]):
        process = subprocess.run(
            [sys.executable, "-m", "composo._cli", *args, *refused],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert process.returncode == 2
        assert "--api-key is not accepted" in process.stderr
        assert "sk-visible-in-history" not in process.stderr + process.stdout


# A test run started in the background (`cmd &`) ignores SIGINT, and children inherit that:
# the command under test gets Python's own Ctrl-C handler back, as it has on a terminal.
_WITH_CTRL_C = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'composo'; runpy.run_module('composo._cli', run_name='__main__')"
)


def test_ctrl_c_leaves_a_valid_output_file_that_resume_completes(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 200)
    output = tmp_path / "out.jsonl"
    # 400 pairs, two at a time, 50 ms each: about 10 s, so Ctrl-C lands mid-run even on a
    # loaded machine.
    with MockServer(latency=0.05) as slow:
        env = {**os.environ, "COMPOSO_API_KEY": "k", "COMPOSO_BASE_URL": slow.base_url}
        command = [sys.executable, "-c", _WITH_CTRL_C, "evaluate", str(source)]
        command += [*criteria_args(), "--output", str(output)]
        process = subprocess.Popen(
            [*command, "--concurrency", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if output.exists() and len(output.read_text().splitlines()) >= 10:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before Ctrl-C could interrupt it"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130, err.decode()
        assert b"--resume" in err
        interrupted = read_records(output)  # every line is complete JSON
        assert 10 <= len(interrupted) < 400
        # The server notices the closed connections a moment after the child is gone.
        wait_until(lambda: slow.counters.in_flight == 0, what="the server saw every request end")
        resumed = subprocess.run(
            [*command, "--resume", "--quiet", "--concurrency", "20"],
            env=env,
            capture_output=True,
            timeout=120,
        )
    assert resumed.returncode == 0, resumed.stderr.decode()
    records = read_records(output)
    assert [(r["line"], r["criterion"]) for r in records] == [
        (line, c) for line in range(1, 201) for c in CRITERIA
    ]


def test_overwrite_replaces_an_existing_output(env: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 3)
    output = tmp_path / "out.jsonl"
    output.write_text('{"stale": true}\n')
    args = ["evaluate", str(source), "--criteria", CRITERIA[0], "--output", str(output)]
    assert main([*args, "--overwrite", "--quiet"]) == 0
    assert [r["line"] for r in read_records(output)] == [1, 2, 3]
