"""What `Composo` and `AsyncComposo` share: their settings, checked once at construction, and
the retry core every call runs through. The clients differ only in how they send and wait;
every decision of the retry loop lives in `_attempts.py`.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse

from composo._attempts import RetryCore
from composo._cache import CacheEntry, ResultCache, cache_entry, resolve_cache
from composo._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    MIN_NUM_RETRIES,
)
from composo._exceptions import ClientClosedError, ComposoError, bad_input
from composo._ratelimit import RateLimiter
from composo._requests import Call
from composo._retry import RetryBudget, RetryPolicy
from composo._transport import RequestHeaders
from composo._validation import check_model_core

# Characters a header value may hold (RFC 9110 field-value, without obs-text): visible ASCII
# and the space. Tabs and anything else cannot be part of an API key.
_HEADER_SAFE = frozenset(map(chr, range(0x20, 0x7F)))


def _describe_bad_char(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char == "\x00":
        return "a NUL character"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"a control character (U+{ord(char):04X})"
    return "a non-ASCII character"


def resolve_api_key(api_key: str | None) -> RequestHeaders:
    """The headers for the key given, else `COMPOSO_API_KEY`, checked so that it can be sent.

    Raises:
        ComposoError: Neither is set.
        MalformedError: The key is empty or holds a character no HTTP header can carry; the
            message says which kind and where, never the key itself.
    """
    from_env = api_key is None
    key = os.environ.get(API_KEY_ENV) if from_env else api_key
    source = API_KEY_ENV if from_env else "api_key"
    if key is None:
        raise ComposoError(
            f"no API key: pass api_key=... or set the {API_KEY_ENV} environment variable"
        )
    if not isinstance(key, str) or not key.strip():
        raise bad_input(f"the API key must be a non-empty string ({source})")
    key = key.strip()
    for position, char in enumerate(key, start=1):
        if char not in _HEADER_SAFE:
            raise bad_input(
                f"the API key ({source}) holds {_describe_bad_char(char)} at position "
                f"{position} of {len(key)}, which cannot be sent in an HTTP header; copy the "
                "key again (a stray newline, quote or invisible character is the usual cause)"
            )
    return RequestHeaders(key)


def resolve_base_url(base_url: str | None) -> str:
    """The URL given, else `COMPOSO_BASE_URL`, else production; checked, without a trailing
    slash.

    Raises:
        MalformedError: Not an http(s) URL with a valid host, or one with a bad port,
            credentials, a query string or a fragment (paths are appended to it). The message
            names where the URL came from, and never shows credentials it holds.
    """
    name = "base_url" if base_url is not None else BASE_URL_ENV
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise bad_input(f"{name} must be a string such as {DEFAULT_BASE_URL!r}, got {url!r}")
    example = f"such as {DEFAULT_BASE_URL!r}"
    # What messages show: the URL with any user:password@ masked.
    shown = repr(re.sub(r"//[^/?#]*@", "//***@", url, count=1))
    if re.search(r"//[^/?#]*@", url):
        raise bad_input(
            f"{name} must not hold credentials (user:password@): {shown}; pass the API key as "
            "api_key"
        )
    if any(char not in _HEADER_SAFE or char in " \\" for char in url):
        raise bad_input(f"{name} holds whitespace, a backslash or a non-ASCII character: {shown}")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # a bracketed host that is not an IPv6 address
        raise bad_input(f"{name} is not a valid URL ({exc}): {shown}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise bad_input(f"{name} must be an http(s) URL {example}, got {shown}")
    if not parts.hostname:
        raise bad_input(f"{name} has no host: {shown}; write it {example}")
    _check_host(parts.netloc, parts.hostname, f"{name} {shown}")
    if "?" in url or "#" in url:
        raise bad_input(
            f"{name} must not have a query string or fragment ({shown}): API paths are "
            "appended to it"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or port == 0 or (parts.netloc.endswith(":") and port is None):
        raise bad_input(f"{name} has a bad port: {shown}; a port is a number from 1 to 65535")
    return url.rstrip("/")


def _check_host(netloc: str, host: str, where: str) -> None:
    """Refuse a host no connection can be opened to, which would otherwise fail at the first
    request with an exception of the HTTP library (an IDNA `UnicodeError`, `httpx.InvalidURL`)."""
    if "[" in netloc:
        after = netloc.partition("]")[2]
        if after and not after.startswith(":"):
            raise bad_input(f"{where} has text after its IPv6 address")
        return
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(0 < len(label) <= 63 for label in labels):
        raise bad_input(
            f"{where} has a bad host name (an empty part between dots, or a part longer than "
            "63 characters)"
        )


def check_num_retries(num_retries: object) -> int:
    """`num_retries` as given; 0 counts as 1 (as the official SDK documents, retries cannot be
    disabled).

    Raises:
        MalformedError: Not an int, or negative.
    """
    if isinstance(num_retries, bool) or not isinstance(num_retries, int):
        raise bad_input(f"num_retries must be an int, got {num_retries!r}")
    if num_retries < 0:
        raise bad_input(
            f"num_retries must be 0 or more (retries after the first attempt), got {num_retries}"
        )
    return max(num_retries, MIN_NUM_RETRIES)


def check_timeout(timeout: object) -> float:
    """`timeout` as a float.

    Raises:
        MalformedError: Not a positive, finite number.
    """
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise bad_input(f"timeout must be a positive, finite number of seconds, got {timeout!r}")
    return float(timeout)


def check_concurrency(value: object, name: str = "max_concurrent_requests") -> int:
    """A positive int.

    Raises:
        MalformedError: Anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_input(f"{name} must be a positive int, got {value!r}")
    return value


