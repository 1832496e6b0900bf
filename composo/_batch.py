"""Batch evaluation: many conversations, each against one or more criteria, streamed.

The input is consumed as it goes and results come out as they complete, so memory is bounded
by the concurrency, not by the size of the input. Every (item, criterion) pair ends as exactly
one `BatchResult`: a score or an error record, never an exception that aborts the batch.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import Any, Self

from composo._exceptions import Cancelled, ComposoError, MalformedError, bad_input
from composo._models import EvaluationResponse
from composo._requests import Call, evaluate_options, json_problem, plan_reward
from composo._validation import is_binary_criterion, normalize_criteria

# How a batch sends one pair's call: the client's send, with the item's deadline starting when
# its first request goes out. The sync one also takes the batch's stop event.
AsyncSend = Callable[[Call], Awaitable[Any]]
SyncSend = Callable[[Call, threading.Event], Any]
# (the rate limiter's pace or None, the measured response rate, 429s seen by the client).
RateStats = Callable[[], tuple[float | None, float, int]]
# Whether a pair is already done (resume): (item index, item id, criterion) -> skip it.
Skip = Callable[[int, str | None, str], bool]

# The keys a batch item may have: the arguments of `evaluate` that vary per conversation.
ITEM_KEYS = frozenset({"id", "messages", "system", "tools", "result", "tags"})


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one (item, criterion) pair: `response` or `error`, never both.

    Attributes:
        index: The item's position in the input, from 0.
        item_id: The item's `id` when it had one, else None.
        criterion: The criterion (or evaluator name) it was scored against.
        criterion_index: The criterion's position in the batch's criteria, from 0.
        response: The evaluation, when it succeeded.
        error: What failed, when it did not.
    """

    index: int
    item_id: str | None
    criterion: str
    criterion_index: int
    response: EvaluationResponse | None = None
    error: ComposoError | None = None

    @property
    def ok(self) -> bool:
        """Whether this pair was scored."""
        return self.error is None

    @property
    def score(self) -> float | None:
        """The score, or None when it failed or the criterion did not apply."""
        return None if self.response is None else self.response.score

    @property
    def from_cache(self) -> bool:
        """Whether the score was read from the client's result cache (no request was made)."""
        return self.response is not None and self.response.from_cache

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record: the score, explanation and `from_cache`, or the error's type
        and message."""
        record: dict[str, Any] = {
            "index": self.index,
            "id": self.item_id,
            "criterion": self.criterion,
        }
        if self.response is not None:
            record["score"] = self.response.score
            record["explanation"] = self.response.explanation
            if self.response.cleaned_explanation is not None:
                record["cleaned_explanation"] = self.response.cleaned_explanation
            record["from_cache"] = self.response.from_cache
        if self.error is not None:
            record["error"] = {
                "type": type(self.error).__name__,
                "status_code": self.error.status_code,
                "message": str(self.error),
            }
        return record


@dataclass(slots=True)
class BatchProgress:
    """Counts of a running batch, passed to the `on_progress` callback after every result.

    Attributes:
        done: Pairs finished, scored or failed.
        failed: Pairs that ended as an error record.
        started: When the batch started (monotonic seconds).
        throttled: 429 answers the client received since the batch started (each was waited
            out and sent again; none costs an item).
        rate_limit: The rate limiter's current pace in requests per second, or None while it
            is off (no 429 yet and no stated quota).
        send_rate: The client's measured rate of responses, in requests per second.
        cached: Pairs answered from the client's result cache, without a request (counted in
            `done` too).
    """

    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    throttled: int = 0
    rate_limit: float | None = None
    send_rate: float = 0.0
    cached: int = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the batch started."""
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Results per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Pair:
    index: int
    item_id: str | None
    criterion: str
    criterion_index: int
    call: Call | None
    error: ComposoError | None

    def result(
        self, response: EvaluationResponse | None = None, error: ComposoError | None = None
    ) -> BatchResult:
        return BatchResult(
            self.index, self.item_id, self.criterion, self.criterion_index, response, error
        )


def _item_id(item: object) -> str | None:
    if isinstance(item, Mapping):
        value = item.get("id")
        return None if value is None else str(value)
    return None


