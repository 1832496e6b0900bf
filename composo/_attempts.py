"""Every decision of the retry loop, made without I/O: one `Attempts` per call tells the client
what to do next (sleep, send, return, raise), and the client only sleeps and sends.

    attempts = core.begin(call, now())
    while True:
        step = attempts.next(now())          # Sleep | Send | Fail
        ...sleep, or raise, or:
        time_left = attempts.sending(now())  # the request goes out
        outcome = attempts.received(response, now())  # or attempts.failed(error, now())
        ...Done: return its value; Sleep: sleep, then ask next() again; Fail: raise

What is decided here: the total deadline (which, for a batch item, starts when its first
request goes out, not while it waits in line); the client-wide pause a long Retry-After asks
for; the adaptive rate limiter's pacing; which failures are retried, how long to wait, and the
two allowances that bound retries (`num_retries` per call and the client-wide retry budget),
which a 429 never spends: a rate-limited attempt waits for the limiter and goes again for as
long as its deadline allows, and fails only when the deadline cannot be met.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from composo._constants import LOGGER_NAME
from composo._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ComposoError,
    RateLimitError,
)
from composo._ratelimit import RECHECK, RateLimiter
from composo._requests import Call, RawResponse, read_response
from composo._retry import (
    ClientPause,
    RetryBudget,
    RetryPolicy,
    backoff_delay,
    fits_deadline,
    is_retryable_status,
    is_throttle_status,
    pauses_client,
)

logger = logging.getLogger(LOGGER_NAME)


class Sleep(NamedTuple):
    """Wait this many seconds, then ask `Attempts.next` again."""

    seconds: float


class Send(NamedTuple):
    """Send the request now; `time_left` bounds waiting for a connection slot (None: no bound,
    a batch item that has not started yet)."""

    time_left: float | None


class Done(NamedTuple):
    """The call succeeded with this value."""

    value: Any


class Fail(NamedTuple):
    """The call failed for good with this error."""

    error: ComposoError


class RetryCore:
    """What every call of one client shares: settings, the retry budget, the Retry-After pause,
    the rate limiter, and counts for progress displays.

    Args:
        num_retries: Retries of a failed attempt per call (429s excluded: they never count).
        timeout: Seconds one call may take in all, every attempt and wait included.
        limiter: The rate limiter, possibly shared with other clients.
        policy: Backoff settings (tests shorten them).
        rand: Source of uniform numbers in [0, 1) for jitter.
    """

    def __init__(
        self,
        *,
        num_retries: int,
        timeout: float,
        limiter: RateLimiter,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.num_retries = num_retries
        self.timeout = timeout
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self.budget = RetryBudget()
        self.pause = ClientPause()
        self.rand = rand
        self._lock = threading.Lock()
        self._throttled = 0

    @property
    def throttled(self) -> int:
        """429 answers this client has received."""
        return self._throttled

    def count_throttle(self) -> None:
        with self._lock:
            self._throttled += 1

    def begin(self, call: Call, now: float, *, queued: bool = False) -> Attempts:
        """The attempts of one call starting at `now`.

        Args:
            call: The request to make.
            now: The current monotonic time.
            queued: True for a batch item: its deadline starts when its first request goes
                out, so time spent waiting in line for the rate limiter is not charged to it.
        """
        return Attempts(self, call, None if queued else now + self.timeout)


class Attempts:
    """The state of one call's attempts; see the module docstring for how a client drives it."""

    __slots__ = ("_call", "_core", "_deadline", "_last_throttle", "_retries", "_sent_at",
                 "_spent", "_throttles", "_ticket")  # fmt: skip

    def __init__(self, core: RetryCore, call: Call, deadline: float | None) -> None:
        self._core = core
        self._call = call
        self._deadline = deadline
        self._retries = 0
        self._throttles = 0
        self._spent = 0
        self._sent_at = 0.0
        # The rate limiter's ticket for the next send, once taken.
        self._ticket: int | None = None
        # The last 429 this call got, quoted when it fails for rate limiting.
        self._last_throttle: ComposoError | None = None

    def next(self, now: float) -> Sleep | Send | Fail:
        """What to do before the next attempt: wait out a pause or the limiter, or send."""
        remaining = None if self._deadline is None else self._deadline - now
        if remaining is not None and remaining <= 0:
            if self._ticket is not None:  # still in line for the rate limiter
                return Fail(self._queue_too_long(now))
            return Fail(self._deadline_error())
        core = self._core
        limiter = core.limiter
        if self._ticket is None:
            pause = core.pause.left(now, core.policy, core.rand)
            if pause > 0:
                if remaining is not None and pause >= remaining:
                    return Fail(
                        self._rate_limited(f"the service asked this client to wait {pause:.1f} s")
                    )
                return Sleep(pause)
            # No bound on the wait: the queue's length is a forecast at today's rate, which
            # rises again as 429s stop; the deadline itself decides.
            taken = limiter.take(now)
            assert taken is not None
            self._ticket, wait = taken
        else:
            wait = limiter.wait_for(self._ticket, now)
        if wait <= 0:
            return Send(remaining)
        # Look again soon: if the rate rises meanwhile, the turn comes earlier.
        return Sleep(min(wait, RECHECK) if remaining is None else min(wait, RECHECK, remaining))

    def _queue_too_long(self, now: float) -> RateLimitError:
        limiter = self._core.limiter
        return self._rate_limited(
            f"its turn in the rate limiter's queue did not come in time; the client is pacing "
            f"{limiter.rate or 0.0:.2f} requests/s"
        )

    def sending(self, now: float) -> float:
        """The request goes out now; returns the seconds left for it (its deadline starts now
        for a batch item that had not started)."""
        self._ticket = None
        self._sent_at = now
        if self._deadline is None:
            self._deadline = now + self._core.timeout
        return self._deadline - now

    def received(self, response: RawResponse, now: float) -> Done | Sleep | Fail:
        """Read a response: the call's value, or what to do about the error it carries."""
        core = self._core
        status = response.status_code
        core.limiter.record(now, self._sent_at, throttled=is_throttle_status(status))
        try:
            value = read_response(self._call, response)
        except ComposoError as error:
            return self.failed(error, now)
        core.budget.succeeded(self._spent)
        return Done(value)

    def failed(self, error: ComposoError, now: float) -> Sleep | Fail:
        """Decide after a failed attempt: wait and retry, or fail with `error`."""
        if self._deadline is not None and now >= self._deadline:
            return Fail(self._deadline_error(error))
        status = error.status_code if isinstance(error, APIStatusError) else None
        if status is not None and is_throttle_status(status):
            return self._throttled(error, now)
        if not self._retryable(error, status):
            return Fail(error)
        core = self._core
        if self._retries >= core.num_retries:
            return Fail(error)
        retry_after = error.retry_after if isinstance(error, APIStatusError) else None
        delay = backoff_delay(self._retries, core.policy, retry_after=retry_after, rand=core.rand)
        assert self._deadline is not None  # set by sending() before any failure
        if not fits_deadline(delay, self._deadline - now):
            return Fail(error)
        spent = core.budget.try_spend(after_timeout=isinstance(error, APITimeoutError))
        if not spent:
            logger.warning(
                "retry budget exhausted: not retrying %s %s after %s",
                self._call.method,
                self._call.path,
                error,
            )
            return Fail(error)
        self._spent = spent
        self._retries += 1
        logger.debug(
            "retrying %s %s in %.2f s after %s (retry %d of %d)",
            self._call.method,
            self._call.path,
            delay,
            error,
            self._retries,
            core.num_retries,
        )
        return Sleep(delay)

    def timed_out(self) -> Fail:
        """The deadline ran out while a request was in flight or waiting for a slot."""
        return Fail(self._deadline_error())

    def _retryable(self, error: ComposoError, status: int | None) -> bool:
        if status is not None:
            return self._call.retry_sent and is_retryable_status(status)
        if isinstance(error, APIConnectionError):
            return self._call.retry_sent or not error.request_sent
        return False

    def _throttled(self, error: ComposoError, now: float) -> Sleep | Fail:
        """A 429: slow down and go again while the deadline allows; never spends a retry."""
        core = self._core
        core.count_throttle()
        self._last_throttle = error
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        if pauses_client(retry_after, core.policy):
            assert retry_after is not None
            core.pause.note(retry_after, now, core.policy)
        delay = backoff_delay(self._throttles, core.policy, retry_after=retry_after, rand=core.rand)
        self._throttles += 1
        assert self._deadline is not None
        if not fits_deadline(delay, self._deadline - now):
            return Fail(self._rate_limited(f"the last 429 asked to wait {delay:.1f} s", error))
        logger.debug(
            "rate limited on %s %s: sending again in %.2f s (429 number %d of this call)",
            self._call.method,
            self._call.path,
            delay,
            self._throttles,
        )
        return Sleep(delay)

    def _rate_limited(self, why: str, last: ComposoError | None = None) -> RateLimitError:
        last = last or self._last_throttle
        seen = f"{self._throttles} attempt(s) answered 429 and " if self._throttles else ""
        timeout = self._core.timeout
        error = RateLimitError(
            f"rate limited: {seen}the next attempt cannot start within this call's "
            f"timeout={timeout:g} s ({why}). The client paces itself to the quota it finds; "
            "to let calls wait longer raise timeout=, or lower max_concurrent_requests (or "
            "state your quota with requests_per_second=) so fewer requests queue for it",
            status_code=429 if self._throttles else None,
            detail=None if last is None else last.detail,
            body=None if last is None else last.body,
            retry_after=last.retry_after if isinstance(last, RateLimitError) else None,
        )
        if last is not None:
            error.__cause__ = last
        return error

    def _deadline_error(self, cause: ComposoError | None = None) -> APITimeoutError:
        error = APITimeoutError(
            f"the call did not finish within timeout={self._core.timeout:g} s (every attempt "
            "and backoff wait included)"
        )
        if cause is not None:
            error.__cause__ = cause
        return error
