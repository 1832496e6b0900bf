"""Batch evaluation: streaming input, results as they complete, every pair accounted for."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from composo import AsyncComposo, Composo, MalformedError
from composo._batch import BatchProgress, BatchResult, in_input_order, summarize
from composo._retry import RetryPolicy

BASE = "https://platform.composo.ai"
REWARD = "/api/v1/evals/reward"
FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.002, max_retry_after=0.01)


@contextlib.asynccontextmanager
async def async_client(**kwargs: Any) -> AsyncIterator[AsyncComposo]:
    """An AsyncComposo sending through httpx, so that respx sees its requests."""
    async with (
        httpx.AsyncClient() as http,
        AsyncComposo(api_key="k", http_client=http, **kwargs) as c,
    ):
        yield c


def conversation(i: int) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "messages": [
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ],
    }


def score_for(request: httpx.Request) -> httpx.Response:
    # The score encodes the item, so results can be checked against their inputs.
    body = request.read().decode()
    number = int(body.split("question ")[1].split('"')[0])
    return httpx.Response(200, json={"score": (number % 100) / 100, "explanation": "ok"})


async def async_score(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.001)
    return score_for(request)


def sync_items(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield conversation(i)


async def async_items(n: int) -> AsyncIterator[dict[str, Any]]:
    for i in range(n):
        await asyncio.sleep(0)
        yield conversation(i)


async def test_async_batch_scores_every_pair_once_and_collects_in_input_order() -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=async_score)
        async with async_client(max_concurrent_requests=8) as client:
            batch = client.evaluate_batch(async_items(60), ["Reward a", "Passes if b"])
            results = await batch.collect()
    assert [(r.index, r.criterion_index) for r in results] == [
        (i, c) for i in range(60) for c in range(2)
    ]
    assert all(r.ok and r.score == (r.index % 100) / 100 for r in results)
    assert [r.item_id for r in results[:4]] == ["c0", "c0", "c1", "c1"]


def test_sync_batch_scores_every_pair_once_and_collects_in_input_order() -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=score_for)
        with Composo(api_key="k") as client:
            results = client.evaluate_batch(sync_items(40), "Reward a").collect()
    assert [r.index for r in results] == list(range(40))
    assert all(r.score == (r.index % 100) / 100 for r in results)


async def test_a_failing_item_becomes_error_records_and_the_batch_goes_on() -> None:
    items: list[Any] = [conversation(0), {"id": "bad", "messages": [{"role": "user"}]}]
    items += [{"messages": [], "extra": 1}, "not a dict", conversation(4)]
    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=score_for)
        async with async_client() as client:
            results = await client.evaluate_batch(items, ["Reward a", "Reward b"]).collect()
    assert len(results) == 10
    by_index = {i: [r for r in results if r.index == i] for i in range(5)}
    assert all(r.ok for r in by_index[0] + by_index[4])
    for index in (1, 2, 3):
        assert all(isinstance(r.error, MalformedError) for r in by_index[index])
    assert by_index[1][0].item_id == "bad"
    assert "unknown field(s) 'extra'" in str(by_index[2][0].error)
    assert by_index[1][0].to_dict()["error"]["type"] == "MalformedError"


async def test_server_errors_become_error_records_with_status() -> None:
    def flaky(request: httpx.Request) -> httpx.Response:
        if b"question 3" in request.read():
            return httpx.Response(400, json={"detail": "context too long"})
        return score_for(request)

    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=flaky)
        async with async_client() as client:
            results = await client.evaluate_batch(sync_items(6), "Reward a").collect()
    failed = [r for r in results if not r.ok]
    assert [(r.index, r.error.status_code) for r in failed if r.error] == [(3, 400)]
    assert failed[0].to_dict()["error"]["message"] == "400 Bad Request: context too long"


async def test_input_is_consumed_lazily_and_in_flight_stays_bounded() -> None:
    pulled = 0
    in_flight = peak = 0

    def counting_items() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield conversation(i)

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return score_for(request)

    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=slow)
        async with async_client(max_concurrent_requests=4) as client:
            batch = client.evaluate_batch(counting_items(), "Reward a", concurrency=10)
            seen = 0
            async for _ in batch:
                seen += 1
                if seen == 20:
                    # The workers may run ahead by the concurrency and the result queue only.
                    assert pulled <= 20 + 10 + 10 + 1
            assert seen == 200
    assert peak <= 4


async def test_progress_callback_counts_done_and_failed() -> None:
    seen: list[tuple[int, int]] = []

    def on_progress(progress: BatchProgress) -> None:
        seen.append((progress.done, progress.failed))

    items = [conversation(0), {"messages": []}, conversation(2)]
    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=score_for)
        async with async_client() as client:
            await client.evaluate_batch(items, "Reward a", on_progress=on_progress).collect()
    assert [done for done, _ in seen] == [1, 2, 3]
    assert seen[-1] == (3, 1)


async def test_cancelling_the_consumer_stops_every_request() -> None:
    started = 0
    finished = 0

    async def hang(request: httpx.Request) -> httpx.Response:
        nonlocal started, finished
        started += 1
        await asyncio.sleep(10)
        finished += 1
        return score_for(request)

    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.post(REWARD).mock(side_effect=hang)
        async with async_client(max_concurrent_requests=5) as client:
            task = asyncio.ensure_future(
                client.evaluate_batch(sync_items(100), "Reward a").collect()
            )
            await asyncio.sleep(0.05)
            began = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - began < 1
            await asyncio.sleep(0.01)
            assert started == 5
            assert finished == 0
            assert asyncio.all_tasks() == {asyncio.current_task()}


def test_closing_a_sync_batch_stops_its_threads() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.02)
        return score_for(request)

    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=slow)
        with Composo(api_key="k") as client:
            batch = client.evaluate_batch(sync_items(1000), "Reward a")
            first = next(batch)
            batch.close()
            time.sleep(0.1)
    assert isinstance(first, BatchResult)
    assert not [t for t in threading.enumerate() if t.name.startswith("composo-batch")]


async def test_bad_criteria_or_options_are_refused_before_anything_is_sent() -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(REWARD)
        async with async_client() as client:
            with pytest.raises(MalformedError, match="criteria"):
                client.evaluate_batch(sync_items(3), [])
            with pytest.raises(MalformedError, match="Reward"):
                client.evaluate_batch(sync_items(3), "Score it well")
            with pytest.raises(MalformedError, match="concurrency"):
                client.evaluate_batch(sync_items(3), "Reward a", concurrency=0)
            with pytest.raises(MalformedError, match="explanation_cleaning"):
                client.evaluate_batch(sync_items(3), "Reward a", explanation_cleaning="x")
    assert route.call_count == 0


def test_summary_counts_means_failures_and_binary_pass_rate() -> None:
    from composo._models import EvaluationResponse

    def ok(i: int, criterion: str, score: float) -> BatchResult:
        return BatchResult(i, None, criterion, 0, EvaluationResponse(score=score, explanation=""))

    results = [
        ok(0, "Reward a", 0.2),
        ok(1, "Reward a", 0.6),
        BatchResult(2, None, "Reward a", 0, error=MalformedError("x")),
        ok(0, "Passes if b", 1.0),
        ok(1, "Passes if b", 0.0),
    ]
    table = summarize(results)
    assert table["Reward a"]["count"] == 3
    assert table["Reward a"]["failures"] == 1
    assert table["Reward a"]["mean"] == pytest.approx(0.4)
    assert (table["Reward a"]["min"], table["Reward a"]["max"]) == (0.2, 0.6)
    assert table["Reward a"]["pass_rate"] is None
    assert table["Passes if b"]["pass_rate"] == 0.5
    assert in_input_order(reversed(results))[0].index == 0


def test_sync_batch_refuses_an_async_iterable_with_a_pointer_to_the_async_client() -> None:
    with Composo(api_key="k") as client, pytest.raises(MalformedError, match="AsyncComposo"):
        client.evaluate_batch(async_items(3), "Reward a")


async def test_binary_only_core_is_checked_against_the_batch_criteria_themselves() -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(REWARD).mock(side_effect=score_for)
        async with async_client() as client:
            core = "align-lightning-20251127"
            results = await client.evaluate_batch(
                sync_items(3), "Passes if polite", model_core=core
            ).collect()
            with pytest.raises(MalformedError, match="only binary criteria"):
                client.evaluate_batch(sync_items(3), "Reward warmth", model_core=core)
    assert [r.ok for r in results] == [True, True, True]
