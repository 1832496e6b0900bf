"""`AsyncComposo`: the asyncio client."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from functools import cached_property
from types import TracebackType
from typing import Any, Literal, Self, cast, overload

import httpx

from composo._attempts import Done, Fail, Sleep
from composo._base import BaseClient
from composo._batch import AsyncBatch, BatchProgress, BatchSpec, batch_spec
from composo._cache import ResultCache
from composo._constants import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_NUM_RETRIES,
    DEFAULT_TIMEOUT,
)
from composo._exceptions import ComposoError, bad_input
from composo._models import BackgroundTask, EvaluationResponse
from composo._ratelimit import RateLimiter
from composo._requests import Call, Plan, plan_evaluate, plan_evaluate_trace
from composo._resources import AsyncEvaluations, AsyncTraces
from composo._stored import rate_limits_call, usage_call
from composo._transport import AiohttpSender, AsyncSender, HttpxAsyncSender
from composo_api.models import MultiAgentTraceResponse, RateLimitsResponse, UsageResponse


class AsyncComposo(BaseClient):
    """Asynchronous Composo client: evaluates conversations and traces concurrently.

    Never more than `max_concurrent_requests` requests are in flight across every concurrent
    call on one client, and all of them are paced by one adaptive rate limiter that finds the
    account's quota from its 429s; each evaluation retries transient failures with backoff
    within one total `timeout`. Use it as `async with AsyncComposo() as client:` or call
    `aclose()`. A client may be used under several `asyncio.run()` calls one after another.

    Args:
        api_key: Your Composo API key; defaults to the `COMPOSO_API_KEY` environment variable.
        base_url: The API's URL; defaults to `COMPOSO_BASE_URL`, else the production service.
        num_retries: Retries after the first attempt (at least 1: retries cannot be disabled).
        model_core: The evaluation model core for every call; the service's default if None.
        max_concurrent_requests: The most requests in flight at once on this client.
        timeout: Seconds one evaluation may take in all, every attempt and wait included.
        http_client: An `httpx.AsyncClient` you configured (proxies, transports, mocks); it is
            used as is (redirects are never followed) and not closed by `aclose()`. Its
            connections belong to one event loop, so with it the client works on that loop
            only.
        rate_limiter: A `RateLimiter` to share with other clients of this process, so they
            pace themselves to one quota; by default the client has its own.
        requests_per_second: The account's quota, when you know it: the client's limiter
            paces requests at this rate from the start instead of finding it from 429s.
        cache: A result cache for successful evaluations: True for the default one (see
            `ResultCache`), a path for one there, or a `ResultCache` to share between
            clients. A cached result is returned without a request (`from_cache` is True).
            A cache the client opened is closed with it; a `ResultCache` given is yours.

    Attributes:
        rate_limiter: The client's `RateLimiter` (its current pace is `rate_limiter.rate`).
        cache: The client's `ResultCache`, or None.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        num_retries: int = DEFAULT_NUM_RETRIES,
        model_core: str | None = None,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        http_client: httpx.AsyncClient | None = None,
        rate_limiter: RateLimiter | None = None,
        requests_per_second: float | None = None,
        cache: ResultCache | bool | str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            num_retries=num_retries,
            model_core=model_core,
            timeout=timeout,
            max_concurrent_requests=max_concurrent_requests,
            rate_limiter=rate_limiter,
            requests_per_second=requests_per_second,
            cache=cache,
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise bad_input(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self._sender: AsyncSender = (
            AiohttpSender(self.max_concurrent_requests)
            if http_client is None
            else HttpxAsyncSender(http_client)
        )
        # The concurrency bound, made per event loop (an asyncio.Semaphore belongs to one).
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def _slots_here(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            old = self._slots_loop
            if old is not None and not old.is_closed() and old.is_running():
                raise ComposoError(
                    "this AsyncComposo is in use on an event loop that is still running in "
                    "another thread; use one client per event loop"
                )
            self._slots_loop, self._slots = loop, asyncio.Semaphore(self.max_concurrent_requests)
        return self._slots

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its connections; later calls raise `ClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        await self._sender.aclose()
        self._close_cache()

    async def close(self) -> None:
        """Same as `aclose()`."""
        await self.aclose()

    @overload
    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: str | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        block: Literal[True] = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> EvaluationResponse: ...

    @overload
    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: list[str] | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        block: Literal[True] = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: list[str] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> list[EvaluationResponse]: ...

    @overload
    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: str | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        *,
        block: Literal[False],
        tags: Mapping[str, Any] | None = None,
        evaluator_name: str | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> BackgroundTask: ...

    @overload
    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: list[str] | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        *,
        block: Literal[False],
        tags: Mapping[str, Any] | None = None,
        evaluator_name: list[str] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> list[BackgroundTask]: ...

    @overload
    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: str | list[str] | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        block: bool = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | list[str] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> EvaluationResponse | list[EvaluationResponse] | BackgroundTask | list[BackgroundTask]: ...

    async def evaluate(
        self,
        messages: list[dict[str, Any]] | None = None,
        criteria: str | list[str] | None = None,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        result: Any = None,
        block: bool = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | list[str] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
        input: Any = None,
    ) -> Any:
        """Score a conversation against one criterion or several, concurrently.

        Args:
            messages: The conversation, OpenAI or Anthropic format (at least two messages
                once `result` is added). Never modified.
            criteria: One criterion (returns one result) or a list (returns a list, in order).
            system: A separate system prompt.
            tools: The tool definitions the assistant could call.
            result: The assistant turn to evaluate, appended once to `messages`: a str, a
                message dict, or an OpenAI ChatCompletion / Responses `Response` or Anthropic
                `Message`.
            block: False posts to the background endpoint and returns `{"task_id": ...}`.
            tags: Labels stored with the evaluation; str, int, float or bool values.
            evaluator_name: A saved evaluator (or a list), instead of `criteria`.
            evaluate_latest: False scores every assistant turn (the service default is True).
            explanation_cleaning: "end_user" adds `cleaned_explanation` to the result.
            data_retention: "none" scores without storing the conversation.
            model_core: The model core for this call, overriding the client's.
            input: Instead of `messages`, the `input` you gave the OpenAI Responses API (a
                str or a list of input items); it is converted to messages.

        Returns:
            An `EvaluationResponse`, or a list of them for a list of criteria; with
            `block=False`, a `BackgroundTask`: the server's dict holding `task_id` (or a list
            of them). Type checkers see the exact one for each call.

        Raises:
            MalformedError: Bad input, found before anything is sent (also a ValueError).
            ComposoError: The service refused or failed for good; see the subclasses.
        """
        plan = plan_evaluate(
            messages,
            criteria,
            system=system,
            tools=tools,
            result=result,
            block=block,
            tags=tags,
            evaluator_name=evaluator_name,
            evaluate_latest=evaluate_latest,
            explanation_cleaning=explanation_cleaning,
            data_retention=data_retention,
            model_core=self._model_core(model_core),
            input=input,
        )
        return await self._run_plan(plan)

    @overload
    async def evaluate_trace(
        self,
        trace: Any,
        criteria: str | None = None,
        model_core: str | None = None,
        block: Literal[True] = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> MultiAgentTraceResponse: ...

    @overload
    async def evaluate_trace(
        self,
        trace: Any,
        criteria: list[str] | None = None,
        model_core: str | None = None,
        block: Literal[True] = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: list[str] | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> list[MultiAgentTraceResponse]: ...

    @overload
    async def evaluate_trace(
        self,
        trace: Any,
        criteria: str | None = None,
        model_core: str | None = None,
        *,
        block: Literal[False],
        tags: Mapping[str, Any] | None = None,
        evaluator_name: str | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> BackgroundTask: ...

    @overload
    async def evaluate_trace(
        self,
        trace: Any,
        criteria: list[str] | None = None,
        model_core: str | None = None,
        *,
        block: Literal[False],
        tags: Mapping[str, Any] | None = None,
        evaluator_name: list[str] | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> list[BackgroundTask]: ...

    @overload
    async def evaluate_trace(
        self,
        trace: Any,
        criteria: str | list[str] | None = None,
        model_core: str | None = None,
        block: bool = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | list[str] | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> (
        MultiAgentTraceResponse
        | list[MultiAgentTraceResponse]
        | BackgroundTask
        | list[BackgroundTask]
    ): ...

    async def evaluate_trace(
        self,
        trace: Any,
        criteria: str | list[str] | None = None,
        model_core: str | None = None,
        block: bool = True,
        tags: Mapping[str, Any] | None = None,
        *,
        evaluator_name: str | list[str] | None = None,
        evaluate_latest: bool | None = None,
        data_retention: str | None = None,
    ) -> Any:
        """Score a multi-agent trace against one criterion or several, concurrently.

        Args:
            trace: A `MultiAgentTrace` or the equivalent dict.
            criteria: One criterion (returns one result) or a list (returns a list, in order).
            model_core: The model core for this call, overriding the client's; Lightning cores
                cannot score traces.
            block: False posts to the background endpoint and returns `{"task_id": ...}`.
            tags: Labels stored with the evaluation; str, int, float or bool values.
            evaluator_name: A saved evaluator (or a list), instead of `criteria`.
            evaluate_latest: Only False is accepted (a trace is always scored whole); kept
                for code written against the official SDK.
            data_retention: "none" scores without storing the trace.

        Returns:
            A `MultiAgentTraceResponse` (results by agent name), or a list of them; with
            `block=False`, a `BackgroundTask`: the server's dict holding `task_id` (or a list
            of them). Type checkers see the exact one for each call.

        Raises:
            MalformedError: Bad input, found before anything is sent (also a ValueError).
            ComposoError: The service refused or failed for good; see the subclasses.
        """
        plan = plan_evaluate_trace(
            trace,
            criteria,
            model_core=self._model_core(model_core),
            block=block,
            tags=tags,
            evaluator_name=evaluator_name,
            evaluate_latest=evaluate_latest,
            data_retention=data_retention,
        )
        return await self._run_plan(plan)

    def evaluate_batch(
        self,
        items: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        criteria: str | list[str],
        *,
        concurrency: int | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
    ) -> AsyncBatch:
        """Evaluate many conversations, each against every criterion, streaming the results.

        The input is consumed as it goes, so memory stays bounded by the concurrency: a
        hundred thousand conversations never become a hundred thousand tasks or results.
        Every (item, criterion) pair yields exactly one `BatchResult`, a score or an error
        record; one item's failure never stops the batch.

        Args:
            items: An iterable or async iterable of dicts with `messages` and optionally
                `id`, `system`, `tools`, `result`, `tags` (the `evaluate` arguments that vary
                per item).
            criteria: One criterion or a list; every item is scored against each.
            concurrency: Pairs evaluated at once; defaults to the client's
                `max_concurrent_requests`, which also caps the requests in flight.
            on_progress: Called with a `BatchProgress` after every result.
            evaluate_latest: As in `evaluate`, for every item.
            explanation_cleaning: As in `evaluate`, for every item.
            data_retention: As in `evaluate`, for every item.
            model_core: As in `evaluate`, for every item.

        Returns:
            A `AsyncBatch`: iterate it (`async for`) for results in completion order, or call
            `await batch.collect()` for all of them in input order.

        Raises:
            MalformedError: The criteria or the shared options are invalid (nothing is sent).
        """
        self._check_open()
        spec = batch_spec(
            criteria,
            concurrency=concurrency,
            default_concurrency=self.max_concurrent_requests,
            evaluate_latest=evaluate_latest,
            explanation_cleaning=explanation_cleaning,
            data_retention=data_retention,
            model_core=self._model_core(model_core),
            on_progress=on_progress,
        )
        return self._new_batch(items, spec)

    @cached_property
    def traces(self) -> AsyncTraces:
        """The stored traces: `list`, `list_pages`, `get`, `comment` and `rate` (see
        `AsyncTraces`)."""
        return AsyncTraces(self._send)

    @cached_property
    def evaluations(self) -> AsyncEvaluations:
        """The stored evaluations: `filter`, `filter_pages` and `criteria` (see
        `AsyncEvaluations`)."""
        return AsyncEvaluations(self._send)

    async def usage(self) -> UsageResponse:
        """Your usage against the monthly quota, and when the quota resets.

        A GET: retried on every transient failure, within `timeout`.

        Returns:
            A `UsageResponse`: `.usage` (`total_current_request_count`,
            `total_current_token_count`, `monthly_token_quota`, `models`) and
            `.quota_reset_date`.

        Raises:
            ComposoError: The request failed for good (see the subclasses).
        """
        return cast(UsageResponse, await self._send(usage_call()))

    async def rate_limits(self) -> RateLimitsResponse:
        """The rate limits of your API key, as the service describes them.

        The service does not document the shape, so this is a free-form object: read it
        like a dict (`limits["plan"]`, `limits.to_dict()`). A GET: retried on every
        transient failure, within `timeout`.

        Raises:
            ComposoError: The request failed for good (see the subclasses).
        """
        return cast(RateLimitsResponse, await self._send(rate_limits_call()))

    def _new_batch(self, items: Iterable[Any] | AsyncIterable[Any], spec: BatchSpec) -> AsyncBatch:
        """A batch over `items` with a checked spec (`composo evaluate` builds one too)."""
        self._check_open()
        return AsyncBatch(self._send_queued, items, spec, self._rate_stats)

    async def _run_plan(self, plan: Plan) -> Any:
        self._check_open()
        if len(plan.calls) == 1:
            only = await self._send(plan.calls[0])
            return plan.results([only])
        tasks = [asyncio.ensure_future(self._send(call)) for call in plan.calls]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # One failure (or our own cancellation) ends the call: nothing keeps running.
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        errors = [task.exception() for task in tasks if not task.cancelled()]
        for error in errors:
            if error is not None:
                raise error
        return plan.results([task.result() for task in tasks])

    async def _send_queued(self, call: Call) -> Any:
        """`_send` for a batch item: its deadline starts when its first request goes out."""
        return await self._send(call, queued=True)

    async def _send(self, call: Call, *, queued: bool = False) -> Any:
        """Make one call: sleep and send as its `Attempts` decide (see `_attempts.py`)."""
        self._check_open()
        # A cached result is returned before the retry loop: no request, no limiter token.
        # Reads run on the loop (in WAL mode a read never waits for a writer); writes, which
        # may wait for another process's lock, run in a thread.
        entry = self._cache_entry(call)
        if entry is not None and (hit := entry.get()) is not None:
            return hit.value
        slots = self._slots_here()
        url = self._url(call.path)
        attempts = self._core.begin(call, time.monotonic(), queued=queued)
        while True:
            step = attempts.next(time.monotonic())
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            if isinstance(step, Fail):
                raise step.error
            deadline = asyncio.timeout(step.time_left)
            outcome: Done | Sleep | Fail
            try:
                # The deadline covers waiting for a free slot as well as the request.
                async with deadline, slots:
                    self._check_open()
                    time_left = attempts.sending(time.monotonic())
                    deadline.reschedule(asyncio.get_running_loop().time() + time_left)
                    response = await self._sender.send(
                        call.method, url, call.content, self._headers, time_left
                    )
            except ComposoError as error:
                outcome = attempts.failed(error, time.monotonic())
            except TimeoutError:
                if not deadline.expired():
                    raise
                outcome = attempts.timed_out()
            else:
                outcome = attempts.received(response, time.monotonic())
            if isinstance(outcome, Done):
                if entry is not None:
                    await asyncio.to_thread(entry.put, response.content)
                return outcome.value
            if isinstance(outcome, Fail):
                raise outcome.error
            await asyncio.sleep(outcome.seconds)
