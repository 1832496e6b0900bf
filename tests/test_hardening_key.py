"""Issue 10, the API key: it reaches base_url only (never a redirect target), never shows in a
repr, a message, a log record or a traceback's locals, and a key that cannot be a header value
is refused at construction without being echoed.

Real loopback servers (`tests/_hostile.py`) play the service and the other origin, so both
clients are tested with their own transports and with a caller's httpx client.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo import APIStatusError, AsyncComposo, Composo, ComposoError, MalformedError
from composo._constants import API_KEY_ENV
from tests._client_util import MESSAGES, fast_policy
from tests._hostile import (
    SCORE_BODY,
    RawServer,
    answering,
    refused_url,
    serving,
)

# A key no library would print by chance; any appearance of it is a leak.
KEY = "sk-canary-7Hq2ZpW9xLr4"
CRITERION = "Reward answers that state the refund window"
KINDS = ["sync", "async"]
TRANSPORTS = ["default", "httpx"]


def _client(kind: str, transport: str, url: str, **kwargs: Any) -> Any:
    """A client of `kind` sending through its own transport or a fresh httpx client."""
    http: Any = None
    if transport == "httpx":
        follow = kwargs.pop("follow_redirects", False)
        http = (
            httpx.Client(follow_redirects=follow)
            if kind == "sync"
            else httpx.AsyncClient(follow_redirects=follow)
        )
    kwargs.pop("follow_redirects", None)
    cls = Composo if kind == "sync" else AsyncComposo
    client = cls(api_key=kwargs.pop("api_key", KEY), base_url=url, http_client=http, **kwargs)
    client._retry_policy = fast_policy()
    return client


def _evaluate(kind: str, transport: str, url: str, **kwargs: Any) -> Any:
    """Run one evaluate call; returns its result or the exception it raised."""
    if kind == "sync":
        client = _client(kind, transport, url, **kwargs)
        http = client._sender.client if transport == "httpx" else None
        try:
            return client.evaluate(MESSAGES, CRITERION)
        except Exception as exc:
            return exc
        finally:
            client.close()
            if http is not None:
                http.close()

    async def run() -> Any:
        client = _client(kind, transport, url, **kwargs)
        http = client._sender.client if transport == "httpx" else None
        try:
            return await client.evaluate(MESSAGES, CRITERION)
        except Exception as exc:
            return exc
        finally:
            await client.aclose()
            if http is not None:
                await http.aclose()

    return asyncio.run(run())


# Redirects: never followed, whoever asks, so the key never reaches another origin.


@pytest.fixture
def elsewhere() -> Iterator[RawServer]:
    """Another origin (another port), answering a score to anything that reaches it."""
    with serving(answering(200, b'{"score": 1.0, "explanation": "stolen"}')) as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_to_another_origin_is_not_followed_and_the_key_stays_home(
    elsewhere: RawServer, kind: str, transport: str, status: int
) -> None:
    target = f"{elsewhere.url}/api/v1/evals/reward"
    redirect = answering(status, b"", headers={"Location": target})
    with serving(redirect) as service:
        # A caller's httpx client that follows redirects itself is not followed either.
        outcome = _evaluate(kind, transport, service.url, follow_redirects=True)
    assert isinstance(outcome, APIStatusError), outcome
    assert outcome.status_code == status
    message = str(outcome)
    assert "never follows redirects" in message
    assert target in message
    assert KEY not in message
    assert elsewhere.connections == 0
    assert elsewhere.requests == []
    # Refused, not retried: the service saw one request, with the key.
    assert len(service.requests) == 1
    assert service.requests[0].headers["api-key"] == KEY


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_same_origin_redirect_is_refused_too(kind: str, transport: str) -> None:
    redirect = answering(307, b"", headers={"Location": "/api/v2/evals/reward"})
    with serving(redirect) as service:
        outcome = _evaluate(kind, transport, service.url, follow_redirects=True)
    assert isinstance(outcome, APIStatusError)
    assert outcome.status_code == 307
    assert [r.path for r in service.requests] == ["/api/v1/evals/reward"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_in_a_batch_is_an_error_record_and_nothing_reaches_the_other_origin(
    elsewhere: RawServer, kind: str
) -> None:
    redirect = answering(308, b"", headers={"Location": elsewhere.url})
    items = [{"id": str(n), "messages": MESSAGES} for n in range(4)]
    with serving(redirect) as service:
        if kind == "sync":
            with Composo(api_key=KEY, base_url=service.url) as client:
                results = client.evaluate_batch(items, CRITERION).collect()
        else:

            async def run() -> Any:
                async with AsyncComposo(api_key=KEY, base_url=service.url) as client:
                    return await client.evaluate_batch(items, CRITERION).collect()

            results = asyncio.run(run())
    assert [r.error.status_code if r.error else None for r in results] == [308] * 4
    assert elsewhere.connections == 0


# The key in reprs, messages, logs and traceback locals, for every way a call can fail.


async def _dropped_mid_response(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.read(reader)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"score": 0.')
    await writer.drain()


async def _silent(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.read(reader)
    await asyncio.sleep(60)


FAILURES: dict[str, Any] = {
    "refused connection": None,
    "dropped mid-response": _dropped_mid_response,
    "timeout": _silent,
    "500": answering(500, b'{"detail": "internal error"}'),
    "bad body": answering(200, b"<html>maintenance</html>", content_type="text/html"),
    "401": answering(401, b'{"detail": "Invalid API key"}'),
}


class _Everything(logging.Handler):
    """Keeps every record, formatted as a handler with a `%(args)r` format would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.names.append(record.name)
        exc = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        self.lines.append(f"{record.name} {record.getMessage()} {record.args!r} {exc}")


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[_Everything]:
    """Every log record at DEBUG: on the root logger (all that propagates) and on the SDK's
    and the HTTP libraries' own loggers, in case one of them does not propagate."""
    caplog.set_level(logging.DEBUG)
    handler = _Everything()
    names = ["", "composo", "httpx", "httpcore", "h11", "aiohttp", "asyncio"]
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)


