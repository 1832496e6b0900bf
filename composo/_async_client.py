"""`AsyncComposo`: the asyncio client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from composo._base import BaseClient
from composo._batch import AsyncBatch, BatchProgress, batch_options, check_batch_args
from composo._constants import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_NUM_RETRIES,
    DEFAULT_TIMEOUT,
)
from composo._exceptions import ComposoError, RateLimitError, bad_input
from composo._requests import Call, Plan, plan_evaluate, plan_evaluate_trace
from composo._transport import AiohttpSender, AsyncSender, HttpxAsyncSender, RawResponse


class AsyncComposo(BaseClient):
    """Asynchronous Composo client: evaluates conversations and traces concurrently.

    Never more than `max_concurrent_requests` requests are in flight across every concurrent
    call on one client; each evaluation retries transient failures with backoff within one
    total `timeout`. Use it as `async with AsyncComposo() as client:` or call `aclose()`.

    Args:
        api_key: Your Composo API key; defaults to the `COMPOSO_API_KEY` environment variable.
        base_url: The API's URL; defaults to `COMPOSO_BASE_URL`, else the production service.
        num_retries: Retries after the first attempt (at least 1: retries cannot be disabled).
        model_core: The evaluation model core for every call; the service's default if None.
        max_concurrent_requests: The most requests in flight at once on this client.
        timeout: Seconds one evaluation may take in all, every attempt and wait included.
        http_client: An `httpx.AsyncClient` you configured (proxies, transports, mocks); it is
            used as is and not closed by `aclose()`.
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
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            num_retries=num_retries,
            model_core=model_core,
            timeout=timeout,
        )
        if (
            isinstance(max_concurrent_requests, bool)
            or not isinstance(max_concurrent_requests, int)
            or max_concurrent_requests < 1
        ):
            raise bad_input(
                f"max_concurrent_requests must be a positive int, got {max_concurrent_requests!r}"
            )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise bad_input(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self.max_concurrent_requests = max_concurrent_requests
        self._sender: AsyncSender = (
            AiohttpSender(max_concurrent_requests)
            if http_client is None
            else HttpxAsyncSender(http_client, owned=False)
        )
        self._slots = asyncio.Semaphore(max_concurrent_requests)

    def __repr__(self) -> str:
        return (
            super().__repr__()[:-1] + f", max_concurrent_requests={self.max_concurrent_requests})"
        )

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

    async def close(self) -> None:
        """Same as `aclose()`."""
        await self.aclose()

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
            `block=False`, the server's dict holding `task_id` (or a list of them).

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
            model_core=self._core(model_core),
            input=input,
        )
        return await self._run_plan(plan)

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
            `block=False`, the server's dict holding `task_id` (or a list of them).

        Raises:
            MalformedError: Bad input, found before anything is sent (also a ValueError).
            ComposoError: The service refused or failed for good; see the subclasses.
        """
        plan = plan_evaluate_trace(
            trace,
            criteria,
            model_core=self._core(model_core),
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
        names, workers = check_batch_args(criteria, concurrency, self.max_concurrent_requests)
        options = batch_options(
            criteria=names,
            evaluate_latest=evaluate_latest,
            explanation_cleaning=explanation_cleaning,
            data_retention=data_retention,
            model_core=self._core(model_core),
        )
        return AsyncBatch(self, items, names, workers, on_progress, options)

    async def _run_plan(self, plan: Plan) -> Any:
        self._check_open()
        if len(plan.calls) == 1:
            only = await self._run(plan.calls[0])
            return only if plan.single else [only]
        tasks = [asyncio.ensure_future(self._run(call)) for call in plan.calls]
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
        return [task.result() for task in tasks]

    async def _run(self, call: Call) -> Any:
        """Send one call with retries, backoff and the total deadline."""
        self._check_open()
        deadline = time.monotonic() + self.timeout
        url = self._url(call)
        headers = self._request_headers
        retries = 0
        spent = 0
        while True:
            pause = self._pause_left()
            if pause > 0:
                if time.monotonic() + pause >= deadline:
                    raise RateLimitError(
                        f"the service asked this client to wait {pause:.1f} s (Retry-After), "
                        "longer than this evaluation's time left",
                        retry_after=pause,
                    )
                await asyncio.sleep(pause)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._deadline_error()
            response: RawResponse | None = None
            error: ComposoError
            try:
                try:
                    # The deadline covers waiting for a free slot as well as the request.
                    async with asyncio.timeout(remaining), self._slots:
                        self._check_open()
                        time_left = deadline - time.monotonic()
                        response = await self._sender.send(
                            call.method, url, call.content, headers, time_left
                        )
                except TimeoutError as exc:
                    if isinstance(exc, ComposoError):
                        raise
                    raise self._deadline_error() from None
            except ComposoError:
                raise  # the deadline ran out, or the client was closed meanwhile
            except Exception as exc:
                error = self._transport_error(exc)
                error.__cause__ = exc
            else:
                try:
                    outcome = self._read(call, response)
                except ComposoError as exc:
                    error = exc
                else:
                    self._retry_budget.succeeded(spent)
                    return outcome
            retry_after = self._note_rate_limit(response)
            wait = self._next_wait(error, retries, retry_after, deadline, call)
            if wait is None:
                raise error
            delay, spent = wait
            await asyncio.sleep(delay)
            retries += 1