def _plan_item(
    index: int, item: object, criteria: list[str], options: Mapping[str, Any]
) -> list[_Pair]:
    """The pairs of one input item; a bad item gives one error pair per criterion, whatever it
    holds (an item whose text cannot be encoded, or an object that raises when read)."""
    item_id: str | None = None
    try:
        item_id = _item_id(item)
        if isinstance(item, ComposoError):
            # The reader already found this item broken (an unreadable JSON line, say).
            raise item
        if not isinstance(item, Mapping):
            raise bad_input(
                f"batch item {index} must be a dict with 'messages', got {type(item).__name__}"
            )
        unknown = sorted(set(item) - ITEM_KEYS)
        if unknown:
            raise bad_input(
                f"batch item {index} has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(ITEM_KEYS))}"
            )
        if "messages" not in item:
            raise bad_input(f"batch item {index} has no 'messages'")
        plan = plan_reward(
            item["messages"],
            criteria,
            single=False,
            by_name=False,
            system=item.get("system"),
            tools=item.get("tools"),
            result=item.get("result"),
            tags=item.get("tags"),
            block=True,
            options=options,
        )
    except ComposoError as error:
        return [_Pair(index, item_id, c, i, None, error) for i, c in enumerate(criteria)]
    except Exception as exc:
        unreadable = MalformedError(
            f"batch item {index} could not be read ({type(exc).__name__}: {exc})"
        )
        return [_Pair(index, item_id, c, i, None, unreadable) for i, c in enumerate(criteria)]
    return [
        _Pair(index, item_id, c, i, call, None)
        for i, (c, call) in enumerate(zip(criteria, plan.calls, strict=True))
    ]


def _pairs_of(indexed_items: Iterable[tuple[int, object]], spec: BatchSpec) -> Iterator[_Pair]:
    """Every pair to evaluate, item by item, as the input is read."""
    skip = spec.skip
    for index, item in indexed_items:
        for pair in _plan_item(index, item, spec.criteria, spec.options):
            if skip is None or not skip(pair.index, pair.item_id, pair.criterion):
                yield pair


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """A batch's settings, checked once (see `batch_spec`), shared by every item.

    Attributes:
        criteria: The criteria, each scored once per item.
        workers: Pairs evaluated at once.
        options: The checked per-batch `evaluate` arguments (`evaluate_options`'s result).
        on_progress: Called with a `BatchProgress` after every result.
        skip: Pairs to leave out (already done, when resuming).
    """

    criteria: list[str]
    workers: int
    options: Mapping[str, Any]
    on_progress: Callable[[BatchProgress], None] | None = None
    skip: Skip | None = None


def batch_spec(
    criteria: object,
    *,
    concurrency: object,
    default_concurrency: int,
    evaluate_latest: object = None,
    explanation_cleaning: object = None,
    data_retention: object = None,
    model_core: object = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    skip: Skip | None = None,
) -> BatchSpec:
    """Check a batch's criteria and options once for the whole batch, so that a bad option is
    one error before anything is sent, not one error record per item.

    Raises:
        MalformedError: Invalid criteria (a criterion given twice, or one that is not valid
            Unicode, included: each names one column of the results), concurrency, options or
            progress callback.
    """
    names, _ = normalize_criteria(criteria)
    first: dict[str, int] = {}
    for position, name in enumerate(names):
        # Checked here, not per item: it would fail every item (a byte the command line could
        # not decode arrives as a lone surrogate).
        problem = json_problem(name)
        if problem is not None:
            raise bad_input(f"criteria[{position}] {problem}")
        if name in first:
            raise bad_input(
                f"criteria[{position}] repeats criteria[{first[name]}]; a batch scores each "
                "criterion once per item, so remove the duplicate"
            )
        first[name] = position
    if concurrency is None:
        workers = default_concurrency
    elif isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise bad_input(f"concurrency must be a positive int, got {concurrency!r}")
    else:
        workers = concurrency
    if on_progress is not None and not callable(on_progress):
        raise bad_input(f"on_progress must be callable, got {type(on_progress).__name__}")
    options = evaluate_options(
        evaluate_latest=evaluate_latest,
        explanation_cleaning=explanation_cleaning,
        data_retention=data_retention,
        model_core=model_core,
        criteria=names,
    )
    return BatchSpec(names, workers, options, on_progress, skip)


def in_input_order(results: Iterable[BatchResult]) -> list[BatchResult]:
    """The results sorted by input position, then by criterion position."""
    return sorted(results, key=lambda r: (r.index, r.criterion_index))


def summarize(results: Iterable[BatchResult]) -> dict[str, dict[str, Any]]:
    """Per criterion: count, mean, min, max, failures, and pass rate for binary criteria."""
    return summary_rows((r.criterion, r.score, r.error is not None) for r in results)


