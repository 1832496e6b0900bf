"""`Composo`: the synchronous client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from functools import cached_property
from types import TracebackType
from typing import Any, Literal, Self, cast, overload

import httpx

from composo._attempts import Done, Fail, Sleep
from composo._base import BaseClient
from composo._batch import BatchProgress, SyncBatch, batch_spec
from composo._cache import ResultCache
from composo._constants import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_NUM_RETRIES,
    DEFAULT_TIMEOUT,
)
from composo._exceptions import Cancelled, ComposoError, bad_input
from composo._models import BackgroundTask, EvaluationResponse
from composo._ratelimit import RateLimiter
from composo._requests import Call, Plan, plan_evaluate, plan_evaluate_trace
from composo._resources import Evaluations, Traces
from composo._stored import rate_limits_call, usage_call
from composo._transport import HttpcoreSender, HttpxSyncSender, SyncSender
from composo_api.models import MultiAgentTraceResponse, RateLimitsResponse, UsageResponse

# How often a multi-criteria call checks whether its client was closed meanwhile.
_POLL_INTERVAL = 0.05


class Composo(BaseClient):
    """Synchronous Composo client; several criteria of one call still run concurrently.

    Safe to share between threads: at most `max_concurrent_requests` (5) requests are in
    flight at once across all of them, paced by one adaptive rate limiter that finds the
    account's quota from its 429s. Each evaluation retries transient failures with backoff
    within one total `timeout`, which bounds the whole call however slowly the server answers.
    It uses threads, never an event loop, so it also works inside a running one (a notebook).
    Use it as `with Composo() as client:` or call `close()`.

    Args:
        api_key: Your Composo API key; defaults to the `COMPOSO_API_KEY` environment variable.
        base_url: The API's URL; defaults to `COMPOSO_BASE_URL`, else the production service.
        num_retries: Retries after the first attempt (at least 1: retries cannot be disabled).
        model_core: The evaluation model core for every call; the service's default if None.
        timeout: Seconds one evaluation may take in all, every attempt and wait included.
        http_client: An `httpx.Client` you configured (proxies, transports, mocks); it is used
            as is (redirects are never followed) and not closed by `close()`. httpx bounds
            each socket read, so with it the deadline is checked between reads.
        max_concurrent_requests: The most requests in flight at once on this client.
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
        timeout: float = DEFAULT_TIMEOUT,
        *,
        http_client: httpx.Client | None = None,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
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
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise bad_input(
                f"http_client must be an httpx.Client, got {type(http_client).__name__}"
            )
        self._sender: SyncSender = (
            HttpcoreSender(self.max_concurrent_requests)
            if http_client is None
            else HttpxSyncSender(http_client)
        )
        self._slots = threading.BoundedSemaphore(self.max_concurrent_requests)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client, its threads and its connections; later calls raise
        `ClientClosedError`."""
        with self._pool_lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._sender.close()
        self._close_cache()

    @overload
    def evaluate(
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
    def evaluate(
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
    def evaluate(
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
    def evaluate(
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
    def evaluate(
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

    def evaluate(
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
        return self._run_plan(plan)

    @overload
    def evaluate_trace(
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
    def evaluate_trace(
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
    def evaluate_trace(
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
    def evaluate_trace(
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
    def evaluate_trace(
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

    def evaluate_trace(
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
        return self._run_plan(plan)

    def evaluate_batch(
        self,
        items: Iterable[Mapping[str, Any]],
        criteria: str | list[str],
        *,
        concurrency: int | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        evaluate_latest: bool | None = None,
        explanation_cleaning: str | None = None,
        data_retention: str | None = None,
        model_core: str | None = None,
    ) -> SyncBatch:
        """Evaluate many conversations, each against every criterion, streaming the results.

        The input is consumed as it goes, so memory stays bounded by the concurrency: a
        hundred thousand conversations never become a hundred thousand tasks or results.
        Every (item, criterion) pair yields exactly one `BatchResult`, a score or an error
        record; one item's failure never stops the batch.

        Args:
            items: An iterable of dicts with `messages` and optionally `id`, `system`,
                `tools`, `result`, `tags` (the `evaluate` arguments that vary per item).
            criteria: One criterion or a list; every item is scored against each.
            concurrency: Pairs evaluated at once; defaults to the client's
                `max_concurrent_requests`, which also caps the requests in flight.
            on_progress: Called with a `BatchProgress` after every result.
            evaluate_latest: As in `evaluate`, for every item.
            explanation_cleaning: As in `evaluate`, for every item.
            data_retention: As in `evaluate`, for every item.
            model_core: As in `evaluate`, for every item.

        Returns:
            A `SyncBatch`: iterate it (`for`) for results in completion order, or call
            `batch.collect()` for all of them in input order.

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
        return SyncBatch(self._send_queued, items, spec, self._rate_stats)

    @cached_property
    def traces(self) -> Traces:
        """The stored traces: `list`, `list_pages`, `get`, `comment` and `rate` (see `Traces`)."""
        return Traces(self._send)

    @cached_property
    def evaluations(self) -> Evaluations:
        """The stored evaluations: `filter`, `filter_pages` and `criteria` (see
        `Evaluations`)."""
        return Evaluations(self._send)

    def usage(self) -> UsageResponse:
        """Your usage against the monthly quota, and when the quota resets.

        A GET: retried on every transient failure, within `timeout`.

        Returns:
            A `UsageResponse`: `.usage` (`total_current_request_count`,
            `total_current_token_count`, `monthly_token_quota`, `models`) and
            `.quota_reset_date`.

        Raises:
            ComposoError: The request failed for good (see the subclasses).
        """
        return cast(UsageResponse, self._send(usage_call()))

    def rate_limits(self) -> RateLimitsResponse:
        """The rate limits of your API key, as the service describes them.

        The service does not document the shape, so this is a free-form object: read it
        like a dict (`limits["plan"]`, `limits.to_dict()`). A GET: retried on every
        transient failure, within `timeout`.

        Raises:
            ComposoError: The request failed for good (see the subclasses).
        """
        return cast(RateLimitsResponse, self._send(rate_limits_call()))

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            self._check_open()
            if self._pool is None:
                # Created on first need, never at import or construction.
                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_concurrent_requests, thread_name_prefix="composo"
                )
            return self._pool

    def _run_plan(self, plan: Plan) -> Any:
        self._check_open()
        cancel = threading.Event()
        if len(plan.calls) == 1:
            return plan.results([self._send(plan.calls[0], cancel)])
        pool = self._executor()
        # Each criterion's deadline starts when the call starts, even if it waits in the pool.
        started = time.monotonic()
        futures: list[Future[Any]] = [
            pool.submit(self._send, call, cancel, started=started) for call in plan.calls
        ]
        try:
            while True:
                # Polled: a future cancelled by close() never wakes a plain wait().
                done, pending = wait(futures, timeout=_POLL_INTERVAL, return_when=FIRST_EXCEPTION)
                failed = any(not f.cancelled() and f.exception() is not None for f in done)
                if not pending or failed or self._closed:
                    break
        finally:
            # One failure (or KeyboardInterrupt) ends the call: queued siblings never start,
            # running ones stop before their next attempt or wait.
            cancel.set()
            for future in futures:
                future.cancel()
        for future in futures:
            if future.done() and not future.cancelled():
                error = future.exception()
                if error is not None and not isinstance(error, Cancelled):
                    raise error
        if any(future.cancelled() for future in futures):
            self._check_open()
        return plan.results([future.result() for future in futures])

    def _send_queued(self, call: Call, cancel: threading.Event) -> Any:
        """`_send` for a batch item: its deadline starts when its first request goes out."""
        return self._send(call, cancel, queued=True)

    def _send(
        self,
        call: Call,
        cancel: threading.Event | None = None,
        *,
        queued: bool = False,
        started: float | None = None,
    ) -> Any:
        """Make one call: sleep and send as its `Attempts` decide (see `_attempts.py`).

        Raises:
            Cancelled: `cancel` was set (a sibling failed, or the batch stopped).
        """
        self._check_open()
        # A cached result is returned before the retry loop: no request, no limiter token.
        entry = self._cache_entry(call)
        if entry is not None and (hit := entry.get()) is not None:
            return hit.value
        if cancel is None:
            cancel = threading.Event()
        url = self._url(call.path)
        attempts = self._core.begin(
            call, time.monotonic() if started is None else started, queued=queued
        )
        while True:
            step = attempts.next(time.monotonic())
            if isinstance(step, Sleep):
                if cancel.wait(step.seconds):
                    raise Cancelled
                continue
            if isinstance(step, Fail):
                raise step.error
            if cancel.is_set():
                raise Cancelled
            if not self._slots.acquire(timeout=step.time_left):
                outcome: Done | Sleep | Fail = attempts.timed_out()
            else:
                try:
                    self._check_open()
                    time_left = attempts.sending(time.monotonic())
                    response = self._sender.send(
                        call.method, url, call.content, self._headers, time_left
                    )
                except ComposoError as error:
                    outcome = attempts.failed(error, time.monotonic())
                else:
                    outcome = attempts.received(response, time.monotonic())
                finally:
                    self._slots.release()
            if isinstance(outcome, Done):
                if entry is not None:
                    entry.put(response.content)
                return outcome.value
            if isinstance(outcome, Fail):
                raise outcome.error
            if cancel.wait(outcome.seconds):
                raise Cancelled
