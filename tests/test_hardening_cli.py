"""Issue 10, `composo evaluate` as a careless user and a hostile server use it: it never
destroys an input, every line ends as exactly one record per criterion (a score or an error
record) whatever the line holds, resume keys on line numbers, and a key on the command line is
refused without being printed. Over real sockets against the mock and small hostile servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from composo._cli import main
from composo._mock import MockServer
from tests._hostile import PATIENCE, RawServer, answering, response_bytes, serving

pytestmark = pytest.mark.e2e

CRITERION = "Reward answers that are correct"
OTHER = "Passes if the reply is polite"
MESSAGES = [
    {"role": "user", "content": "How do I reset my password?"},
    {"role": "assistant", "content": "Open settings and choose reset."},
]
KEY = "sk-canary-Jd83hQ0vLw5"


def _line(item_id: str | None = None, **extra: Any) -> bytes:
    item: dict[str, Any] = {"messages": MESSAGES, **extra}
    if item_id is not None:
        item["id"] = item_id
    return json.dumps(item).encode() + b"\n"


def _write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _run(*args: str) -> int:
    """`composo ARGS` in this process; argparse's own exits become their code."""
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture
def env(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    monkeypatch.setenv("COMPOSO_API_KEY", "test-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    return server


def _snapshot(directory: Path) -> dict[str, bytes | str]:
    """Every entry of a directory tree: file bytes, or where a symlink points."""
    found: dict[str, bytes | str] = {}
    for path in sorted(directory.rglob("*")):
        name = str(path.relative_to(directory))
        if path.is_symlink():
            found[name] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[name] = path.read_bytes()
    return found


# Never destroy an input: an --output that is one of them is refused before anything is written.

SAME_FILE = {
    "same path": lambda d: "in.jsonl",
    "absolute path": lambda d: str(d / "in.jsonl"),
    "dot slash": lambda d: "./in.jsonl",
    "through a subdirectory": lambda d: "sub/../in.jsonl",
    "symlink": lambda d: "link.jsonl",
    "symlinked directory": lambda d: "linkdir/in.jsonl",
    "hard link": lambda d: "hard.jsonl",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _write(tmp_path / "in.jsonl", _line("a"), _line("b"), _line("c"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "in.jsonl")
    (tmp_path / "linkdir").symlink_to(tmp_path)
    os.link(tmp_path / "in.jsonl", tmp_path / "hard.jsonl")
    (tmp_path / "criteria.txt").write_text(f"{CRITERION}\n")
    (tmp_path / "key.txt").write_text("test-key\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "mode", [[], ["--resume"], ["--overwrite"]], ids=["plain", "resume", "overwrite"]
)
@pytest.mark.parametrize("how", list(SAME_FILE))
def test_output_that_is_the_input_is_refused_and_the_input_is_untouched(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str], how: str, mode: list[str]
) -> None:
    before = _snapshot(workdir)
    sent = env.counters.total
    output = SAME_FILE[how](workdir)
    code = _run("evaluate", "in.jsonl", "--criteria", CRITERION, "--output", output, *mode)
    assert code == 2
    err = capsys.readouterr().err
    assert "is the input file" in err
    assert "destroy" in err
    assert "Traceback" not in err
    assert _snapshot(workdir) == before  # nothing written, no temporary file left
    assert env.counters.total == sent


@pytest.mark.parametrize(
    "mode", [[], ["--resume"], ["--overwrite"]], ids=["plain", "resume", "overwrite"]
)
@pytest.mark.parametrize(
    ("option", "value", "output", "what"),
    [
        ("--criteria-file", "criteria.txt", "criteria.txt", "--criteria-file"),
        ("--criteria-file", "criteria.txt", "linkdir/criteria.txt", "--criteria-file"),
        ("--api-key-file", "key.txt", "key.txt", "--api-key-file"),
        ("--api-key-file", "key.txt", "./key.txt", "--api-key-file"),
    ],
    ids=["criteria-file", "criteria-file-via-link", "api-key-file", "api-key-file-relative"],
)
def test_output_that_is_the_criteria_or_key_file_is_refused(
    env: MockServer,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    output: str,
    what: str,
    mode: list[str],
) -> None:
    os.link(workdir / value, workdir / f"hard-{value}")
    before = _snapshot(workdir)
    args = ["evaluate", "in.jsonl", option, value, "--output", output, *mode]
    if option != "--criteria-file":
        args += ["--criteria", CRITERION]
    assert _run(*args) == 2
    assert f"is {what}" in capsys.readouterr().err
    assert _snapshot(workdir) == before
    # And through the hard link made above.
    args[args.index(output)] = f"hard-{value}"
    assert _run(*args) == 2
    assert _snapshot(workdir) == before


def test_an_input_that_is_a_symlink_to_the_output_is_refused(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(workdir)
    assert _run("evaluate", "link.jsonl", "--criteria", CRITERION, "--output", "in.jsonl") == 2
    assert "is the input file" in capsys.readouterr().err
    assert _snapshot(workdir) == before


@pytest.mark.parametrize(
    "mode", [[], ["--resume"], ["--overwrite"]], ids=["plain", "resume", "overwrite"]
)
@pytest.mark.parametrize("through_link", [False, True], ids=["fifo", "symlink-to-fifo"])
def test_an_output_that_is_a_pipe_is_refused_and_left_in_place(
    env: MockServer, workdir: Path, through_link: bool, mode: list[str]
) -> None:
    # What /dev/null or /dev/stdout would be: run as root, the old code deleted them, and with
    # --resume it blocked for ever reading the pipe; a child process with a timeout keeps such
    # a regression from hanging the suite.
    fifo = workdir / "pipe"
    os.mkfifo(fifo)
    output = fifo
    if through_link:
        output = workdir / "to-pipe"
        output.symlink_to(fifo)
    command = [sys.executable, "-m", "composo._cli", "evaluate", "in.jsonl"]
    command += ["--criteria", CRITERION, "--output", str(output), *mode]
    child = subprocess.run(command, capture_output=True, text=True, timeout=PATIENCE)
    assert child.returncode == 2, child.stderr
    assert "not a regular file" in child.stderr
    assert fifo.is_fifo()
    assert output.exists()


def test_an_output_in_a_missing_directory_is_one_clear_line(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("evaluate", "in.jsonl", "--criteria", CRITERION, "--output", "nope/out.jsonl")
    assert code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "Traceback" not in err


# Every line ends as exactly one record per criterion, whatever it holds.


def test_every_kind_of_bad_line_is_an_error_record_and_later_lines_are_scored(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = {
        1: _line("first"),
        2: b'{"id": "s", "messages": [{"role": "user", "content": "\\ud800"}, '
        b'{"role": "assistant", "content": "x"}]}\n',
        3: b'{"id": "latin", "messages": [{"role": "user", "content": "caf\xe9"}, '
        b'{"role": "assistant", "content": "x"}]}\n',
        4: b"\xef\xbb\xbf" + _line("bom"),
        5: b"[1, 2, 3]\n",
        6: b"null\n",
        7: b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        8: b'"just a string"\n',
        9: b'{"messages": [{"role": "user", "content": NaN}, {"role": "assistant", "content": '
        b'"x"}]}\n',
        10: b'{"id": "cut", "messages": [\n',
        11: b"\x00\x00\x00\n",
        12: _line("bad-key", mesages=[]),
        13: _line("last"),
    }
    expected_errors = {
        2: "not valid Unicode",
        3: "not valid UTF-8",
        5: "expected a JSON object, got list",
        6: "expected a JSON object, got NoneType",
        7: "nested too deeply",
        8: "expected a JSON object, got str",
        9: "is nan",
        10: "not valid JSON",
        11: "not valid JSON",
        12: "unknown field",
    }
    source = _write(tmp_path / "in.jsonl", *lines.values())
    output = tmp_path / "out.jsonl"
    args = ["--criteria", CRITERION, "--criteria", OTHER, "--output", str(output), "--quiet"]
    code = _run("evaluate", str(source), *args)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    records = _records(output)
    assert [(r["line"], r["criterion"]) for r in records] == [
        (line, c) for line in lines for c in (CRITERION, OTHER)
    ]
    for record in records:
        if record["line"] in expected_errors:
            assert expected_errors[record["line"]] in record["error"]["message"], record
            assert "score" not in record
        else:
            assert "error" not in record, record
            assert 0 <= record["score"] <= 1
    # The line that starts with a byte order mark is scored, with its id.
    assert {r["id"] for r in records if r["line"] == 4} == {"bom"}


def test_a_first_line_with_a_byte_order_mark_is_scored(env: MockServer, tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", b"\xef\xbb\xbf" + _line("one"), _line("two"))
    output = tmp_path / "out.jsonl"
    assert _run("evaluate", str(source), "--criteria", CRITERION, "--output", str(output)) == 0
    assert [(r["line"], r["id"]) for r in _records(output)] == [(1, "one"), (2, "two")]


def test_an_id_that_is_not_valid_unicode_is_kept_and_the_run_completes(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "in.jsonl", _line("\ud800"), _line("after"))
    output = tmp_path / "out.jsonl"
    assert _run("evaluate", str(source), "--criteria", CRITERION, "--output", str(output)) == 0
    assert "Traceback" not in capsys.readouterr().err
    records = _records(output)
    assert [r["id"] for r in records] == ["\ud800", "after"]
    assert all("score" in r for r in records)
    # And a resume reads that output back as this input's: nothing left to do.
    sent = env.counters.total
    args = ["--criteria", CRITERION, "--output", str(output), "--resume"]
    assert _run("evaluate", str(source), *args) == 0
    assert env.counters.total == sent
    assert _records(output) == records


def test_a_server_answering_text_that_is_not_unicode_gives_error_records_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "test-key")
    source = _write(tmp_path / "in.jsonl", _line("a"), _line("b"), _line("c"))
    output = tmp_path / "out.jsonl"
    hostile = answering(200, b'{"score": 0.5, "explanation": "broken \\udc80 text"}')
    with serving(hostile) as fake:
        args = ["--criteria", CRITERION, "--output", str(output), "--base-url", fake.url]
        code = _run("evaluate", str(source), *args, "--quiet")
    assert code == 1
    assert "Traceback" not in capsys.readouterr().err
    records = _records(output)
    assert [r["line"] for r in records] == [1, 2, 3]
    assert all("not valid Unicode" in r["error"]["message"] for r in records)
    assert len(fake.requests) == 3  # each pair once: a bad 200 is not retried


def test_duplicate_criteria_are_refused_with_exit_two_before_anything_is_sent(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "twice.txt").write_text(f"{CRITERION}\n# a comment\n{CRITERION}\n")
    sent = env.counters.total
    before = _snapshot(workdir)
    for args in (
        ["--criteria", CRITERION, "--criteria", CRITERION],
        ["--criteria", CRITERION, "--criteria-file", "criteria.txt"],
        ["--criteria-file", "twice.txt"],
    ):
        assert _run("evaluate", "in.jsonl", *args) == 2
        assert "repeats criteria" in capsys.readouterr().err
    assert _snapshot(workdir) == before  # no output file was created
    assert env.counters.total == sent


def test_a_criterion_with_a_byte_the_command_line_could_not_decode_is_refused(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `composo evaluate in.jsonl --criteria $'Reward caf\xe9'` gives Python on Linux.
    criterion = os.fsdecode(b"Reward caf\xe9 answers")
    sent = env.counters.total
    before = _snapshot(workdir)
    assert _run("evaluate", "in.jsonl", "--criteria", CRITERION, "--criteria", criterion) == 2
    err = capsys.readouterr().err
    assert "criteria[1] is not valid Unicode" in err
    assert "Traceback" not in err
    assert _snapshot(workdir) == before
    assert env.counters.total == sent


def test_a_non_utf8_api_key_file_is_one_clear_line(
    server: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "latin.key").write_bytes(b"sk-caf\xe9\n")
    args = ["--criteria", CRITERION, "--api-key-file", "latin.key", "--base-url", server.base_url]
    assert _run("evaluate", "in.jsonl", *args) == 2
    err = capsys.readouterr().err
    assert "is not UTF-8 text" in err
    assert "Traceback" not in err


# Resume keys on line numbers, and refuses (without touching it) output of another input.


def test_resume_over_output_with_a_non_utf8_line_redoes_that_pair(
    env: MockServer, tmp_path: Path
) -> None:
    source = _write(tmp_path / "in.jsonl", _line("a"), _line("b"))
    output = tmp_path / "out.jsonl"
    first = {"line": 1, "id": "a", "criterion": CRITERION, "score": 0.5, "explanation": "kept"}
    output.write_bytes(json.dumps(first).encode() + b"\n\xff\xfe{broken\n")
    args = ["--criteria", CRITERION, "--output", str(output), "--resume", "--quiet"]
    assert _run("evaluate", str(source), *args) == 0
    records = _records(output)
    assert records[0] == first
    assert [r["line"] for r in records] == [1, 2]


@pytest.mark.parametrize(
    "recorded",
    [
        {"line": 2, "id": "zzz", "criterion": CRITERION, "score": 0.5, "explanation": "e"},
        {"line": 9, "id": "i", "criterion": CRITERION, "score": 0.5, "explanation": "e"},
        {"line": 1, "id": None, "criterion": CRITERION, "score": 0.5, "explanation": "e"},
    ],
    ids=["other-id-at-a-line", "line-past-the-end", "id-missing-now-present"],
)
def test_resume_over_output_of_another_input_is_refused_and_the_output_is_untouched(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: dict[str, Any]
) -> None:
    source = _write(tmp_path / "in.jsonl", _line("a"), _line("b"), _line("c"))
    output = tmp_path / "out.jsonl"
    error = {"line": 3, "id": "c", "criterion": CRITERION, "error": {"message": "503"}}
    content = (json.dumps(recorded) + "\n" + json.dumps(error) + "\nnot json at all\n").encode()
    output.write_bytes(content)
    sent = env.counters.total
    args = ["--criteria", CRITERION, "--output", str(output), "--resume"]
    assert _run("evaluate", str(source), *args) == 2
    assert "was written for another input" in capsys.readouterr().err
    assert output.read_bytes() == content
    assert env.counters.total == sent


def test_duplicate_ids_resumed_from_a_hand_made_partial_output_score_every_line_once(
    env: MockServer, tmp_path: Path
) -> None:
    ids = ["a", "b", "a", "c", "b"]
    source = _write(tmp_path / "in.jsonl", *(_line(i) for i in ids))
    output = tmp_path / "out.jsonl"
    done = [
        {
            "line": line,
            "id": ids[line - 1],
            "criterion": CRITERION,
            "score": 0.5,
            "explanation": "old",
        }
        for line in (1, 5)
    ]
    output.write_text("".join(json.dumps(r) + "\n" for r in done))
    args = ["--criteria", CRITERION, "--output", str(output), "--resume", "--quiet"]
    assert _run("evaluate", str(source), *args) == 0
    records = _records(output)
    assert [(r["line"], r["id"]) for r in records] == list(enumerate(ids, start=1))
    assert [r["explanation"] == "old" for r in records] == [True, False, False, False, True]


# A test run started in the background ignores SIGINT, and children inherit that: the command
# under test gets Python's own Ctrl-C handler back, as it has on a terminal.
_WITH_CTRL_C = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'composo'; runpy.run_module('composo._cli', run_name='__main__')"
)


def _answer_first_then_hold(released: threading.Event) -> Any:
    """A service that scores the first request at once and holds every later one."""

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (request := await server.read(reader)) is not None:
            if len(server.requests) > 1:
                await asyncio.to_thread(released.wait, PATIENCE)
            body = json.dumps({"score": 0.25, "explanation": f"held {request.path}"})
            writer.write(response_bytes(200, body.encode()))
            await writer.drain()

    return handle


def test_duplicate_ids_interrupted_then_resumed_score_every_line_exactly_once(
    env: MockServer, tmp_path: Path
) -> None:
    ids = ["a", "b", "a", "c", "b"]
    source = _write(tmp_path / "in.jsonl", *(_line(i) for i in ids))
    output = tmp_path / "out.jsonl"
    released = threading.Event()
    with serving(_answer_first_then_hold(released)) as holding:
        child_env = {**os.environ, "COMPOSO_BASE_URL": holding.url}
        command = [sys.executable, "-c", _WITH_CTRL_C, "evaluate", str(source)]
        # No cache: lines 1 and 3 are the same conversation, and this run must send both.
        command += ["--criteria", CRITERION, "--output", str(output), "--concurrency", "1"]
        command += ["--no-cache"]
        process = subprocess.Popen(
            command, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            # Bounded polls: the first result is on disk and the second request is held.
            deadline = time.monotonic() + PATIENCE
            while time.monotonic() < deadline:
                if len(holding.requests) >= 2 and output.exists() and output.read_bytes():
                    break
                assert process.poll() is None, process.communicate()
                time.sleep(0.02)
            else:
                raise AssertionError("the run never got to its second request")
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=PATIENCE)
        finally:
            released.set()
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, err.decode()
    interrupted = _records(output)
    assert [(r["line"], r["id"]) for r in interrupted] == [(1, "a")]
    args = ["--criteria", CRITERION, "--output", str(output), "--resume", "--quiet", "--no-cache"]
    assert _run("evaluate", str(source), *args) == 0  # against the mock this time
    records = _records(output)
    assert [(r["line"], r["id"], r["criterion"]) for r in records] == [
        (line, item_id, CRITERION) for line, item_id in enumerate(ids, start=1)
    ]
    assert records[0] == interrupted[0]
    assert all("score" in r for r in records)


# The key: never taken from the command line, never printed.


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "in.jsonl", "--criteria", CRITERION, "--api-key", KEY],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, f"--api-key={KEY}"],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, "--key", KEY],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, f"--token={KEY}"],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, KEY],
        ["evaluate", "in.jsonl", KEY, "--criteria", CRITERION],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, "--apikey", KEY],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, f"--api_key={KEY}"],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, "--api-key-file", KEY],
        ["evaluate", "in.jsonl", "--criteria", CRITERION, f"--api-key-file=/no/such/{KEY}"],
        [f"--api-key={KEY}", "evaluate", "in.jsonl", "--criteria", CRITERION],
        [KEY, "evaluate", "in.jsonl", "--criteria", CRITERION],
    ],
    ids=[
        "api-key-space",
        "api-key-equals",
        "key",
        "token-equals",
        "stray-positional-last",
        "stray-positional-first",
        "unknown-apikey",
        "unknown-api_key-equals",
        "key-as-key-file",
        "key-in-key-file-path",
        "api-key-before-the-command",
        "key-as-the-command",
    ],
)
def test_a_key_on_the_command_line_is_refused_and_never_printed(
    env: MockServer, workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    before = _snapshot(workdir)
    sent = env.counters.total
    assert _run(*argv) == 2
    out = capsys.readouterr()
    assert KEY not in out.out
    assert KEY not in out.err
    assert out.err.strip()  # but something says what was wrong
    assert _snapshot(workdir) == before
    assert env.counters.total == sent


def test_a_key_on_the_command_line_is_not_printed_by_a_real_process(
    server: MockServer, workdir: Path
) -> None:
    env = {**os.environ, "COMPOSO_API_KEY": "k", "COMPOSO_BASE_URL": server.base_url}
    for argv in (["--api-key", KEY], [f"--api-key={KEY}"], [KEY]):
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "composo._cli",
                "evaluate",
                "in.jsonl",
                "--criteria",
                CRITERION,
                *argv,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        assert process.returncode == 2
        assert KEY not in process.stdout + process.stderr
        assert "Traceback" not in process.stderr


def test_an_unknown_command_that_is_a_word_is_still_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run("evalute", "in.jsonl") == 2
    assert "unknown command 'evalute' (did you mean evaluate?)" in capsys.readouterr().err