def summary_rows(rows: Iterable[tuple[str, float | None, bool]]) -> dict[str, dict[str, Any]]:
    """`summarize` over (criterion, score, failed) rows, in order of first appearance.

    The pass rate of a `Passes if`/`Fails if` criterion is the share of its scored pairs that
    scored 1; it is None for graded criteria.
    """
    counts: dict[str, list[Any]] = {}
    for criterion, score, failed in rows:
        entry = counts.setdefault(criterion, [0, 0, []])
        entry[0] += 1
        if failed:
            entry[1] += 1
        elif score is not None:
            entry[2].append(score)
    table = {}
    for criterion, (count, failures, scores) in counts.items():
        binary = is_binary_criterion(criterion)
        table[criterion] = {
            "count": count,
            "failures": failures,
            "mean": sum(scores) / len(scores) if scores else None,
            "min": min(scores, default=None),
            "max": max(scores, default=None),
            "pass_rate": sum(1 for x in scores if x >= 0.5) / len(scores)
            if binary and scores
            else None,
        }
    return table


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def format_summary_table(table: Mapping[str, Mapping[str, Any]], criteria: Iterable[str]) -> str:
    """A `summary_rows` table as the text `composo evaluate` prints: one line per criterion,
    those named in `criteria` first in that order, then any others."""
    order = list(criteria)
    width = min(max((len(c) for c in table), default=9), 60)
    header = (
        f"{'criterion':<{width}}  {'count':>6}  {'mean':>6}  {'min':>6}  {'max':>6}  "
        f"{'failures':>8}  {'pass rate':>9}"
    )
    lines = [header, "-" * len(header)]
    for criterion in [*(c for c in order if c in table), *(c for c in table if c not in order)]:
        row = table[criterion]
        name = criterion if len(criterion) <= width else criterion[: width - 1] + "…"
        lines.append(
            f"{name:<{width}}  {row['count']:>6}  {_fmt(row['mean']):>6}  {_fmt(row['min']):>6}  "
            f"{_fmt(row['max']):>6}  {row['failures']:>8}  {_fmt(row['pass_rate'], True):>9}"
        )
    return "\n".join(lines)


def _check_items(items: object, client: str) -> None:
    """Refuse, at the call, what cannot be a batch's input: one item (a dict) where a list of
    them belongs, a string, or something not iterable (a dict's keys or a string's characters
    would each become a failed item)."""
    if isinstance(items, Mapping):
        raise bad_input(
            f"{client}.evaluate_batch takes an iterable of items, got a single "
            f"{type(items).__name__}; pass a list of them, such as [item]"
        )
    if isinstance(items, str | bytes | bytearray) or not isinstance(
        items, Iterable | AsyncIterable
    ):
        raise bad_input(
            f"{client}.evaluate_batch takes an iterable of items (a list of dicts), got "
            f"{type(items).__name__}"
        )


class _BatchBase:
    """What both batch iterators hold: the input, the spec, and the counts."""

    def __init__(
        self, items: Iterable[Any] | AsyncIterable[Any], spec: BatchSpec, stats: RateStats
    ) -> None:
        self._items = items
        self._spec = spec
        self._stats = stats
        self._throttled_before = stats()[2]
        self.progress = BatchProgress()

    def _count(self, result: BatchResult) -> None:
        progress = self.progress
        progress.done += 1
        if result.error is not None:
            progress.failed += 1
        elif result.from_cache:
            progress.cached += 1
        progress.rate_limit, progress.send_rate, throttled = self._stats()
        progress.throttled = throttled - self._throttled_before
        if self._spec.on_progress is not None:
            self._spec.on_progress(progress)