def _formatted(exc: BaseException) -> str:
    """What Sentry, `pytest -l` or rich record: the whole chain, with every frame's locals."""
    return "".join(
        traceback.TracebackException(
            type(exc), exc, exc.__traceback__, capture_locals=True
        ).format()
    )


def _frames_showing(text: str, secret: str) -> list[str]:
    """The traceback frames (`File ...` lines) under which `secret` appears."""
    found, frame = [], "(no frame)"
    for line in text.splitlines():
        if line.lstrip().startswith("File "):
            frame = line.strip()
        if secret in line:
            found.append(f"{frame}: {line.strip()[:120]}")
    return found


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_the_key_never_shows_in_errors_logs_or_traceback_locals(
    caplog: pytest.LogCaptureFixture, logged: _Everything, kind: str, transport: str, failure: str
) -> None:
    handler = FAILURES[failure]
    if handler is None:
        outcome = _evaluate(kind, transport, refused_url(), timeout=5.0)
        reached: list[Any] = []
    else:
        with serving(handler) as server:
            outcome = _evaluate(kind, transport, server.url, timeout=1.0)
        reached = server.requests
        # The canary was really sent: the test would catch a leak.
        assert reached
        assert reached[0].headers["api-key"] == KEY
    assert isinstance(outcome, ComposoError), outcome
    assert KEY not in str(outcome)
    assert KEY not in repr(outcome)
    text = _formatted(outcome)
    assert _frames_showing(text, KEY) == []
    assert "Traceback" in text  # formatted for real, locals included
    assert " = " in text
    assert all(KEY not in line for line in logged.lines)
    assert KEY not in caplog.text
    if failure in ("refused connection", "dropped mid-response", "500"):
        assert "composo" in logged.names  # the retry was logged at DEBUG, and seen here
    if kind == "sync" and transport == "default" and handler is not None:
        assert "httpcore.http11" in logged.names  # the library's own DEBUG trace too


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_key_never_shows_when_the_caller_cancels_mid_request(transport: str) -> None:
    """A caller's own timeout cancels the request inside the HTTP library's frames."""

    async def run(url: str) -> BaseException:
        client = _client("async", transport, url, timeout=30.0)
        http = client._sender.client if transport == "httpx" else None
        try:
            async with asyncio.timeout(0.5):
                await client.evaluate(MESSAGES, CRITERION)
        except TimeoutError as exc:
            return exc
        finally:
            await client.aclose()
            if http is not None:
                await http.aclose()
        raise AssertionError("the call was not cancelled")

    with serving(_silent) as server:
        exc = asyncio.run(run(server.url))
    assert server.requests[0].headers["api-key"] == KEY
    text = _formatted(exc)
    assert "CancelledError" in text  # the chain reaches into the library's frames
    assert _frames_showing(text, KEY) == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_key_never_shows_in_the_clients_repr_or_str(kind: str) -> None:
    client = _client(kind, "default", "http://127.0.0.1:9")
    for text in (repr(client), str(client), repr(client._headers), str(client._headers)):
        assert KEY not in text
    wire = client._headers.wire(has_body=True)
    assert KEY not in repr(wire)
    assert KEY not in repr(client._headers.wire_bytes(has_body=True))
    assert wire["API-Key"] == KEY  # still the key where it is written to the wire
    if kind == "sync":
        client.close()