def resolve_limiter(
    rate_limiter: RateLimiter | None, requests_per_second: float | None
) -> RateLimiter:
    """The limiter given, or a new one (pacing from the start at `requests_per_second`).

    Raises:
        MalformedError: Both given, or a `rate_limiter` that is not a `RateLimiter`.
    """
    if rate_limiter is None:
        return RateLimiter(requests_per_second)
    if not isinstance(rate_limiter, RateLimiter):
        raise bad_input(
            f"rate_limiter must be a composo.RateLimiter, got {type(rate_limiter).__name__}"
        )
    if requests_per_second is not None:
        raise bad_input(
            "pass requests_per_second or rate_limiter, not both (a shared limiter takes the "
            "quota itself: RateLimiter(requests_per_second=...))"
        )
    return rate_limiter


class BaseClient:
    """Settings and the retry core shared by both clients."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        num_retries: int,
        model_core: str | None,
        timeout: float,
        max_concurrent_requests: int,
        rate_limiter: RateLimiter | None,
        requests_per_second: float | None,
        cache: ResultCache | bool | str | os.PathLike[str] | None = None,
    ) -> None:
        self._headers = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.num_retries = check_num_retries(num_retries)
        self.model_core = None if model_core is None else check_model_core(model_core)
        self.timeout = check_timeout(timeout)
        self.max_concurrent_requests = check_concurrency(max_concurrent_requests)
        self.rate_limiter = resolve_limiter(rate_limiter, requests_per_second)
        self._core = RetryCore(
            num_retries=self.num_retries, timeout=self.timeout, limiter=self.rate_limiter
        )
        # Opened last: every other setting is checked before a file is created.
        self.cache, self._owns_cache = resolve_cache(cache)
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, model_core={self.model_core!r}, "
            f"num_retries={self.num_retries}, timeout={self.timeout}, "
            f"max_concurrent_requests={self.max_concurrent_requests})"
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

    def _cache_entry(self, call: Call) -> CacheEntry | None:
        """Where the call's result is cached, or None when it is not (see `_cache.py`)."""
        return cache_entry(self.cache, self.base_url, call)

    def _close_cache(self) -> None:
        """Close the cache if the client opened it (a `ResultCache` given is the caller's)."""
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _model_core(self, per_call: str | None) -> str | None:
        return per_call if per_call is not None else self.model_core

    # Tests shorten backoffs and shrink the budget through these.
    @property
    def _retry_policy(self) -> RetryPolicy:
        return self._core.policy

    @_retry_policy.setter
    def _retry_policy(self, policy: RetryPolicy) -> None:
        self._core.policy = policy

    @property
    def _retry_budget(self) -> RetryBudget:
        return self._core.budget

    @_retry_budget.setter
    def _retry_budget(self, budget: RetryBudget) -> None:
        self._core.budget = budget

    def _rate_stats(self) -> tuple[float | None, float, int]:
        """(the limiter's pace or None, the measured response rate, 429s seen) for progress."""
        limiter = self.rate_limiter
        return limiter.rate, limiter.measured_rate, self._core.throttled
