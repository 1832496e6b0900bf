"""`composo evaluate`: score a JSONL file of conversations against criteria, resumably.

Each input line is `{"id"?, "messages", "system"?, "tools"?, "tags"?}`. Each output line is one
(item, criterion) pair with its score and explanation or its error, written as results arrive,
so a crash or Ctrl-C loses nothing already scored. When the run completes, the output is
rewritten in input order, so an interrupted-and-resumed run ends with the same file as an
uninterrupted one.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from composo._batch import AsyncBatch, BatchProgress, BatchResult, batch_options, summary_rows
from composo._constants import API_KEY_ENV
from composo._exceptions import ComposoError, MalformedError, bad_input
from composo._validation import normalize_criteria

# Exit codes: every pair scored; some pair failed or a line was malformed; bad usage; Ctrl-C.
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Retries per pair: a batch is long-running and unattended, so it rides out more than a blip.
DEFAULT_BATCH_RETRIES = 3
# Seconds per pair, every attempt included.
DEFAULT_PAIR_TIMEOUT = 120.0
# How often the progress display refreshes on a terminal, and logs when not on one.
_TTY_REFRESH = 0.1
_LOG_EVERY = 5.0
# Failures described one by one on stderr before the rest are only counted.
_REPORTED_FAILURES = 10


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
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    return parser


def _read_criteria(args: argparse.Namespace) -> list[str]:
    criteria = list(args.criteria)
    if args.criteria_file is not None:
        for line in args.criteria_file.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text and not text.startswith("#"):
                criteria.append(text)
    if not criteria:
        raise bad_input("give at least one --criteria or a --criteria-file")
    names, _ = normalize_criteria(criteria)
    return names


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_file is not None:
        path: Path = args.api_key_file
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise bad_input(f"{path} is empty; it should hold the API key")
        return key
    return os.environ.get(API_KEY_ENV)


class _Input:
    """The input file's items, read lazily; remembers each item's line number compactly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = array.array("q")

    def count(self) -> int:
        with self.path.open("rb") as f:
            return sum(1 for line in f if line.strip())

    def __iter__(self) -> Iterator[object]:
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                self.lines.append(number)
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield MalformedError(f"not valid JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(item, dict):
                    yield MalformedError(f"expected a JSON object, got {type(item).__name__}")
                    continue
                yield item

    def key(self, index: int, item_id: str | None) -> str:
        return item_id if item_id is not None else f"line {self.lines[index]}"


def _record(result: BatchResult, source: _Input) -> dict[str, Any]:
    record = result.to_dict()
    del record["index"]
    return {"line": source.lines[result.index], **record}


def _record_key(record: dict[str, Any]) -> tuple[str, str]:
    item = record.get("id")
    return (item if item is not None else f"line {record.get('line')}", record["criterion"])


def _load_done(output: Path) -> set[tuple[str, str]]:
    """Scored pairs already in `output`; rewrites it without error records or broken lines."""
    if not output.exists():
        return set()
    kept: list[str] = []
    done: set[tuple[str, str]] = set()
    with output.open(encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: its pair is evaluated again
            if isinstance(record, dict) and "score" in record and "criterion" in record:
                done.add(_record_key(record))
                kept.append(line if line.endswith("\n") else line + "\n")
    _replace(output, kept)
    return done


def _replace(path: Path, lines: list[str]) -> None:
    """Write `lines` to `path` atomically (a crash leaves the old file or the new one)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
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
            if raw.strip():
                record = json.loads(raw)
                rank = position.get(record["criterion"], len(position))
                places.append((record.get("line", 0), rank, offset, len(raw)))
                rows.append((record["criterion"], record.get("score"), "error" in record))
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


class _Progress:
    """A live bar on a terminal, plain periodic log lines otherwise."""

    def __init__(self, total: int, stream: IO[str], quiet: bool) -> None:
        self.total = total
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, progress: BatchProgress, final: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not final and now - self.last < (_TTY_REFRESH if self.tty else _LOG_EVERY):
            return
        self.last = now
        rate = progress.rate
        left = max(self.total - progress.done, 0)
        eta = f"{left / rate:.0f} s left" if rate > 0 and left else "-"
        text = f"{progress.done}/{self.total} done, {progress.failed} failed, {rate:.1f}/s, {eta}"
        if self.tty:
            width = 30
            filled = int(width * progress.done / self.total) if self.total else width
            bar = "#" * filled + "." * (width - filled)
            # \x1b[K clears what a longer previous line left behind.
            self.stream.write(f"\r[{bar}] {text}\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(f"composo: {text}\n")
        self.stream.flush()


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def format_summary(rows: list[Row], criteria: list[str]) -> str:
    """The per-criterion table printed at the end of a run."""
    table = summary_rows(rows)
    width = min(max((len(c) for c in table), default=9), 60)
    header = (
        f"{'criterion':<{width}}  {'count':>6}  {'mean':>6}  {'min':>6}  {'max':>6}  "
        f"{'failures':>8}  {'pass rate':>9}"
    )
    lines = [header, "-" * len(header)]
    for criterion in [
        *(c for c in criteria if c in table),
        *(c for c in table if c not in criteria),
    ]:
        row = table[criterion]
        name = criterion if len(criterion) <= width else criterion[: width - 1] + "…"
        lines.append(
            f"{name:<{width}}  {row['count']:>6}  {_fmt(row['mean']):>6}  {_fmt(row['min']):>6}  "
            f"{_fmt(row['max']):>6}  {row['failures']:>8}  {_fmt(row['pass_rate'], True):>9}"
        )
    return "\n".join(lines)


async def _evaluate(
    args: argparse.Namespace,
    criteria: list[str],
    source: _Input,
    output: Path,
    done: set[tuple[str, str]],
    api_key: str | None,
    base_url: str | None,
) -> None:
    from composo._async_client import AsyncComposo

    total = source.count() * len(criteria) - len(done)
    progress = _Progress(total, sys.stderr, args.quiet)
    async with AsyncComposo(
        api_key=api_key,
        base_url=base_url,
        num_retries=args.retries,
        model_core=args.model_core,
        max_concurrent_requests=args.concurrency,
        timeout=args.timeout,
    ) as client:
        options = batch_options(
            criteria=criteria,
            evaluate_latest=None,
            explanation_cleaning=None,
            data_retention=None,
            model_core=client.model_core,
        )

        def skip(index: int, item_id: str | None, criterion: str) -> bool:
            return (source.key(index, item_id), criterion) in done

        batch = AsyncBatch(
            client,
            source,
            criteria,
            args.concurrency,
            progress,
            options,
            skip=skip if done else None,
        )
        reported = 0
        with output.open("a", encoding="utf-8") as out:
            async with batch:
                async for result in batch:
                    record = _record(result, source)
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    out.flush()
                    if result.error is not None:
                        reported += 1
                        _report_failure(record, reported)
        progress(batch.progress, final=True)


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
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="composo: %(message)s")
    try:
        criteria = _read_criteria(args)
        if args.concurrency < 1:
            raise bad_input("--concurrency must be at least 1")
        if not args.input.is_file():
            raise bad_input(f"{args.input} is not a file")
        api_key = _api_key(args)
    except (ComposoError, OSError) as exc:
        print(f"composo evaluate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    output: Path = args.output or args.input.with_name(args.input.stem + ".results.jsonl")
    if args.resume and args.overwrite:
        print("composo evaluate: pass --resume or --overwrite, not both", file=sys.stderr)
        return EXIT_USAGE
    if output.exists() and not args.resume and output.stat().st_size > 0:
        if not args.overwrite:
            print(
                f"composo evaluate: {output} already holds results; pass --resume to continue "
                "it, --overwrite to replace it, or choose another --output",
                file=sys.stderr,
            )
            return EXIT_USAGE
        output.unlink()
    done = _load_done(output) if args.resume else set()
    source = _Input(args.input)
    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if args.mock:
            try:
                from composo._mock import MockServer
            except ImportError as exc:
                print(f"--mock needs the mock extra: pip install 'composo[mock]' ({exc})")
                return EXIT_USAGE
            server = stack.enter_context(MockServer())
            base_url = server.base_url
            api_key = api_key or "mock-key"
            print(
                f"composo: using the local mock server at {base_url} (synthetic scores)",
                file=sys.stderr,
            )
        try:
            asyncio.run(_evaluate(args, criteria, source, output, done, api_key, base_url))
        except KeyboardInterrupt:
            print(
                f"\ncomposo: interrupted; results so far are in {output} "
                "(run again with --resume to finish)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except ComposoError as exc:
            print(f"composo evaluate: {exc}", file=sys.stderr)
            return EXIT_USAGE
    rows = _sort_output(output, criteria)
    print(format_summary(rows, criteria))
    failures = sum(1 for _, _, failed in rows if failed)
    print(f"\n{len(rows)} results in {output}; {failures} failed", file=sys.stderr)
    return EXIT_OK if failures == 0 else EXIT_FAILURES
