"""The `composo_mock` pytest fixture and the in-loop AsyncMockServer."""

from __future__ import annotations

import httpx
import pytest

from composo._mock import AsyncMockServer, FaultConfig, MockServer, mock_server

pytestmark = pytest.mark.e2e

BODY = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    "evaluation_criteria": "Reward friendly greetings.",
}


def test_fixture_yields_a_running_server(composo_mock: MockServer) -> None:
    response = httpx.post(
        f"{composo_mock.base_url}/api/v1/evals/reward", json=BODY, headers={"API-Key": "k"}
    )

    assert response.status_code == 200


def test_fixture_server_can_be_reconfigured_by_a_test(composo_mock: MockServer) -> None:
    httpx.post(f"{composo_mock.base_url}/api/v1/evals/reward", json=BODY, headers={"API-Key": "k"})
    composo_mock.configure(p503=1.0)

    response = httpx.get(f"{composo_mock.base_url}/api/v1/usage", headers={"API-Key": "k"})

    assert response.status_code == 503


def test_fixture_starts_every_test_clean(composo_mock: MockServer) -> None:
    # Whatever earlier tests stored or configured on the shared server is gone.
    assert composo_mock.config == FaultConfig()
    assert composo_mock.counters.total == 0
    traces = httpx.get(f"{composo_mock.base_url}/api/v1/traces", headers={"API-Key": "k"})
    assert traces.json()["traces"] == []


def test_mock_server_context_manager_stops_the_server() -> None:
    with mock_server() as server:
        url = server.base_url
        assert httpx.get(f"{url}/api/v1/usage", headers={"API-Key": "k"}).status_code == 200

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/usage", headers={"API-Key": "k"})
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url


def test_server_can_be_restarted_after_stop() -> None:
    server = MockServer()
    server.start()
    server.stop()
    server.start()
    try:
        assert httpx.get(f"{server.base_url}/api/v1/usage", headers={"API-Key": "k"}).is_success
    finally:
        server.stop()


def test_starting_twice_is_refused() -> None:
    with MockServer() as server, pytest.raises(RuntimeError, match="already running"):
        server.start()


async def test_async_server_serves_on_the_running_loop() -> None:
    async with (
        AsyncMockServer(p429=1.0) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        response = await client.post("/api/v1/evals/reward", json=BODY, headers={"API-Key": "k"})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert server.counters.count(status=429) == 1
