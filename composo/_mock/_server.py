"""MockServer: a local Composo server on loopback, for tests, demos and rehearsals.

`MockServer` runs on its own event loop in a background thread, so sync and async clients
in the calling thread can both use it; `AsyncMockServer` runs on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import random
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from composo._mock._app import MockState, start_site
from composo._mock._faults import Counters, FaultConfig
from composo._mock._spec import load_spec
from composo._mock._store import MAX_EVALUATIONS, MAX_TRACES, Store

# How long start() waits for the server thread to listen.
_START_TIMEOUT = 30.0

_FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(FaultConfig) if f.init)


def _keys(api_keys: Iterable[str] | None) -> frozenset[str] | None:
    if api_keys is None:
        return None
    keys = frozenset(api_keys)
    if not keys or "" in keys:
        raise ValueError("api_keys must be non-empty strings (or None to accept any key)")
    return keys


class _Base:
    """What the threaded and the in-loop servers share: settings, state and counters."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        latency_range: tuple[float, float] | None = None,
        p429: float = 0.0,
        retry_after: int | None = 1,
        p500: float = 0.0,
        p503: float = 0.0,
        p524: float = 0.0,
        p_drop: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        api_keys: Iterable[str] | None = None,
        seed: int | None = 0,
        max_traces: int = MAX_TRACES,
        max_evaluations: int = MAX_EVALUATIONS,
        spec: Path | None = None,
        check_responses: bool = False,
    ) -> None:
        """Configures a server; nothing listens until it is started.

        Args:
            host: the address to listen on (loopback by default).
            port: the port; 0 picks a free one.
            latency: seconds added to every request.
            latency_range: (min, max) seconds drawn per request, instead of `latency`.
            p429: probability of a 429 carrying `Retry-After: <retry_after>`.
            retry_after: seconds in that header; None leaves the header out.
            p500: probability of a 500.
            p503: probability of a 503.
            p524: probability of a 524 (edge timeout).
            p_drop: probability of closing the connection without answering.
            rate_limit: (requests, per_seconds) token bucket per API key.
            api_keys: the accepted keys; None accepts any non-empty key.
            seed: seeds the random draws of faults and latency; None for a random seed.
            max_traces: how many traces to keep (oldest forgotten first).
            max_evaluations: how many evaluation rows to keep.
            spec: the openapi.yaml to serve; default `spec_path()`.
            check_responses: validate every response against the spec (for tests; slower).

        Raises:
            ValueError: for settings out of range.
            FileNotFoundError: when no openapi.yaml can be found.
        """
        self._host = host
        self._requested_port = port
        self._initial = FaultConfig(
            latency=latency,
            latency_range=latency_range,
            p429=p429,
            retry_after=retry_after,
            p500=p500,
            p503=p503,
            p524=p524,
            p_drop=p_drop,
            rate_limit=rate_limit,
        )
        self._initial_keys = _keys(api_keys)
        self._seed = seed
        self._max_traces = max_traces
        self._max_evaluations = max_evaluations
        self._state = MockState(
            spec=load_spec(spec),
            config=self._initial,
            api_keys=self._initial_keys,
            rng=random.Random(seed),
            store=Store(max_traces, max_evaluations),
            check_responses=check_responses,
        )
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: when the server is not running.
        """
        if self._port is None:
            raise RuntimeError("the Composo mock server is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """`http://host:port`, the URL to give a client."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> FaultConfig:
        """The fault settings in force."""
        return self._state.config

    @property
    def counters(self) -> Counters:
        """A snapshot of the request counters."""
        return self._state.counters.snapshot()

    def reset_counters(self) -> None:
        """Zeroes the request counters."""
        self._state.counters.reset()

    def configure(self, **changes: Any) -> None:
        """Changes settings while running, e.g. `configure(p503=0.2)`.

        Args:
            **changes: any of the fault keywords of the constructor, `api_keys` or `seed`.

        Raises:
            TypeError: for an unknown keyword.
            ValueError: for settings out of range (nothing is changed then).
        """
        unknown = set(changes) - _FAULT_FIELDS - {"api_keys", "seed"}
        if unknown:
            raise TypeError(f"configure() got unknown settings: {', '.join(sorted(unknown))}")
        faults = {k: v for k, v in changes.items() if k in _FAULT_FIELDS}
        # Setting one form of latency clears the other.
        if "latency" in faults and "latency_range" not in faults:
            faults["latency_range"] = None
        if "latency_range" in faults and "latency" not in faults:
            faults["latency"] = 0.0
        config = dataclasses.replace(self._state.config, **faults)
        keys = _keys(changes["api_keys"]) if "api_keys" in changes else self._state.api_keys
        if "seed" in changes:
            self._state.rng = random.Random(changes["seed"])
        if config.rate_limit != self._state.config.rate_limit:
            self._state.buckets = {}
        self._state.api_keys = keys
        self._state.config = config

    def reset(self) -> None:
        """Back to the constructor's settings, with no stored data and zeroed counters."""
        self._state.config = self._initial
        self._state.api_keys = self._initial_keys
        self._state.rng = random.Random(self._seed)
        self._state.buckets = {}
        self._state.store = Store(self._max_traces, self._max_evaluations)
        self._state.counters.reset()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not running"
        return f"<{type(self).__name__} {where}>"


class MockServer(_Base):
    """A local Composo server running in a background thread.

    Use it as a context manager (`with MockServer(p503=0.1) as server: server.base_url`) or
    call `start()` and `stop()`. Stored data lives in memory and is bounded: the newest
    `max_traces` traces and `max_evaluations` evaluation rows are kept (10,000 each by default).
    """

    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None

    def start(self) -> MockServer:
        """Starts serving and returns once the port is listening.

        Returns:
            The server itself.

        Raises:
            RuntimeError: when already running.
            OSError: when the address cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("the Composo mock server is already running")
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        thread = threading.Thread(target=self._run, args=(ready,), name="composo-mock", daemon=True)
        thread.start()
        try:
            self._port = ready.result(timeout=_START_TIMEOUT)
        except BaseException:
            self._signal_stop()
            thread.join(_START_TIMEOUT)
            raise
        self._thread = thread
        return self

    def _run(self, ready: concurrent.futures.Future[int]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)

    async def _serve(self, ready: concurrent.futures.Future[int]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner, port = await start_site(self._state, self._host, self._requested_port)
        try:
            ready.set_result(port)
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def _signal_stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)

    def stop(self) -> None:
        """Stops serving (waiting briefly for requests in flight); does nothing if not running."""
        thread = self._thread
        if thread is None:
            return
        self._signal_stop()
        thread.join()
        self._thread = self._loop = self._stopping = None
        self._port = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class AsyncMockServer(_Base):
    """A local Composo server on the running event loop: `async with AsyncMockServer() as s`.

    Do not block that loop (e.g. with a sync client) while it serves: use MockServer then.
    """

    _runner: web.AppRunner | None = None

    async def start(self) -> AsyncMockServer:
        """Starts serving on the running loop.

        Raises:
            RuntimeError: when already running.
            OSError: when the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the Composo mock server is already running")
        self._runner, self._port = await start_site(self._state, self._host, self._requested_port)
        return self

    async def stop(self) -> None:
        """Stops serving; does nothing if not running."""
        runner, self._runner, self._port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> AsyncMockServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@contextmanager
def mock_server(**kwargs: Any) -> Iterator[MockServer]:
    """A running MockServer for the `with` block; takes MockServer's keyword arguments."""
    with MockServer(**kwargs) as server:
        yield server
