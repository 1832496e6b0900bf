"""`composo._cache` without a network: keys, the cache argument, storing and reading, the limits,
failures that fall through, and several threads and processes writing one file."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from composo import ComposoError, EvaluationResponse, MalformedError, ResultCache, _cache
from composo._cache import cache_entry, cache_key, resolve_cache
from composo._cache_file import CACHE_FILE
from composo._constants import SPEC_VERSION
from composo._requests import Call, plan_evaluate

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://platform.composo.ai"
MESSAGES = [
    {"role": "user", "content": "How long do I have to return a jacket?"},
    {"role": "assistant", "content": "You can return it within 30 days."},
]
CRITERION = "Reward responses that state the refund window"
BODY = b'{"score":0.75,"explanation":"States 30 days."}'


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reward_call(**overrides: Any) -> Call:
    """The one call `evaluate(MESSAGES, CRITERION, **overrides)` makes."""
    arguments: dict[str, Any] = {
        "messages": MESSAGES,
        "criteria": CRITERION,
        "system": None,
        "tools": None,
        "result": None,
        "block": True,
        "tags": None,
        "evaluator_name": None,
        "evaluate_latest": None,
        "explanation_cleaning": None,
        "data_retention": None,
        "model_core": None,
    }
    arguments.update(overrides)
    messages, criteria = arguments.pop("messages"), arguments.pop("criteria")
    [call] = plan_evaluate(messages, criteria, **arguments).calls
    return call


def key(index: int) -> bytes:
    return index.to_bytes(32, "big")


def opened(path: Path, **limits: Any) -> ResultCache:
    cache = ResultCache(path, **limits)
    cache._clock = Clock()
    return cache


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    with opened(tmp_path / "cache.sqlite3") as made:
        yield made


# Keys: every part of the request, and where and under which versions it is sent.

CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("messages", {"messages": [MESSAGES[0], {"role": "assistant", "content": "Within 31 days."}]}),
    ("criterion", {"criteria": "Reward responses that are polite"}),
    ("system", {"system": "You are a support agent."}),
    ("tools", {"tools": [{"type": "function", "function": {"name": "lookup_order"}}]}),
    ("tags", {"tags": {"experiment": "b"}}),
    ("model core", {"model_core": "align-20250529"}),
    ("evaluate_latest", {"evaluate_latest": False}),
    ("explanation_cleaning", {"explanation_cleaning": "end_user"}),
    ("data_retention", {"data_retention": "none"}),
    ("result", {"messages": MESSAGES[:1], "result": "You can return it within 31 days."}),
]


def test_the_same_request_has_the_same_key() -> None:
    assert cache_key(BASE, reward_call()) == cache_key(BASE, reward_call())
    assert len(cache_key(BASE, reward_call())) == 32


@pytest.mark.parametrize(("part", "change"), CHANGES, ids=[part for part, _ in CHANGES])
def test_changing_any_field_of_the_body_changes_the_key(part: str, change: dict[str, Any]) -> None:
    changed = reward_call(**change)
    assert changed.content != reward_call().content, part
    assert cache_key(BASE, changed) != cache_key(BASE, reward_call())


def test_a_result_appended_is_the_same_request_as_the_conversation_holding_it() -> None:
    appended = reward_call(messages=MESSAGES[:1], result=MESSAGES[1]["content"])
    assert cache_key(BASE, appended) == cache_key(BASE, reward_call())


def test_the_path_the_method_and_the_base_url_are_in_the_key() -> None:
    call = reward_call()
    base = cache_key(BASE, call)
    trace_path = Call(call.method, "/api/v1/evals/trace", call.content, call.parse, True, True)
    put = Call("PUT", call.path, call.content, call.parse, True, True)
    assert cache_key(BASE, trace_path) != base
    assert cache_key(BASE, put) != base
    # A result from the mock (or staging) is never served as one from production.
    assert cache_key("http://127.0.0.1:8080", call) != base


def test_the_spec_version_and_the_cache_format_are_in_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = cache_key(BASE, reward_call())
    monkeypatch.setattr(_cache, "SPEC_VERSION", "99.0.0")
    after_spec = cache_key(BASE, reward_call())
    monkeypatch.setattr(_cache, "CACHE_FORMAT", _cache.CACHE_FORMAT + 1)
    after_format = cache_key(BASE, reward_call())
    assert len({before, after_spec, after_format}) == 3


def test_parts_cannot_run_into_each_other() -> None:
    call = reward_call()
    moved = Call(call.method, call.path[:-1], call.path[-1].encode() + call.content, call.parse)
    assert cache_key(BASE, moved) != cache_key(BASE, call)


def test_spec_version_matches_openapi_yaml() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert spec["info"]["version"] == SPEC_VERSION, (
        "bump SPEC_VERSION in composo/_constants.py with openapi.yaml's info.version: it keys "
        "the result cache"
    )


def test_only_blocking_evaluations_by_criterion_are_cacheable(cache: ResultCache) -> None:
    assert cache_entry(cache, BASE, reward_call()) is not None
    assert cache_entry(None, BASE, reward_call()) is None
    assert cache_entry(cache, BASE, reward_call(block=False)) is None
    by_name = reward_call(criteria=None, evaluator_name="refund-policy")
    assert cache_entry(cache, BASE, by_name) is None
    # Any other operation (stored traces, evaluators, ...) builds a Call that is not cacheable.
    other = Call("GET", "/api/v1/traces/abc", b"", lambda data: data)
    assert cache_entry(cache, BASE, other) is None


# The default path and the cache argument.


def test_the_cache_argument(tmp_path: Path) -> None:
    assert resolve_cache(None) == (None, False)
    assert resolve_cache(False) == (None, False)
    made, owned = resolve_cache(True)
    assert owned
    assert made is not None
    assert made.path == Path(os.environ["COMPOSO_CACHE_DIR"]) / CACHE_FILE
    made.close()
    given = ResultCache(tmp_path / "given.sqlite3")
    assert resolve_cache(given) == (given, False)
    from_path, owned = resolve_cache(str(tmp_path / "p.sqlite3"))
    assert owned
    assert from_path is not None
    assert from_path.path == tmp_path / "p.sqlite3"
    from_path.close()
    given.close()
    with pytest.raises(MalformedError, match="cache must be None, True, a path"):
        resolve_cache(42)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_entries": 0}, "max_entries must be a positive int"),
        ({"max_bytes": -1}, "max_bytes must be a positive int"),
        ({"max_age": 0}, "max_age must be a positive number"),
        ({"max_age": float("nan")}, "max_age must be a positive number"),
        ({"timeout": -1}, "timeout must be a number of seconds"),
    ],
)
def test_bad_limits_are_refused(tmp_path: Path, limits: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        ResultCache(tmp_path / "c.sqlite3", **limits)
    assert not (tmp_path / "c.sqlite3").exists()


# Storing and reading.


def test_a_stored_body_is_read_back_and_flagged(cache: ResultCache) -> None:
    entry = cache_entry(cache, BASE, reward_call())
    assert entry is not None
    assert entry.get() is None
    entry.put(BODY)
    hit = entry.get()
    assert hit is not None
    assert isinstance(hit.value, EvaluationResponse)
    assert (hit.value.score, hit.value.explanation) == (0.75, "States 30 days.")
    assert hit.value.from_cache is True
    # Each hit is parsed afresh: changing one result never changes the next.
    hit.value.score = 0.0
    again = entry.get()
    assert again is not None
    assert again.value.score == 0.75


def test_a_stored_body_that_no_longer_parses_is_a_miss(cache: ResultCache) -> None:
    entry = cache_entry(cache, BASE, reward_call())
    assert entry is not None
    entry.put(b'{"score": "high"}')
    assert entry.get() is None


def test_stats_count_entries_bytes_and_ages(cache: ResultCache, tmp_path: Path) -> None:
    empty = cache.stats()
    assert (empty.entries, empty.bytes, empty.oldest, empty.newest) == (0, 0, None, None)
    assert empty.path == tmp_path / "cache.sqlite3"
    clock = cache._clock
    assert isinstance(clock, Clock)
    cache._put(key(1), BODY)
    clock.now += 60
    cache._put(key(2), BODY)
    stats = cache.stats()
    assert stats.entries == 2
    assert stats.bytes == 2 * (len(BODY) + 32)
    assert stats.file_bytes > 0
    assert stats.oldest is not None
    assert stats.newest is not None
    assert (stats.newest - stats.oldest).total_seconds() == pytest.approx(60)


def test_a_closed_cache_reopens_when_used_again(cache: ResultCache) -> None:
    cache._put(key(1), BODY)
    cache.close()
    assert cache._idle == []
    assert cache._get(key(1)) == BODY


# Limits.


def test_an_entry_older_than_max_age_is_not_served_even_before_a_prune(tmp_path: Path) -> None:
    cache = opened(tmp_path / "c.sqlite3", max_age=timedelta(hours=1))
    clock = cache._clock
    assert isinstance(clock, Clock)
    cache._put(key(1), BODY)
    clock.now += 3599
    assert cache._get(key(1)) == BODY
    clock.now += 2
    assert cache._get(key(1)) is None
    assert cache.prune() == 1
    assert cache.stats().entries == 0
    cache.close()


def test_prune_keeps_the_newest_max_entries(tmp_path: Path) -> None:
    cache = opened(tmp_path / "c.sqlite3", max_entries=5, max_age=None)
    clock = cache._clock
    assert isinstance(clock, Clock)
    # The first write prunes (nothing to do yet); the next prune is CACHE_PRUNE_EVERY away.
    for index in range(12):
        clock.now += 1
        cache._put(key(index), BODY)
    assert cache.stats().entries == 12
    assert cache.prune() == 7
    assert [cache._get(key(i)) is not None for i in range(12)] == [False] * 7 + [True] * 5
    cache.close()


def test_prune_keeps_the_newest_results_within_max_bytes(tmp_path: Path) -> None:
    size = len(BODY) + 32
    cache = opened(tmp_path / "c.sqlite3", max_bytes=3 * size + size // 2, max_age=None)
    clock = cache._clock
    assert isinstance(clock, Clock)
    for index in range(6):
        clock.now += 1
        cache._put(key(index), BODY)
    assert cache.prune() == 3
    stats = cache.stats()
    assert (stats.entries, stats.bytes) == (3, 3 * size)
    assert [cache._get(key(i)) is not None for i in range(6)] == [False] * 3 + [True] * 3
    cache.close()


def test_writes_prune_every_so_often_not_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cache, "CACHE_PRUNE_EVERY", 10)
    cache = opened(tmp_path / "c.sqlite3", max_entries=3, max_age=None)
    counts = []
    for index in range(21):
        cache._put(key(index), BODY)
        counts.append(cache.stats().entries)
    # Pruned on writes 1, 11 and 21 only.
    assert counts[:3] == [1, 2, 3]
    assert counts[9:12] == [10, 3, 4]
    assert counts[-1] == 3
    cache.close()


def test_clear_empties_the_cache_and_keeps_it_a_cache(cache: ResultCache) -> None:
    for index in range(4):
        cache._put(key(index), BODY)
    assert cache.clear() == 4
    assert cache.stats().entries == 0
    cache.close()
    reopened = ResultCache(cache.path)
    reopened._put(key(9), BODY)
    assert reopened._get(key(9)) == BODY
    reopened.close()


def test_a_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ComposoError, match="cannot create the result cache directory"):
        ResultCache(blocker / "sub" / "cache.sqlite3")


def filled(path: Path, count: int = 3000) -> None:
    with ResultCache(path) as cache:
        for index in range(count):
            cache._put(key(index), BODY + b" " * 200)


# Failures after opening: logged once, and the call goes to the network.


def test_a_write_locked_past_the_timeout_logs_a_warning_and_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResultCache(tmp_path / "c.sqlite3", timeout=0)
    cache._put(key(1), BODY)
    other = sqlite3.connect(cache.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.DEBUG, logger="composo"):
            cache._put(key(2), BODY)
            cache._put(key(3), BODY)
            # Readers never wait for a writer in WAL mode.
            assert cache._get(key(1)) == BODY
    finally:
        other.execute("ROLLBACK")
        other.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "write failed (OperationalError: database is locked)" in warnings[0].getMessage()
    assert "evaluating without the cache" in warnings[0].getMessage()
    assert cache._get(key(2)) is None
    cache._put(key(2), BODY)
    assert cache._get(key(2)) == BODY
    cache.close()


def test_a_read_that_fails_is_a_miss_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResultCache(tmp_path / "c.sqlite3", timeout=0)
    cache._put(key(1), BODY)
    cache.close()
    other = sqlite3.connect(cache.path, isolation_level=None)
    # Another process holds the file exclusively: nobody else can read it.
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("COMMIT")
    try:
        with caplog.at_level(logging.WARNING, logger="composo"):
            assert cache._get(key(1)) is None
    finally:
        other.close()
    assert "read failed (OperationalError: database is locked)" in caplog.text
    assert cache._get(key(1)) == BODY
    cache.close()


def test_damage_found_after_opening_is_a_miss_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.sqlite3"
    filled(path)
    cache = ResultCache(path)
    cache.close()
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 4096 * 64)
    with caplog.at_level(logging.WARNING, logger="composo"):
        assert all(cache._get(key(i)) is None for i in range(0, 3000, 100))
        cache._put(key(5000), BODY)
    assert "malformed" in caplog.text
    cache.close()


# Several writers at once.


def test_threads_sharing_one_cache_lose_nothing(cache: ResultCache) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(worker: int) -> None:
        try:
            start.wait()
            for index in range(100):
                number = worker * 1000 + index
                cache._put(key(number), b'{"n": %d}' % number)
                assert cache._get(key(number)) == b'{"n": %d}' % number
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.stats().entries == 800
    assert len(cache._idle) <= 8


WRITER = """
import sys
from composo import ResultCache
path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdin.readline()  # both processes start writing together
with ResultCache(path) as cache:
    for index in range(count):
        number = worker * 100_000 + index
        cache._put(number.to_bytes(32, "big"), b'{"n": %d}' % number)
        # Half the keys are written by both processes.
        shared = (10**9 + index).to_bytes(32, "big")
        cache._put(shared, b'{"shared": %d}' % index)
print("done")
"""


def test_two_processes_writing_one_new_cache_lose_and_corrupt_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "cache.sqlite3"  # neither the file nor its folder exists yet
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(worker), "300"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for worker in (1, 2)
    ]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "done"
        assert err == ""  # no warning: no write was dropped
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(connection.execute("SELECT key, body FROM results").fetchall())
    finally:
        connection.close()
    assert len(rows) == 300 * 2 + 300
    for worker in (1, 2):
        for index in range(300):
            number = worker * 100_000 + index
            assert json.loads(rows[number.to_bytes(32, "big")]) == {"n": number}
    for index in range(300):
        assert json.loads(rows[(10**9 + index).to_bytes(32, "big")]) == {"shared": index}
