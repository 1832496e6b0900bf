"""`ResultCache`: successful evaluations kept in SQLite, so a rerun pays only for what changed.

Content-addressed: the key is the SHA-256 of the request as it goes on the wire (method, path
and the exact body bytes: messages, criterion, system, tools, tags, model core, options), with
the base URL it is sent to, the API description's version (`SPEC_VERSION`) and this cache's
format version. Any change to any of them is another key, so a changed request misses and
nothing is served across servers (the mock's synthetic scores are never a real result) or API
versions. The value is the raw response body, parsed again (and checked against the API
description) on every hit.

Only successful blocking evaluations by criterion are stored (`Call.cacheable`): errors never,
background calls and saved evaluators never, other operations never.

Storage: one SQLite file in WAL mode (readers never wait for a writer), shared safely by the
threads of a process and by processes on one machine (WAL needs shared memory, so not by
machines sharing a network file system). Connections are pooled, one per concurrent user. A
file that is not a composo cache, or a damaged one, is refused when the cache is opened, with
the path and what to do (see `_cache_file.py`); a read or write that fails later (disk full,
locked past the busy timeout, damage found mid-run) logs a warning and the call goes to the
network, so no item is lost. Limits (entries, bytes, age) are applied by `prune()`, which also
runs on the first write and then every `CACHE_PRUNE_EVERY` writes; an entry older than
`max_age` is never served, pruned or not. Eviction is oldest-written first.

The client side is three calls, made in each client's `_send` (before the retry loop, so a hit
touches neither the network nor the rate limiter):

    entry = cache_entry(self.cache, self.base_url, call)   # None: not cached
    if entry is not None and (hit := entry.get()) is not None:
        return hit.value
    ...send; on success: entry.put(response.content)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Self

from composo._cache_file import (
    CACHE_FORMAT,
    adopt,
    cache_file,
    check_file,
    damaged,
)
from composo._constants import (
    CACHE_BUSY_TIMEOUT,
    CACHE_MAX_AGE,
    CACHE_MAX_BYTES,
    CACHE_MAX_ENTRIES,
    CACHE_PRUNE_EVERY,
    LOGGER_NAME,
    SPEC_VERSION,
)
from composo._exceptions import ComposoError, bad_input
from composo._models import EvaluationResponse, TraceEvaluationResponse
from composo._requests import Call, RawResponse, read_response

logger = logging.getLogger(LOGGER_NAME)

# Idle connections kept open per cache; more are closed when returned.
_MAX_IDLE = 8
# Distinct failures logged at WARNING per cache; the rest go to DEBUG.
_MAX_WARNINGS = 32


def cache_key(base_url: str, call: Call) -> bytes:
    """The SHA-256 of everything that decides a call's answer (see the module docstring).
    Each part is length-prefixed, so no two different requests share a key."""
    digest = hashlib.sha256()
    for part in (
        str(CACHE_FORMAT).encode(),
        SPEC_VERSION.encode(),
        base_url.encode(),
        call.method.encode(),
        call.path.encode(),
        call.content,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def flag_cached(value: Any) -> Any:
    """Mark a result read from the cache (`from_cache=True`), trace results' per-instance
    results included; returns it."""
    if isinstance(value, EvaluationResponse):
        value.from_cache = True
    elif isinstance(value, TraceEvaluationResponse):
        value.from_cache = True
        for agent in value.results_by_agent_name.additional_properties.values():
            for result in agent.results_by_agent_instance_id.additional_properties.values():
                if isinstance(result, EvaluationResponse):
                    result.from_cache = True
    return value


def _seconds(max_age: object) -> float | None:
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        max_age = max_age.total_seconds()
    if (
        isinstance(max_age, bool)
        or not isinstance(max_age, int | float)
        or not math.isfinite(max_age)
        or max_age <= 0
    ):
        raise bad_input(
            f"max_age must be a positive number of seconds, a timedelta or None, got {max_age!r}"
        )
    return float(max_age)


def _timeout(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise bad_input(f"timeout must be a number of seconds, 0 or more, got {value!r}")
    return float(value)


def _limit(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_input(f"{name} must be a positive int or None, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What a cache holds.

    Attributes:
        path: The cache file.
        entries: Results stored.
        bytes: Their size (response bodies and keys).
        file_bytes: The size of the file on disk, its write-ahead log included.
        oldest: When the oldest entry was written (UTC), None when empty.
        newest: When the newest entry was written (UTC), None when empty.
    """

    path: Path
    entries: int
    bytes: int
    file_bytes: int
    oldest: datetime | None
    newest: datetime | None


class Hit(NamedTuple):
    """A cached result, parsed and flagged `from_cache`."""

    value: Any


