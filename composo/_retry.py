"""Retry policy without I/O: which failures to retry, how long to wait, when to give up, and
the client-wide state those decisions share (the retry budget and the Retry-After pause).

The clients own the loop and the sleeping; everything they decide is computed here (and in
`_ratelimit.py`, `_attempts.py`) from plain values, so it can be tested table-driven without a
network or a clock.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from composo._constants import (
    BACKOFF_MULTIPLIER,
    INITIAL_BACKOFF,
    JITTER,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    PAUSE_MIN_RETRY_AFTER,
    RETRY_BUDGET_CAPACITY,
    RETRY_BUDGET_SUCCESS_REFUND,
    RETRY_COST,
    RETRY_COST_TIMEOUT,
    RETRYABLE_STATUS_CODES,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts; tests pass tiny numbers instead of sleeping for real.

    Attributes:
        initial_backoff: Seconds before the first retry.
        max_backoff: Ceiling for one exponential step.
        multiplier: Growth factor from one retry to the next.
        jitter: Fraction of randomness applied to each delay, in [0, 1].
        max_retry_after: Cap on a server-provided Retry-After, in seconds.
        pause_min_retry_after: A 429's Retry-After longer than this pauses the whole client
            (see `pauses_client`).
    """

    initial_backoff: float = INITIAL_BACKOFF
    max_backoff: float = MAX_BACKOFF
    multiplier: float = BACKOFF_MULTIPLIER
    jitter: float = JITTER
    max_retry_after: float = MAX_RETRY_AFTER
    pause_min_retry_after: float = PAUSE_MIN_RETRY_AFTER


def is_retryable_status(status_code: int) -> bool:
    """Tell whether a response with this status is worth sending again.

    Args:
        status_code: The HTTP status of the failed response.

    Returns:
        True for 408, 409, 429 and every 5xx (524 edge timeouts included); False otherwise,
        because any other 4xx will fail the same way again.
    """
    return status_code in RETRYABLE_STATUS_CODES or 500 <= status_code <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Turn a Retry-After header into seconds to wait.

    Args:
        value: The header value: delay seconds ("1", "2.5") or an HTTP-date.
        now: Current Unix time for HTTP-dates; `time.time()` when None.

    Returns:
        Seconds to wait (0.0 for a negative delay or a date in the past), or None when the
        header is absent or unreadable. The value is not capped here.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _parse_http_date(text, now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _parse_http_date(text: str, now: float | None) -> float | None:
    """Seconds from `now` until an HTTP-date, or None when `text` is not one."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses as naive, so pin it to UTC.
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def backoff_delay(
    retry_index: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Compute how many seconds to wait before a retry.

    Without a server hint the delay is `min(initial * multiplier**retry_index, max_backoff)`
    shrunk by up to `jitter` of itself: `base * (1 - jitter * rand())`, as openai-python does.
    Subtracting keeps every delay under `max_backoff`, so the worst case is predictable against
    the deadline; a 25% spread is enough to de-synchronise clients that failed together without
    the near-zero waits of AWS-style "full jitter" (uniform over [0, base]).

    With a server hint the delay is `r * (1 + jitter * rand())` where `r` is `retry_after`
    clamped to [0, max_retry_after]: the jitter only ever adds, so the client never comes back
    earlier than the server asked, and clients told the same instant do not return in lockstep.

    Args:
        retry_index: 0 for the first retry, 1 for the second, and so on.
        policy: Backoff settings.
        retry_after: Seconds the server asked to wait (from `parse_retry_after`), if any.
        rand: Source of uniform numbers in [0, 1); injectable for tests.

    Returns:
        Seconds to wait, never negative.
    """
    if retry_after is not None:
        requested = min(max(retry_after, 0.0), policy.max_retry_after)
        return requested * (1.0 + policy.jitter * rand())
    exponent = max(retry_index, 0)
    try:
        base = policy.initial_backoff * policy.multiplier**exponent
    except OverflowError:
        base = policy.max_backoff
    base = min(base, policy.max_backoff)
    return max(base * (1.0 - policy.jitter * rand()), 0.0)


def fits_deadline(delay: float, remaining: float) -> bool:
    """Tell whether sleeping `delay` seconds still leaves time for another attempt.

    Args:
        delay: Seconds the client would sleep before retrying.
        remaining: Seconds left before the caller's total timeout.

    Returns:
        True when the sleep ends strictly before the deadline; False means stop retrying and
        raise, because waking up at or after the deadline leaves no time to send anything.
    """
    return max(delay, 0.0) < remaining


def is_throttle_status(status_code: int) -> bool:
    """Tell whether a status means "slow down" rather than "something failed".

    Args:
        status_code: The HTTP status of the failed response.

    Returns:
        True for 429: the request was refused before any work was done, so waiting and sending
        it again is always safe and costs no retry.
    """
    return status_code == 429


class RetryBudget:
    """A client-wide allowance for retries, after the AWS SDKs' standard retry quota.

    Each retry spends tokens and each success refunds one, so during an outage retries stop
    quickly (calls fail fast instead of multiplying the load), and they come back by themselves
    once requests succeed again. Rate-limited attempts (429) never spend from it: they are
    paced by the rate limiter instead. Thread-safe.
    """

    def __init__(self, capacity: int = RETRY_BUDGET_CAPACITY) -> None:
        self.capacity = capacity
        self._tokens = capacity
        self._lock = threading.Lock()

    @property
    def tokens(self) -> int:
        """Tokens left."""
        return self._tokens

    def try_spend(self, *, after_timeout: bool) -> int:
        """Spend the cost of one retry; returns it, or 0 when the budget is out.

        Args:
            after_timeout: True when the failed attempt timed out, which ties up more of the
                server than an error answer and so costs more.
        """
        cost = RETRY_COST_TIMEOUT if after_timeout else RETRY_COST
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


class ClientPause:
    """The client-wide pause a long Retry-After asks for: no request of the client starts
    before it ends. Shorter waits are the rate limiter's business (see `pauses_client`)."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        # Monotonic time before which no new request starts; 0 when there is no pause.
        self.until = 0.0

    def note(self, retry_after: float, now: float, policy: RetryPolicy) -> None:
        """Pause every request until `now + retry_after` (capped by the policy)."""
        until = now + min(max(retry_after, 0.0), policy.max_retry_after)
        # A plain max of floats: a lost update between threads only shortens one pause.
        self.until = max(self.until, until)

    def left(self, now: float, policy: RetryPolicy, rand: Callable[[], float]) -> float:
        """Seconds a request starting at `now` should wait (0 when there is no pause).

        Each waiter adds up to `jitter` of the pause at random, so that the callers held back
        do not all start again in the same instant and hit the limit together.
        """
        left = self.until - now
        if left <= 0:
            return 0.0
        return left * (1.0 + policy.jitter * rand())


def pauses_client(retry_after: float | None, policy: RetryPolicy) -> bool:
    """Tell whether a 429's Retry-After should pause the whole client, not only its request.

    HTTP sends Retry-After in whole seconds, so any sub-second wait a token bucket computes
    arrives as "1": that says only "slow down", which the adaptive rate limiter answers by
    lowering its rate (pausing every request for a second each time would waste a second of
    quota). A longer value is a real pause (a quota window to wait out) and holds every
    request of the client.

    Args:
        retry_after: The 429's Retry-After in seconds, None when absent.
        policy: Holds the threshold, `pause_min_retry_after` (1 s).

    Returns:
        True when the value is longer than the threshold.
    """
    return retry_after is not None and retry_after > policy.pause_min_retry_after
