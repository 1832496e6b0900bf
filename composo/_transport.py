"""How the clients put bytes on the wire, and the one place each HTTP library's exceptions become
this SDK's.

`AsyncComposo` sends through aiohttp by default: measured by `scripts/bench`, httpx's own
connection pool (httpcore 1.0) spends several milliseconds of CPU per request once it holds
dozens of connections, because choosing a connection scans the whole pool; aiohttp keeps a
per-host queue and costs a fraction of that. `Composo` (sync) sends through httpcore, the
engine under httpx, with a network backend that clamps every socket operation to what is left
of the call's deadline, so a server that trickles its answer cannot stretch `timeout` (httpx
applies a timeout per read). A caller's own `httpx.AsyncClient` / `httpx.Client` (proxies,
custom transports, respx in tests) is honoured through the `Httpx*Sender`s.

Every sender:
- never follows a redirect (the API key must not reach another origin): a 3xx comes back as a
  response and the client reports it;
- builds the header mapping at the last moment from a `RequestHeaders`, whose key shows as
  '***' in every repr, so no frame of this SDK holds the key in plain text;
- translates its library's exceptions to `APIConnectionError` / `APITimeoutError` /
  `ComposoError` and raises them outside the `except` block, so that no traceback chain leads
  into the library's frames (whose locals hold the encoded headers).
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import httpcore
import httpx

from composo._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ComposoError,
)
from composo._requests import RawResponse
from composo._version import __version__

if TYPE_CHECKING:
    import aiohttp

USER_AGENT = f"composo-python/{__version__}"


class _MaskedKey(str):
    """The API key as a str that writes itself to the wire but shows '***' in any repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class _MaskedKeyBytes(bytes):
    """The same for libraries that take header values as bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "b'***'"


class RequestHeaders:
    """The headers every request carries; the API key never shows in its repr or str."""

    __slots__ = ("_key",)

    def __init__(self, api_key: str) -> None:
        self._key = _MaskedKey(api_key)

    def __repr__(self) -> str:
        return "RequestHeaders(API-Key='***')"

    __str__ = __repr__

    def wire(self, *, has_body: bool) -> dict[str, str]:
        """The header mapping to hand to the HTTP library, built only when sending."""
        headers = {"API-Key": self._key, "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def wire_bytes(self, *, has_body: bool) -> list[tuple[bytes, bytes]]:
        """The same as (name, value) bytes, for httpcore."""
        headers = [
            (b"API-Key", _MaskedKeyBytes(self._key.encode("ascii"))),
            (b"User-Agent", USER_AGENT.encode("ascii")),
        ]
        if has_body:
            headers.append((b"Content-Type", b"application/json"))
        return headers


def _detail(exc: BaseException) -> str:
    name = type(exc).__name__
    return f"{name}: {exc}" if str(exc) else name


def _header_dict(pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """Response headers as a dict with lower-case names (repeated headers joined by ", ")."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else str(raw_name)
        value = raw_value.decode("latin-1") if isinstance(raw_value, bytes) else str(raw_value)
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class AsyncSender(Protocol):
    """Sends one request and reads the whole response; `time_left` is what remains of the
    caller's deadline (the client also enforces it with `asyncio.timeout`).

    Raises:
        APIConnectionError: No response (`APITimeoutError` when a socket timed out).
        ComposoError: The request cannot be made at all (a URL the library refuses).
    """

    async def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse: ...

    async def aclose(self) -> None: ...

    @property
    def is_closed(self) -> bool: ...


class SyncSender(Protocol):
    """Sends one request and reads the whole response within `time_left` seconds in all.

    Raises:
        APIConnectionError: No response (`APITimeoutError` when the time ran out).
        ComposoError: The request cannot be made at all (a URL the library refuses).
    """

    def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse: ...

    def close(self) -> None: ...

    @property
    def is_closed(self) -> bool: ...


