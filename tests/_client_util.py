"""Fixtures and helpers shared by the client tests (`tests/test_clients_*.py`).

Every client test runs against both `Composo` and `AsyncComposo` through a `Flavor`: the test
body is an `async def`, awaits `flavor.call(client.evaluate, ...)`, and builds its server-side
delays with `flavor.delayed(...)`, so one body checks both clients. The sync client runs in a
thread of its own per call (as an application thread would), never on the event loop.

respx intercepts httpx only. `Composo` sends through httpx by default, but `AsyncComposo` sends
through aiohttp unless given an `httpx.AsyncClient`, so `Flavor.client` always passes an httpx
client (`http_client=`): a test must never reach the real service. The clients' own default
transports are exercised in test_clients_lifecycle.py (the aiohttp one on loopback).

A test module takes the fixtures by name, so that pytest finds them and ruff sees no unused
import: `flavor = _client_util.flavor`, `router = _client_util.router`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from composo import AsyncComposo, Composo
from composo._retry import RetryPolicy

BASE_URL = "https://platform.composo.ai"
API_KEY = "sk-test-key"
REWARD = "/api/v1/evals/reward"
REWARD_BACKGROUND = "/api/v1/evals/reward/background"
TRACE = "/api/v1/evals/trace"
TRACE_BACKGROUND = "/api/v1/evals/trace/background"

MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "How long do I have to return a jacket?"},
    {"role": "assistant", "content": "You can return it within 30 days."},
]
CRITERION = "Reward responses that state the refund window"

Responder = Callable[[httpx.Request], httpx.Response]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~20 ms per httpx client; respx never uses it, so load it once.
    return ssl.create_default_context()


def async_http_client() -> httpx.AsyncClient:
    """What `AsyncComposo(http_client=...)` gets in respx tests (see the module docstring)."""
    return httpx.AsyncClient(timeout=None, verify=_tls_context())


def sync_http_client() -> httpx.Client:
    """What `Composo(http_client=...)` gets in respx tests: like its default, built faster."""
    return httpx.Client(timeout=None, verify=_tls_context())


def fast_policy(**overrides: float) -> RetryPolicy:
    """A retry policy with millisecond backoffs, so retries cost no real time."""
    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, max_retry_after=0.05)
    return dataclasses.replace(policy, **overrides)


def score_json(score: float | None = 0.8, explanation: str = "Meets it.", **extra: Any) -> Any:
    """A ScoreResponse body as the service sends it."""
    return {"score": score, "explanation": explanation, **extra}


def ok(score: float | None = 0.8, **extra: Any) -> Responder:
    """A responder answering 200 with a score."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=score_json(score, **extra))

    return respond


def status(code: int, detail: Any = "failed", headers: dict[str, str] | None = None) -> Responder:
    """A responder answering `code` with FastAPI's `{"detail": ...}`."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json={"detail": detail}, headers=headers)

    return respond


def body_of(call_or_request: Any) -> dict[str, Any]:
    """The JSON body of a recorded respx call (or of a request)."""
    request = getattr(call_or_request, "request", call_or_request)
    loaded: dict[str, Any] = json.loads(request.content)
    return loaded


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    """The JSON bodies of every request a route received, in arrival order."""
    return [body_of(call) for call in route.calls]


def criterion_of(request: httpx.Request) -> str:
    """The criterion (or evaluator name) a request carries, to dispatch on in side effects."""
    body = body_of(request)
    return str(body.get("evaluation_criteria", body.get("evaluator_name")))


class InFlight:
    """Counts requests being served right now and the most at once; usable from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.total = 0

    def __enter__(self) -> InFlight:
        with self._lock:
            self.now += 1
            self.total += 1
            self.max = max(self.max, self.now)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.now -= 1


