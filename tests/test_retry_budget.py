"""The client-wide retry budget (after the AWS SDKs' standard retry quota): retries spend
tokens, successes earn them back, and an outage stops multiplying the load."""

from __future__ import annotations

import httpx
import pytest
import respx

from composo import APIError, AsyncComposo, Composo
from composo._constants import RETRY_COST, RETRY_COST_TIMEOUT
from composo._mock import MockServer
from composo._retry import ClientPause, RetryBudget, RetryPolicy

BASE = "https://platform.composo.ai"
REWARD = "/api/v1/evals/reward"
MESSAGES = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
CRITERION = "Reward friendly greetings"
FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.002)


def test_a_retry_spends_its_cost_and_a_timeout_costs_more() -> None:
    budget = RetryBudget(capacity=20)
    assert budget.try_spend(after_timeout=False) == RETRY_COST
    assert budget.try_spend(after_timeout=True) == RETRY_COST_TIMEOUT
    assert budget.tokens == 20 - RETRY_COST - RETRY_COST_TIMEOUT


def test_an_empty_budget_refuses_and_successes_refill_it() -> None:
    budget = RetryBudget(capacity=RETRY_COST)
    assert budget.try_spend(after_timeout=False) == RETRY_COST
    assert budget.try_spend(after_timeout=False) == 0
    budget.succeeded(spent_on_last_retry=RETRY_COST)  # a retry that worked returns its cost
    assert budget.tokens == RETRY_COST
    budget.succeeded(spent_on_last_retry=0)  # a first-try success earns one, up to capacity
    assert budget.tokens == RETRY_COST


def test_an_outage_drains_the_budget_then_calls_fail_after_one_attempt() -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(REWARD).mock(return_value=httpx.Response(503))
        with Composo(api_key="k", num_retries=3, http_client=httpx.Client()) as client:
            client._retry_policy = FAST
            client._retry_budget = RetryBudget(capacity=4 * RETRY_COST)
            attempts = []
            for _ in range(4):
                before = route.call_count
                with pytest.raises(APIError):
                    client.evaluate(MESSAGES, CRITERION)
                attempts.append(route.call_count - before)
    # 3 retries (15 tokens), then 1 more (20), then none: the load stops multiplying.
    assert attempts == [4, 2, 1, 1]


def test_successes_bring_retries_back_after_an_outage() -> None:
    ok = {"score": 1, "explanation": "Friendly."}
    answers = [httpx.Response(503)] * 2 + [httpx.Response(200, json=ok)] * RETRY_COST
    answers += [httpx.Response(503), httpx.Response(200, json=ok)]
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(REWARD).mock(side_effect=answers)
        with Composo(api_key="k", num_retries=1, http_client=httpx.Client()) as client:
            client._retry_policy = FAST
            client._retry_budget = RetryBudget(capacity=RETRY_COST)
            with pytest.raises(APIError):  # the one retry the budget allows also fails
                client.evaluate(MESSAGES, CRITERION)
            client.evaluate(MESSAGES, CRITERION)  # empty budget, but the first try succeeds
            for _ in range(RETRY_COST - 1):
                client.evaluate(MESSAGES, CRITERION)  # each success earns one token back
            assert client._retry_budget.tokens == RETRY_COST
            assert client.evaluate(MESSAGES, CRITERION).score == 1.0  # 503, then retried
    assert route.call_count == len(answers)


@pytest.mark.e2e
async def test_a_batch_during_an_outage_fails_fast_instead_of_multiplying_load() -> None:
    items = ({"messages": MESSAGES} for _ in range(300))
    with MockServer(p503=1.0) as server:
        async with AsyncComposo(
            api_key="k", base_url=server.base_url, num_retries=3, max_concurrent_requests=20
        ) as client:
            client._retry_policy = FAST
            results = await client.evaluate_batch(items, CRITERION).collect()
        sent = server.counters.count("POST", REWARD)
    assert len(results) == 300
    assert all(r.error is not None and r.error.status_code == 503 for r in results)
    # Without the budget: 300 x 4 = 1,200 requests. With it: one each plus 500 / 5 retries.
    assert sent <= 300 + 500 // RETRY_COST


def test_rate_limit_pause_is_spread_so_waiters_do_not_restart_together() -> None:
    import random

    policy = RetryPolicy()
    pause = ClientPause()
    pause.note(1.0, now=100.0, policy=policy)
    rand = random.Random(0).random
    waits = [pause.left(100.0, policy, rand) for _ in range(200)]
    assert pause.left(101.0, policy, rand) == 0.0
    assert min(waits) >= 1.0  # never earlier than the server asked
    assert max(waits) <= 1.0 * (1 + policy.jitter)
    assert max(waits) - min(waits) > 0.1  # spread, not one instant