def httpx_error(exc: httpx.HTTPError, url: str) -> ComposoError:
    """The SDK's error for an exception from httpx."""
    detail = _detail(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return APITimeoutError(f"connecting to {url} timed out ({detail})", request_sent=False)
    if isinstance(exc, httpx.PoolTimeout):
        return APITimeoutError(
            f"no connection to {url} became free in time ({detail})", request_sent=False
        )
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request to {url} timed out ({detail})")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"could not connect to {url}: {detail}", request_sent=False)
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return APIConnectionError(f"could not reach {url}: {detail}")
    return ComposoError(f"HTTP error talking to {url}: {detail}")


def httpcore_error(exc: Exception, url: str) -> ComposoError:
    """The SDK's error for an exception from httpcore (the sync client's own transport)."""
    detail = _detail(exc)
    if isinstance(exc, httpcore.ConnectTimeout):
        return APITimeoutError(f"connecting to {url} timed out ({detail})", request_sent=False)
    if isinstance(exc, httpcore.PoolTimeout):
        return APITimeoutError(
            f"no connection to {url} became free in time ({detail})", request_sent=False
        )
    if isinstance(exc, httpcore.TimeoutException):
        return APITimeoutError(f"request to {url} timed out ({detail})")
    if isinstance(exc, httpcore.ConnectError):
        return APIConnectionError(f"could not connect to {url}: {detail}", request_sent=False)
    if isinstance(exc, httpcore.NetworkError | httpcore.RemoteProtocolError | httpcore.ProxyError):
        return APIConnectionError(f"could not reach {url}: {detail}")
    return ComposoError(f"HTTP error talking to {url}: {detail}")


def aiohttp_error(exc: BaseException, url: str) -> ComposoError:
    """The SDK's error for an exception from aiohttp.

    `aiohttp.ServerTimeoutError` is also a `TimeoutError`: it is a socket timing out, which is
    retried, not the caller's deadline running out.
    """
    import aiohttp

    detail = _detail(exc)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"connecting to {url} timed out ({detail})", request_sent=False)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return APITimeoutError(f"request to {url} timed out ({detail})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(f"could not connect to {url}: {detail}", request_sent=False)
    if isinstance(exc, aiohttp.InvalidURL):
        return ComposoError(f"aiohttp refused the URL {url}: {detail}")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return APIConnectionError(f"could not reach {url}: {detail}")
    return ComposoError(f"HTTP error talking to {url}: {detail}")


class HttpxAsyncSender:
    """Sends through an `httpx.AsyncClient`, the caller's (never closed by us).

    An httpx client's connections belong to the event loop that opened them, so it is used on
    one loop only: on another (a second `asyncio.run`), the call fails with a clear error
    before anything is sent, instead of httpx's `RuntimeError('Event loop is closed')`.
    """

    def __init__(self, client: httpx.AsyncClient, *, owned: bool = False) -> None:
        self.client = client
        self.owned = owned
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise ComposoError(
                "the httpx.AsyncClient given as http_client= was first used on another event "
                "loop (an earlier asyncio.run), which owns its connections; create the "
                "httpx.AsyncClient and the AsyncComposo inside the loop that uses them, or leave "
                "http_client out (AsyncComposo's own transport follows the loop)"
            )
        try:
            # What is left of the SDK's deadline overrides the client's own timeouts, so that a
            # plain httpx.AsyncClient() (5 s by default) does not cut a 15 s evaluation short.
            response = await self.client.request(
                method,
                url,
                content=body or None,
                headers=headers.wire(has_body=bool(body)),
                timeout=time_left,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            error = httpx_error(exc, url)
        else:
            return RawResponse(response.status_code, response.headers, response.content, url)
        raise error

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed


class AiohttpSender:
    """Sends through an `aiohttp.ClientSession` sized for the client's concurrency.

    The session belongs to the event loop it was opened on. When the client is used again
    under a new loop (a second `asyncio.run`), a new session is opened there; the old one was
    closed when its loop shut down (an async generator the loop finalises on shutdown holds
    it), so nothing leaks and no ResourceWarning appears.
    """

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: Any = None
        self._closed = False

    async def _open(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        import aiohttp

        old = self._loop
        if old is not None and old is not loop and not old.is_closed() and old.is_running():
            raise ComposoError(
                "this AsyncComposo is in use on an event loop that is still running in "
                "another thread; use one client per event loop"
            )
        # As many connections as requests may be in flight, all kept alive and reused.
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
        session = aiohttp.ClientSession(
            connector=connector,
            # The client applies its own total deadline to every attempt.
            timeout=aiohttp.ClientTimeout(total=None),
            # No cookie jar and no proxy lookups from the environment.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        self._session, self._loop = session, loop
        self._closer = _close_at_loop_shutdown(session)
        await self._closer.asend(None)
        return session

    async def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse:
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or self._loop is not loop or session.closed:
            session = await self._open(loop)
        try:
            async with session.request(
                method,
                url,
                data=body or None,
                headers=headers.wire(has_body=bool(body)),
                allow_redirects=False,
            ) as response:
                content = await response.read()
                return RawResponse(response.status, response.headers, content, url)
        except (aiohttp.ClientError, OSError) as exc:
            error = aiohttp_error(exc, url)
        raise error

    async def aclose(self) -> None:
        self._closed = True
        session, closer = self._session, self._closer
        self._session = self._closer = None
        if session is None:
            return
        if self._loop is asyncio.get_running_loop():
            await closer.aclose()
        # A session of a loop that is gone was closed by that loop's shutdown.

    @property
    def is_closed(self) -> bool:
        return self._closed


async def _close_at_loop_shutdown(session: aiohttp.ClientSession) -> Any:
    """An async generator parked after its first step: the event loop finalises it when it
    shuts down (`asyncio.run` calls `loop.shutdown_asyncgens()`), which closes the session
    while the loop still runs."""
    try:
        yield
    finally:
        await session.close()


# The deadline of the request the current thread is sending (monotonic seconds), read by
# every socket operation of the sync client's own transport.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "composo_deadline", default=None
)


def _clamped(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` shortened to what is left of the deadline; raises `expired` once it passed."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the call's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _clamped(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with every operation bounded by the call's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _clamped(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _clamped(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class HttpcoreSender:
    """The sync client's own transport: an httpcore pool whose sockets honour the deadline.

    The pool (and its TLS context) is created on the first request, not at construction.
    """

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._pool: httpcore.ConnectionPool | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> httpcore.ConnectionPool:
        # Threads sending their first request together must share one pool.
        with self._lock:
            if self._closed:
                raise ClientClosedError("this Composo is closed; create a new client")
            if self._pool is None:
                self._pool = httpcore.ConnectionPool(
                    ssl_context=httpx.create_ssl_context(),
                    max_connections=self.max_connections,
                    max_keepalive_connections=self.max_connections,
                    network_backend=_DeadlineBackend(),
                )
            return self._pool

    def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse:
        pool = self._pool or self._open()
        token = _deadline.set(time.monotonic() + time_left)
        timeouts = {"connect": time_left, "read": time_left, "write": time_left, "pool": time_left}
        try:
            response = pool.request(
                method,
                url,
                headers=headers.wire_bytes(has_body=bool(body)),
                content=body or None,
                extensions={"timeout": timeouts},
            )
        except (httpcore.ConnectError, httpcore.TimeoutException, httpcore.NetworkError) as exc:
            error = httpcore_error(exc, url)
        except (httpcore.ProtocolError, httpcore.ProxyError, httpcore.UnsupportedProtocol) as exc:
            error = httpcore_error(exc, url)
        else:
            return RawResponse(
                response.status, _header_dict(response.headers), response.content, url
            )
        finally:
            _deadline.reset(token)
        raise error

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    @property
    def is_closed(self) -> bool:
        return self._closed


class HttpxSyncSender:
    """Sends through the caller's `httpx.Client` (never closed by us).

    httpx applies its timeout per socket operation, so the deadline is also checked between
    the chunks of the body: a server trickling its answer is cut off at the deadline, give or
    take one read.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse:
        deadline = time.monotonic() + time_left
        try:
            request = self.client.build_request(
                method,
                url,
                content=body or None,
                headers=headers.wire(has_body=bool(body)),
                timeout=time_left,
            )
            response = self.client.send(request, stream=True, follow_redirects=False)
            try:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the call's deadline passed", request=request)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            error = httpx_error(exc, url)
        else:
            return RawResponse(response.status_code, response.headers, b"".join(chunks), url)
        raise error

    def close(self) -> None:
        """The caller's client stays open: it is theirs."""

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed
