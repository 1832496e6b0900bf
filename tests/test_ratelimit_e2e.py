"""Batches within a quota, over real sockets against the mock's per-key token bucket.

No timed assertions: what is checked is what the user sees (every pair scored, 429s that cost
no retry, a clear error when a deadline cannot be met); throughput targets live in
scripts/bench-ratelimit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from composo import (
    AsyncComposo,
    BatchProgress,
    Composo,
    RateLimiter,
    RateLimitError,
)
from composo._cli import main
from composo._mock import MockServer
from composo._retry import RetryPolicy

pytestmark = pytest.mark.e2e

REWARD = "/api/v1/evals/reward"
CRITERIA = ["Reward answers that solve the problem", "Passes if the reply is polite"]
# Retry-After as the mock sends it (whole seconds) is honoured; other backoffs are shortened.
FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


def items(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {
            "id": f"c{i}",
            "messages": [
                {"role": "user", "content": f"Where is my order {i}?"},
                {"role": "assistant", "content": f"Order {i} ships tomorrow."},
            ],
        }


@pytest.mark.parametrize("flavor", ["async", "sync"])
async def test_a_batch_far_above_the_quota_loses_nothing_and_spends_no_retries(
    flavor: str,
) -> None:
    # 100 requests/s with bursts of 10; 200 in flight at once; one retry allowed per pair.
    with MockServer(rate_limit=(10, 0.1)) as server:
        progress: list[BatchProgress] = []
        kwargs = {"api_key": "k", "base_url": server.base_url, "num_retries": 1}
        if flavor == "async":
            async with AsyncComposo(max_concurrent_requests=200, **kwargs) as client:
                client._retry_policy = FAST
                batch = client.evaluate_batch(items(150), CRITERIA, on_progress=progress.append)
                results = await batch.collect()
        else:
            with Composo(max_concurrent_requests=200, **kwargs) as client:
                client._retry_policy = FAST
                batch = client.evaluate_batch(items(150), CRITERIA, on_progress=progress.append)
                results = await asyncio.to_thread(batch.collect)
        counters = server.counters
    assert len(results) == 300
    assert Counter((r.index, r.criterion) for r in results) == {
        (i, c): 1 for i in range(150) for c in CRITERIA
    }
    assert [r for r in results if not r.ok] == []
    # The quota was really hit (how often depends on how fast the threads start: the test of
    # three 429s for one call, below, shows they spend no retry)...
    assert counters.by_status[429] > 0
    assert counters.by_status[200] == 300
    # ...and the progress the user sees says so.
    assert progress[-1].throttled == counters.by_status[429]
    assert progress[-1].rate_limit is not None


@pytest.mark.parametrize("flavor", ["async", "sync"])
async def test_a_call_throttled_more_often_than_num_retries_is_still_scored(flavor: str) -> None:
    # Every request is answered 429 (no Retry-After) until the test lifts it.
    with MockServer(p429=1.0, retry_after=None) as server:
        kwargs = {"api_key": "k", "base_url": server.base_url, "num_retries": 1}
        messages = next(items(1))["messages"]

        async def lift_when_throttled_three_times() -> None:
            # The server's counters change in its own thread: polled, there is no event.
            while server.counters.by_status.get(429, 0) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            server.configure(p429=0.0)

        lifter = asyncio.ensure_future(lift_when_throttled_three_times())
        if flavor == "async":
            async with AsyncComposo(**kwargs) as client:
                client._retry_policy = FAST
                result = await client.evaluate(messages, CRITERIA[0])
        else:
            with Composo(**kwargs) as client:
                client._retry_policy = FAST
                result = await asyncio.to_thread(client.evaluate, messages, CRITERIA[0])
        await lifter
        counters = server.counters
    assert result.score is not None
    assert counters.by_status[429] >= 3  # three 429s with num_retries=1: none spent a retry
    assert counters.by_status[200] == 1


@pytest.mark.parametrize("flavor", ["async", "sync"])
async def test_a_deadline_the_quota_cannot_meet_is_a_clear_rate_limit_error(flavor: str) -> None:
    # One request every 2 s and 6 direct calls with 3 s each: some cannot be served in time.
    with MockServer(rate_limit=(1, 2.0)) as server:
        kwargs = {"api_key": "k", "base_url": server.base_url, "timeout": 3.0}
        messages = next(items(1))["messages"]
        if flavor == "async":
            async with AsyncComposo(max_concurrent_requests=6, **kwargs) as client:
                outcomes = await asyncio.gather(
                    *(client.evaluate(messages, f"Reward answer {n}") for n in range(6)),
                    return_exceptions=True,
                )
        else:
            with Composo(max_concurrent_requests=6, **kwargs) as client:
                outcomes = await asyncio.gather(
                    *(
                        asyncio.to_thread(client.evaluate, messages, f"Reward answer {n}")
                        for n in range(6)
                    ),
                    return_exceptions=True,
                )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors, "a quota of one request per 2 s cannot serve six calls in 3 s"
    for error in errors:
        assert isinstance(error, RateLimitError), repr(error)
        assert "timeout=3 s" in str(error)
        assert "requests_per_second=" in str(error)


async def test_clients_sharing_one_limiter_pace_together() -> None:
    limiter = RateLimiter()
    with MockServer(rate_limit=(5, 0.1)) as server:
        kwargs = {"api_key": "k", "base_url": server.base_url, "rate_limiter": limiter}
        async with (
            AsyncComposo(max_concurrent_requests=50, **kwargs) as first,
            AsyncComposo(max_concurrent_requests=50, **kwargs) as second,
        ):
            assert first.rate_limiter is second.rate_limiter is limiter
            both = await asyncio.gather(
                first.evaluate_batch(items(100), CRITERIA[0]).collect(),
                second.evaluate_batch(items(100), CRITERIA[1]).collect(),
            )
    assert all(r.ok for results in both for r in results)
    assert limiter.throttles > 0
    assert limiter.rate is not None  # both clients' 429s taught the one limiter


async def test_a_stated_quota_paces_from_the_first_request() -> None:
    # 20 requests/s, bursts of 2: told the quota, the client paces at it and almost never
    # hears a 429 (without it, 60 requests at once would get about 58).
    with MockServer(rate_limit=(2, 0.1)) as server:
        async with AsyncComposo(
            api_key="k",
            base_url=server.base_url,
            max_concurrent_requests=60,
            requests_per_second=20,
        ) as client:
            assert client.rate_limiter.rate == 20
            results = await client.evaluate_batch(items(60), CRITERIA[0]).collect()
        counters = server.counters
    assert all(r.ok for r in results)
    assert counters.by_status.get(429, 0) <= 10


def test_rate_changes_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with (
        MockServer(rate_limit=(2, 0.1)) as server,
        Composo(api_key="k", base_url=server.base_url, max_concurrent_requests=20) as client,
        caplog.at_level(logging.DEBUG, logger="composo"),
    ):
        client._retry_policy = FAST
        results = client.evaluate_batch(items(40), CRITERIA[0]).collect()
    assert all(r.ok for r in results)
    messages = [r.getMessage() for r in caplog.records if r.name == "composo"]
    assert any(m.startswith("rate limited (429): pacing requests at") for m in messages)


def test_the_command_reports_the_pace_and_the_429s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in items(40)))
    with MockServer(rate_limit=(2, 0.1)) as server:
        monkeypatch.setenv("COMPOSO_API_KEY", "k")
        monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
        code = main(
            ["evaluate", str(source), "--criteria", CRITERIA[0], "--concurrency", "20", "--quiet"]
        )
        throttled = server.counters.by_status.get(429, 0)
    assert code == 0
    err = capsys.readouterr().err
    assert throttled > 0
    assert f"{throttled} answered 429" in err
    assert "paced at" in err
    assert "waited out and sent again" in err


@pytest.mark.parametrize("bad", [0, -5, float("nan")])
def test_a_bad_stated_quota_is_refused_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: object
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"messages": []}\n')
    code = main(
        ["evaluate", str(source), "--criteria", CRITERIA[0], "--requests-per-second", str(bad)]
    )
    assert code == 2
    assert "--requests-per-second" in capsys.readouterr().err
