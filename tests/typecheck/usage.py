# pyright: strict
"""The public API as application code uses it, with the type each call must reveal.

Type-checked, never run (tests/test_typing.py runs `mypy --strict` and pyright in strict mode
on it): every `assert_type` fails the check if a result's type drifts, to `Any` above all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import assert_type

from composo import (
    AsyncBatch,
    AsyncComposo,
    AttachCommentResponse,
    AttachRatingResponse,
    BackgroundTask,
    BatchProgress,
    BatchResult,
    Composo,
    ComposoError,
    EvaluationFilterResponse,
    EvaluationRecord,
    EvaluationResponse,
    MultiAgentTrace,
    MultiAgentTraceResponse,
    RateLimitsResponse,
    SyncBatch,
    TraceListResponse,
    TraceResponse,
    UsageResponse,
)

MESSAGES = [
    {"role": "user", "content": "How long do I have to return a jacket?"},
    {"role": "assistant", "content": "Thirty days."},
]
CRITERION = "Reward responses that state the refund window"
BINARY = "Passes if the reply names a time limit"


def evaluate(client: Composo, flag: bool) -> None:
    result = client.evaluate(MESSAGES, CRITERION)
    assert_type(result, EvaluationResponse)
    assert_type(result.score, float | None)
    assert_type(result.explanation, str)
    assert_type(result.cleaned_explanation, str | None)
    assert_type(client.evaluate(MESSAGES, [CRITERION, BINARY]), list[EvaluationResponse])
    assert_type(client.evaluate(messages=MESSAGES, criteria=CRITERION), EvaluationResponse)
    assert_type(client.evaluate(input="Return policy?", criteria=CRITERION), EvaluationResponse)
    assert_type(client.evaluate(MESSAGES, evaluator_name="tone-v2"), EvaluationResponse)
    assert_type(client.evaluate(MESSAGES, evaluator_name=["a", "b"]), list[EvaluationResponse])
    assert_type(client.evaluate(MESSAGES, CRITERION, block=True), EvaluationResponse)
    task = client.evaluate(MESSAGES, CRITERION, block=False)
    assert_type(task, BackgroundTask)
    assert_type(task["task_id"], str)
    assert_type(client.evaluate(MESSAGES, [CRITERION], block=False), list[BackgroundTask])
    assert_type(client.evaluate(MESSAGES, evaluator_name="tone-v2", block=False), BackgroundTask)
    assert_type(
        client.evaluate(MESSAGES, CRITERION, block=flag),
        EvaluationResponse | list[EvaluationResponse] | BackgroundTask | list[BackgroundTask],
    )


def evaluate_trace(client: Composo, trace: MultiAgentTrace) -> None:
    response = client.evaluate_trace(trace, CRITERION)
    assert_type(response, MultiAgentTraceResponse)
    assert_type(response.request_id, str)
    assert_type(client.evaluate_trace(trace, [CRITERION]), list[MultiAgentTraceResponse])
    assert_type(client.evaluate_trace(trace, evaluator_name="x"), MultiAgentTraceResponse)
    assert_type(client.evaluate_trace(trace, CRITERION, block=False), BackgroundTask)
    assert_type(client.evaluate_trace(trace, [CRITERION], block=False), list[BackgroundTask])


def batch(client: Composo) -> None:
    def report(progress: BatchProgress) -> None:
        assert_type(progress.done, int)

    batch = client.evaluate_batch([{"messages": MESSAGES}], CRITERION, on_progress=report)
    assert_type(batch, SyncBatch)
    for item in batch:
        assert_type(item, BatchResult)
        assert_type(item.response, EvaluationResponse | None)
        assert_type(item.error, ComposoError | None)
        assert_type(item.score, float | None)
        assert_type(item.ok, bool)
    assert_type(batch.collect(), list[BatchResult])


def resources(client: Composo) -> None:
    traces = client.traces.list(start_date=datetime(2026, 11, 1, tzinfo=UTC), page_size=50)
    assert_type(traces, Iterator[TraceResponse])
    pages = client.traces.list_pages(page_token="token")
    assert_type(pages, Iterator[TraceListResponse])
    for page in pages:
        assert_type(page.traces, list[TraceResponse])
        assert_type(page.next_page_token, str | None)
    trace = client.traces.get("3f2b8c1e-7d4a-4e9b-9c1a-5b6d7e8f9a01")
    assert_type(trace, TraceResponse)
    assert_type(trace.created_at, datetime)
    comment = client.traces.comment(trace.id, "Right window, no link.")
    assert_type(comment, AttachCommentResponse)
    assert_type(comment.comment, str)
    assert_type(client.traces.rate(trace.id, good=True), AttachRatingResponse)
    records = client.evaluations.filter(tags={"run": "nightly"}, endpoint_type="reward")
    assert_type(records, Iterator[EvaluationRecord])
    filtered = client.evaluations.filter_pages(criteria=[CRITERION], page_size=100)
    assert_type(filtered, Iterator[EvaluationFilterResponse])
    assert_type(client.evaluations.criteria(), list[str])
    assert_type(client.evaluations.criteria("trace"), list[str])
    usage = client.usage()
    assert_type(usage, UsageResponse)
    assert_type(usage.usage.total_current_request_count, int)
    assert_type(client.rate_limits(), RateLimitsResponse)


async def async_client(client: AsyncComposo, trace: MultiAgentTrace, flag: bool) -> None:
    assert_type(await client.evaluate(MESSAGES, CRITERION), EvaluationResponse)
    assert_type(await client.evaluate(MESSAGES, [CRITERION]), list[EvaluationResponse])
    assert_type(await client.evaluate(MESSAGES, CRITERION, block=False), BackgroundTask)
    assert_type(await client.evaluate(MESSAGES, evaluator_name="x"), EvaluationResponse)
    assert_type(
        await client.evaluate(MESSAGES, [CRITERION], block=flag),
        EvaluationResponse | list[EvaluationResponse] | BackgroundTask | list[BackgroundTask],
    )
    assert_type(await client.evaluate_trace(trace, CRITERION), MultiAgentTraceResponse)
    assert_type(await client.evaluate_trace(trace, [BINARY]), list[MultiAgentTraceResponse])
    assert_type(await client.evaluate_trace(trace, BINARY, block=False), BackgroundTask)

    batch = client.evaluate_batch([{"messages": MESSAGES}], [CRITERION, BINARY])
    assert_type(batch, AsyncBatch)
    async for item in batch:
        assert_type(item, BatchResult)
    assert_type(await batch.collect(), list[BatchResult])

    traces = client.traces.list(end_date=datetime.now(UTC))
    assert_type(traces, AsyncIterator[TraceResponse])
    async for stored in traces:
        assert_type(stored, TraceResponse)
    assert_type(client.traces.list_pages(), AsyncIterator[TraceListResponse])
    assert_type(await client.traces.get(trace.root_agent_instance_id), TraceResponse)
    assert_type(await client.traces.comment("id", "text"), AttachCommentResponse)
    assert_type(await client.traces.rate("id", False), AttachRatingResponse)
    assert_type(client.evaluations.filter(tags={"n": ["1", "2"]}), AsyncIterator[EvaluationRecord])
    assert_type(client.evaluations.filter_pages(page=2), AsyncIterator[EvaluationFilterResponse])
    assert_type(await client.evaluations.criteria(), list[str])
    assert_type(await client.usage(), UsageResponse)
    assert_type(await client.rate_limits(), RateLimitsResponse)
