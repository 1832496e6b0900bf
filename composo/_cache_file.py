"""Where a result cache lives and what its file may be, for `_cache.ResultCache`.

The default directory follows the platform (`platformdirs`'s choice, without depending on it).
A cache is a SQLite file that carries SQLite's application id for composo and a marker table
holding its format version. A file is checked before SQLite writes to it: one that is not
SQLite, or another program's database, is refused untouched; a damaged composo cache (cut
short, unreadable, another format) is refused with how to start it afresh, and only such a file
may be deleted (`remove_damaged`, behind `composo cache clear`). An empty file or database is
made a cache, even by several processes at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from composo._constants import CACHE_DIR_ENV
from composo._exceptions import ComposoError, bad_input

# Bumped whenever what is stored, or how a key is made, changes: old entries then miss.
CACHE_FORMAT: Final = 1
# The file name inside a cache directory.
CACHE_FILE: Final = "results.sqlite3"
# SQLite's header field for "which application owns this file" (`PRAGMA application_id`):
# "Cmpo". `clear` and `remove_damaged` touch only files that carry it.
APPLICATION_ID: Final = 0x436D706F
# The marker table: present in every composo cache, holding the format version.
MARKER_TABLE: Final = "composo_cache"

_MAGIC = b"SQLite format 3\x00"
_HEADER = 100
# Times a header that looks truncated is read again: a checkpoint in another process writes
# page 1 (with the new page count) before the pages that extend the file.
_HEADER_RETRIES = 3
_HEADER_RETRY_WAIT = 0.05
# `created` is the Unix time the entry was written; `size` its body and key in bytes. The
# index serves expiry, eviction (oldest first) and the byte count without reading bodies.
_SCHEMA = (
    f"CREATE TABLE {MARKER_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE results (key BLOB PRIMARY KEY, body BLOB NOT NULL, created REAL NOT NULL, "
    "size INTEGER NOT NULL)",
    "CREATE INDEX results_by_age ON results (created, size)",
)


def default_cache_dir(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path:
    """The directory of the default cache: `$COMPOSO_CACHE_DIR`, else the user cache directory
    (`platformdirs`'s choice): `$XDG_CACHE_HOME/composo` or `~/.cache/composo` on Linux and
    other Unixes, `~/Library/Caches/composo` on macOS, `%LOCALAPPDATA%\\composo\\Cache` on
    Windows."""
    env = os.environ if environ is None else environ
    where = sys.platform if platform is None else platform
    base = Path.home() if home is None else home
    configured = env.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    if where == "darwin":
        return base / "Library" / "Caches" / "composo"
    if where.startswith("win"):
        local = env.get("LOCALAPPDATA", "").strip()
        return (Path(local) if local else base / "AppData" / "Local") / "composo" / "Cache"
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec ignores a relative XDG_CACHE_HOME.
    root = Path(xdg) if xdg and os.path.isabs(xdg) else base / ".cache"
    return root / "composo"


def cache_file(path: str | os.PathLike[str] | None) -> Path:
    """The cache file for a path given by the user: a directory (existing, or written with a
    trailing separator) holds `results.sqlite3`; anything else is the file itself; None is
    the default directory's file."""
    if path is None:
        return default_cache_dir() / CACHE_FILE
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise bad_input(f"the cache path must be a non-empty path, got {path!r}")
    chosen = Path(text).expanduser()
    if chosen.is_dir() or text.endswith(("/", os.sep)):
        return chosen / CACHE_FILE
    return chosen


class CacheDamagedError(ComposoError):
    """A composo cache that cannot be used as it is: damaged, or of another format. Only
    these may be deleted by `composo cache clear`; `reason` says what is wrong."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _not_a_cache(path: Path, why: str) -> ComposoError:
    return ComposoError(
        f"{path} is not a composo result cache ({why}); it was left untouched. Pass another "
        "cache path, or delete the file yourself if you do not need it"
    )


def damaged(path: Path, why: str) -> CacheDamagedError:
    """The error for a damaged composo cache at `path`, saying what to do."""
    return CacheDamagedError(
        f"the composo result cache {path} is damaged ({why}); run `composo cache clear --path "
        f"{path}` to start it afresh (only cached results are lost), or pass another cache path",
        reason=f"damaged: {why}",
    )


def read_header(path: Path) -> tuple[bytes, int]:
    """The file's first 100 bytes and its size; (b"", 0) when there is no file yet."""
    try:
        with path.open("rb") as f:
            header = f.read(_HEADER)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return b"", 0
    except IsADirectoryError:
        raise _not_a_cache(path, "it is a directory") from None
    except OSError as exc:
        raise ComposoError(f"cannot read the result cache {path}: {exc.strerror or exc}") from exc
    return header, size


def header_problem(header: bytes, size: int) -> tuple[str, str] | None:
    """What is wrong with a would-be cache file from its first bytes and its size, before
    SQLite opens it: None when it may be a cache (no file, an empty file, a SQLite database
    not cut short), else ("foreign" | "damaged", why)."""
    if size == 0:
        return None
    if not header.startswith(_MAGIC):
        return "foreign", "it is not a SQLite database"
    if len(header) < _HEADER:
        return "damaged", f"it is {size} bytes long, shorter than a SQLite header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if is_ours(header) and page_size and pages and size < page_size * pages:
        return "damaged", f"truncated: {size} bytes, where its header says {page_size * pages}"
    return None


def is_ours(header: bytes) -> bool:
    """Whether a SQLite header carries composo's application id."""
    return len(header) >= 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that cannot be a cache (see `header_problem`)."""
    problem = None
    for attempt in range(_HEADER_RETRIES):
        problem = header_problem(*read_header(path))
        if problem is None or problem[0] == "foreign":
            break
        if attempt + 1 < _HEADER_RETRIES:
            time.sleep(_HEADER_RETRY_WAIT)
    if problem is not None:
        kind, why = problem
        raise (_not_a_cache if kind == "foreign" else damaged)(path, why)


def adopt(conn: sqlite3.Connection, path: Path) -> None:
    """Check that the database is a composo cache of this format, making one of an empty
    database; the journal mode is changed only once the file is known to be ours."""
    tables = _tables(conn)
    if MARKER_TABLE not in tables:
        if tables:
            shown = ", ".join(sorted(tables)[:5])
            raise _not_a_cache(path, f"it is a SQLite database of other tables: {shown}")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise _not_a_cache(path, f"it belongs to another application (id {app_id:#x})")
        _create(conn, path)
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    row = conn.execute(f"SELECT value FROM {MARKER_TABLE} WHERE name = 'format'").fetchone()
    if row is None or row[0] != str(CACHE_FORMAT):
        found = "no format" if row is None else f"format {row[0]}"
        raise CacheDamagedError(
            f"the result cache {path} has {found}, and this version of composo reads format "
            f"{CACHE_FORMAT}; pass another cache path, or run `composo cache clear --path "
            f"{path}` to empty it",
            reason=f"{found}, not {CACHE_FORMAT}",
        )


def _create(conn: sqlite3.Connection, path: Path) -> None:
    """Make the cache's tables in an empty database (another process may be doing the same)."""
    # Only effective before the first table exists: lets prune and clear give space back.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = _tables(conn)
        if MARKER_TABLE not in tables:
            if tables:
                raise _not_a_cache(path, "another program made tables in it meanwhile")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.executemany(
                f"INSERT INTO {MARKER_TABLE} (name, value) VALUES (?, ?)",
                [
                    ("format", str(CACHE_FORMAT)),
                    ("created", datetime.now(UTC).isoformat(timespec="seconds")),
                ],
            )
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    # Puts the application id into the main file now rather than at the first automatic
    # checkpoint, so that `remove_damaged` recognises the file even if it is damaged later.
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def remove_damaged(path: str | os.PathLike[str] | None) -> Path | None:
    """Delete a damaged cache file (and its -wal and -shm files), only if its header carries
    composo's application id; returns the path deleted, or None if it is not ours."""
    target = cache_file(path)
    header, _ = read_header(target)
    if not header.startswith(_MAGIC) or not is_ours(header):
        return None
    for suffix in ("-wal", "-shm", ""):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{target}{suffix}")
    return target


__all__ = [
    "APPLICATION_ID",
    "CACHE_FILE",
    "CACHE_FORMAT",
    "MARKER_TABLE",
    "CacheDamagedError",
    "adopt",
    "cache_file",
    "check_file",
    "damaged",
    "default_cache_dir",
    "header_problem",
    "is_ours",
    "read_header",
    "remove_damaged",
]
