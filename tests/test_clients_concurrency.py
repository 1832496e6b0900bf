"""Concurrency on both clients: the in-flight limit, slots during backoff, siblings of a failed
criterion, sharing a sync client between threads, and many calls under `asyncio.gather`."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import respx

from composo import (
    APITimeoutError,
    BadRequestError,
    Composo,
    EvaluationResponse,
    NotFoundError,
)
from tests import _client_util
from tests._client_util import (
    API_KEY,
    BASE_URL,
    CRITERION,
    MESSAGES,
    Flavor,
    InFlight,
    criterion_of,
    fast_policy,
    ok,
    reward_route,
    status,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
async_flavor = _client_util.async_flavor
flavor = _client_util.flavor
router = _client_util.router


async def test_async_client_never_exceeds_max_concurrent_requests(
    async_flavor: Flavor, router: respx.MockRouter
) -> None:
    in_flight = InFlight()
    reward_route(router, side_effect=async_flavor.delayed(0.03, in_flight=in_flight))
    async with async_flavor.client(max_concurrent_requests=3) as client:
        criteria = [f"Reward answer {i}" for i in range(4)]
        results = await asyncio.gather(
            *(client.evaluate(MESSAGES, CRITERION) for _ in range(8)),
            *(client.evaluate(MESSAGES, criteria) for _ in range(2)),
        )
    assert len(results) == 10
    assert in_flight.total == 8 + 2 * 4
    assert in_flight.max == 3


async def test_backoff_wait_does_not_hold_a_slot_with_one_slot(
    async_flavor: Flavor, router: respx.MockRouter
) -> None:
    events: list[str] = []
    first_attempt = True

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal first_attempt
        name = "B" if criterion_of(request) == "Reward call b" else "A"
        if name == "A" and first_attempt:
            first_attempt = False
            events.append("A-503")
            return httpx.Response(503, json={"detail": "busy"})
        events.append(f"{name}-200")
        return ok()(request)

    reward_route(router, side_effect=answer)
    client = async_flavor.client(
        max_concurrent_requests=1,
        policy=fast_policy(initial_backoff=0.2, max_backoff=0.2, jitter=0.0),
    )

    async def call_b() -> float:
        await asyncio.sleep(0.05)  # A is in its 0.2 s backoff by now
        started = time.monotonic()
        await client.evaluate(MESSAGES, "Reward call b")
        return time.monotonic() - started

    async with client:
        _, b_took = await asyncio.gather(client.evaluate(MESSAGES, "Reward call a"), call_b())
    assert events == ["A-503", "B-200", "A-200"]
    assert b_took < 0.1


async def test_backoff_waits_leave_every_slot_free_for_other_calls(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    # Five calls (the limit of both clients by default) all get 503 and back off for 0.2 s;
    # a sixth call must be answered during that backoff.
    seen: dict[str, int] = {}
    finished: dict[str, float] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        criterion = criterion_of(request)
        seen[criterion] = seen.get(criterion, 0) + 1
        if criterion.startswith("Reward backing off") and seen[criterion] == 1:
            return httpx.Response(503, json={"detail": "busy"})
        return ok()(request)

    reward_route(router, side_effect=answer)
    client = flavor.client(policy=fast_policy(initial_backoff=0.2, max_backoff=0.2, jitter=0.0))
    assert client.max_concurrent_requests == 5

    async def run(criterion: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await flavor.call(client.evaluate, MESSAGES, criterion)
        finished[criterion] = time.monotonic()

    start = time.monotonic()
    await asyncio.gather(
        *(run(f"Reward backing off {i}", 0) for i in range(5)), run("Reward the late call", 0.05)
    )
    assert finished["Reward the late call"] - start < 0.17
    assert all(seen[f"Reward backing off {i}"] == 2 for i in range(5))
    assert min(finished[f"Reward backing off {i}"] for i in range(5)) - start >= 0.2


async def test_failing_criterion_cancels_a_slow_sibling_request(
    async_flavor: Flavor, router: respx.MockRouter
) -> None:
    outcomes: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        if criterion_of(request) == "Reward a":
            return httpx.Response(400, json={"detail": "bad a"})
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            outcomes.append("b cancelled")
            raise
        outcomes.append("b completed")
        return ok()(request)

    reward_route(router, side_effect=answer)
    async with async_flavor.client() as client:
        start = time.monotonic()
        with pytest.raises(BadRequestError, match="bad a"):
            await client.evaluate(MESSAGES, ["Reward a", "Reward b"])
        assert time.monotonic() - start < 0.5
        await asyncio.sleep(0.02)
        assert outcomes == ["b cancelled"]
        assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_an_evaluation_cancels_its_requests(
    async_flavor: Flavor, router: respx.MockRouter
) -> None:
    cancelled = InFlight()

    async def answer(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            with cancelled:
                raise
        return ok()(request)

    reward_route(router, side_effect=answer)
    async with async_flavor.client() as client:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.evaluate(MESSAGES, ["Reward a", "Reward b"]), 0.05)
        await asyncio.sleep(0.02)
        assert cancelled.total == 2
        assert asyncio.all_tasks() == {asyncio.current_task()}


def test_sync_failing_criterion_returns_at_once_without_waiting_for_a_slow_sibling(
    router: respx.MockRouter,
) -> None:
    release = threading.Event()
    requests: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        criterion = criterion_of(request)
        requests.append(criterion)
        if criterion == "Reward a":
            time.sleep(0.05)  # b's request is under way by now
            return httpx.Response(400, json={"detail": "bad a"})
        release.wait(1.0)  # a slow answer, cut short when the test is done
        return ok()(request)

    reward_route(router, side_effect=answer)
    client = Composo(api_key=API_KEY, base_url=BASE_URL)
    try:
        start = time.monotonic()
        with pytest.raises(BadRequestError, match="bad a"):
            client.evaluate(MESSAGES, ["Reward a", "Reward b"])
        assert time.monotonic() - start < 0.5
    finally:
        release.set()
        client.close()
    assert sorted(requests) == ["Reward a", "Reward b"]


async def test_sibling_in_backoff_stops_when_another_criterion_fails(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    requests: list[str] = []
    b_backing_off = flavor.delayed(0.0, status(503, "busy"))
    a_fails_later = flavor.delayed(0.1, status(400, "bad a"))

    def answer(request: httpx.Request) -> Any:
        requests.append(criterion_of(request))
        return (a_fails_later if criterion_of(request) == "Reward a" else b_backing_off)(request)

    reward_route(router, side_effect=answer)
    client = flavor.client(policy=fast_policy(initial_backoff=0.6, max_backoff=0.6, jitter=0.0))
    start = time.monotonic()
    with pytest.raises(BadRequestError):
        await flavor.call(client.evaluate, MESSAGES, ["Reward a", "Reward b"])
    assert time.monotonic() - start < 0.4
    await flavor.close_all()  # waits for the sync client's threads
    assert time.monotonic() - start < 0.5
    assert sorted(requests) == ["Reward a", "Reward b"]  # b was never retried


def test_sync_client_runs_three_criteria_concurrently(router: respx.MockRouter) -> None:
    in_flight = InFlight()
    reward_route(router, side_effect=Flavor("sync", Composo).delayed(0.2, in_flight=in_flight))
    with Composo(api_key=API_KEY, base_url=BASE_URL) as client:
        start = time.monotonic()
        results = client.evaluate(MESSAGES, ["Reward a", "Reward b", "Reward c"])
        elapsed = time.monotonic() - start
    assert [type(result) for result in results] == [EvaluationResponse] * 3
    assert in_flight.max == 3
    assert elapsed < 0.4


def test_sync_client_is_safe_to_share_between_threads(router: respx.MockRouter) -> None:
    in_flight = InFlight()
    reward_route(router, side_effect=Flavor("sync", Composo).delayed(0.01, in_flight=in_flight))

    def five_calls(client: Composo, worker: int) -> list[Any]:
        results = []
        for i in range(5):
            criteria = f"Reward thread {worker} call {i}" if i % 2 else [CRITERION, "Reward b"]
            results.append(client.evaluate(MESSAGES, criteria))
        return results

    with Composo(api_key=API_KEY, base_url=BASE_URL) as client, ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda worker: five_calls(client, worker), range(8)))
    assert len(batches) == 8
    for batch in batches:
        assert len(batch) == 5
        assert isinstance(batch[1], EvaluationResponse)
        assert [type(result) for result in batch[0]] == [EvaluationResponse] * 2
    assert in_flight.total == 8 * (2 + 1 + 2 + 1 + 2)
    assert 1 < in_flight.max <= 5


async def test_gather_with_return_exceptions_keeps_order_and_maps_errors(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        index = int(criterion_of(request).rsplit(" ", 1)[1])
        if index % 5 == 0:
            return httpx.Response(400, json={"detail": f"bad {index}"})
        if index % 7 == 0:
            return httpx.Response(404, json={"detail": f"missing {index}"})
        return httpx.Response(200, json={"score": index / 100, "explanation": str(index)})

    in_flight = InFlight()
    reward_route(router, side_effect=flavor.delayed(0.01, answer, in_flight=in_flight))
    client = flavor.client()
    outcomes = await asyncio.gather(
        *(flavor.call(client.evaluate, MESSAGES, f"Reward item {i}") for i in range(50)),
        return_exceptions=True,
    )
    for index, outcome in enumerate(outcomes):
        if index % 5 == 0:
            assert isinstance(outcome, BadRequestError)
            assert outcome.detail == f"bad {index}"
        elif index % 7 == 0:
            assert isinstance(outcome, NotFoundError)
        else:
            assert isinstance(outcome, EvaluationResponse)
            assert outcome.score == index / 100
    assert in_flight.total == 50
    assert in_flight.max <= 5


@pytest.mark.parametrize(
    "flavor",
    [
        "sync",
        "async",
    ],
    indirect=True,
)
async def test_total_timeout_includes_waiting_for_a_free_slot(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    # Six calls, five slots, a 0.25 s server, timeout=0.3: the sixth call gets a slot after
    # 0.25 s, so it has 0.05 s left and must give up by the 0.3 s deadline.
    reward_route(router, side_effect=flavor.delayed(0.25))
    client = flavor.client(timeout=0.3)
    ended: list[float] = []

    async def one() -> Any:
        try:
            return await flavor.call(client.evaluate, MESSAGES, CRITERION)
        finally:
            ended.append(time.monotonic())

    start = time.monotonic()
    outcomes = await asyncio.gather(*(one() for _ in range(6)), return_exceptions=True)
    assert all(isinstance(item, EvaluationResponse | APITimeoutError) for item in outcomes)
    assert max(ended) - start < 0.42
