"""`cache=` on both clients: hits make no request and take no rate-limiter token, every part of
a request is part of its key, errors and background calls are never cached, results and
batches say what came from the cache, and a cache that fails mid-batch loses no item."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from composo import ClientClosedError, ComposoError, RateLimiter, ResultCache
from composo._cache_file import CACHE_FILE
from tests import _client_util
from tests._client_util import (
    CRITERION,
    MESSAGES,
    REWARD_BACKGROUND,
    TRACE,
    Flavor,
    criterion_of,
    reward_route,
    score_json,
)
from tests.test_clients_trace import TRACE_DICT, _trace_answer

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router

OTHER = "Penalize responses that invent policies"


class CountingLimiter(RateLimiter):
    """A rate limiter that counts what the clients ask of it."""

    def __init__(self) -> None:
        super().__init__()
        self.reserved = 0
        self.recorded = 0

    def take(self, now: float, max_wait: float | None = None) -> tuple[int, float] | None:
        self.reserved += 1
        return super().take(now, max_wait)

    def record(self, now: float, sent_at: float, *, throttled: bool) -> None:
        self.recorded += 1
        super().record(now, sent_at, throttled=throttled)


def items(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "messages": [
                {"role": "user", "content": f"Can I return order {i}?"},
                {"role": "assistant", "content": f"Yes, within 30 days ({i})."},
            ],
        }
        for i in range(count)
    ]


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    with ResultCache(tmp_path / "cache.sqlite3") as made:
        yield made


async def test_a_repeated_evaluation_is_answered_from_the_cache(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = reward_route(router, return_value=httpx.Response(200, json=score_json(0.7, "Ok.")))
    client = flavor.client(cache=cache)
    first = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    second = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 1
    assert (first.from_cache, second.from_cache) == (False, True)
    assert (second.score, second.explanation) == (0.7, "Ok.")
    # from_cache is not part of the result's value, nor of its wire form.
    assert first == second
    assert "from_cache" not in second.to_dict()
    assert cache.stats().entries == 1


async def test_a_hit_takes_no_rate_limiter_token_and_records_nothing(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = reward_route(router)
    limiter = CountingLimiter()
    client = flavor.client(cache=cache, rate_limiter=limiter)
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert (limiter.reserved, limiter.recorded) == (1, 1)
    for _ in range(3):
        result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
        assert result.from_cache
    assert (limiter.reserved, limiter.recorded) == (1, 1)
    assert route.call_count == 1


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("messages", {"messages": [MESSAGES[0], {"role": "assistant", "content": "31 days."}]}),
    ("criterion", {"criteria": OTHER}),
    ("system", {"system": "You are a support agent."}),
    ("tools", {"tools": [{"type": "function", "function": {"name": "lookup_order"}}]}),
    ("tags", {"tags": {"experiment": "b"}}),
    ("model_core", {"model_core": "align-20250529"}),
    ("evaluate_latest", {"evaluate_latest": False}),
    ("explanation_cleaning", {"explanation_cleaning": "end_user"}),
    ("data_retention", {"data_retention": "none"}),
]


@pytest.mark.parametrize(("part", "change"), CHANGES, ids=[part for part, _ in CHANGES])
async def test_changing_any_part_of_the_request_misses_then_hits(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache, part: str, change: Any
) -> None:
    route = reward_route(router, return_value=httpx.Response(200, json=score_json(0.5)))
    client = flavor.client(cache=cache)
    arguments = {"messages": MESSAGES, "criteria": CRITERION}
    await flavor.call(client.evaluate, **arguments)
    changed = {**arguments, **change}
    missed = await flavor.call(client.evaluate, **changed)
    assert route.call_count == 2, part
    assert not missed.from_cache
    hit = await flavor.call(client.evaluate, **changed)
    assert hit.from_cache
    assert route.call_count == 2
    assert cache.stats().entries == 2


async def test_the_clients_model_core_is_part_of_the_key(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = reward_route(router)
    plain = flavor.client(cache=cache)
    cored = flavor.client(cache=cache, model_core="align-20250529")
    await flavor.call(plain.evaluate, MESSAGES, CRITERION)
    result = await flavor.call(cored.evaluate, MESSAGES, CRITERION)
    assert not result.from_cache
    assert route.call_count == 2


async def test_errors_are_never_cached(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    answers = iter(
        [
            httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "no", "type": "x"}]}),
            httpx.Response(200, json={"score": "high"}),  # breaks the API description
            httpx.Response(200, json=score_json(0.9)),
        ]
    )
    route = reward_route(router, side_effect=lambda request: next(answers))
    client = flavor.client(cache=cache)
    with pytest.raises(ComposoError):
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    with pytest.raises(ComposoError, match="does not match the API description"):
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert cache.stats().entries == 0
    fresh = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    cached = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert (fresh.from_cache, cached.from_cache, cached.score) == (False, True, 0.9)
    assert route.call_count == 3


async def test_background_calls_are_always_sent(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = router.post(REWARD_BACKGROUND).respond(200, json={"task_id": "t-1"})
    client = flavor.client(cache=cache)
    for _ in range(2):
        answer = await flavor.call(client.evaluate, MESSAGES, CRITERION, block=False)
        assert answer == {"task_id": "t-1"}
    assert route.call_count == 2
    assert cache.stats().entries == 0


async def test_saved_evaluators_are_always_sent(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    # A saved evaluator can be edited on the server, out of the request's sight.
    route = reward_route(router)
    client = flavor.client(cache=cache)
    for _ in range(2):
        result = await flavor.call(client.evaluate, MESSAGES, evaluator_name="refund-policy")
        assert not result.from_cache
    assert route.call_count == 2
    assert cache.stats().entries == 0


async def test_several_criteria_are_cached_one_by_one(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    scores = {CRITERION: 0.2, OTHER: 0.4, "Passes if the reply is polite": 1.0}

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=score_json(scores[criterion_of(request)]))

    route = reward_route(router, side_effect=respond)
    client = flavor.client(cache=cache)
    await flavor.call(client.evaluate, MESSAGES, [CRITERION, OTHER])
    results = await flavor.call(
        client.evaluate, MESSAGES, [OTHER, "Passes if the reply is polite", OTHER]
    )
    assert [r.from_cache for r in results] == [True, False, True]
    assert [r.score for r in results] == [0.4, 1.0, 0.4]
    assert route.call_count == 3


async def test_trace_results_are_cached_and_flagged_down_to_each_instance(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = router.post(TRACE).respond(200, json=_trace_answer(0.9))
    client = flavor.client(cache=cache)
    first = await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    second = await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    assert route.call_count == 1
    assert (first.from_cache, second.from_cache) == (False, True)
    planner = second.results_by_agent_name["planner"].results_by_agent_instance_id["planner-1"]
    assert (planner.score, planner.from_cache) == (0.9, True)
    assert second.request_id == "trace-123"
    other = await flavor.call(client.evaluate_trace, TRACE_DICT, OTHER)
    assert not other.from_cache
    assert route.call_count == 2


async def test_a_batch_rerun_is_answered_from_the_cache_and_counted(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = reward_route(router)
    client = flavor.client(cache=cache)
    data = [*items(6), {"id": "broken", "messages": "not a list"}]
    first = client.evaluate_batch(data, [CRITERION, OTHER])
    before = await flavor.call(first.collect)
    assert route.call_count == 12
    assert first.progress.cached == 0
    seen: list[int] = []
    again = client.evaluate_batch(
        data, [CRITERION, OTHER], on_progress=lambda p: seen.append(p.cached)
    )
    after = await flavor.call(again.collect)
    assert route.call_count == 12
    assert (again.progress.done, again.progress.failed, again.progress.cached) == (14, 2, 12)
    assert seen[-1] == 12
    assert [r.from_cache for r in after if r.ok] == [True] * 12
    assert [r.score for r in after] == [r.score for r in before]
    records = [r.to_dict() for r in after]
    assert [rec.get("from_cache") for rec in records if "error" not in rec] == [True] * 12
    assert all("from_cache" not in rec for rec in records if "error" in rec)
    assert [r.to_dict()["from_cache"] for r in before if r.ok] == [False] * 12


async def test_a_cache_is_shared_between_clients_and_stays_open_for_its_owner(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    route = reward_route(router)
    one = flavor.client(cache=cache)
    await flavor.call(one.evaluate, MESSAGES, CRITERION)
    if flavor.is_async:
        await one.aclose()
    else:
        one.close()
    two = flavor.client(cache=cache)
    assert two.cache is cache
    result = await flavor.call(two.evaluate, MESSAGES, CRITERION)
    assert result.from_cache
    assert route.call_count == 1


async def test_a_cache_made_from_a_path_is_the_clients_and_closes_with_it(
    flavor: Flavor, router: respx.MockRouter, tmp_path: Path
) -> None:
    reward_route(router)
    client = flavor.client(cache=tmp_path)
    assert client.cache.path == tmp_path / CACHE_FILE
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert client.cache._idle
    if flavor.is_async:
        await client.aclose()
    else:
        client.close()
    assert client.cache._idle == []


async def test_cache_true_is_the_default_cache(flavor: Flavor) -> None:
    # tests/conftest.py points COMPOSO_CACHE_DIR at a directory of this test's own.
    client = flavor.client(cache=True)
    assert client.cache.path == Path(os.environ["COMPOSO_CACHE_DIR"]) / CACHE_FILE
    assert client.cache.path.exists()
    assert flavor.client().cache is None


async def test_a_closed_client_refuses_even_a_cached_call(
    flavor: Flavor, router: respx.MockRouter, cache: ResultCache
) -> None:
    reward_route(router)
    client = flavor.client(cache=cache)
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    if flavor.is_async:
        await client.aclose()
    else:
        client.close()
    with pytest.raises(ClientClosedError):
        await flavor.call(client.evaluate, MESSAGES, CRITERION)


async def test_a_file_that_is_not_a_cache_is_refused_when_the_client_is_made(
    flavor: Flavor, tmp_path: Path
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"messages": []}\n')
    with pytest.raises(ComposoError, match=r"data\.jsonl is not a composo result cache"):
        flavor.client(cache=path)
    assert path.read_text() == '{"messages": []}\n'


async def test_a_cache_that_fails_mid_batch_loses_no_item(
    flavor: Flavor,
    router: respx.MockRouter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = reward_route(router)
    cache = ResultCache(tmp_path / "cache.sqlite3", timeout=0)
    client = flavor.client(cache=cache)
    await flavor.call(client.evaluate_batch(items(2), CRITERION).collect)
    cache.close()
    # Another process holds the file exclusively: every read and write fails at once.
    other = sqlite3.connect(cache.path, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("COMMIT")
    try:
        with caplog.at_level(logging.WARNING, logger="composo"):
            batch = client.evaluate_batch(items(8), CRITERION)
            results = await flavor.call(batch.collect)
    finally:
        other.close()
    assert [r.ok for r in results] == [True] * 8
    assert batch.progress.cached == 0
    assert route.call_count == 2 + 8
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2  # one per kind of failure, not one per item
    assert any("read failed" in m for m in messages)
    assert any("write failed" in m for m in messages)
    cache.close()
