"""Small hostile servers for the hardening tests (`tests/test_hardening_*.py`).

`RawServer` is a plain asyncio TCP server on loopback, in a thread of its own, whose behaviour
is one coroutine the test writes: it reads the request with `read_request` and then answers,
trickles, redirects, drops the connection or says nothing, as a hostile or broken server would.
It records every request it read, so a test can assert what reached it (or that nothing did).

Nothing here sleeps to wait for another thread: every wait is a bounded poll or an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Long enough for a loaded 2-core machine running two copies of the suite; only ever an upper
# bound on a wait that normally ends in milliseconds.
PATIENCE = 30.0


@dataclass
class Request:
    """One HTTP/1.1 request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request (head and Content-Length body); None when the client closed first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    try:
        body = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return Request(method, path, headers, body)


def response_bytes(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "Whatever",
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> bytes:
    """A complete HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


Handler = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """A loopback TCP server running `handler` for every connection, in a background thread."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def read(self, reader: asyncio.StreamReader) -> Request | None:
        """`read_request`, recorded."""
        request = await read_request(reader)
        if request is not None:
            with self._lock:
                self.requests.append(request)
        return request

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[Any]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            with self._lock:
                self.connections += 1
            try:
                await self.handler(self, reader, writer)
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()  # the client went away: what hostile servers see all the time
            except asyncio.CancelledError:
                # The server is stopping. Returning (not re-raising) keeps asyncio's stream
                # callback from logging the cancelled task as an error.
                writer.close()
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    def start(self) -> RawServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), name="hostile-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(PATIENCE):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(PATIENCE)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_requests(self, count: int) -> None:
        """Poll (bounded) until `count` requests were read."""
        deadline = time.monotonic() + PATIENCE
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} requests arrived, not {count}")
            time.sleep(0.01)


@contextlib.contextmanager
def serving(handler: Handler) -> Iterator[RawServer]:
    """`RawServer(handler)` started for the duration of a `with` block."""
    with RawServer(handler) as server:
        yield server


def answering(status: int, body: bytes = b"", **kwargs: Any) -> Handler:
    """A handler that answers every request with one fixed response (keep-alive)."""
    payload = response_bytes(status, body, **kwargs)

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await server.read(reader) is not None:
            writer.write(payload)
            await writer.drain()

    return handle


def refused_url() -> str:
    """A loopback URL where nothing listens, so every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


SCORE_BODY = b'{"score": 0.75, "explanation": "fine"}'
