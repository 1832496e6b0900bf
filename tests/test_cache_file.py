"""`composo._cache_file`: the default path, and which files may be a cache: others are refused
untouched, damaged ones refused with what to do, and only those deleted by `remove_damaged`."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from composo import ComposoError, ResultCache
from composo._cache_file import (
    APPLICATION_ID,
    CACHE_FILE,
    CACHE_FORMAT,
    MARKER_TABLE,
    CacheDamagedError,
    cache_file,
    default_cache_dir,
    header_problem,
    remove_damaged,
)

BODY = b'{"score":0.75,"explanation":"States 30 days."}'


def key(index: int) -> bytes:
    return index.to_bytes(32, "big")


# The default path.


def test_default_dir_follows_the_platform_conventions(tmp_path: Path) -> None:
    home = tmp_path
    assert default_cache_dir({}, "linux", home) == home / ".cache" / "composo"
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}, "linux", home) == Path("/xdg/composo")
    # A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
    assert default_cache_dir({"XDG_CACHE_HOME": "rel"}, "linux", home) == home / ".cache/composo"
    assert default_cache_dir({}, "darwin", home) == home / "Library" / "Caches" / "composo"
    windows = default_cache_dir({"LOCALAPPDATA": str(tmp_path / "L")}, "win32", home)
    assert windows == tmp_path / "L" / "composo" / "Cache"
    assert default_cache_dir({}, "win32", home) == home / "AppData/Local/composo/Cache"
    for platform in ("linux", "darwin", "win32"):
        chosen = default_cache_dir({"COMPOSO_CACHE_DIR": "/shared/c"}, platform, home)
        assert chosen == Path("/shared/c")


def test_a_directory_holds_the_cache_file_and_a_file_path_is_the_file(tmp_path: Path) -> None:
    assert cache_file(tmp_path) == tmp_path / CACHE_FILE
    assert cache_file(f"{tmp_path / 'new'}/") == tmp_path / "new" / CACHE_FILE
    assert cache_file(tmp_path / "mine.db") == tmp_path / "mine.db"
    assert cache_file(None) == Path(os.environ["COMPOSO_CACHE_DIR"]) / CACHE_FILE


# A composo cache, and files that are not one (or a damaged one): refused, never changed.


def test_the_file_is_marked_as_a_composo_cache(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache.sqlite3")
    cache.close()
    header = cache.path.read_bytes()[:100]
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
    connection = sqlite3.connect(cache.path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        marker = dict(connection.execute(f"SELECT name, value FROM {MARKER_TABLE}").fetchall())
    finally:
        connection.close()
    assert marker["format"] == str(CACHE_FORMAT)


def refused(path: Path) -> ComposoError:
    before = path.read_bytes()
    with pytest.raises(ComposoError) as caught:
        ResultCache(path)
    assert path.read_bytes() == before
    assert str(path) in str(caught.value)
    return caught.value


def test_garbage_bytes_are_refused_with_the_path_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"\x00\xff" * 3000)
    error = refused(path)
    assert "is not a composo result cache (it is not a SQLite database)" in str(error)
    assert "Pass another cache path" in str(error)
    assert not isinstance(error, CacheDamagedError)


def test_a_text_file_given_by_mistake_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": 1, "score": 0.5}\n')
    assert "not a SQLite database" in str(refused(path))


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE users (name TEXT)")
    connection.execute("INSERT INTO users VALUES ('ada')")
    connection.commit()
    connection.close()
    error = refused(path)
    assert "SQLite database of other tables: users" in str(error)
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert connection.execute("SELECT name FROM users").fetchall() == [("ada",)]
    finally:
        connection.close()


def test_an_empty_sqlite_database_becomes_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    path.write_bytes(b"")
    with ResultCache(path) as cache:
        cache._put(key(1), BODY)
        assert cache._get(key(1)) == BODY


def filled(path: Path, count: int = 3000) -> None:
    with ResultCache(path) as cache:
        for index in range(count):
            cache._put(key(index), BODY + b" " * 200)
    # The last connection closed: the log is folded into the file.
    assert not Path(f"{path}-wal").exists()


def test_a_truncated_cache_is_refused_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    filled(path)
    os.truncate(path, path.stat().st_size // 2)
    error = refused(path)
    assert isinstance(error, CacheDamagedError)
    assert "is damaged (truncated" in str(error)
    assert f"composo cache clear --path {path}" in str(error)


def test_a_cache_cut_inside_its_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    filled(path, 10)
    os.truncate(path, 50)
    assert "shorter than a SQLite header" in str(refused(path))


def test_a_cache_with_damaged_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    filled(path)
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 4096 * 8)
    error = refused(path)
    assert isinstance(error, CacheDamagedError)
    assert "malformed" in str(error)


def test_a_cache_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    ResultCache(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"UPDATE {MARKER_TABLE} SET value = '99' WHERE name = 'format'")
    connection.commit()
    connection.close()
    error = refused(path)
    assert isinstance(error, CacheDamagedError)
    assert "has format 99, and this version of composo reads format 1" in str(error)


def test_header_problem_reads_only_the_first_bytes() -> None:
    assert header_problem(b"", 0) is None
    assert header_problem(b"PK\x03\x04", 4000) == ("foreign", "it is not a SQLite database")
    assert header_problem(b"SQLite format 3\x00", 16)[0] == "damaged"  # type: ignore[index]


def test_remove_damaged_deletes_only_composo_files(tmp_path: Path) -> None:
    ours = tmp_path / "ours.sqlite3"
    filled(ours, 10)
    os.truncate(ours, 2000)
    assert remove_damaged(ours) == ours
    assert not ours.exists()
    theirs = tmp_path / "theirs.db"
    connection = sqlite3.connect(theirs)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    assert remove_damaged(theirs) is None
    assert theirs.exists()
