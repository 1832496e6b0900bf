"""Batch evaluation under faults, over real sockets against the local mock server."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from composo import APIConnectionError, APIError, AsyncComposo, Composo, RateLimitError
from composo._mock import MockServer
from composo._retry import RetryPolicy

pytestmark = pytest.mark.e2e

CRITERIA = ["Reward answers that solve the problem", "Passes if the reply is polite"]


def items(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {
            "id": f"c{i}",
            "messages": [
                {"role": "user", "content": f"Where is my order {i}?"},
                {"role": "assistant", "content": f"Order {i} ships tomorrow."},
            ],
        }


async def test_two_thousand_pairs_under_faults_are_each_accounted_for_exactly_once() -> None:
    limit = 50
    # 429s come from a real quota (400 requests/s, bursts of 20), as a service's do.
    faults = {"p503": 0.2, "p_drop": 0.02, "rate_limit": (20, 0.05), "seed": 7}
    with MockServer(**faults) as server:
        async with AsyncComposo(
            api_key="k", base_url=server.base_url, num_retries=4, max_concurrent_requests=limit
        ) as client:
            # Exponential backoff shortened by configuration; Retry-After: 1 is honoured as is.
            client._retry_policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
            started = time.monotonic()
            results = [r async for r in client.evaluate_batch(items(1000), CRITERIA)]
            elapsed = time.monotonic() - started
        counters = server.counters
    pairs = Counter((r.index, r.criterion) for r in results)
    assert len(results) == 2000
    assert set(pairs) == {(i, c) for i in range(1000) for c in CRITERIA}
    assert max(pairs.values()) == 1
    for result in results:
        assert (result.response is None) != (result.error is None)
        if result.error is not None:
            assert isinstance(result.error, APIError | RateLimitError | APIConnectionError)
    assert counters.peak_in_flight <= limit
    # Faults really happened, and most pairs still got scored after retries.
    assert counters.by_status.get(503, 0) > 100
    assert counters.by_status.get(429, 0) > 5  # the quota was hit: the limiter then paced it
    assert counters.by_status.get(0, 0) > 10  # dropped connections
    assert sum(r.ok for r in results) > 1900
    assert elapsed < 240


def test_sync_batch_against_the_mock_scores_deterministically() -> None:
    with MockServer() as server, Composo(api_key="k", base_url=server.base_url) as client:
        first = client.evaluate_batch(items(30), CRITERIA).collect()
        second = client.evaluate_batch(items(30), CRITERIA).collect()
        assert server.counters.peak_in_flight <= 5
    assert [r.score for r in first] == [r.score for r in second]
    assert all(r.ok for r in first)
    binary = [r.score for r in first if r.criterion.startswith("Passes")]
    assert set(binary) <= {0.0, 1.0}
