"""`composo compare BASE.jsonl NEW.jsonl`: how scores moved between two runs of `composo evaluate`.

Prints a table per criterion (or Markdown with `--format markdown`), optionally writes a
self-contained HTML report, and with `--fail-on-regression DELTA` exits 1 when a criterion's
mean dropped by more than DELTA with its bootstrap interval wholly below zero.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from composo._compare import DEFAULT_TOP, RunFileError, compare_runs
from composo._compare_html import format_html
from composo._compare_render import format_markdown, format_text
from composo._stats import RESAMPLES

# Exit codes: no regression flagged; a regression flagged; bad usage or unreadable input.
EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `composo compare`."""
    parser = argparse.ArgumentParser(
        prog="composo compare",
        allow_abbrev=False,
        description=(
            "Compare two result files of `composo evaluate`, pairing records by (id, "
            "criterion), or by (line, criterion) when the id is null. Per criterion: the mean "
            "of each run over the pairs both scored, the paired change with a seeded bootstrap "
            "95%% interval, pass rates of binary criteria, the items that regressed most, and "
            "the pairs found in one run only or errored."
        ),
    )
    parser.add_argument("base", type=Path, help="the baseline run (JSONL)")
    parser.add_argument("new", type=Path, help="the run to judge against it (JSONL)")
    parser.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="DELTA",
        help="exit 1 when a criterion's mean drops by more than DELTA (e.g. 0.02) and its "
        "interval lies wholly below zero",
    )
    parser.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="what goes to stdout: a terminal table (default) or Markdown for a PR comment",
    )
    parser.add_argument(
        "--html", type=Path, metavar="PATH", help="also write a self-contained HTML report"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the bootstrap (0)")
    parser.add_argument(
        "--resamples",
        type=int,
        default=RESAMPLES,
        help=f"bootstrap resamples per criterion ({RESAMPLES})",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"most-regressed items listed per criterion ({DEFAULT_TOP})",
    )
    return parser


class _UsageError(Exception):
    """A bad argument, found before the files are read."""


def _check(args: argparse.Namespace) -> None:
    delta = args.fail_on_regression
    if delta is not None and not (math.isfinite(delta) and delta >= 0):
        raise _UsageError(f"--fail-on-regression must be a number >= 0, got {delta}")
    if args.resamples < 1:
        raise _UsageError(f"--resamples must be at least 1, got {args.resamples}")
    if args.top < 0:
        raise _UsageError(f"--top must be >= 0, got {args.top}")
    if args.html is not None:
        _check_output(args.html, (args.base, args.new))


def _check_output(target: Path, inputs: tuple[Path, ...]) -> None:
    """Refuse an --html path that would replace an input file or is not a file path."""
    for source in inputs:
        same = target.resolve() == source.resolve()
        if not same and target.exists() and source.exists():
            same = os.path.samefile(target, source)
        if same:
            raise _UsageError(f"--html {target} is the input file {source}; choose another path")
    if target.is_dir():
        raise _UsageError(f"--html {target} is a directory; give a file path")
    if not target.parent.is_dir():
        raise _UsageError(f"--html {target}: the directory {target.parent} does not exist")


def _write(target: Path, text: str) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(argv: Sequence[str]) -> int:
    """`composo compare ARGS`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage or the help
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        _check(args)
        comparison = compare_runs(
            args.base,
            args.new,
            seed=args.seed,
            resamples=args.resamples,
            delta=args.fail_on_regression,
            top=args.top,
        )
    except (_UsageError, RunFileError) as exc:
        print(f"composo compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "markdown":
        sys.stdout.write(format_markdown(comparison, args.top))
    else:
        print(format_text(comparison, args.top))
    if args.html is not None:
        try:
            _write(args.html, format_html(comparison, args.top))
        except OSError as exc:
            print(f"composo compare: cannot write {args.html}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"composo compare: wrote {args.html}", file=sys.stderr)
    if comparison.pairs == 0:
        # Nothing to compare is no evidence of no regression: a run that errored throughout
        # must not pass a CI job.
        print(
            "composo compare: no (item, criterion) pair was scored in both runs "
            f"({sum(c.only_base for c in comparison.criteria)} in base only, "
            f"{sum(c.only_new for c in comparison.criteria)} in new only, "
            f"{sum(c.errored_base + c.errored_new for c in comparison.criteria)} errored)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    regressions = comparison.regressions
    if regressions:
        names = "; ".join(repr(c.criterion) for c in regressions)
        print(
            f"composo compare: {len(regressions)} "
            f"{'criterion' if len(regressions) == 1 else 'criteria'} regressed by more than "
            f"{comparison.delta:g}: {names}",
            file=sys.stderr,
        )
        return EXIT_REGRESSION
    return EXIT_OK
