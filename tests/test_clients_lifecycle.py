"""Opening and closing both clients: context managers, idempotent close, calls after close,
caller-provided HTTP clients, and the async client's default (aiohttp) transport, which respx
cannot intercept and is therefore exercised against a tiny server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from aiohttp import web

import composo
from composo import (
    APIConnectionError,
    APITimeoutError,
    AsyncComposo,
    ClientClosedError,
    Composo,
    EvaluationResponse,
)
from tests import _client_util
from tests._client_util import (
    API_KEY,
    BASE_URL,
    CRITERION,
    MESSAGES,
    Flavor,
    InFlight,
    fast_policy,
    reward_route,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router

TRACE = {
    "root_agent_instance_id": "a",
    "agent_instance_by_id": {
        "a": {
            "id": "a",
            "name": "solo",
            "interactions": [
                {"input_messages": [{"role": "user", "content": "hi"}], "output_messages": []}
            ],
        }
    },
}


def test_sync_client_as_context_manager_closes_its_connections(router: respx.MockRouter) -> None:
    route = reward_route(router)
    client = Composo(api_key=API_KEY, base_url=BASE_URL)
    with client as entered:
        assert entered is client
        assert isinstance(client.evaluate(MESSAGES, CRITERION), EvaluationResponse)
        client.evaluate(MESSAGES, [CRITERION, "Reward b"])  # starts the worker threads
    assert route.call_count == 3
    assert client.is_closed
    assert client._sender.is_closed
    assert client._pool is None


async def test_async_client_as_context_manager_closes(router: respx.MockRouter) -> None:
    route = reward_route(router)
    async with httpx.AsyncClient() as http:
        client = AsyncComposo(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        async with client as entered:
            assert entered is client
            assert isinstance(await client.evaluate(MESSAGES, CRITERION), EvaluationResponse)
        assert client.is_closed
        assert route.call_count == 1


def test_sync_client_close_is_idempotent() -> None:
    client = Composo(api_key=API_KEY, base_url=BASE_URL)
    client.close()
    client.close()
    assert client.is_closed
    assert client._sender.is_closed


async def test_async_client_aclose_and_close_are_idempotent() -> None:
    client = AsyncComposo(api_key=API_KEY, base_url=BASE_URL)
    await client.aclose()
    await client.aclose()
    await client.close()
    assert client.is_closed
    assert client._sender.is_closed


async def test_entering_a_closed_client_raises(flavor: Flavor) -> None:
    client = flavor.client()
    if flavor.is_async:
        await client.aclose()
        with pytest.raises(ClientClosedError):
            async with client:
                pass
    else:
        client.close()
        with pytest.raises(ClientClosedError), client:
            pass


@pytest.mark.parametrize("method", ["evaluate", "evaluate_trace"])
async def test_call_after_close_raises_and_sends_nothing(
    flavor: Flavor, router: respx.MockRouter, method: str
) -> None:
    route = reward_route(router)
    trace_route = router.post("/api/v1/evals/trace").respond(200, json={})
    client = flavor.client()
    if flavor.is_async:
        await client.aclose()
    else:
        client.close()
    subject: Any = MESSAGES if method == "evaluate" else TRACE
    for criteria in (CRITERION, [CRITERION, CRITERION]):
        with pytest.raises(ClientClosedError, match="closed") as caught:
            await flavor.call(getattr(client, method), subject, criteria)
        assert isinstance(caught.value, RuntimeError)
        assert isinstance(caught.value, composo.ComposoError)
    assert route.call_count == 0
    assert trace_route.call_count == 0


@pytest.mark.parametrize(
    "flavor",
    [
        "sync",
        "async",
    ],
    indirect=True,
)
async def test_closing_during_a_call_with_queued_criteria_raises_client_closed_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    # Seven criteria, five slots: two wait for a slot when the client is closed.
    in_flight = InFlight()
    route = reward_route(router, side_effect=flavor.delayed(0.2, in_flight=in_flight))
    client = flavor.client()
    criteria = [f"Reward answer {i}" for i in range(7)]

    async def close_soon() -> None:
        await asyncio.sleep(0.05)
        await flavor.close_all()

    closing = asyncio.ensure_future(close_soon())
    try:
        with pytest.raises(ClientClosedError):
            # Bounded: a hang must fail this test, not stall the suite.
            await asyncio.wait_for(flavor.call(client.evaluate, MESSAGES, criteria), 1.0)
    finally:
        await closing
    assert in_flight.total == 5
    assert route.call_count <= 5


def test_caller_http_client_is_used_and_left_open_by_sync_close(router: respx.MockRouter) -> None:
    route = reward_route(router)
    with httpx.Client(headers={"X-Caller": "mine"}) as http:
        client = Composo(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        client.evaluate(MESSAGES, CRITERION)
        client.close()
        assert client.is_closed
        assert not http.is_closed
        assert http.post(BASE_URL + "/api/v1/evals/reward", json={}).status_code == 200
    assert route.call_count == 2
    request = route.calls[0].request
    assert request.headers["X-Caller"] == "mine"
    assert request.headers["API-Key"] == API_KEY


async def test_caller_http_client_is_used_and_left_open_by_aclose(
    router: respx.MockRouter,
) -> None:
    route = reward_route(router)
    async with httpx.AsyncClient(headers={"X-Caller": "mine"}) as http:
        client = AsyncComposo(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        await client.evaluate(MESSAGES, CRITERION)
        await client.aclose()
        assert client.is_closed
        assert not http.is_closed
        response = await http.post(BASE_URL + "/api/v1/evals/reward", json={})
        assert response.status_code == 200
    assert route.call_count == 2
    request = route.calls[0].request
    assert request.headers["X-Caller"] == "mine"
    assert request.headers["API-Key"] == API_KEY


# The async client's default transport (aiohttp), over a real loopback socket.


class _Loopback:
    """A minimal Composo stand-in: records requests and answers what the test asks."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        self.statuses: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            {"path": request.path, "headers": dict(request.headers), "json": json.loads(body)}
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        code = self.statuses.pop(0) if self.statuses else 200
        if code != 200:
            return web.json_response({"detail": "busy"}, status=code)
        return web.json_response({"score": 0.7, "explanation": "over a real socket"})


