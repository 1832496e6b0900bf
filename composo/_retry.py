"""Retry policy as pure functions: which statuses to retry, how long to wait, when to give up.

The clients own the loop and the sleeping; everything they decide is computed here so it can be
tested table-driven without a network or a clock.
"""

from __future__ import annotations

import email.utils
import math
import random
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
    """

    initial_backoff: float = INITIAL_BACKOFF
    max_backoff: float = MAX_BACKOFF
    multiplier: float = BACKOFF_MULTIPLIER
    jitter: float = JITTER
    max_retry_after: float = MAX_RETRY_AFTER


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