# Keys that cannot be a header value: refused at construction, never echoed.

BAD_KEYS = {
    "CR": "sk-SECRETPART\rrest",
    "LF": "sk-SECRETPART\nrest",
    "CRLF inside": "sk-SECRETPART\r\nX-Injected: 1",
    "NUL": "sk-SECRETPART\x00rest",
    "DEL": "sk-SECRETPART\x7frest",
    "tab": "sk-SECRETPART\trest",
    "other control": "sk-SECRETPART\x1brest",
    "non-ASCII letter": "sk-SECRETPARTérest",
    "zero-width space": "sk-SECRETPART\u200brest",
    "no-break space": "sk-SECRETPART\u00a0rest",
    "lone surrogate": "sk-SECRETPART\udc80rest",
    "emoji": "sk-SECRETPART\U0001f511",
}


@pytest.mark.parametrize("name", list(BAD_KEYS))
@pytest.mark.parametrize("kind", KINDS)
def test_a_key_that_cannot_be_a_header_is_refused_at_construction_without_echo(
    kind: str, name: str
) -> None:
    cls = Composo if kind == "sync" else AsyncComposo
    with serving(answering(200, SCORE_BODY)) as server, pytest.raises(MalformedError) as caught:
        cls(api_key=BAD_KEYS[name], base_url=server.url)
    message = str(caught.value)
    assert "SECRETPART" not in message
    assert "rest" not in message
    assert "position 14" in message
    assert "api_key" in message
    assert server.connections == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_key_from_the_environment_is_refused_naming_the_variable(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key file saved with Windows line endings, exported through $(cat ...) with a paste.
    monkeypatch.setenv(API_KEY_ENV, "sk-SECRETPART\r\nrest")
    cls = Composo if kind == "sync" else AsyncComposo
    with pytest.raises(MalformedError) as caught:
        cls(base_url="http://127.0.0.1:9")
    assert API_KEY_ENV in str(caught.value)
    assert "SECRETPART" not in str(caught.value)


@pytest.mark.parametrize("key", ["", "   ", "\n", "\t \r\n", 5, b"sk-bytes"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_or_non_string_key_is_refused(kind: str, key: Any) -> None:
    cls = Composo if kind == "sync" else AsyncComposo
    with pytest.raises(MalformedError, match="non-empty string"):
        cls(api_key=key, base_url="http://127.0.0.1:9")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_spaces_and_a_newline_around_the_key_are_stripped_before_sending(
    kind: str, transport: str
) -> None:
    with serving(answering(200, SCORE_BODY)) as server:
        outcome = _evaluate(kind, transport, server.url, api_key=f"  {KEY} \n")
    assert outcome.score == 0.75
    assert server.requests[0].headers["api-key"] == KEY