class ResultCache:
    """A cache of successful evaluations in one SQLite file, shareable by clients, threads and
    processes on one machine. Pass it (or `True`, or a path) as `Composo(cache=...)` or
    `AsyncComposo(cache=...)`.

    Opening checks the file (creating it and its directory if needed); `close()` releases its
    connections, and using the cache again reopens them.

    Args:
        path: The cache file, or a directory to hold `results.sqlite3`; default the user cache
            directory (`$COMPOSO_CACHE_DIR`, else `~/.cache/composo` on Linux,
            `~/Library/Caches/composo` on macOS, `%LOCALAPPDATA%\\composo\\Cache` on Windows).
        max_entries: The most results kept (oldest written are removed first); None: no limit.
        max_bytes: The most bytes of results kept; None: no limit.
        max_age: Seconds (or a `timedelta`) after which a result is no longer served and is
            removed; None: results never expire.
        timeout: Seconds a read or write waits for another process's lock before the call goes
            to the network without the cache.

    Raises:
        ComposoError: The file is not a composo cache, is damaged, or cannot be created; the
            message names the path and what to do. Nothing is deleted.
        MalformedError: A limit is not a positive number.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_entries: int | None = CACHE_MAX_ENTRIES,
        max_bytes: int | None = CACHE_MAX_BYTES,
        max_age: float | timedelta | None = CACHE_MAX_AGE,
        timeout: float = CACHE_BUSY_TIMEOUT,
    ) -> None:
        self.max_entries = _limit("max_entries", max_entries)
        self.max_bytes = _limit("max_bytes", max_bytes)
        self.max_age = _seconds(max_age)
        self.timeout = _timeout(timeout)
        self.path = Path(os.path.abspath(cache_file(path)))
        # Wall-clock time: entries outlive the process (tests replace it).
        self._clock: Callable[[], float] = time.time
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._writes = 0
        self._warned: set[tuple[str, str]] = set()
        # A cache dropped without close() still closes its connections (the list is never
        # replaced, only emptied, so the finalizer sees what is idle at the end).
        weakref.finalize(self, _close_idle, self._lock, self._idle)
        self._open()

    def __repr__(self) -> str:
        return (
            f"ResultCache(path={str(self.path)!r}, max_entries={self.max_entries}, "
            f"max_bytes={self.max_bytes}, max_age={self.max_age})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections (those in use close when released); a later use reopens."""
        _close_idle(self._lock, self._idle)

    def stats(self) -> CacheStats:
        """Count what the cache holds.

        Raises:
            ComposoError: The cache cannot be read.
        """
        with self._maintenance("read the statistics of") as conn:
            entries, size, oldest, newest = conn.execute(
                "SELECT count(*), coalesce(sum(size), 0), min(created), max(created) FROM results"
            ).fetchone()
        file_bytes = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                file_bytes += os.stat(f"{self.path}{suffix}").st_size
        return CacheStats(self.path, entries, size, file_bytes, _utc(oldest), _utc(newest))

    def prune(self) -> int:
        """Remove expired results, then the oldest until the entry and byte limits hold.

        Returns:
            The number of results removed.

        Raises:
            ComposoError: The cache cannot be written.
        """
        with self._maintenance("prune") as conn:
            return self._prune(conn)

    def clear(self) -> int:
        """Remove every result (the file stays, still marked as a composo cache).

        Returns:
            The number of results removed.

        Raises:
            ComposoError: The cache cannot be written.
        """
        with self._maintenance("clear") as conn:
            conn.execute("BEGIN IMMEDIATE")
            removed = conn.execute("DELETE FROM results").rowcount
            conn.execute("COMMIT")
            conn.execute("PRAGMA incremental_vacuum")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return int(removed)

    # What the clients use, through `CacheEntry`: failures are logged, never raised.

    def _get(self, key: bytes) -> bytes | None:
        cutoff = -math.inf if self.max_age is None else self._clock() - self.max_age
        try:
            with self._connection() as conn:
                row = conn.execute(
                    "SELECT body FROM results WHERE key = ? AND created >= ?", (key, cutoff)
                ).fetchone()
        except sqlite3.Error as exc:
            self._failed("read", exc)
            return None
        return None if row is None else bytes(row[0])

    def _put(self, key: bytes, body: bytes) -> None:
        try:
            with self._connection() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO results (key, body, created, size) VALUES (?, ?, ?, ?)",
                    (key, body, self._clock(), len(body) + len(key)),
                )
        except sqlite3.Error as exc:
            self._failed("write", exc)
            return
        with self._lock:
            due = self._writes % CACHE_PRUNE_EVERY == 0  # the first write, then every Nth
            self._writes += 1
        if due:
            try:
                with self._connection() as conn:
                    self._prune(conn)
            except sqlite3.Error as exc:
                self._failed("prune", exc)

    # Internals.

    def _open(self) -> None:
        """Check or create the file (`check_file`, then `adopt`: see `_cache_file.py`)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ComposoError(
                f"cannot create the result cache directory {self.path.parent}: "
                f"{exc.strerror or exc}; pass another cache path"
            ) from exc
        check_file(self.path)
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        try:
            adopt(conn, self.path)
        except sqlite3.Error as exc:
            conn.close()
            raise self._unreadable(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._release(conn)

    def _unreadable(self, exc: sqlite3.Error) -> ComposoError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
            return ComposoError(
                f"the result cache {self.path} stayed locked by another process for "
                f"{self.timeout:g} s ({text}); try again, or pass another cache path"
            )
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return damaged(self.path, text)
        return ComposoError(f"cannot open the result cache {self.path}: {text}")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # In WAL mode NORMAL cannot corrupt the file; a crash may lose the last writes,
            # which for a cache only means paying for them again.
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection; one that failed is closed rather than reused."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._release(conn)

    @contextlib.contextmanager
    def _maintenance(self, what: str) -> Iterator[sqlite3.Connection]:
        """A connection for a command the user asked for: failures raise, with the path."""
        try:
            with self._connection() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise ComposoError(f"could not {what} the result cache {self.path}: {exc}") from exc

    def _prune(self, conn: sqlite3.Connection) -> int:
        removed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self.max_age is not None:
                removed += conn.execute(
                    "DELETE FROM results WHERE created < ?", (self._clock() - self.max_age,)
                ).rowcount
            if self.max_entries is not None:
                removed += conn.execute(
                    "DELETE FROM results WHERE rowid IN (SELECT rowid FROM results "
                    "ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (self.max_entries,),
                ).rowcount
            if self.max_bytes is not None:
                removed += conn.execute(
                    "DELETE FROM results WHERE rowid IN (SELECT rowid FROM (SELECT rowid, "
                    "sum(size) OVER (ORDER BY created DESC, rowid DESC) AS kept FROM results) "
                    "WHERE kept > ?)",
                    (self.max_bytes,),
                ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        if removed:
            conn.execute("PRAGMA incremental_vacuum")
        return removed

    def _failed(self, what: str, exc: sqlite3.Error) -> None:
        """Log a failed read or write: a warning the first time this failure is seen."""
        seen = (what, f"{type(exc).__name__}: {exc}")
        with self._lock:
            new = seen not in self._warned and len(self._warned) < _MAX_WARNINGS
            self._warned.add(seen)
        log = logger.warning if new else logger.debug
        log(
            "result cache %s: %s failed (%s); evaluating without the cache",
            self.path,
            what,
            seen[1],
        )


def _close_idle(lock: threading.Lock, idle: list[sqlite3.Connection]) -> None:
    with lock:
        connections = list(idle)
        idle.clear()
    for conn in connections:
        conn.close()


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cacheable call's place in a cache: look it up before sending, store its answer."""

    cache: ResultCache
    key: bytes
    call: Call

    def get(self) -> Hit | None:
        """The cached result, or None (not cached, expired, unreadable: then send the call)."""
        body = self.cache._get(self.key)
        if body is None:
            return None
        try:
            value = read_response(self.call, RawResponse(200, {}, body))
        except ComposoError as exc:
            # Stored by a build that parsed differently; the fresh answer will replace it.
            logger.debug("result cache %s: ignoring an entry that no longer parses: %s",
                         self.cache.path, exc)  # fmt: skip
            return None
        return Hit(flag_cached(value))

    def put(self, body: bytes) -> None:
        """Store a successful call's raw response body."""
        self.cache._put(self.key, body)


def cache_entry(cache: ResultCache | None, base_url: str, call: Call) -> CacheEntry | None:
    """The call's cache entry, or None when there is no cache or the call is never cached."""
    if cache is None or not call.cacheable:
        return None
    return CacheEntry(cache, cache_key(base_url, call), call)


def resolve_cache(cache: object) -> tuple[ResultCache | None, bool]:
    """A client's `cache=` argument as (the cache or None, whether the client owns it and so
    closes it): None or False is no cache, True the default one, a path a cache there.

    Raises:
        ComposoError: The file is not a usable cache (see `ResultCache`).
        MalformedError: Any other kind of value.
    """
    if cache is None or cache is False:
        return None, False
    if isinstance(cache, ResultCache):
        return cache, False
    if cache is True:
        return ResultCache(), True
    if isinstance(cache, str | os.PathLike):
        return ResultCache(cache), True
    raise bad_input(
        f"cache must be None, True, a path or a composo.ResultCache, got {type(cache).__name__}"
    )


def open_existing(path: str | os.PathLike[str] | None) -> ResultCache | None:
    """The cache at `path` (default: the default one) if its file exists, else None: for
    commands that must not create a cache where there is none.

    Raises:
        ComposoError: The file is not a usable cache.
    """
    if not cache_file(path).exists():
        return None
    return ResultCache(path)


__all__ = [
    "CacheEntry",
    "CacheStats",
    "Hit",
    "ResultCache",
    "cache_entry",
    "cache_key",
    "flag_cached",
    "open_existing",
    "resolve_cache",
]
