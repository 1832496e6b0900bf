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
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from composo._exceptions import ComposoError, bad_input
from composo._models import EvaluationResponse
from composo._requests import Call, evaluate_options, plan_evaluate
from composo._validation import is_binary_criterion, normalize_criteria

if TYPE_CHECKING:
    from composo._async_client import AsyncComposo
    from composo._sync_client import Composo

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record: the score and explanation, or the error's type and message."""
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
        if self.error is not None:
            record["error"] = {
                "type": type(self.error).__name__,
                "status_code": self.error.status_code,
                "message": str(self.error),
            }
        return record


@dataclass(slots=True)
class BatchProgress:
    """Counts of a running batch, passed to the `on_progress` callback after every result."""

    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

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
    """The pairs of one input item; a bad item gives one error pair per criterion."""
    item_id = _item_id(item)
    try:
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
        plan = plan_evaluate(
            item["messages"],
            criteria,
            system=item.get("system"),
            tools=item.get("tools"),
            result=item.get("result"),
            block=True,
            tags=item.get("tags"),
            evaluator_name=None,
            **options,
        )
    except ComposoError as error:
        return [_Pair(index, item_id, c, i, None, error) for i, c in enumerate(criteria)]
    return [
        _Pair(index, item_id, c, i, call, None)
        for i, (c, call) in enumerate(zip(criteria, plan.calls, strict=True))
    ]


def _pairs_of(
    indexed_items: Iterable[tuple[int, object]],
    criteria: list[str],
    options: Mapping[str, Any],
    skip: Callable[[int, str | None, str], bool] | None,
) -> Iterator[_Pair]:
    """Every pair to evaluate, item by item, as the input is read."""
    for index, item in indexed_items:
        for pair in _plan_item(index, item, criteria, options):
            if skip is None or not skip(pair.index, pair.item_id, pair.criterion):
                yield pair


def check_batch_args(criteria: object, concurrency: object, default: int) -> tuple[list[str], int]:
    names, _ = normalize_criteria(criteria)
    if concurrency is None:
        return names, default
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise bad_input(f"concurrency must be a positive int, got {concurrency!r}")
    return names, concurrency


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


class _BatchBase:
    """What both batch iterators hold: the input, the criteria, the options and the counts."""

    def __init__(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        criteria: list[str],
        concurrency: int,
        on_progress: Callable[[BatchProgress], None] | None,
        options: Mapping[str, Any],
        skip: Callable[[int, str | None, str], bool] | None,
    ) -> None:
        self._items = items
        self._criteria = criteria
        self._concurrency = concurrency
        self._on_progress = on_progress
        self._options = options
        self._skip = skip
        self.progress = BatchProgress()

    def _count(self, result: BatchResult) -> None:
        self.progress.done += 1
        if result.error is not None:
            self.progress.failed += 1
        if self._on_progress is not None:
            self._on_progress(self.progress)


class AsyncBatch(_BatchBase):
    """An async iterator of `BatchResult`s in completion order; `collect()` gives input order.

    Workers start on first iteration and stop when the input is exhausted, when iteration is
    abandoned (`aclose()`, `break` in `async for` followed by garbage collection) or when the
    consuming task is cancelled: no request keeps running unobserved.
    """

    def __init__(
        self,
        client: AsyncComposo,
        items: Iterable[Any] | AsyncIterable[Any],
        criteria: list[str],
        concurrency: int,
        on_progress: Callable[[BatchProgress], None] | None,
        options: Mapping[str, Any],
        *,
        skip: Callable[[int, str | None, str], bool] | None = None,
    ) -> None:
        super().__init__(items, criteria, concurrency, on_progress, options, skip)
        self._client = client
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
            for pair in _pairs_of([(index, item)], self._criteria, self._options, self._skip):
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
            sync_pairs = _pairs_of(
                enumerate(self._items), self._criteria, self._options, self._skip
            )
        pull = asyncio.Lock()
        # Bounded: when the consumer is slow, workers wait instead of piling up results.
        results: asyncio.Queue[BatchResult | None] = asyncio.Queue(maxsize=self._concurrency)

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
                    response = await self._client._run(pair.call)
                except ComposoError as error:
                    await results.put(pair.result(error=error))
                else:
                    await results.put(pair.result(response=response))

        failure: list[Exception] = []

        async def supervise() -> None:
            try:
                # A TaskGroup: if the input iterable fails, the other workers are cancelled.
                async with asyncio.TaskGroup() as group:
                    for _ in range(self._concurrency):
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
        self,
        client: Composo,
        items: Iterable[Any],
        criteria: list[str],
        concurrency: int,
        on_progress: Callable[[BatchProgress], None] | None,
        options: Mapping[str, Any],
        *,
        skip: Callable[[int, str | None, str], bool] | None = None,
    ) -> None:
        if isinstance(items, AsyncIterable) or not isinstance(items, Iterable):
            raise bad_input(
                f"Composo.evaluate_batch takes a plain iterable of items, got "
                f"{type(items).__name__} (AsyncComposo.evaluate_batch takes async iterables)"
            )
        super().__init__(items, criteria, concurrency, on_progress, options, skip)
        self._plain_items: Iterable[Any] = items
        self._client = client
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
        from composo._sync_client import _Cancelled

        pairs = _pairs_of(enumerate(self._plain_items), self._criteria, self._options, self._skip)
        pull = threading.Lock()
        results: queue.Queue[BatchResult | BaseException | None] = queue.Queue(
            maxsize=self._concurrency
        )
        remaining = [self._concurrency]
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
                        response = self._client._run(pair.call, self._cancel)
                    except _Cancelled:
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
            for n in range(self._concurrency)
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


def batch_options(
    *,
    criteria: list[str],
    evaluate_latest: bool | None,
    explanation_cleaning: str | None,
    data_retention: str | None,
    model_core: str | None,
) -> dict[str, Any]:
    """The per-batch `evaluate` arguments, checked once for the whole batch, so that a bad
    option is one error before anything is sent, not one error record per item."""
    options: dict[str, Any] = {
        "evaluate_latest": evaluate_latest,
        "explanation_cleaning": explanation_cleaning,
        "data_retention": data_retention,
        "model_core": model_core,
    }
    evaluate_options(**options, criteria=criteria)
    return options


__all__ = [
    "AsyncBatch",
    "BatchProgress",
    "BatchResult",
    "SyncBatch",
    "batch_options",
    "in_input_order",
    "summarize",
    "summary_rows",
]
