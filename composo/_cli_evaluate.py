"""`composo evaluate`: score a JSONL file of conversations against criteria, resumably.

Each input line is `{"id"?, "messages", "system"?, "tools"?, "tags"?}`. Each output line is one
(line, criterion) pair with its score and explanation or its error, written as results arrive,
so a crash or Ctrl-C loses nothing already scored. When the run completes, the output is
rewritten in input order, so an interrupted-and-resumed run ends with the same file as an
uninterrupted one.

Successful results are kept in the result cache (the default one, `--cache PATH`, or none with
`--no-cache`; none by default with `--mock`), so a rerun pays only for the pairs that changed;
the summary says how many pairs the cache answered.

Nothing the user gave is ever destroyed: an output path that is one of the inputs (the same
file, through a symlink, a hard link or another relative path) is refused before anything is
opened for writing, and every setting is checked before the output is touched.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composo._batch import (
    BatchProgress,
    BatchResult,
    BatchSpec,
    batch_spec,
    format_summary_table,
    summary_rows,
)
from composo._cache_file import cache_file
from composo._constants import API_KEY_ENV
from composo._exceptions import ComposoError, MalformedError
from composo._progress import Display, LogLines, TerminalBar, rate_limit_text

if TYPE_CHECKING:
    from composo._async_client import AsyncComposo

# Exit codes: every pair scored; some pair failed or a line was malformed; bad usage; Ctrl-C.
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Retries per pair: a batch is long-running and unattended, so it rides out more than a blip.
DEFAULT_BATCH_RETRIES = 3
# Seconds per pair, every attempt included; a pair's clock starts when its first request goes
# out, so waiting in line for the rate limiter does not count.
DEFAULT_PAIR_TIMEOUT = 120.0
# Failures described one by one on stderr before the rest are only counted.
_REPORTED_FAILURES = 10
# Options that would put a secret on the command line, refused without echoing their value.
_SECRET_OPTIONS = ("--api-key", "--key", "--token")

_BOM = "\ufeff"


class UsageError(Exception):
    """Bad usage of the command: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `composo evaluate`."""
    parser = argparse.ArgumentParser(
        prog="composo evaluate",
        # No abbreviations: `--api-key` must not quietly mean `--api-key-file`.
        allow_abbrev=False,
        description=(
            "Score every conversation of a JSONL file against one or more criteria. The API "
            f"key comes from {API_KEY_ENV} or --api-key-file (never from the command line)."
        ),
    )
    parser.add_argument("input", type=Path, help="JSONL file, one conversation per line")
    parser.add_argument(
        "--criteria",
        action="append",
        default=[],
        metavar="TEXT",
        help="a criterion ('Reward ...', 'Penalize ...', 'Passes if ...', 'Fails if ...'); "
        "repeat for several",
    )
    parser.add_argument(
        "--criteria-file",
        type=Path,
        help="a file with one criterion per line (blank lines and lines starting with # skipped)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where results go, one JSON line per (item, criterion); default INPUT.results.jsonl",
    )
    parser.add_argument("--concurrency", type=int, default=5, help="requests in flight (5)")
    parser.add_argument(
        "--requests-per-second",
        type=float,
        metavar="N",
        help="your account's quota, if you know it: pace requests at N per second from the "
        "start (otherwise the rate is found from the service's 429 answers)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the pairs already scored in --output and evaluate only the rest",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --output if it already holds results"
    )
    parser.add_argument(
        "--mock",
        action="store_true",
        help="start the local mock server in-process and evaluate against it (synthetic "
        "scores, no API key needed)",
    )
    parser.add_argument("--api-key-file", type=Path, help="read the API key from this file")
    parser.add_argument("--base-url", help="the API's URL (default: COMPOSO_BASE_URL or prod)")
    parser.add_argument("--model-core", help="the evaluation model core")
    parser.add_argument(
        "--retries", type=int, default=DEFAULT_BATCH_RETRIES, help="retries per pair (3)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_PAIR_TIMEOUT,
        help="seconds per pair, every attempt included (120)",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="keep successful results in a cache and answer repeated pairs from it without a "
        "request: the default cache (see composo cache -h), or the one at PATH. On by "
        "default, except with --mock",
    )
    cache.add_argument(
        "--no-cache", action="store_true", help="neither read nor fill the result cache"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the arguments without ever echoing one that may be a secret.

    Raises:
        UsageError: A secret-bearing option, or arguments the command does not take.
    """
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name in _SECRET_OPTIONS:
            raise UsageError(
                f"{name} is not accepted: a key on the command line shows in your shell "
                f"history and in the process list; set {API_KEY_ENV} or use --api-key-file"
            )
    args, extra = build_parser().parse_known_args(argv)
    _check_numbers(args)
    if extra:
        options = sorted({arg.split("=", 1)[0] for arg in extra if arg.startswith("-")})
        others = sum(1 for arg in extra if not arg.startswith("-"))
        parts = [f"unrecognized option(s) {', '.join(options)}"] if options else []
        if others:
            parts.append(f"{others} unexpected argument(s) (not shown, in case one is a secret)")
        raise UsageError("; ".join(parts) + " (see composo evaluate -h)")
    return args


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse numeric options out of range, naming the option as the user typed it."""
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {args.retries}")
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    rps = args.requests_per_second
    if rps is not None and (not math.isfinite(rps) or rps <= 0):
        raise UsageError(f"--requests-per-second must be a positive number, got {rps}")


def _read_text(path: Path, what: str, *, secret: bool = False) -> str:
    """A small text file the user named, as UTF-8 (a leading BOM dropped).

    Args:
        secret: The file holds a secret: a name that cannot be read is not shown, since it may
            be the secret itself, given where its file name belongs.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        name = "(its name is not shown, in case it is the key itself)" if secret else path
        raise UsageError(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None


def _read_criteria(args: argparse.Namespace) -> list[str]:
    criteria = list(args.criteria)
    if args.criteria_file is not None:
        for line in _read_text(args.criteria_file, "--criteria-file").splitlines():
            text = line.strip()
            if text and not text.startswith("#"):
                criteria.append(text)
    if not criteria:
        raise UsageError("give at least one --criteria or a --criteria-file")
    return criteria


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_file is not None:
        path: Path = args.api_key_file
        key = _read_text(path, "--api-key-file", secret=True).strip()
        if not key:
            raise UsageError(f"{path} is empty; it should hold the API key")
        return key
    return os.environ.get(API_KEY_ENV)


def _cache_setting(args: argparse.Namespace) -> bool | str:
    """`cache=` for the client: the path given, else the default cache, except with --no-cache
    or --mock (the in-process mock listens on a new port each run, and results are cached per
    server, so its entries could never be read again)."""
    if args.no_cache:
        return False
    if args.cache is not None:
        return args.cache  # type: ignore[no-any-return]
    return not args.mock


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once resolved (symlinks, `..`, relative
    paths), or two names of one inode (hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _output_path(args: argparse.Namespace) -> Path:
    """The output file, checked before anything is written.

    Raises:
        UsageError: It is one of the input files, a directory, a device or a pipe, or in a
            directory that does not exist.
    """
    source: Path = args.input
    output: Path = args.output or source.with_name(source.stem + ".results.jsonl")
    inputs = [("the input file", source)]
    if args.criteria_file is not None:
        inputs.append(("--criteria-file", args.criteria_file))
    if args.api_key_file is not None:
        inputs.append(("--api-key-file", args.api_key_file))
    for what, path in inputs:
        if isinstance(args.cache, str) and _same_file(cache_file(args.cache), path):
            raise UsageError(
                f"--cache {args.cache} is {what}; a cache there would destroy it: choose "
                "another --cache"
            )
        if _same_file(output, path):
            raise UsageError(
                f"--output {output} is {what}; writing results there would destroy it: choose "
                "another --output"
            )
    if isinstance(args.cache, str) and _same_file(cache_file(args.cache), output):
        raise UsageError(f"--cache {args.cache} is the --output file; choose another --cache")
    if output.is_dir():
        raise UsageError(f"--output {output} is a directory; name a file")
    if output.exists() and not output.is_file():
        # A device or a pipe (/dev/null, /dev/stdout): the run replaces its output file, which
        # would delete the device (as root) or the pipe.
        raise UsageError(
            f"--output {output} is not a regular file (a device or a pipe); name a file"
        )
    parent = output.parent
    if not parent.is_dir():
        raise UsageError(f"--output {output}: the directory {parent} does not exist")
    return output


class _Input:
    """The input file's items, read lazily; remembers each item's line number compactly.

    Lines are read as bytes and decoded one by one, so a line that is not UTF-8, not JSON or
    not an object becomes that line's error record and the lines after it are still read. A
    UTF-8 byte order mark at the start of a line is dropped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = array.array("q")

    def count(self) -> int:
        with self.path.open("rb") as f:
            return sum(1 for line in f if line.strip())

    def __iter__(self) -> Iterator[object]:
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                self.lines.append(number)
                yield parse_line(raw)

    def ids(self) -> Iterator[tuple[int, str | None]]:
        """(line number, id) of every non-blank line, for checking a resume."""
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if raw.strip():
                    item = parse_line(raw)
                    value = item.get("id") if isinstance(item, dict) else None
                    yield number, None if value is None else str(value)


def parse_line(raw: bytes) -> object:
    """One input line as a dict, or the `MalformedError` that becomes its error record."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MalformedError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); save "
            "the file as UTF-8"
        )
    try:
        item = json.loads(text.removeprefix(_BOM))
    except json.JSONDecodeError as exc:
        return MalformedError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return MalformedError("not valid JSON: nested too deeply")
    if not isinstance(item, dict):
        return MalformedError(f"expected a JSON object, got {type(item).__name__}")
    return item


def _record(result: BatchResult, source: _Input) -> dict[str, Any]:
    record = result.to_dict()
    del record["index"]
    return {"line": source.lines[result.index], **record}


Done = dict[tuple[int, str], str | None]  # (line, criterion) -> the id recorded for it


def _load_done(output: Path) -> tuple[Done, list[bytes]]:
    """Scored pairs already in `output`, keyed by line (unique, unlike ids), and the lines of
    the file to keep: all but error records and lines it cannot read (their pairs are
    evaluated again)."""
    if not output.exists():
        return {}, []
    kept: list[bytes] = []
    done: Done = {}
    with output.open("rb") as f:
        for raw in f:
            record = parse_line(raw)
            if not isinstance(record, dict) or "score" not in record or "error" in record:
                continue
            line, criterion = record.get("line"), record.get("criterion")
            if (
                not isinstance(line, int)
                or isinstance(line, bool)
                or not isinstance(criterion, str)
            ):
                continue
            if (line, criterion) in done:
                continue  # written twice around a crash: the first copy stands
            item_id = record.get("id")
            done[(line, criterion)] = None if item_id is None else str(item_id)
            kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
    return done, kept


def _check_resume(done: Done, source: _Input, output: Path) -> None:
    """Refuse to resume over results written for another input (ids moved between lines).

    Raises:
        UsageError: A recorded pair's line holds another id now, or no longer exists.
    """
    recorded = {line: item_id for (line, _), item_id in done.items()}
    for line, item_id in source.ids():
        if line in recorded and recorded.pop(line) != item_id:
            raise UsageError(
                f"{output} was written for another input: line {line} now has id {item_id!r}; "
                "use --overwrite to start again, or another --output"
            )
    if recorded:
        line = min(recorded)
        raise UsageError(
            f"{output} was written for another input: it has results for line {line}, which "
            f"{source.path} no longer has; use --overwrite or another --output"
        )


def _replace(path: Path, lines: list[bytes]) -> None:
    """Write `lines` to `path` atomically (a crash leaves the old file or the new one)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "wb") as f:
        f.writelines(lines)
    os.replace(temporary, path)


Row = tuple[str, float | None, bool]  # (criterion, score, failed): what the summary needs


def _sort_output(output: Path, criteria: list[str]) -> list[Row]:
    """Rewrite the output in input order; returns each record's summary row.

    Only each line's sort key and place in the file are held in memory, not the records, so a
    run over 100,000 conversations sorts in a few megabytes.
    """
    position = {criterion: index for index, criterion in enumerate(criteria)}
    places: list[tuple[int, int, int, int]] = []
    rows: list[Row] = []
    with output.open("rb") as f:
        offset = 0
        for raw in f:
            record = parse_line(raw) if raw.strip() else None
            if isinstance(record, dict):
                criterion = str(record.get("criterion"))
                rank = position.get(criterion, len(position))
                line = record.get("line")
                places.append((line if isinstance(line, int) else 0, rank, offset, len(raw)))
                score = record.get("score")
                number = score if isinstance(score, float | int) else None
                rows.append((criterion, number, "error" in record))
            offset += len(raw)
    places.sort()
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=output.name, suffix=".tmp")
    with output.open("rb") as source, os.fdopen(handle, "wb") as target:
        for _, _, start, length in places:
            source.seek(start)
            chunk = source.read(length)
            target.write(chunk if chunk.endswith(b"\n") else chunk + b"\n")
    os.replace(temporary, output)
    return rows


def _display(total: int, quiet: bool) -> Display | None:
    """A live bar on a terminal, plain periodic log lines otherwise (none with --quiet)."""
    if quiet:
        return None
    if sys.stderr.isatty():
        return TerminalBar(total, sys.stderr, time.monotonic)
    return LogLines(total, sys.stderr, time.monotonic)


def format_summary(rows: list[Row], criteria: list[str]) -> str:
    """The per-criterion table printed at the end of a run."""
    return format_summary_table(summary_rows(rows), criteria)


async def _evaluate(
    client: AsyncComposo,
    spec: BatchSpec,
    source: _Input,
    output: Path,
    display: Display | None,
) -> BatchProgress:
    batch = client._new_batch(source, spec)
    reported = 0
    async with client:
        with output.open("ab") as out:
            async with batch:
                async for result in batch:
                    record = _record(result, source)
                    out.write(_json_line(record))
                    out.flush()
                    if result.error is not None:
                        reported += 1
                        _report_failure(record, reported)
    if display is not None:
        display.close(batch.progress)
    return batch.progress


def _json_line(record: dict[str, Any]) -> bytes:
    """One output line as UTF-8. Text that is not valid Unicode (an input id holding a
    "\\ud800" escape) is written as JSON escapes instead, so the line reads back as it was."""
    try:
        return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(record).encode("ascii") + b"\n"


def _report_failure(record: dict[str, Any], count: int) -> None:
    """Say on stderr what failed, for the first few failures; all are in the output."""
    if count <= _REPORTED_FAILURES:
        where = f"line {record['line']}" + (f" (id {record['id']})" if record["id"] else "")
        print(
            f"\ncomposo: {where}, {record['criterion']!r}: {record['error']['message']}",
            file=sys.stderr,
        )
    elif count == _REPORTED_FAILURES + 1:
        print("\ncomposo: more failures; every one is recorded in the output", file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    """`composo evaluate ARGS`; returns the exit code."""
    try:
        with contextlib.ExitStack() as stack:
            return _run(argv, stack)
    except UsageError as exc:
        print(f"composo evaluate: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(argv: Sequence[str], stack: contextlib.ExitStack) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="composo: %(message)s")
    if args.resume and args.overwrite:
        raise UsageError("pass --resume or --overwrite, not both")
    if not args.input.is_file():
        raise UsageError(f"{args.input} is not a file")
    criteria = _read_criteria(args)
    api_key = _api_key(args)
    output = _output_path(args)
    if output.exists() and not args.resume and output.stat().st_size > 0 and not args.overwrite:
        raise UsageError(
            f"{output} already holds results; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --output"
        )
    base_url = args.base_url
    if args.mock:
        try:
            from composo._mock import MockServer
        except ImportError as exc:
            raise UsageError(
                f"--mock needs the mock extra: pip install 'composo[mock]' ({exc})"
            ) from None
        server = stack.enter_context(MockServer())
        base_url = server.base_url
        api_key = api_key or "mock-key"
        print(
            f"composo: using the local mock server at {base_url} (synthetic scores)",
            file=sys.stderr,
        )
    from composo._async_client import AsyncComposo

    # Every setting is checked here, before the output file is touched.
    try:
        client = AsyncComposo(
            api_key=api_key,
            base_url=base_url,
            num_retries=args.retries,
            model_core=args.model_core,
            max_concurrent_requests=args.concurrency,
            timeout=args.timeout,
            requests_per_second=args.requests_per_second,
            cache=_cache_setting(args),
        )
        spec = batch_spec(
            criteria,
            concurrency=args.concurrency,
            default_concurrency=args.concurrency,
            model_core=client.model_core,
        )
    except ComposoError as exc:
        raise UsageError(str(exc)) from None
    source = _Input(args.input)
    done: Done = {}
    if args.resume:
        done, kept = _load_done(output)
        if done:
            _check_resume(done, source, output)
        if output.exists():
            # Only once the results are known to be this input's: a refused resume leaves
            # the file as it was.
            _replace(output, kept)
    elif output.exists():
        output.unlink()  # --overwrite, or an empty file
    display = _display(source.count() * len(spec.criteria) - len(done), args.quiet)
    update = None if display is None else display.update
    if done:

        def skip(index: int, item_id: str | None, criterion: str) -> bool:
            return (source.lines[index], criterion) in done

        spec = BatchSpec(spec.criteria, spec.workers, spec.options, update, skip)
    else:
        spec = BatchSpec(spec.criteria, spec.workers, spec.options, update)
    try:
        final = asyncio.run(_evaluate(client, spec, source, output, display))
    except KeyboardInterrupt:
        print(
            f"\ncomposo: interrupted; results so far are in {output} "
            "(run again with --resume to finish)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    rows = _sort_output(output, spec.criteria)
    print(format_summary(rows, spec.criteria))
    failures = sum(1 for _, _, failed in rows if failed)
    print(f"\n{len(rows)} results in {output}; {failures} failed", file=sys.stderr)
    if client.cache is not None:
        print(
            f"composo: {final.cached} of {final.done} pairs answered from the result cache "
            f"{client.cache.path}, without a request",
            file=sys.stderr,
        )
    limits = rate_limit_text(final)
    if limits:
        print(
            f"composo: rate limits: {limits} (each 429 was waited out and sent again)",
            file=sys.stderr,
        )
    return EXIT_OK if failures == 0 else EXIT_FAILURES
