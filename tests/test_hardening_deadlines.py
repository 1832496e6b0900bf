"""Issue 10, deadlines and lifecycles: `timeout` is a total deadline however slowly a server
trickles its answer, an `AsyncComposo` works under one `asyncio.run` after another without a
ResourceWarning, and a socket timing out is retried rather than reported as the deadline.

Every bound here is generous (the server would take 10+ s; the assertion allows 3 s for a 1 s
timeout), so a loaded machine running two copies of the suite cannot make them flake.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from composo import APITimeoutError, AsyncComposo, Composo, ComposoError
from composo._attempts import RetryCore, Send, Sleep
from composo._ratelimit import RateLimiter
from composo._requests import Call, RawResponse
from composo._transport import RequestHeaders, aiohttp_error
from tests._client_util import MESSAGES, fast_policy
from tests._hostile import PATIENCE, SCORE_BODY, RawServer, answering, serving

CRITERION = "Reward answers that state the refund window"
CRITERIA = [CRITERION, "Penalize answers that are rude"]
BYTE_EVERY = 0.08
TIMEOUT = 1.0
# Far below the 10+ s the trickling server takes, far above the 1 s timeout.
BOUND = 3.0


def _trickler(*, headers_too: bool) -> tuple[Any, float]:
    """A handler that sends its 200 one byte every 80 ms, and how long that takes in all."""
    body = b'{"score": 0.5, "explanation": "' + b"x" * 140 + b'"}'
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: "
        + "p" * 40
        + f"\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    slow = head + body if headers_too else body

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read(reader)
        if not headers_too:
            writer.write(head)
        for index in range(len(slow)):
            writer.write(slow[index : index + 1])
            await writer.drain()  # raises once the client has gone
            await asyncio.sleep(BYTE_EVERY)

    return handle, len(slow) * BYTE_EVERY


def _timed_call(kind: str, transport: str, url: str) -> tuple[BaseException | Any, float]:
    """One evaluate with timeout=1 s; (its outcome, seconds it took)."""
    if kind == "sync":
        http = httpx.Client() if transport == "httpx" else None
        client = Composo(api_key="k", base_url=url, timeout=TIMEOUT, http_client=http)
        start = time.monotonic()
        try:
            outcome: Any = client.evaluate(MESSAGES, CRITERION)
        except ComposoError as exc:
            outcome = exc
        elapsed = time.monotonic() - start
        client.close()
        if http is not None:
            http.close()
        return outcome, elapsed

    async def run() -> tuple[Any, float]:
        http = httpx.AsyncClient() if transport == "httpx" else None
        client = AsyncComposo(api_key="k", base_url=url, timeout=TIMEOUT, http_client=http)
        start = time.monotonic()
        try:
            result: Any = await client.evaluate(MESSAGES, CRITERION)
        except ComposoError as exc:
            result = exc
        elapsed = time.monotonic() - start
        await client.aclose()
        if http is not None:
            await http.aclose()
        return result, elapsed

    return asyncio.run(run())


_HTTPX_HEADERS = pytest.mark.xfail(
    strict=True,
    reason=(
        "Composo(http_client=httpx.Client()): httpx applies the timeout per socket read and "
        "HttpxSyncSender checks the deadline only between body chunks, so response headers "
        "trickled one byte at a time stretch timeout=1 s to the whole ~10 s"
    ),
)


@pytest.mark.parametrize(
    ("kind", "transport", "headers_too"),
    [
        ("sync", "default", True),
        ("sync", "default", False),
        pytest.param("sync", "httpx", True, marks=_HTTPX_HEADERS),
        ("sync", "httpx", False),
        ("async", "default", True),
        ("async", "default", False),
        ("async", "httpx", True),
        ("async", "httpx", False),
    ],
    ids=[
        "sync-default-headers",
        "sync-default-body",
        "sync-httpx-headers",
        "sync-httpx-body",
        "async-default-headers",
        "async-default-body",
        "async-httpx-headers",
        "async-httpx-body",
    ],
)
def test_a_trickling_server_cannot_stretch_the_timeout(
    kind: str, transport: str, headers_too: bool
) -> None:
    handler, takes = _trickler(headers_too=headers_too)
    assert takes > 10
    with serving(handler) as server:
        outcome, elapsed = _timed_call(kind, transport, server.url)
    assert isinstance(outcome, APITimeoutError), outcome
    assert "did not finish within timeout=1 s" in str(outcome)
    assert elapsed < BOUND
    assert len(server.requests) == 1  # the deadline left no time for a retry


# One AsyncComposo under several event loops, one after another.


@pytest.fixture
def no_resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Records every warning (ResourceWarnings from collected sockets and sessions included)
    while the test runs; the test asserts there were none."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
        gc.collect()


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_an_async_client_works_under_successive_asyncio_runs(
    no_resource_warnings: list[warnings.WarningMessage],
) -> None:
    with serving(answering(200, SCORE_BODY)) as server:
        client = AsyncComposo(api_key="k", base_url=server.url)
        first = asyncio.run(client.evaluate(MESSAGES, CRITERION))
        second = asyncio.run(client.evaluate(MESSAGES, CRITERIA))

        async def batch() -> Any:
            return await client.evaluate_batch(
                [{"messages": MESSAGES} for _ in range(6)], CRITERIA
            ).collect()

        third = asyncio.run(batch())
        fourth = asyncio.run(batch())
        asyncio.run(client.aclose())
    assert first.score == 0.75
    assert [r.score for r in second] == [0.75, 0.75]
    assert [r.score for r in third] == [0.75] * 12
    assert [r.ok for r in fourth] == [True] * 12
    assert len(server.requests) == 1 + 2 + 12 + 12
    assert _resource_warnings(no_resource_warnings) == []


def test_an_async_client_recovers_on_a_new_loop_after_a_call_timed_out_mid_request(
    no_resource_warnings: list[warnings.WarningMessage],
) -> None:
    trickle, _ = _trickler(headers_too=True)
    prompt = answering(200, SCORE_BODY)

    async def first_slow_then_prompt(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        handler = trickle if server.connections == 1 else prompt
        await handler(server, reader, writer)

    with serving(first_slow_then_prompt) as server:
        client = AsyncComposo(api_key="k", base_url=server.url, timeout=0.5)
        with pytest.raises(APITimeoutError):
            asyncio.run(client.evaluate(MESSAGES, CRITERION))
        assert asyncio.run(client.evaluate(MESSAGES, CRITERION)).score == 0.75
        asyncio.run(client.aclose())
    assert server.connections == 2
    assert _resource_warnings(no_resource_warnings) == []


def _second_loop_with_a_caller_httpx_client(url: str) -> tuple[float, type[BaseException], str]:
    """(the first loop's score, the class and message of what the second loop raised); only
    names and text come back, so nothing keeps the caller's client alive after this."""
    http = httpx.AsyncClient()
    client = AsyncComposo(api_key="k", base_url=url, http_client=http)
    score = asyncio.run(client.evaluate(MESSAGES, CRITERION)).score
    try:
        asyncio.run(client.evaluate(MESSAGES, CRITERION))
    except Exception as exc:
        return score, type(exc), str(exc)
    raise AssertionError("the second loop was not refused")


def test_a_caller_httpx_client_on_a_second_loop_fails_clearly_before_sending() -> None:
    # The caller's client keeps a connection of the first loop, which is gone; that socket is
    # the caller's to close, and only the garbage collector can now: collected here, whatever
    # the outcome, so its ResourceWarning cannot land in another test.
    with serving(answering(200, SCORE_BODY)) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            score, raised, message = _second_loop_with_a_caller_httpx_client(server.url)
        finally:
            gc.collect()
    assert score == 0.75
    assert issubclass(raised, ComposoError)
    assert not issubclass(raised, RuntimeError)
    assert "first used on another event loop" in message
    assert len(server.requests) == 1


# Run in a child process: what it leaves unclosed is collected at the child's exit, where this
# test sees it on stderr, instead of in whichever test of this process runs next.
_HAND_MADE_LOOP = """
import asyncio, gc, sys, warnings
warnings.simplefilter("always")
from composo import AsyncComposo
messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
client = AsyncComposo(api_key="k", base_url=sys.argv[1])
loop = asyncio.new_event_loop()
print(loop.run_until_complete(client.evaluate(messages, "Reward answers")).score)
loop.close()
print(asyncio.run(client.evaluate(messages, "Reward answers")).score)
asyncio.run(client.aclose())
del client, loop
gc.collect()
"""


@pytest.mark.xfail(
    strict=True,
    reason=(
        "AiohttpSender closes a loop's session through an async generator that only "
        "loop.shutdown_asyncgens() finalises (asyncio.run calls it); a loop the caller closes "
        "with loop.close() alone leaves that session and its connection unclosed, and aclose() "
        "on the next loop skips it, so they are reported as ResourceWarnings when collected"
    ),
)
def test_an_async_client_used_on_a_hand_made_loop_then_asyncio_run_leaves_nothing_open() -> None:
    with serving(answering(200, SCORE_BODY)) as server:
        child = subprocess.run(
            [sys.executable, "-c", _HAND_MADE_LOOP, server.url],
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["0.75", "0.75"]
    assert "ResourceWarning" not in child.stderr
    assert "Unclosed" not in child.stderr


# A socket timing out (aiohttp.ServerTimeoutError) is retried, not taken for the deadline.


def test_aiohttp_server_timeout_maps_to_a_retryable_socket_timeout() -> None:
    error = aiohttp_error(aiohttp.ServerTimeoutError("Timeout on reading data from socket"), "u")
    assert isinstance(error, APITimeoutError)
    assert error.request_sent is True
    assert "did not finish within" not in str(error)
    core = RetryCore(num_retries=2, timeout=60.0, limiter=RateLimiter(), policy=fast_policy())
    call = Call("POST", "/api/v1/evals/reward", b"{}", parse=lambda data: data)
    attempts = core.begin(call, 0.0)
    assert isinstance(attempts.next(0.0), Send)
    attempts.sending(0.0)
    assert isinstance(attempts.failed(error, 1.0), Sleep)


class _TimingOutSender:
    """An `AsyncSender` whose first `fails` sends end as aiohttp's socket timeout."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.sends = 0
        self.is_closed = False

    async def send(
        self, method: str, url: str, body: bytes, headers: RequestHeaders, time_left: float
    ) -> RawResponse:
        self.sends += 1
        if self.sends <= self.fails:
            raise aiohttp_error(aiohttp.ServerTimeoutError("Timeout on reading data"), url)
        return RawResponse(200, {}, SCORE_BODY, url)

    async def aclose(self) -> None:
        self.is_closed = True


async def test_an_aiohttp_socket_timeout_is_retried_by_the_async_client() -> None:
    async with AsyncComposo(api_key="k", base_url="http://127.0.0.1:9", num_retries=2) as client:
        client._retry_policy = fast_policy()
        sender = _TimingOutSender(fails=2)
        client._sender = sender
        result = await client.evaluate(MESSAGES, CRITERION)
    assert result.score == 0.75
    assert sender.sends == 3


async def test_socket_timeouts_past_the_retries_report_the_socket_not_the_deadline() -> None:
    async with AsyncComposo(api_key="k", base_url="http://127.0.0.1:9", num_retries=2) as client:
        client._retry_policy = fast_policy()
        sender = _TimingOutSender(fails=10)
        client._sender = sender
        with pytest.raises(APITimeoutError) as caught:
            await client.evaluate(MESSAGES, CRITERION)
    assert sender.sends == 3
    assert "ServerTimeoutError" in str(caught.value)
    assert "did not finish within" not in str(caught.value)
