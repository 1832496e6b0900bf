"""Issue 10: every exception class of the three HTTP libraries becomes a `ComposoError` in the
transport, never the raw exception: `APITimeoutError` for timeouts, `APIConnectionError` with
`request_sent` False for what never reached the server. The classes are enumerated from the
installed libraries, so a class a new version adds is covered (or fails here) automatically.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import httpcore
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from composo import APIConnectionError, APITimeoutError, ComposoError
from composo._transport import (
    HttpcoreSender,
    HttpxAsyncSender,
    HttpxSyncSender,
    RequestHeaders,
    aiohttp_error,
    httpcore_error,
    httpx_error,
)

URL_CALLED = "https://platform.composo.ai/api/v1/evals/reward"


def _subclasses(root: type[BaseException]) -> list[type[BaseException]]:
    """`root` and every subclass, recursively, each once, in a stable order."""
    found: list[type[BaseException]] = []
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls not in found:
            found.append(cls)
            stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def _httpcore_classes() -> list[type[BaseException]]:
    return sorted(
        {
            value
            for value in vars(httpcore).values()
            if isinstance(value, type) and issubclass(value, Exception)
        },
        key=lambda cls: cls.__name__,
    )


_REQUEST = httpx.Request("POST", URL_CALLED)
_KEY = ConnectionKey("platform.composo.ai", 443, True, True, None, None, None)
_INFO = RequestInfo(URL(URL_CALLED), "POST", CIMultiDictProxy(CIMultiDict()), URL(URL_CALLED))

# Arguments by parameter name, for the library classes that need more than a message.
_ARGUMENTS: dict[str, Any] = {
    "message": "it failed",
    "request": _REQUEST,
    "response": httpx.Response(500, request=_REQUEST),
    "connection_key": _KEY,
    "os_error": ConnectionRefusedError(111, "Connection refused"),
    "certificate_error": ssl.SSLCertVerificationError("certificate verify failed"),
    "request_info": _INFO,
    "history": (),
    "url": URL_CALLED,
    "description": "bad",
    "expected": b"\x00" * 32,
    "got": b"\x01" * 32,
    "host": "platform.composo.ai",
    "port": 443,
    "path": "/tmp/composo.sock",
}


def _construct(cls: type[BaseException]) -> BaseException:
    """An instance of `cls` built from its signature, or from a message alone."""
    parameters = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not parameters:
        return cls("it failed")
    args, kwargs = [], {}
    for parameter in parameters:
        if parameter.name not in _ARGUMENTS:
            if parameter.default is inspect.Parameter.empty:
                raise LookupError(f"no argument for {cls.__name__}({parameter.name})")
            continue
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = _ARGUMENTS[parameter.name]
        else:
            args.append(_ARGUMENTS[parameter.name])
    return cls(*args, **kwargs)


def _check(error: ComposoError, exc: BaseException, *, timeout: bool, not_sent: bool) -> None:
    assert isinstance(error, ComposoError), f"{type(exc).__name__} came back raw"
    assert not isinstance(error, type(exc)), f"{type(exc).__name__} came back raw"
    str(error)  # the message builds
    assert URL_CALLED in str(error)
    assert type(exc).__name__ in str(error)  # the library's class is named, for debugging
    assert isinstance(error, APITimeoutError) is timeout, (type(exc).__name__, type(error))
    if not_sent:
        assert isinstance(error, APIConnectionError)
        assert error.request_sent is False, type(exc).__name__


HTTPX = _subclasses(httpx.HTTPError)
HTTPCORE = _httpcore_classes()
AIOHTTP = _subclasses(aiohttp.ClientError)


def test_the_enumeration_finds_the_classes_that_matter() -> None:
    names = {cls.__name__ for cls in HTTPX + HTTPCORE + AIOHTTP}
    assert {"ConnectTimeout", "PoolTimeout", "ReadTimeout", "RemoteProtocolError"} <= names
    assert {"ServerTimeoutError", "ClientConnectorDNSError", "ClientConnectorSSLError"} <= names
    assert len(HTTPX) >= 20
    assert len(HTTPCORE) >= 14
    assert len(AIOHTTP) >= 25


@pytest.mark.parametrize("cls", HTTPX, ids=[cls.__name__ for cls in HTTPX])
def test_every_httpx_error_is_mapped(cls: type[httpx.HTTPError]) -> None:
    exc = _construct(cls)
    assert isinstance(exc, httpx.HTTPError)
    error = httpx_error(exc, URL_CALLED)
    timeout = issubclass(cls, httpx.TimeoutException)
    not_sent = issubclass(cls, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    _check(error, exc, timeout=timeout, not_sent=not_sent)
    if issubclass(cls, httpx.TransportError | httpx.DecodingError):
        assert isinstance(error, APIConnectionError)


@pytest.mark.parametrize("cls", HTTPCORE, ids=[cls.__name__ for cls in HTTPCORE])
def test_every_httpcore_exception_is_mapped(cls: type[Exception]) -> None:
    exc = _construct(cls)
    error = httpcore_error(exc, URL_CALLED)  # type: ignore[arg-type]
    timeout = issubclass(cls, httpcore.TimeoutException)
    not_sent = issubclass(
        cls, httpcore.ConnectError | httpcore.ConnectTimeout | httpcore.PoolTimeout
    )
    _check(error, exc, timeout=timeout, not_sent=not_sent)
    if issubclass(cls, httpcore.NetworkError | httpcore.RemoteProtocolError):
        assert isinstance(error, APIConnectionError)


@pytest.mark.parametrize("cls", AIOHTTP, ids=[cls.__name__ for cls in AIOHTTP])
def test_every_aiohttp_client_error_is_mapped(cls: type[aiohttp.ClientError]) -> None:
    exc = _construct(cls)
    error = aiohttp_error(exc, URL_CALLED)
    timeout = issubclass(cls, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError)
    not_sent = issubclass(cls, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    _check(error, exc, timeout=timeout, not_sent=not_sent)
    if issubclass(cls, aiohttp.ClientConnectionError) and not issubclass(cls, aiohttp.InvalidURL):
        assert isinstance(error, APIConnectionError)


@pytest.mark.parametrize(
    "exc",
    [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe"), OSError(5, "io")],
    ids=["reset", "broken-pipe", "os-error"],
)
def test_a_bare_os_error_from_aiohttp_is_a_connection_error(exc: OSError) -> None:
    error = aiohttp_error(exc, URL_CALLED)
    assert isinstance(error, APIConnectionError)
    assert not isinstance(error, APITimeoutError)


# The senders themselves: whatever their library raises, what comes out is ours, raised
# outside the `except` block (no chain into the library's frames).


class _RaisingPool:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc


# httpcore's pool retries ConnectionNotAvailable itself: it never leaves pool.request.
_POOL_RAISES = [cls for cls in HTTPCORE if cls is not httpcore.ConnectionNotAvailable]


@pytest.mark.parametrize("cls", _POOL_RAISES, ids=[cls.__name__ for cls in _POOL_RAISES])
def test_the_sync_sender_maps_whatever_its_pool_raises(cls: type[Exception]) -> None:
    sender = HttpcoreSender(1)
    sender._pool = _RaisingPool(_construct(cls))  # type: ignore[assignment]
    with pytest.raises(ComposoError) as caught:
        sender.send("POST", URL_CALLED, b"{}", RequestHeaders("sk-x"), 5.0)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def _transport_raising(exc: BaseException) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


_TRANSPORT_RAISES = [cls for cls in HTTPX if issubclass(cls, httpx.RequestError)]


@pytest.mark.parametrize("cls", _TRANSPORT_RAISES, ids=[cls.__name__ for cls in _TRANSPORT_RAISES])
def test_the_httpx_senders_map_whatever_a_caller_transport_raises(
    cls: type[httpx.RequestError],
) -> None:
    exc = _construct(cls)
    sync_transport = httpx.MockTransport(_transport_raising(exc))
    with httpx.Client(transport=sync_transport) as http, pytest.raises(ComposoError) as caught:
        HttpxSyncSender(http).send("POST", URL_CALLED, b"{}", RequestHeaders("sk-x"), 5.0)
    assert not isinstance(caught.value, httpx.HTTPError)
    assert caught.value.__context__ is None

    async def run() -> ComposoError:
        transport = httpx.MockTransport(_transport_raising(exc))
        async with httpx.AsyncClient(transport=transport) as http:
            sender = HttpxAsyncSender(http)
            try:
                await sender.send("POST", URL_CALLED, b"{}", RequestHeaders("sk-x"), 5.0)
            except ComposoError as error:
                return error
        raise AssertionError("nothing was raised")

    error = asyncio.run(run())
    assert type(error) is type(caught.value)
    assert error.__context__ is None
