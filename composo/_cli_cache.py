"""`composo cache stats | prune | clear [--path P]`: look after a result cache.

`stats` and `prune` never create a cache where there is none. `clear` empties a composo cache
and keeps its file; it deletes a file only when the file is a damaged composo cache (its SQLite
header carries composo's application id), and never touches any other file.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import datetime

from composo._cache import ResultCache, open_existing
from composo._cache_file import (
    CACHE_FILE,
    CacheDamagedError,
    cache_file,
    default_cache_dir,
    remove_damaged,
)
from composo._constants import (
    CACHE_DIR_ENV,
    CACHE_MAX_AGE,
    CACHE_MAX_BYTES,
    CACHE_MAX_ENTRIES,
)
from composo._exceptions import ComposoError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class UsageError(Exception):
    """Bad usage of the command: printed as one line, exit code 2."""


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", text.lower())
    if match is None or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 2G, got {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30d or 12h, got {text!r}")
    return float(match[1]) * _DURATIONS[match[2] or "s"]


def _count(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `composo cache`."""
    parser = argparse.ArgumentParser(
        prog="composo cache",
        allow_abbrev=False,
        description=(
            "Look after the result cache of `composo evaluate` and of clients made with "
            f"cache=True. Default path: ${CACHE_DIR_ENV}/{CACHE_FILE}, else the user cache "
            f"directory's (here: {default_cache_dir() / CACHE_FILE})."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    path_help = "the cache file, or a directory holding results.sqlite3 (default: see above)"
    stats = commands.add_parser("stats", help="entries, bytes, oldest and newest, path")
    prune = commands.add_parser("prune", help="remove expired results, then the oldest")
    clear = commands.add_parser("clear", help="remove every result")
    for command in (stats, prune, clear):
        command.add_argument("--path", help=path_help)
    prune.add_argument(
        "--max-entries",
        type=_count,
        default=CACHE_MAX_ENTRIES,
        help=f"results to keep at most ({CACHE_MAX_ENTRIES})",
    )
    prune.add_argument(
        "--max-bytes",
        type=_size,
        default=CACHE_MAX_BYTES,
        metavar="SIZE",
        help=f"bytes of results to keep at most, e.g. 500M ({_human(CACHE_MAX_BYTES)})",
    )
    prune.add_argument(
        "--max-age",
        type=_duration,
        default=CACHE_MAX_AGE,
        metavar="DURATION",
        help=f"remove results older than this, e.g. 7d or 12h ({_days(CACHE_MAX_AGE)})",
    )
    return parser


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def stats_text(cache: ResultCache) -> str:
    """What `composo cache stats` prints."""
    stats = cache.stats()
    limits = ", ".join(
        [
            "no entry limit" if cache.max_entries is None else f"{cache.max_entries} entries",
            "no size limit" if cache.max_bytes is None else _human(cache.max_bytes),
            "no age limit" if cache.max_age is None else _days(cache.max_age),
        ]
    )
    return "\n".join(
        [
            f"path:     {stats.path}",
            f"entries:  {stats.entries}",
            f"bytes:    {stats.bytes} ({_human(stats.bytes)}; the file takes "
            f"{_human(stats.file_bytes)})",
            f"oldest:   {_when(stats.oldest)}",
            f"newest:   {_when(stats.newest)}",
            f"limits:   {limits} (the defaults; `composo cache prune` applies them)",
        ]
    )


def run(argv: Sequence[str]) -> int:
    """`composo cache ARGS`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    path = args.path
    try:
        if args.command == "clear":
            return _clear(path)
        cache = open_existing(path)
        if cache is None:
            print(f"composo cache: no result cache at {cache_file(path)}")
            return EXIT_OK
        with cache:
            if args.command == "stats":
                print(stats_text(cache))
                return EXIT_OK
            cache.max_entries, cache.max_bytes = args.max_entries, args.max_bytes
            cache.max_age = args.max_age
            removed = cache.prune()
            left = cache.stats()
            print(
                f"composo cache: removed {removed} result(s) from {cache.path}; "
                f"{left.entries} left ({_human(left.bytes)})"
            )
            return EXIT_OK
    except ComposoError as exc:
        print(f"composo cache: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _clear(path: str | None) -> int:
    target = cache_file(path)
    if not target.exists():
        print(f"composo cache: no result cache at {target}")
        return EXIT_OK
    try:
        cache = ResultCache(path)
    except CacheDamagedError as exc:
        removed = remove_damaged(path)
        if removed is None:
            # Not recognisably ours (its header is gone): never deleted.
            print(f"composo cache: {exc}; delete it yourself", file=sys.stderr)
            return EXIT_FAILED
        print(
            f"composo cache: deleted the result cache {removed}, which could not be used "
            f"({exc.reason}); a new one is made when next used"
        )
        return EXIT_OK
    with cache:
        removed_count = cache.clear()
    print(f"composo cache: removed {removed_count} result(s) from {cache.path}")
    return EXIT_OK