async def invoke(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await an `AsyncComposo` method, or run a `Composo` method in a new thread and await it."""
    if inspect.iscoroutinefunction(method):
        return await method(*args, **kwargs)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)

    def target() -> None:
        try:
            outcome = method(*args, **kwargs)
        except BaseException as error:
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, outcome, None)

    threading.Thread(target=target, daemon=True).start()
    return await future


@dataclasses.dataclass
class Flavor:
    """One of the two clients, and how a test drives it and its mock server."""

    name: str
    cls: type[Composo] | type[AsyncComposo]
    clients: list[Any] = dataclasses.field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return self.cls is AsyncComposo

    def client(self, **kwargs: Any) -> Any:
        """A client for the mocked service with fast retries; closed after the test."""
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        policy = kwargs.pop("policy", fast_policy())
        if "http_client" not in kwargs:
            kwargs["http_client"] = self.http_client()
        client = self.cls(**kwargs)
        client._retry_policy = policy
        self.clients.append(client)
        return client

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `client.evaluate(...)` (or any client method) for either client."""
        return await invoke(method, *args, **kwargs)

    def delayed(
        self,
        seconds: float,
        respond: Responder | None = None,
        *,
        in_flight: InFlight | None = None,
    ) -> Callable[[httpx.Request], Any]:
        """A respx side effect that answers after `seconds`, as a slow server would.

        For the sync client it also honours the request's read timeout the way httpx does on a
        real socket (respx does not): when the timeout is shorter than the delay, it waits the
        timeout and raises `httpx.ReadTimeout`. The async client enforces its own deadline with
        `asyncio.timeout`, which cancels the side effect.
        """
        respond = respond or ok()
        counter = in_flight or InFlight()
        if self.is_async:

            async def async_effect(request: httpx.Request) -> httpx.Response:
                with counter:
                    await asyncio.sleep(seconds)
                return respond(request)

            return async_effect

        def sync_effect(request: httpx.Request) -> httpx.Response:
            with counter:
                budget = request.extensions.get("timeout", {}).get("read")
                if budget is not None and budget < seconds:
                    time.sleep(budget)
                    raise httpx.ReadTimeout("timed out", request=request)
                time.sleep(seconds)
            return respond(request)

        return sync_effect

    def http_client(self) -> httpx.Client | httpx.AsyncClient:
        """An httpx client of this flavor's kind for respx to intercept; closed after the test."""
        http = async_http_client() if self.is_async else sync_http_client()
        self.clients.append(http)
        return http

    async def close_all(self) -> None:
        """Close every SDK client, then the httpx clients they were given."""
        for client in self.clients:
            if isinstance(client, AsyncComposo):
                await client.aclose()
            elif isinstance(client, Composo):
                # close() waits for the client's worker threads; keep the loop free meanwhile.
                await asyncio.to_thread(client.close)
        for client in self.clients:
            if isinstance(client, httpx.AsyncClient):
                await client.aclose()
            elif isinstance(client, httpx.Client):
                client.close()


@pytest.fixture(params=["sync", "async"])
async def flavor(request: pytest.FixtureRequest) -> AsyncIterator[Flavor]:
    """Each client test runs once with `Composo` and once with `AsyncComposo`."""
    chosen = Flavor(request.param, Composo if request.param == "sync" else AsyncComposo)
    yield chosen
    await chosen.close_all()


@pytest.fixture
async def async_flavor() -> AsyncIterator[Flavor]:
    """`AsyncComposo` alone, for behaviour only the async client has."""
    chosen = Flavor("async", AsyncComposo)
    yield chosen
    await chosen.close_all()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """The mocked Composo service; any request it has no route for fails the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


def reward_route(router: respx.MockRouter, **kwargs: Any) -> respx.Route:
    """The reward endpoint, answering a 0.8 score unless told otherwise."""
    route = router.post(REWARD)
    if "side_effect" in kwargs:
        route.side_effect = kwargs["side_effect"]
    else:
        route.mock(return_value=kwargs.get("return_value", httpx.Response(200, json=score_json())))
    return route
