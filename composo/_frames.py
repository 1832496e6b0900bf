"""`evaluate_frame` and `aevaluate_frame`: score every row of a table, results as new columns.

Both read the table lazily, a chunk of rows at a time, feed the rows to `evaluate_batch` (which
streams, never holding more than `concurrency` pairs in flight) and write each result into
preallocated columns by row position. The sync one runs on `Composo`, which waits with threads
and sync httpx and never touches asyncio, so it works as is inside a running event loop (a
Jupyter cell, an async framework's thread); the async one is for `await` at the top level of
a notebook or inside async code.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from composo._batch import BatchProgress
from composo._exceptions import bad_input
from composo._frame_kinds import table_of
from composo._frame_rows import FramePlan, Inputs
from composo._progress import Display, progress_display

if TYPE_CHECKING:
    import datasets
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from composo._async_client import AsyncComposo
    from composo._cache import ResultCache
    from composo._sync_client import Composo

# The kinds of table given back as they came in.
FrameT = TypeVar("FrameT", bound="pd.DataFrame | pl.DataFrame | datasets.Dataset | pa.Table")
Criteria = str | Sequence[str] | Mapping[str, str]
Tags = str | Sequence[str] | None


def _plan(
    data: object,
    criteria: object,
    *,
    messages: object,
    prompt: object,
    response: object,
    id: object,
    system: object,
    tools: object,
    tags: object,
    long: object,
    progress: object,
    explanation_cleaning: object,
) -> FramePlan:
    # The cheap checks first: a misspelt argument should not cost reading a file.
    if progress is not None and progress is not True and progress is not False:
        raise bad_input(f"progress must be True, False or None, got {progress!r}")
    inputs = Inputs.check(
        messages=messages,
        prompt=prompt,
        response=response,
        id=id,
        system=system,
        tools=tools,
        tags=tags,
    )
    return FramePlan(
        table_of(data), criteria, inputs, long=long, cleaned=explanation_cleaning is not None
    )


def _own_sync_client(
    concurrency: int | None, cache: ResultCache | bool | str | os.PathLike[str] | None
) -> Composo:
    """The client a sync helper makes when given none: configured from the environment
    (`COMPOSO_API_KEY`, `COMPOSO_BASE_URL`), with the helper's `cache=` and a request limit of
    the concurrency asked for, and closed when the helper returns. Any other client option
    reaches the helpers through `client=`."""
    from composo._constants import DEFAULT_MAX_CONCURRENT_REQUESTS
    from composo._sync_client import Composo

    return Composo(
        cache=cache, max_concurrent_requests=concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS
    )


def _own_async_client(
    concurrency: int | None, cache: ResultCache | bool | str | os.PathLike[str] | None
) -> AsyncComposo:
    """As `_own_sync_client`, for the async helpers; its request limit is the concurrency
    asked for, so `concurrency=50` really has 50 requests in flight."""
    from composo._async_client import AsyncComposo
    from composo._constants import DEFAULT_MAX_CONCURRENT_REQUESTS

    return AsyncComposo(
        max_concurrent_requests=concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS,
        cache=cache,
    )


def _check_cache_or_client(cache: object, client: object) -> None:
    if cache is not None and client is not None:
        raise bad_input(
            "pass cache= or client=, not both: the cache belongs to the client (Composo(cache=...))"
        )


class _Progress:
    """The batch's `on_progress`: forwards to a display made once the batch has accepted its
    arguments (so a refused call leaves no empty bar behind), counting the rows that were
    not sent as done and failed."""

    def __init__(self, plan: FramePlan) -> None:
        self.plan = plan
        self.display: Display | None = None

    def _with_skipped(self, progress: BatchProgress) -> BatchProgress:
        skipped = self.plan.skipped
        return dataclasses.replace(
            progress, done=progress.done + skipped, failed=progress.failed + skipped
        )

    def __call__(self, progress: BatchProgress) -> None:
        if self.display is not None:
            self.display.update(self._with_skipped(progress))

    def show(self, setting: bool | None) -> None:
        self.display = progress_display(setting, self.plan.total)

    def close(self, progress: BatchProgress) -> None:
        if self.display is not None:
            self.display.close(self._with_skipped(progress))


def _run_sync(
    plan: FramePlan,
    client: Composo,
    concurrency: int | None,
    progress: bool | None,
    options: dict[str, Any],
) -> Any:
    display = _Progress(plan)
    batch = client.evaluate_batch(
        plan.items(), plan.criteria, concurrency=concurrency, on_progress=display, **options
    )
    display.show(progress)
    try:
        with batch:
            for result in batch:
                plan.add(result)
    finally:
        display.close(batch.progress)
    return plan.result()


@overload
def evaluate_frame(
    data: str | os.PathLike[str],
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: Composo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> pd.DataFrame: ...


@overload
def evaluate_frame(
    data: FrameT,
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: Composo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> FrameT: ...


def evaluate_frame(
    data: Any,
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: Composo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> Any:
    """Score every row of a table against each criterion; the results come back as columns.

    Works inside a running event loop (a Jupyter cell, an async framework's thread) without
    `nest_asyncio`: it uses the thread-based `Composo`, never `asyncio.run`. Every row keeps its
    place; a row that cannot be scored gets its `error` and the others are scored.

    Args:
        data: A pandas or polars DataFrame, a `datasets.Dataset` or a `pyarrow.Table` (the
            same kind comes back), or the path of a `.parquet`, `.jsonl`/`.ndjson` or `.csv`
            file (a pandas DataFrame comes back, as `pandas.read_*` would give plus the
            results).
        criteria: One criterion (columns `score`, `explanation`, `error`), a list of them
            (`criterion_1_score`, `criterion_1_explanation`, `criterion_1_error`,
            `criterion_2_score`...), or a dict of names to criteria (`<name>_score`...).
        messages: The column of conversations (lists of message dicts, or their JSON text);
            "messages" unless `prompt` is given.
        prompt: Instead of `messages`, a column of user prompts (text).
        response: A column of assistant replies (text, a message dict, an OpenAI or
            Anthropic response) appended to each conversation; needed with `prompt`.
        id: A column naming each row; it becomes the `item_id` of the batch's results.
        system: A column of system prompts (text); empty cells send none.
        tools: A column of tool definition lists (or their JSON text); empty cells send none.
        tags: A column of tag dicts, or a list of columns whose values become tags named
            after them (`tags=["model", "prompt_version"]`).
        client: The `Composo` to evaluate with (its retries, timeout, base URL, any cache);
            by default one is made from the environment and closed afterwards.
        concurrency: Pairs evaluated at once; the client's default (5) if None.
        long: True for one row per (row, criterion), columns `row` (the input position),
            `criterion` (the dict key, or the criterion's text), `score`, `explanation`,
            `error`, ordered row by row.
        progress: False for no progress bar; None shows one in a notebook or on a terminal;
            True shows one anywhere (log lines on stderr when it is no terminal).
        evaluate_latest: As in `Composo.evaluate`, for every row.
        explanation_cleaning: As in `Composo.evaluate`; adds `cleaned_explanation` columns.
        data_retention: As in `Composo.evaluate`, for every row.
        model_core: As in `Composo.evaluate`, for every row.
        cache: Without `client`, the result cache of the client made here: True for the
            default cache, a path, or a `ResultCache` (see `Composo`). Rows already scored
            against the same criterion are then answered without a request.

    Returns:
        A new table of the input's kind (the input is not changed), with the same rows in the
        same order and the result columns added; scores are floats, null when the row failed
        or the criterion did not apply; `error` is `"<ErrorClass>: <message>"` or null.

    Raises:
        MalformedError: Before anything is sent: an unknown column, a column name the results
            would overwrite, invalid criteria or options, an input of another kind.
        ImportError: A path needs pandas (or pyarrow for Parquet) and it is not installed.
    """
    plan = _plan(
        data,
        criteria,
        messages=messages,
        prompt=prompt,
        response=response,
        id=id,
        system=system,
        tools=tools,
        tags=tags,
        long=long,
        progress=progress,
        explanation_cleaning=explanation_cleaning,
    )
    options = {
        "evaluate_latest": evaluate_latest,
        "explanation_cleaning": explanation_cleaning,
        "data_retention": data_retention,
        "model_core": model_core,
    }
    _check_cache_or_client(cache, client)
    if client is None:
        with _own_sync_client(concurrency, cache) as own:
            return _run_sync(plan, own, concurrency, progress, options)
    from composo._sync_client import Composo

    if not isinstance(client, Composo):
        raise bad_input(
            f"evaluate_frame takes a Composo client, got {type(client).__name__}; with an "
            "AsyncComposo, use `await aevaluate_frame(...)`"
        )
    return _run_sync(plan, client, concurrency, progress, options)


async def _run_async(
    plan: FramePlan,
    client: AsyncComposo,
    concurrency: int | None,
    progress: bool | None,
    options: dict[str, Any],
) -> Any:
    display = _Progress(plan)
    batch = client.evaluate_batch(
        plan.items(), plan.criteria, concurrency=concurrency, on_progress=display, **options
    )
    display.show(progress)
    try:
        async with batch:
            async for result in batch:
                plan.add(result)
    finally:
        display.close(batch.progress)
    return plan.result()


@overload
async def aevaluate_frame(
    data: str | os.PathLike[str],
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: AsyncComposo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> pd.DataFrame: ...


@overload
async def aevaluate_frame(
    data: FrameT,
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: AsyncComposo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> FrameT: ...


async def aevaluate_frame(
    data: Any,
    criteria: Criteria,
    *,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    client: AsyncComposo | None = None,
    concurrency: int | None = None,
    long: bool = False,
    progress: bool | None = None,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> Any:
    """`evaluate_frame` for async code and notebooks: `await aevaluate_frame(df, criteria)`.

    Takes the same arguments, with an `AsyncComposo` as `client`; the client it makes when
    given none allows `concurrency` requests in flight. See `evaluate_frame`.
    """
    plan = _plan(
        data,
        criteria,
        messages=messages,
        prompt=prompt,
        response=response,
        id=id,
        system=system,
        tools=tools,
        tags=tags,
        long=long,
        progress=progress,
        explanation_cleaning=explanation_cleaning,
    )
    options = {
        "evaluate_latest": evaluate_latest,
        "explanation_cleaning": explanation_cleaning,
        "data_retention": data_retention,
        "model_core": model_core,
    }
    _check_cache_or_client(cache, client)
    if client is None:
        async with _own_async_client(concurrency, cache) as own:
            return await _run_async(plan, own, concurrency, progress, options)
    from composo._async_client import AsyncComposo

    if not isinstance(client, AsyncComposo):
        raise bad_input(
            f"aevaluate_frame takes an AsyncComposo client, got {type(client).__name__}; with "
            "a Composo, call evaluate_frame(...) (it works inside a running event loop too)"
        )
    return await _run_async(plan, client, concurrency, progress, options)