@pytest.fixture
async def loopback() -> AsyncIterator[_Loopback]:
    server = _Loopback()
    app = web.Application()
    app.router.add_post("/api/v1/evals/reward", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def test_default_async_transport_sends_headers_and_body(loopback: _Loopback) -> None:
    async with AsyncComposo(api_key="sk-loopback", base_url=loopback.url) as client:
        result = await client.evaluate(MESSAGES, CRITERION, tags={"run": 1})
    assert result.score == 0.7
    assert result.explanation == "over a real socket"
    [sent] = loopback.requests
    assert sent["path"] == "/api/v1/evals/reward"
    assert sent["json"] == {
        "messages": MESSAGES,
        "evaluation_criteria": CRITERION,
        "tags": {"run": "1"},
    }
    assert sent["headers"]["API-Key"] == "sk-loopback"
    assert sent["headers"]["User-Agent"] == f"composo-python/{composo.__version__}"
    assert sent["headers"]["Content-Type"] == "application/json"


async def test_default_async_transport_connections_are_closed_by_aclose(
    loopback: _Loopback,
) -> None:
    client = AsyncComposo(api_key=API_KEY, base_url=loopback.url)
    await client.evaluate(MESSAGES, [CRITERION, CRITERION])
    session = client._sender._session
    assert session is not None
    assert not session.closed
    await client.aclose()
    assert session.closed
    assert client._sender.is_closed


async def test_default_async_transport_retries_a_503(loopback: _Loopback) -> None:
    loopback.statuses = [503]
    async with AsyncComposo(api_key=API_KEY, base_url=loopback.url) as client:
        client._retry_policy = fast_policy()
        result = await client.evaluate(MESSAGES, CRITERION)
    assert result.score == 0.7
    assert len(loopback.requests) == 2


async def test_default_async_transport_times_out_a_slow_server(loopback: _Loopback) -> None:
    loopback.delay = 1.0
    async with AsyncComposo(api_key=API_KEY, base_url=loopback.url, timeout=0.2) as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(APITimeoutError):
            await client.evaluate(MESSAGES, CRITERION)
        assert loop.time() - start < 0.5


async def test_default_async_transport_maps_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` any more: every connection attempt is refused.
    async with AsyncComposo(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}") as client:
        client._retry_policy = fast_policy()
        with pytest.raises(APIConnectionError, match="could not connect") as caught:
            await client.evaluate(MESSAGES, CRITERION)
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.request_sent is False
    assert "ClientConnectorError" in str(caught.value)
    # No chain into aiohttp's frames, whose locals hold the encoded request headers.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
