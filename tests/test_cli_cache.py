"""`composo cache stats | prune | clear` and `composo evaluate`'s cache options, end to end
against the local mock server."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from composo import MockServer, ResultCache
from composo._cache_file import CACHE_FILE
from composo._cli import main

pytestmark = pytest.mark.e2e

CRITERIA = ["Reward answers that are correct", "Passes if the reply is polite"]
REWARD = "/api/v1/evals/reward"
BODY = b'{"score":0.5,"explanation":"ok"}'


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture
def env(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    monkeypatch.setenv("COMPOSO_API_KEY", "test-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    return server


def default_cache() -> Path:
    return Path(os.environ["COMPOSO_CACHE_DIR"]) / CACHE_FILE


def write_input(path: Path, count: int) -> Path:
    lines = [
        json.dumps(
            {
                "id": f"item-{i}",
                "messages": [
                    {"role": "user", "content": f"How do I reset password {i}?"},
                    {"role": "assistant", "content": f"Open settings ({i})."},
                ],
            }
        )
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluate(source: Path, output: Path, *extra: str) -> int:
    criteria = [arg for criterion in CRITERIA for arg in ("--criteria", criterion)]
    return main(
        ["evaluate", str(source), *criteria, "--output", str(output), "--overwrite", "--quiet",
         *extra]
    )  # fmt: skip


def sent(server: MockServer) -> int:
    return server.counters.count("POST", REWARD)


def filled(path: Path, count: int) -> None:
    with ResultCache(path) as cache:
        for index in range(count):
            cache._put(index.to_bytes(32, "big"), BODY)


# composo evaluate


def test_evaluate_caches_by_default_and_a_rerun_sends_nothing(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 6)
    output = tmp_path / "out.jsonl"
    before = sent(env)
    assert evaluate(source, output) == 0
    assert sent(env) - before == 12
    first = [json.loads(line) for line in output.read_text().splitlines()]
    assert "0 of 12 pairs answered from the result cache" in capsys.readouterr().err
    assert evaluate(source, output) == 0
    assert sent(env) - before == 12
    err = capsys.readouterr().err
    assert f"12 of 12 pairs answered from the result cache {default_cache()}" in err
    again = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["from_cache"] for r in first] == [False] * 12
    assert [r["from_cache"] for r in again] == [True] * 12
    assert [(r["id"], r["score"]) for r in again] == [(r["id"], r["score"]) for r in first]


def test_a_changed_criterion_rescores_only_its_pairs(env: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 5)
    output = tmp_path / "out.jsonl"
    assert evaluate(source, output) == 0
    before = sent(env)
    args = ["evaluate", str(source), "--criteria", CRITERIA[0], "--criteria",
            "Passes if the reply is polite and short", "--output", str(output), "--overwrite",
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert sent(env) - before == 5


def test_no_cache_neither_reads_nor_fills_it(env: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 3)
    output = tmp_path / "out.jsonl"
    before = sent(env)
    assert evaluate(source, output, "--no-cache") == 0
    assert evaluate(source, output, "--no-cache") == 0
    assert sent(env) - before == 12
    assert not default_cache().exists()
    assert all(json.loads(line)["from_cache"] is False for line in output.read_text().splitlines())


def test_cache_path_uses_that_cache(env: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 3)
    output = tmp_path / "out.jsonl"
    mine = tmp_path / "mine.sqlite3"
    before = sent(env)
    assert evaluate(source, output, "--cache", str(mine)) == 0
    assert evaluate(source, output, "--cache", str(mine)) == 0
    assert sent(env) - before == 6
    assert ResultCache(mine).stats().entries == 6
    assert not default_cache().exists()


def test_the_in_process_mock_is_not_cached_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    output = tmp_path / "out.jsonl"
    assert evaluate(source, output, "--mock") == 0
    assert not default_cache().exists()
    assert "from the result cache" not in capsys.readouterr().err
    assert evaluate(source, output, "--mock", "--cache") == 0
    assert ResultCache(default_cache()).stats().entries == 4


@pytest.mark.parametrize("which", ["input", "output"])
def test_a_cache_path_naming_the_input_or_output_is_refused(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    output = tmp_path / "out.jsonl"
    output.write_text("")
    before = source.read_bytes()
    target = source if which == "input" else output
    assert evaluate(source, output, "--cache", str(target)) == 2
    assert "choose another --cache" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_file_that_is_not_a_cache_stops_the_run_before_anything_is_written(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    output = tmp_path / "out.jsonl"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    before = sent(env)
    assert evaluate(source, output, "--cache", str(notes)) == 2
    assert "notes.txt is not a composo result cache" in capsys.readouterr().err
    assert notes.read_text() == "my notes\n"
    assert not output.exists()
    assert sent(env) == before


def test_cache_and_no_cache_together_are_bad_usage(
    env: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 1)
    with pytest.raises(SystemExit) as exited:
        evaluate(source, tmp_path / "out.jsonl", "--cache", "--no-cache")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


# composo cache stats | prune | clear


def test_stats_of_a_missing_cache_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "stats"]) == 0
    assert f"no result cache at {default_cache()}" in capsys.readouterr().out
    assert not default_cache().exists()
    assert main(["cache", "prune", "--path", str(tmp_path / "none.sqlite3")]) == 0
    assert not (tmp_path / "none.sqlite3").exists()


def test_stats_prints_entries_bytes_ages_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filled(tmp_path / CACHE_FILE, 4)
    assert main(["cache", "stats", "--path", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"path:     {tmp_path / CACHE_FILE}" in out
    assert "entries:  4" in out
    assert f"bytes:    {4 * (len(BODY) + 32)} " in out
    assert "oldest:   20" in out
    assert "newest:   20" in out
    assert "limits:   1000000 entries, 1.0 GiB, 30 days" in out


def test_stats_reads_the_default_cache(capsys: pytest.CaptureFixture[str]) -> None:
    filled(default_cache(), 2)
    assert main(["cache", "stats"]) == 0
    assert "entries:  2" in capsys.readouterr().out


def test_prune_applies_the_limits_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite3"
    filled(path, 10)
    assert main(["cache", "prune", "--path", str(path), "--max-entries", "4"]) == 0
    assert "removed 6 result(s)" in capsys.readouterr().out
    assert ResultCache(path).stats().entries == 4
    assert main(["cache", "prune", "--path", str(path), "--max-bytes", "1K"]) == 0
    assert ResultCache(path).stats().entries == 4  # 4 x 64 bytes fit in 1 KiB
    assert main(["cache", "prune", "--path", str(path), "--max-bytes", "100"]) == 0
    assert ResultCache(path).stats().entries == 1


@pytest.mark.parametrize(
    "args",
    [["--max-age", "soon"], ["--max-entries", "0"], ["--max-bytes", "lots"]],
)
def test_prune_refuses_bad_limits(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "prune", *args]) == 2
    assert "expected" in capsys.readouterr().err


def test_clear_empties_a_cache_and_keeps_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.sqlite3"
    filled(path, 5)
    assert main(["cache", "clear", "--path", str(path)]) == 0
    assert "removed 5 result(s)" in capsys.readouterr().out
    with ResultCache(path) as cache:
        assert cache.stats().entries == 0


def test_clear_never_touches_a_file_that_is_not_a_composo_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "app.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE results (key BLOB, body BLOB)")
    connection.execute("INSERT INTO results VALUES (x'00', x'00')")
    connection.commit()
    connection.close()
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not sqlite at all" * 100)
    for path in (other, garbage):
        before = path.read_bytes()
        assert main(["cache", "clear", "--path", str(path)]) == 1
        assert "is not a composo result cache" in capsys.readouterr().err
        assert path.read_bytes() == before


def test_clear_deletes_a_damaged_composo_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.sqlite3"
    with ResultCache(path) as cache:
        for index in range(2000):
            cache._put(index.to_bytes(32, "big"), BODY * 10)
    os.truncate(path, path.stat().st_size // 3)
    assert main(["cache", "stats", "--path", str(path)]) == 1
    assert "is damaged (truncated" in capsys.readouterr().err
    assert main(["cache", "clear", "--path", str(path)]) == 0
    assert "deleted the result cache" in capsys.readouterr().out
    assert not path.exists()
    with ResultCache(path) as fresh:
        assert fresh.stats().entries == 0


def test_cache_without_a_command_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache"]) == 2
    assert main(["cache", "-h"]) == 0
    out = capsys.readouterr().out
    assert "stats" in out
    assert "COMPOSO_CACHE_DIR" in out
