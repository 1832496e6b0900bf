"""What `Composo` and `AsyncComposo` share: settings, headers, and every decision of the retry
loop that does no I/O (reading a response, translating transport errors, whether and how long
to wait). The two clients differ only in how they send and how they wait.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import sys
import threading
import time
from typing import Any

import httpx

from composo._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    LOGGER_NAME,
    MIN_NUM_RETRIES,
    RETRY_BUDGET_CAPACITY,
    RETRY_BUDGET_SUCCESS_REFUND,
    RETRY_COST,
    RETRY_COST_TIMEOUT,
)
from composo._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ComposoError,
    bad_input,
    error_from_response,
)
from composo._requests import Call, parse_success
from composo._retry import (
    RetryPolicy,
    backoff_delay,
    fits_deadline,
    is_retryable_status,
    parse_retry_after,
)
from composo._transport import RawResponse
from composo._validation import check_model_core
from composo._version import __version__

logger = logging.getLogger(LOGGER_NAME)

USER_AGENT = f"composo-python/{__version__}"


def _is_aiohttp_error(exc: Exception) -> bool:
    # aiohttp is only imported when the default async sender is used; if it was never
    # imported, no exception can come from it.
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(exc, aiohttp.ClientError)


def _is_aiohttp_timeout(exc: Exception) -> bool:
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(exc, aiohttp.ServerTimeoutError)


class _Secret:
    """Holds the API key so that no repr, str or traceback can show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def resolve_api_key(api_key: str | None) -> _Secret:
    """The key given, else `COMPOSO_API_KEY`; a clear error when neither is set."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key is None:
        raise ComposoError(
            f"no API key: pass api_key=... or set the {API_KEY_ENV} environment variable"
        )
    if not isinstance(key, str) or not key.strip():
        raise bad_input(f"the API key must be a non-empty string (api_key or {API_KEY_ENV})")
    return _Secret(key.strip())


def resolve_base_url(base_url: str | None) -> str:
    """The URL given, else `COMPOSO_BASE_URL`, else production; without a trailing slash."""
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad_input(f"base_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


class RetryBudget:
    """A client-wide allowance for retries, after the AWS SDKs' standard retry quota.

    Each retry spends tokens and each success refunds one, so during an outage retries stop
    quickly (calls fail fast instead of multiplying the load), and they come back by themselves
    once requests succeed again. Thread-safe.
    """

    def __init__(self, capacity: int = RETRY_BUDGET_CAPACITY) -> None:
        self.capacity = capacity
        self._tokens = capacity
        self._lock = threading.Lock()

    @property
    def tokens(self) -> int:
        return self._tokens

    def try_spend(self, error: ComposoError) -> int:
        """Spend the cost of retrying after `error`; returns it, or 0 when the budget is out."""
        cost = RETRY_COST_TIMEOUT if isinstance(error, APITimeoutError) else RETRY_COST
        with self._lock:
            if self._tokens < cost:
                return 0
            self._tokens -= cost
            return cost

    def succeeded(self, spent_on_last_retry: int) -> None:
        """Record a success: return what its retry spent, or earn one token on a first try."""
        if self._tokens >= self.capacity:
            return
        earned = spent_on_last_retry or RETRY_BUDGET_SUCCESS_REFUND
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + earned)


class BaseClient:
    """Settings and retry decisions shared by both clients."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        num_retries: int,
        model_core: str | None,
        timeout: float,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        if isinstance(num_retries, bool) or not isinstance(num_retries, int):
            raise bad_input(f"num_retries must be an int, got {num_retries!r}")
        # Retries cannot be disabled (as the official SDK documents): below 1 counts as 1.
        self.num_retries = max(num_retries, MIN_NUM_RETRIES)
        self.model_core = None if model_core is None else check_model_core(model_core)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise bad_input(
                f"timeout must be a positive, finite number of seconds, got {timeout!r}"
            )
        self.timeout = float(timeout)
        self._retry_policy = RetryPolicy()
        self._retry_budget = RetryBudget()
        # Monotonic time before which no new request starts (set by a 429 with Retry-After),
        # so that one rate-limit answer pauses every caller of this client, not just one.
        self._paused_until = 0.0
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, model_core={self.model_core!r}, "
            f"num_retries={self.num_retries}, timeout={self.timeout})"
        )

    @property
    def is_closed(self) -> bool:
        """Whether `close()` (or `aclose()`) has been called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                f"this {type(self).__name__} is closed; create a new client to send requests"
            )

    @property
    def _request_headers(self) -> dict[str, str]:
        # Built per call rather than stored, so the key lives only inside `_Secret`.
        return {
            "API-Key": self._api_key.value,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        }

    def _url(self, call: Call) -> str:
        return self.base_url + call.path

    def _core(self, per_call: str | None) -> str | None:
        return per_call if per_call is not None else self.model_core

    @staticmethod
    def _read(call: Call, response: RawResponse | httpx.Response) -> Any:
        """The call's result for a 2xx response; raises the mapped error for any other."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = json.loads(response.content)
            except ValueError as exc:
                raise ComposoError(
                    f"{status} response to {call.method} {call.path} is not JSON",
                    status_code=status,
                    body=response.content,
                ) from exc
            return parse_success(call, status, data, response.content)
        raise error_from_response(status, response.content, response.headers)

    def _transport_error(self, exc: Exception) -> ComposoError:
        """The one place where httpx's and aiohttp's exceptions become this SDK's.

        Raises:
            Exception: `exc` itself when it does not come from the HTTP layer (a bug to see).
        """
        name = type(exc).__name__
        detail = f"{name}: {exc}" if str(exc) else name
        if isinstance(exc, httpx.TimeoutException) or _is_aiohttp_timeout(exc):
            return APITimeoutError(f"request to {self.base_url} timed out ({detail})")
        if isinstance(exc, httpx.TransportError | OSError) or _is_aiohttp_error(exc):
            return APIConnectionError(f"could not reach {self.base_url}: {detail}")
        if isinstance(exc, httpx.HTTPError):
            return ComposoError(f"HTTP error talking to {self.base_url}: {detail}")
        raise exc

    def _deadline_error(self) -> APITimeoutError:
        return APITimeoutError(
            f"the evaluation did not finish within timeout={self.timeout:g} s "
            "(every attempt and backoff wait included)"
        )

    def _note_rate_limit(self, response: RawResponse | httpx.Response | None) -> float | None:
        """Retry-After of a response, in seconds; a 429 with one pauses the whole client."""
        if response is None:
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and response.status_code == 429:
            until = time.monotonic() + min(retry_after, self._retry_policy.max_retry_after)
            self._paused_until = max(self._paused_until, until)
        return retry_after

    def _pause_left(self) -> float:
        """Seconds this call should wait for a client-wide rate-limit pause (0 when none).

        Each waiter adds up to `jitter` of the pause at random, so that the callers held back
        do not all start again in the same instant and hit the limit together.
        """
        left = self._paused_until - time.monotonic()
        if left <= 0:
            return 0.0
        return left * (1.0 + self._retry_policy.jitter * random.random())

    def _next_wait(
        self,
        error: ComposoError,
        retries_done: int,
        retry_after: float | None,
        deadline: float,
        call: Call,
    ) -> tuple[float, int] | None:
        """(seconds to wait, budget spent) before retrying after `error`, or None to raise it."""
        if isinstance(error, APIStatusError):
            if error.status_code is None or not is_retryable_status(error.status_code):
                return None
        elif not isinstance(error, APIConnectionError):
            return None
        if retries_done >= self.num_retries:
            return None
        delay = backoff_delay(retries_done, self._retry_policy, retry_after=retry_after)
        if not fits_deadline(delay, deadline - time.monotonic()):
            return None
        spent = self._retry_budget.try_spend(error)
        if not spent:
            logger.warning(
                "retry budget exhausted: not retrying %s %s after %s", call.method, call.path, error
            )
            return None
        logger.debug(
            "retrying %s %s in %.2f s after %s (retry %d of %d)",
            call.method,
            call.path,
            delay,
            error,
            retries_done + 1,
            self.num_retries,
        )
        return delay, spent
