"""Pairing two runs of `composo evaluate` and comparing them criterion by criterion.

A run is the JSONL file `composo evaluate` writes: one record per (item, criterion), either
`{"line", "id", "criterion", "score", "explanation"}` or the same with `"error": {...}` instead
of a score. Records pair by (id, criterion), or by (line, criterion) when the id is null.

The files are streamed. Of each record only its key, status, score and place in the file are
kept, in compact arrays (some 50 bytes a record), never the parsed record; the few explanations
and error messages a report shows are read back from the file by offset at the end. Pairing
sorts both runs by key and walks them together, so the paired differences come out in key
order whatever the order of the lines, and the same files always give the same report.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from composo._stats import (
    BINS,
    LEVEL,
    RESAMPLES,
    bootstrap_mean_ci,
    histogram,
    is_regression,
    pass_rate,
)
from composo._validation import is_binary_criterion

# What became of one record.
SCORED: Final = 0
ERRORED: Final = 1
NOT_APPLICABLE: Final = 2  # scored null: the criterion did not apply

# Malformed lines or duplicate keys quoted per file before the rest are only counted.
MAX_PROBLEMS: Final = 20

# Item ids quoted per criterion for pairs in one run only, and for errored records.
EXAMPLES: Final = 5

# Most-regressed items listed per criterion unless --top says otherwise.
DEFAULT_TOP: Final = 5

_CRITERION = struct.Struct(">I")


class RunFileError(Exception):
    """Run files that cannot be compared: unreadable, empty, malformed or with duplicate keys.

    `lines` says what is wrong, each line naming the file and, where there is one, the line.
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    @classmethod
    def of(cls, path: Path, problems: list[str], total: int | None = None) -> RunFileError:
        """The error for one file: its first problems, and how many more were only counted."""
        lines = [f"{path}: {problem}" for problem in problems]
        if total is not None and total > len(problems):
            lines.append(f"{path}: ... and {total - len(problems)} more")
        return cls(lines)


class MalformedRecord(ValueError):
    """One line of a run file that is not a record `composo evaluate` writes."""


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """What pairing needs of one record."""

    criterion: str
    item: str  # the id, or "line N" when the record has no id
    by_line: bool
    status: int
    score: float