class AsyncBatch(_BatchBase):
    """An async iterator of `BatchResult`s in completion order; `collect()` gives input order.

    Workers start on first iteration and stop when the input is exhausted, when iteration is
    abandoned (`aclose()`, `break` in `async for` followed by garbage collection) or when the
    consuming task is cancelled: no request keeps running unobserved.
    """

    def __init__(
        self,
        send: AsyncSend,
        items: Iterable[Any] | AsyncIterable[Any],
        spec: BatchSpec,
        stats: RateStats,
    ) -> None:
        _check_items(items, "AsyncComposo")
        super().__init__(items, spec, stats)
        self._send = send
        self._iterator: AsyncIterator[BatchResult] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BatchResult:
        if self._iterator is None:
            self._iterator = self._run()
        return await self._iterator.__anext__()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the batch: cancel the workers and their requests."""
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    async def collect(self) -> list[BatchResult]:
        """Run the batch to the end and return every result in input order."""
        return in_input_order([result async for result in self])

    async def _async_pairs(self, items: AsyncIterable[Any]) -> AsyncIterator[_Pair]:
        index = 0
        async for item in items:
            for pair in _pairs_of([(index, item)], self._spec):
                yield pair
            index += 1

    async def _run(self) -> AsyncIterator[BatchResult]:
        # A plain generator when the input is a plain iterable: asyncio runs one worker at a
        # time between awaits, so `next()` needs no lock. An async input needs one.
        sync_pairs: Iterator[_Pair] | None = None
        async_pairs: AsyncIterator[_Pair] | None = None
        if isinstance(self._items, AsyncIterable):
            async_pairs = self._async_pairs(self._items)
        else:
            sync_pairs = _pairs_of(enumerate(self._items), self._spec)
        pull = asyncio.Lock()
        # Bounded: when the consumer is slow, workers wait instead of piling up results.
        results: asyncio.Queue[BatchResult | None] = asyncio.Queue(maxsize=self._spec.workers)

        async def next_pair() -> _Pair | None:
            if sync_pairs is not None:
                return next(sync_pairs, None)
            assert async_pairs is not None
            async with pull:
                return await anext(async_pairs, None)

        async def worker() -> None:
            while (pair := await next_pair()) is not None:
                if pair.call is None:
                    await results.put(pair.result(error=pair.error))
                    continue
                try:
                    response = await self._send(pair.call)
                except ComposoError as error:
                    await results.put(pair.result(error=error))
                else:
                    await results.put(pair.result(response=response))

        failure: list[Exception] = []

        async def supervise() -> None:
            try:
                # A TaskGroup: if the input iterable fails, the other workers are cancelled.
                async with asyncio.TaskGroup() as group:
                    for _ in range(self._spec.workers):
                        group.create_task(worker())
            except Exception as exc:  # the input iterable itself failed
                failure.append(exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc)
            # Not in a `finally`: when cancelled, nobody is reading the queue any more.
            await results.put(None)

        supervisor = asyncio.ensure_future(supervise())
        try:
            while True:
                result = await results.get()
                if result is None:
                    break
                self._count(result)
                yield result
            if failure:
                raise failure[0]
        finally:
            if not supervisor.done():
                supervisor.cancel()
                await asyncio.gather(supervisor, return_exceptions=True)
            if async_pairs is not None:
                await async_pairs.aclose()  # type: ignore[attr-defined]


class SyncBatch(_BatchBase):
    """An iterator of `BatchResult`s in completion order; `collect()` gives input order.

    Worker threads start on first iteration; `close()` (or leaving a `with` block) stops them.
    """

    def __init__(
        self, send: SyncSend, items: Iterable[Any], spec: BatchSpec, stats: RateStats
    ) -> None:
        _check_items(items, "Composo")
        if isinstance(items, AsyncIterable):
            raise bad_input(
                f"Composo.evaluate_batch takes a plain iterable of items, got "
                f"{type(items).__name__} (AsyncComposo.evaluate_batch takes async iterables)"
            )
        super().__init__(items, spec, stats)
        self._plain_items: Iterable[Any] = items
        self._send = send
        self._iterator: Iterator[BatchResult] | None = None
        self._cancel = threading.Event()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> BatchResult:
        if self._iterator is None:
            self._iterator = self._run()
        return next(self._iterator)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the batch: no new request starts, and running ones are abandoned."""
        self._cancel.set()
        if self._iterator is not None:
            self._iterator.close()  # type: ignore[attr-defined]

    def collect(self) -> list[BatchResult]:
        """Run the batch to the end and return every result in input order."""
        return in_input_order(list(self))

    def _run(self) -> Iterator[BatchResult]:
        pairs = _pairs_of(enumerate(self._plain_items), self._spec)
        pull = threading.Lock()
        results: queue.Queue[BatchResult | BaseException | None] = queue.Queue(
            maxsize=self._spec.workers
        )
        remaining = [self._spec.workers]
        finished = threading.Lock()

        def put(item: BatchResult | BaseException | None) -> None:
            while not self._cancel.is_set():
                try:
                    results.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def worker() -> None:
            try:
                while not self._cancel.is_set():
                    with pull:
                        pair = next(pairs, None)
                    if pair is None:
                        return
                    if pair.call is None:
                        put(pair.result(error=pair.error))
                        continue
                    try:
                        response = self._send(pair.call, self._cancel)
                    except Cancelled:
                        return
                    except ComposoError as error:
                        put(pair.result(error=error))
                    else:
                        put(pair.result(response=response))
            except BaseException as exc:  # a failure of the input iterable itself
                put(exc)
            finally:
                with finished:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        put(None)

        threads = [
            threading.Thread(target=worker, name=f"composo-batch-{n}", daemon=True)
            for n in range(self._spec.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            while True:
                item = results.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                self._count(item)
                yield item
        finally:
            self._cancel.set()
            for thread in threads:
                thread.join()


__all__ = [
    "AsyncBatch",
    "BatchProgress",
    "BatchResult",
    "BatchSpec",
    "SyncBatch",
    "batch_spec",
    "format_summary_table",
    "in_input_order",
    "summarize",
    "summary_rows",
]
