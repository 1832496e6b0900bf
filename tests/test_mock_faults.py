"""Faults and load on demand: injected statuses, drops, latency, rate limits, counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo._mock import FaultConfig, MockServer
from composo._mock._faults import (
    DROPPED,
    TIMELINE_STEP,
    RequestCounters,
    TokenBucket,
    retry_after_seconds,
)

pytestmark = pytest.mark.e2e

BODY = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    "evaluation_criteria": "Reward friendly greetings.",
}
REWARD = "/api/v1/evals/reward"


@pytest.fixture(scope="module")
def running() -> Iterator[MockServer]:
    with MockServer(check_responses=True) as server:
        yield server


@pytest.fixture
def server(running: MockServer) -> MockServer:
    running.reset()
    return running


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"API-Key": "k"}) as client:
        yield client


def statuses(client: httpx.Client, count: int) -> list[int]:
    return [client.post(REWARD, json=BODY).status_code for _ in range(count)]


@pytest.mark.parametrize("status", [500, 503, 524])
def test_fault_probability_one_answers_every_request_with_it(
    server: MockServer, client: httpx.Client, status: int
) -> None:
    server.configure(**{f"p{status}": 1.0})

    responses = [client.post(REWARD, json=BODY) for _ in range(5)]

    assert [r.status_code for r in responses] == [status] * 5
    assert all(isinstance(r.json()["detail"], str) for r in responses)


def test_injected_429_carries_the_configured_retry_after(
    server: MockServer, client: httpx.Client
) -> None:
    server.configure(p429=1.0, retry_after=7)

    response = client.post(REWARD, json=BODY)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_injected_429_can_leave_retry_after_out(server: MockServer, client: httpx.Client) -> None:
    server.configure(p429=1.0, retry_after=None)

    response = client.post(REWARD, json=BODY)

    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_faults_come_before_authentication(server: MockServer) -> None:
    server.configure(p503=1.0)

    assert httpx.get(f"{server.base_url}/api/v1/usage").status_code == 503


def test_dropped_connection_is_a_connection_error_for_the_client(
    server: MockServer, client: httpx.Client
) -> None:
    server.configure(p_drop=1.0)

    with pytest.raises(httpx.RemoteProtocolError):
        client.post(REWARD, json=BODY)

    assert server.counters.count("POST", REWARD, DROPPED) == 1


def test_fault_mix_follows_its_probabilities(server: MockServer, client: httpx.Client) -> None:
    server.configure(p503=0.5, seed=3)

    seen = statuses(client, 200)

    assert set(seen) == {200, 503}
    assert 60 <= seen.count(503) <= 140


def test_same_seed_gives_the_same_fault_sequence(server: MockServer, client: httpx.Client) -> None:
    server.configure(p500=0.3, p503=0.3, seed=42)
    first = statuses(client, 30)
    server.configure(seed=42)

    assert statuses(client, 30) == first


def test_faults_can_be_switched_off_while_running(server: MockServer, client: httpx.Client) -> None:
    server.configure(p503=1.0)
    assert statuses(client, 2) == [503, 503]

    server.configure(p503=0.0)

    assert statuses(client, 2) == [200, 200]


def test_reset_restores_the_constructor_settings(server: MockServer) -> None:
    server.configure(p503=1.0, latency=0.5)

    server.reset()

    assert server.config == FaultConfig()


def test_fixed_latency_delays_every_response(server: MockServer, client: httpx.Client) -> None:
    server.configure(latency=0.2)

    started = time.perf_counter()
    response = client.post(REWARD, json=BODY)

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_latency_range_delays_within_the_range(server: MockServer, client: httpx.Client) -> None:
    server.configure(latency_range=(0.05, 0.1))

    for _ in range(3):
        started = time.perf_counter()
        client.get("/api/v1/usage")
        assert time.perf_counter() - started >= 0.05


def test_rate_limit_answers_429_with_retry_after_until_a_token_is_back(
    server: MockServer, client: httpx.Client
) -> None:
    server.configure(rate_limit=(2, 3.0))

    first, second, third = (client.post(REWARD, json=BODY) for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    # A token comes back every 1.5 s: the wait rounds up to 2 whole seconds.
    assert third.headers["Retry-After"] == "2"
    assert isinstance(third.json()["detail"], str)


def test_rate_limit_is_per_api_key(server: MockServer, client: httpx.Client) -> None:
    server.configure(rate_limit=(1, 60.0))
    client.post(REWARD, json=BODY)

    other = httpx.post(f"{server.base_url}{REWARD}", json=BODY, headers={"API-Key": "other"})

    assert client.post(REWARD, json=BODY).status_code == 429
    assert other.status_code == 200


def test_rate_limit_refills_over_time(server: MockServer, client: httpx.Client) -> None:
    server.configure(rate_limit=(1, 0.2))
    assert statuses(client, 2) == [200, 429]

    time.sleep(0.25)

    assert statuses(client, 1) == [200]


def test_token_bucket_reports_the_wait_for_the_next_token() -> None:
    bucket = TokenBucket(capacity=2, per_seconds=10.0, now=0.0)

    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 0.0
    assert bucket.take(1.0) == pytest.approx(4.0)
    assert bucket.take(5.0) == 0.0


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (29.5, 30)])
def test_retry_after_rounds_the_wait_up_to_whole_seconds(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


def test_counters_count_requests_by_route_and_status(
    server: MockServer, client: httpx.Client
) -> None:
    client.post(REWARD, json=BODY)
    client.post(REWARD, json={})
    client.get("/api/v1/traces/6f1c2a4e-1b2c-4d5e-8f90-123456789abc")

    counters = server.counters

    assert counters.total == 3
    assert counters.by_route[("POST", REWARD)] == {200: 1, 422: 1}
    assert counters.by_route[("GET", "/api/v1/traces/{trace_id}")] == {404: 1}
    assert counters.by_status == {200: 1, 422: 1, 404: 1}
    assert counters.count(status=422) == 1


def test_reset_counters_zeroes_them(server: MockServer, client: httpx.Client) -> None:
    client.get("/api/v1/usage")

    server.reset_counters()

    assert server.counters.total == 0


async def test_peak_in_flight_counts_concurrent_requests(server: MockServer) -> None:
    # Long enough for eight connections to open even on a loaded machine.
    server.configure(latency=2.0)

    async with httpx.AsyncClient(base_url=server.base_url, headers={"API-Key": "k"}) as client:
        responses = await asyncio.gather(*(client.post(REWARD, json=BODY) for _ in range(8)))

    assert [r.status_code for r in responses] == [200] * 8
    assert server.counters.peak_in_flight == 8
    assert server.counters.in_flight == 0


@pytest.mark.parametrize(
    "settings",
    [
        {"p503": 1.5},
        {"p500": 0.6, "p503": 0.6},
        {"latency": -1.0},
        {"latency": 0.1, "latency_range": (0.1, 0.2)},
        {"latency_range": (0.3, 0.1)},
        {"rate_limit": (0, 1.0)},
        {"retry_after": -1},
    ],
)
def test_out_of_range_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        FaultConfig(**settings)


def test_configure_refuses_unknown_settings(server: MockServer) -> None:
    with pytest.raises(TypeError, match="p404"):
        server.configure(p404=1.0)


@pytest.mark.e2e
def test_a_client_leaving_mid_request_is_counted_quietly(caplog: pytest.LogCaptureFixture) -> None:
    import socket
    import time

    from composo._mock import MockServer
    from composo._mock._app import CLIENT_GONE

    with MockServer() as server:
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(
                b"POST /api/v1/evals/reward HTTP/1.1\r\nHost: x\r\nAPI-Key: k\r\n"
                b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"messages"'
            )
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while server.counters.count(status=CLIENT_GONE) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.counters.count("POST", "/api/v1/evals/reward", CLIENT_GONE) == 1
    assert not [
        r for r in caplog.records if r.name.startswith("composo") and r.levelname == "ERROR"
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer_at(counters: RequestCounters, clock: FakeClock, at: float, status: int = 200) -> None:
    clock.now = 100.0 + at
    counters.enter()
    counters.leave("POST", REWARD, status)


def test_timeline_counts_answers_per_tenth_of_a_second_by_status() -> None:
    clock = FakeClock()
    counters = RequestCounters(clock)
    for at, status in [(0.01, 200), (0.05, 429), (0.09, 200), (0.25, 200), (1.31, 503)]:
        answer_at(counters, clock, at, status)

    timeline = counters.snapshot().timeline

    assert timeline == {0: {200: 2, 429: 1}, 2: {200: 1}, 13: {503: 1}}


def test_per_second_sums_every_one_second_window_sliding_a_step_at_a_time() -> None:
    clock = FakeClock()
    counters = RequestCounters(clock)
    # Steps 0, 5 and 9 share the first second; step 10 starts the next one.
    for at, status in [(0.0, 200), (0.55, 200), (0.95, 429), (1.0, 200), (1.45, 200)]:
        answer_at(counters, clock, at, status)

    snapshot = counters.snapshot()

    windows = snapshot.per_second()
    assert len(windows) == 15  # one per step from the first answer's to the last's
    assert windows[0] == 3  # steps 0-9
    assert windows[1] == 3  # steps 1-10: 0.55, 0.95, 1.0
    assert max(windows) == 4  # steps 5-14 hold 0.55, 0.95, 1.0, 1.45
    assert windows[-1] == 1  # step 14 alone
    assert max(snapshot.per_second(200)) == 3
    assert snapshot.per_second(429) == [1] * 10 + [0] * 5
    assert RequestCounters(clock).snapshot().per_second() == []


def test_timeline_keeps_only_the_newest_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("composo._mock._faults.TIMELINE_STEPS", 3)
    clock = FakeClock()
    counters = RequestCounters(clock)
    for step in range(5):
        answer_at(counters, clock, step * TIMELINE_STEP + 0.01)

    assert list(counters.snapshot().timeline) == [2, 3, 4]


def test_reset_restarts_the_timeline_at_step_zero() -> None:
    clock = FakeClock()
    counters = RequestCounters(clock)
    answer_at(counters, clock, 5.0)

    counters.reset()
    answer_at(counters, clock, 5.05)

    assert counters.snapshot().timeline == {0: {200: 1}}


def test_server_timeline_matches_its_counts(server: MockServer, client: httpx.Client) -> None:
    assert statuses(client, 4) == [200] * 4

    counters = server.counters

    assert sum(sum(s.values()) for s in counters.timeline.values()) == counters.total == 4
    assert max(counters.per_second(200)) <= 4
    assert counters.per_second(200)[0] >= 1