def parse_record(raw: bytes | str) -> ParsedRecord:
    """Read one line of a run file.

    Raises:
        MalformedRecord: Not JSON, not an object, no criterion, neither an id nor a line
            number, or neither a score in [0, 1] (or null) nor an error.
    """
    try:
        record = json.loads(raw)
    except UnicodeDecodeError:
        raise MalformedRecord("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise MalformedRecord(f"expected a JSON object, got {_json_type(record)}")
    criterion = record.get("criterion")
    if not isinstance(criterion, str) or not criterion.strip():
        raise MalformedRecord("no criterion (a non-empty string)")
    item_id = record.get("id")
    by_line = item_id is None
    if by_line:
        line = record.get("line")
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise MalformedRecord("neither an id nor a line number to pair it by")
        item = f"line {line}"
    elif isinstance(item_id, str) or _is_int(item_id):
        item = str(item_id)
    else:
        raise MalformedRecord(f"id must be a string or an integer, got {_json_type(item_id)}")
    if record.get("error") is not None:
        return ParsedRecord(criterion, item, by_line, ERRORED, math.nan)
    if "score" not in record:
        raise MalformedRecord("neither a score nor an error")
    score = record["score"]
    if score is None:
        return ParsedRecord(criterion, item, by_line, NOT_APPLICABLE, math.nan)
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
        raise MalformedRecord(f"score must be a number in [0, 1] or null, got {score!r}")
    return ParsedRecord(criterion, item, by_line, SCORED, float(score))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


class _Criteria:
    """The criteria of both runs, numbered in order of first appearance."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def index(self, name: str) -> int:
        number = self._index.get(name)
        if number is None:
            number = self._index[name] = len(self.names)
            self.names.append(name)
        return number


class _Run:
    """One run file, read into compact arrays: per record its key, status, score and place."""

    def __init__(self, path: Path, criteria: _Criteria) -> None:
        self.path = path
        self._criteria = criteria
        self._keys = bytearray()
        self._key_ends = array("q")
        self.criterion = array("I")
        self.status = array("b")
        self.scores = array("d")
        self.lines = array("q")
        self._offsets = array("q")

    def __len__(self) -> int:
        return len(self.status)

    def read(self) -> None:
        """Stream the file in.

        Raises:
            RunFileError: The file cannot be read, or has malformed lines (all are counted,
                the first MAX_PROBLEMS quoted with their line numbers).
        """
        problems: list[str] = []
        bad = 0
        try:
            with self.path.open("rb") as f:
                offset = 0
                for number, raw in enumerate(f, start=1):
                    here, offset = offset, offset + len(raw)
                    if not raw.strip():
                        continue
                    try:
                        record = parse_record(raw)
                    except MalformedRecord as exc:
                        bad += 1
                        if len(problems) < MAX_PROBLEMS:
                            problems.append(f"line {number}: {exc}")
                        continue
                    self._add(record, number, here)
        except OSError as exc:
            raise RunFileError.of(self.path, [f"cannot read it: {exc.strerror or exc}"]) from None
        if bad:
            raise RunFileError.of(self.path, problems, bad)
        if not len(self):
            raise RunFileError.of(self.path, ["holds no records"])

    def _add(self, record: ParsedRecord, number: int, offset: int) -> None:
        criterion = self._criteria.index(record.criterion)
        marker = b"l" if record.by_line else b"i"
        self._keys += _CRITERION.pack(criterion) + marker + record.item.encode()
        self._key_ends.append(len(self._keys))
        self.criterion.append(criterion)
        self.status.append(record.status)
        self.scores.append(record.score)
        self.lines.append(number)
        self._offsets.append(offset)

    def key(self, index: int) -> bytes:
        start = self._key_ends[index - 1] if index else 0
        return bytes(self._keys[start : self._key_ends[index]])

    def item(self, index: int) -> str:
        """The item's id, or "line N" for a record without one."""
        return self.key(index)[_CRITERION.size + 1 :].decode()

    def order(self) -> array[int]:
        """Record numbers sorted by key.

        Raises:
            RunFileError: Two records share a key (they are reported, never merged).
        """
        order = array("q", sorted(range(len(self)), key=self.key))
        problems: list[str] = []
        duplicates = 0
        for previous, current in itertools.pairwise(order):
            if self.key(previous) == self.key(current):
                duplicates += 1
                if len(problems) < MAX_PROBLEMS:
                    first, second = sorted((self.lines[previous], self.lines[current]))
                    name = self._criteria.names[self.criterion[current]]
                    problems.append(
                        f"line {second} repeats line {first}: item {self.item(current)!r}, "
                        f"criterion {_short(name)!r}"
                    )
        if duplicates:
            header = (
                f"{duplicates} record{' repeats' if duplicates == 1 else 's repeat'} an "
                "(item, criterion) pair; none was merged:"
            )
            error = RunFileError.of(self.path, problems, duplicates)
            raise RunFileError([f"{self.path}: {header}", *error.lines])
        return order

    def records_at(self, indices: list[int]) -> dict[int, dict[str, Any]]:
        """The full records of a few lines, read back from the file."""
        found: dict[int, dict[str, Any]] = {}
        with self.path.open("rb") as f:
            for index in sorted(set(indices)):
                f.seek(self._offsets[index])
                found[index] = json.loads(f.readline())
        return found


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One paired item's scores in both runs; `explanation` is the new run's."""

    item: str
    base: float
    new: float
    difference: float
    explanation: str | None


@dataclass(frozen=True, slots=True)
class ErroredRecord:
    """A record of one run that holds an error instead of a score."""

    item: str
    run: str  # "base" or "new"
    message: str


@dataclass(frozen=True, slots=True)
class CriterionComparison:
    """How one criterion moved between the runs.

    Means, pass rates and histograms are over the pairs scored in both runs, so that
    `new_mean - base_mean` is the paired `difference`; records in one run only, errored
    records and records that scored null are counted beside them.
    """

    criterion: str
    binary: bool
    pairs: int
    base_mean: float | None
    new_mean: float | None
    difference: float | None
    interval: tuple[float, float] | None
    base_pass_rate: float | None
    new_pass_rate: float | None
    base_histogram: tuple[int, ...]
    new_histogram: tuple[int, ...]
    regressed: tuple[ItemChange, ...]
    only_base: int
    only_new: int
    only_base_items: tuple[str, ...]
    only_new_items: tuple[str, ...]
    errored_base: int
    errored_new: int
    errored: tuple[ErroredRecord, ...]
    not_applicable_base: int
    not_applicable_new: int
    regression: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every criterion of two runs, compared; `regression` is the `--fail-on-regression` rule."""

    base: Path
    new: Path
    base_records: int
    new_records: int
    seed: int
    resamples: int
    level: float
    delta: float | None
    criteria: tuple[CriterionComparison, ...]

    @property
    def regressions(self) -> list[CriterionComparison]:
        """The criteria whose drop the rule flags."""
        return [c for c in self.criteria if c.regression]

    @property
    def pairs(self) -> int:
        """Pairs scored in both runs, over all criteria."""
        return sum(c.pairs for c in self.criteria)


class _Tally:
    """What the walk over both runs gathers for one criterion."""

    def __init__(self) -> None:
        self.base = array("d")
        self.new = array("d")
        self.diffs = array("d")
        # The most regressed pairs so far: a heap whose root is the least regressed of them.
        self.worst: list[tuple[float, int, int, int]] = []
        self.only_base = self.only_new = 0
        self.only_base_items: list[str] = []
        self.only_new_items: list[str] = []
        self.errored_base = self.errored_new = 0
        self.errored: list[tuple[str, int]] = []
        self.not_applicable_base = self.not_applicable_new = 0

    def pair(self, base: float, new: float, position: int, bi: int, ni: int, top: int) -> None:
        difference = new - base
        self.base.append(base)
        self.new.append(new)
        self.diffs.append(difference)
        if difference >= 0 or top == 0:
            return
        # Ties keep the earlier key: the entry (-d, -position) of a later one is smaller.
        entry = (-difference, -position, bi, ni)
        if len(self.worst) < top:
            heapq.heappush(self.worst, entry)
        elif entry[:2] > self.worst[0][:2]:
            heapq.heapreplace(self.worst, entry)

    def status(self, run: str, status: int, index: int) -> None:
        if status == ERRORED:
            if run == "base":
                self.errored_base += 1
            else:
                self.errored_new += 1
            if len(self.errored) < EXAMPLES:
                self.errored.append((run, index))
        elif status == NOT_APPLICABLE:
            if run == "base":
                self.not_applicable_base += 1
            else:
                self.not_applicable_new += 1


def _walk(
    base: _Run,
    new: _Run,
    orders: tuple[array[int], array[int]],
    tallies: list[_Tally],
    top: int,
) -> None:
    """Merge both runs in key order, handing each key to its criterion's tally."""

    def keyed(run: _Run, order: array[int]) -> Iterator[tuple[bytes, int]]:
        for index in order:
            yield run.key(index), index

    base_keys, new_keys = keyed(base, orders[0]), keyed(new, orders[1])
    b, n = next(base_keys, None), next(new_keys, None)
    position = 0
    while b is not None or n is not None:
        position += 1
        if n is None or (b is not None and b[0] < n[0]):
            assert b is not None
            tally = tallies[base.criterion[b[1]]]
            tally.only_base += 1
            if len(tally.only_base_items) < EXAMPLES:
                tally.only_base_items.append(base.item(b[1]))
            tally.status("base", base.status[b[1]], b[1])
            b = next(base_keys, None)
        elif b is None or n[0] < b[0]:
            tally = tallies[new.criterion[n[1]]]
            tally.only_new += 1
            if len(tally.only_new_items) < EXAMPLES:
                tally.only_new_items.append(new.item(n[1]))
            tally.status("new", new.status[n[1]], n[1])
            n = next(new_keys, None)
        else:
            bi, ni = b[1], n[1]
            tally = tallies[base.criterion[bi]]
            tally.status("base", base.status[bi], bi)
            tally.status("new", new.status[ni], ni)
            if base.status[bi] == SCORED and new.status[ni] == SCORED:
                tally.pair(base.scores[bi], new.scores[ni], position, bi, ni, top)
            b, n = next(base_keys, None), next(new_keys, None)


def compare_runs(
    base_path: Path,
    new_path: Path,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    delta: float | None = None,
    top: int = DEFAULT_TOP,
) -> Comparison:
    """Compare two run files criterion by criterion.

    Args:
        base_path: The baseline run.
        new_path: The run to judge against it.
        seed: Seeds the bootstrap; each criterion's resampling is seeded with the seed and the
            criterion's text, so adding a criterion leaves the others' intervals unchanged.
        resamples: Bootstrap resamples per criterion.
        level: Confidence level of the intervals.
        delta: The `--fail-on-regression` threshold; None flags nothing.
        top: Most-regressed items kept per criterion.

    Returns:
        The comparison, criteria in order of first appearance (base first).

    Raises:
        RunFileError: A file is unreadable, empty, malformed or has duplicate keys.
    """
    criteria = _Criteria()
    runs = (_Run(base_path, criteria), _Run(new_path, criteria))
    problems: list[str] = []
    orders = []
    # Both files are checked before either is refused, so one run reports every problem.
    for run in runs:
        try:
            run.read()
            orders.append(run.order())
        except RunFileError as exc:
            problems.extend(exc.lines)
    if problems:
        raise RunFileError(problems)
    base, new = runs
    tallies = [_Tally() for _ in criteria.names]
    _walk(base, new, (orders[0], orders[1]), tallies, top)
    records = {
        "base": base.records_at([i for t in tallies for run, i in t.errored if run == "base"]),
        "new": new.records_at(
            [e[3] for t in tallies for e in t.worst]
            + [i for t in tallies for run, i in t.errored if run == "new"]
        ),
    }
    results = tuple(
        _summarize(name, tally, base, new, records, seed, resamples, level, delta)
        for name, tally in zip(criteria.names, tallies, strict=True)
    )
    return Comparison(
        base=base_path,
        new=new_path,
        base_records=len(base),
        new_records=len(new),
        seed=seed,
        resamples=resamples,
        level=level,
        delta=delta,
        criteria=results,
    )


def _summarize(
    name: str,
    tally: _Tally,
    base: _Run,
    new: _Run,
    records: dict[str, dict[int, dict[str, Any]]],
    seed: int,
    resamples: int,
    level: float,
    delta: float | None,
) -> CriterionComparison:
    binary = is_binary_criterion(name)
    pairs = len(tally.diffs)
    difference = math.fsum(tally.diffs) / pairs if pairs else None
    interval = bootstrap_mean_ci(tally.diffs, f"{seed}\0{name}", resamples, level)
    regressed = []
    for negated, _, bi, ni in sorted(tally.worst, key=lambda e: (-e[0], -e[1])):
        explanation = records["new"][ni].get("explanation")
        regressed.append(
            ItemChange(
                item=base.item(bi),
                base=base.scores[bi],
                new=new.scores[ni],
                difference=-negated,
                explanation=explanation if isinstance(explanation, str) else None,
            )
        )
    errored_records = []
    for run, index in tally.errored:
        record = records[run][index]
        error = record.get("error")
        message = _error_message(error)
        item_id = record.get("id")
        item = f"line {record.get('line')}" if item_id is None else str(item_id)
        errored_records.append(ErroredRecord(item=item, run=run, message=message))
    return CriterionComparison(
        criterion=name,
        binary=binary,
        pairs=pairs,
        base_mean=math.fsum(tally.base) / pairs if pairs else None,
        new_mean=math.fsum(tally.new) / pairs if pairs else None,
        difference=difference,
        interval=interval,
        base_pass_rate=pass_rate(tally.base) if binary else None,
        new_pass_rate=pass_rate(tally.new) if binary else None,
        base_histogram=tuple(histogram(tally.base, 2 if binary else BINS)),
        new_histogram=tuple(histogram(tally.new, 2 if binary else BINS)),
        regressed=tuple(regressed),
        only_base=tally.only_base,
        only_new=tally.only_new,
        only_base_items=tuple(tally.only_base_items),
        only_new_items=tuple(tally.only_new_items),
        errored_base=tally.errored_base,
        errored_new=tally.errored_new,
        errored=tuple(errored_records),
        not_applicable_base=tally.not_applicable_base,
        not_applicable_new=tally.not_applicable_new,
        regression=delta is not None and is_regression(difference, interval, delta),
    )


def _error_message(error: object) -> str:
    if isinstance(error, dict):
        kind = error.get("type")
        message = error.get("message")
        text = str(message) if message is not None else json.dumps(error)
        return f"{kind}: {text}" if isinstance(kind, str) else text
    return str(error)
