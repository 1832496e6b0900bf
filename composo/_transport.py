"""How the clients put bytes on the wire.

`AsyncComposo` sends through aiohttp by default: measured by `scripts/bench`, httpx's own
connection pool (httpcore 1.0) spends several milliseconds of CPU per request once it holds
dozens of connections, because choosing a connection scans the whole pool; aiohttp keeps a
per-host queue and costs a fraction of that. A caller's `httpx.AsyncClient` (proxies, custom
transports, respx in tests) is still honoured through `HttpxAsyncSender`. `Composo` (sync)
uses httpx, whose pool is cheap at its small, fixed size.

Both senders return a `RawResponse`; their exceptions are translated in one place,
`BaseClient._transport_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What the clients need of an HTTP response."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class AsyncSender(Protocol):
    """Sends one request and reads the whole response; `time_left` is what remains of the
    caller's deadline (the client also enforces it with `asyncio.timeout`)."""

    async def send(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str], time_left: float
    ) -> RawResponse: ...

    async def aclose(self) -> None: ...

    @property
    def is_closed(self) -> bool: ...


class HttpxAsyncSender:
    """Sends through an `httpx.AsyncClient`, the caller's or one of ours."""

    def __init__(self, client: httpx.AsyncClient, *, owned: bool) -> None:
        self.client = client
        self.owned = owned

    async def send(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str], time_left: float
    ) -> RawResponse:
        # What is left of the SDK's deadline overrides the client's own timeouts, so that a
        # plain httpx.AsyncClient() (5 s by default) does not cut a 15 s evaluation short.
        response = await self.client.request(
            method, url, content=body, headers=headers, timeout=time_left
        )
        return RawResponse(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed


class AiohttpSender:
    """Sends through an `aiohttp.ClientSession` sized for the client's concurrency."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        # As many connections as requests may be in flight, all kept alive and reused.
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The client applies its own total deadline to every attempt.
            timeout=aiohttp.ClientTimeout(total=None),
            # No cookie jar and no proxy lookups from the environment, as with our httpx use.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        return self._session

    async def send(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str], time_left: float
    ) -> RawResponse:
        session = self._session or self._open()
        async with session.request(method, url, data=body, headers=headers) as response:
            content = await response.read()
            return RawResponse(response.status, response.headers, content)

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    @property
    def is_closed(self) -> bool:
        return self._closed


def default_sync_client(max_connections: int) -> httpx.Client:
    """An `httpx.Client` sized for `max_connections` concurrent requests."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    # timeout=None: the client passes what is left of its total deadline to every request.
    return httpx.Client(limits=limits, timeout=None)
