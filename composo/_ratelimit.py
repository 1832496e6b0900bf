"""The adaptive client-side rate limiter: finds an account's quota from its 429s and paces
every request of the clients that share it.

Why this algorithm: it is the AWS SDKs' *adaptive* retry mode (botocore's `retries/adaptive.py`,
`bucket.py`, `throttling.py`), a token bucket in front of every send whose fill rate follows
CUBIC, TCP's congestion control: cut to `BETA` of the rate achieved when a throttle arrives,
then grow back along a cubic curve that rises fast while far below the last known limit, stays
flat near it, and probes above it only slowly. Against a fixed quota that means long stretches
just under the limit and few 429s; AIMD (additive increase) instead climbs at a constant slope
and spends more of its time either well below the quota or crossing it. Two departures from
botocore, both to waste less of the quota:

- One cut per congestion event, as TCP does per round trip: a 429 for a request sent before the
  last cut belongs to the burst that caused that cut (it was already in flight), so it does not
  cut again. botocore compounds the cut for every 429 of a burst (0.7, 0.49, 0.34, ...), which
  at high concurrency drops the rate to a fraction of the quota after each probe.
- Reservations instead of a polling bucket (GCRA, virtual scheduling): a sender is told at once
  how long to wait for its token, so sync threads and asyncio tasks share one limiter without
  a lock held across a sleep, and the schedule keeps its rate whatever the sleep granularity.

The limiter stays out of the way until the first 429 (or until a caller states the quota with
`requests_per_second`): before that `reserve` is one attribute read. Every method takes the
monotonic time as an argument, so the maths is tested table-driven with a fake clock.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Final

from composo._constants import LOGGER_NAME
from composo._exceptions import bad_input

logger = logging.getLogger(LOGGER_NAME)

# CUBIC's multiplicative decrease: after a throttle the rate drops to 70% of what was achieved
# (RFC 9438 and botocore use 0.7: deep enough to drain the server's queue, shallow enough to
# keep most of the throughput).
BETA: Final = 0.7

# CUBIC's scale constant C (requests/s per s^3): with BETA it sets how long the rate takes to
# climb back to the last limit, K = cbrt(W_max * (1 - BETA) / C): 3.4 s from a 50/s quota,
# 4.2 s from 100/s. botocore's value.
SCALE: Final = 0.4

# The slowest the limiter paces, in requests per second: low enough for a free plan's quota
# (500 requests an hour is 0.14/s), high enough that one token never waits half a minute.
MIN_RATE: Final = 0.1

# The rate may grow to at most this multiple of the rate actually measured, so an idle or
# concurrency-bound client does not build up a rate it has never tried (botocore's 2x).
MAX_GROWTH: Final = 2.0

# The measured rate counts responses in buckets of this many seconds and smooths them with an
# exponential moving average (weight SMOOTHING on the newest bucket). Half a second holds ~25
# responses at 50/s: enough to be stable, short enough to follow a quota that changes.
MEASURE_BUCKET: Final = 0.5
SMOOTHING: Final = 0.8

# Rate changes of less than this fraction since the last logged one are not logged at DEBUG.
_LOG_STEP: Final = 0.1


def cubic_k(w_max: float, beta: float = BETA, scale: float = SCALE) -> float:
    """Seconds CUBIC takes to climb from `beta * w_max` back to `w_max`."""
    return math.cbrt(w_max * (1.0 - beta) / scale)


def cubic_rate(elapsed: float, w_max: float, beta: float = BETA, scale: float = SCALE) -> float:
    """The CUBIC rate `elapsed` seconds after a cut from `w_max`: `C * (t - K)**3 + W_max`.

    Args:
        elapsed: Seconds since the last throttle cut the rate.
        w_max: The rate achieved when that throttle arrived.
        beta: The multiplicative decrease.
        scale: CUBIC's C.

    Returns:
        The rate, in requests per second: `beta * w_max` at 0, `w_max` at K, then above it.
    """
    return scale * (elapsed - cubic_k(w_max, beta, scale)) ** 3 + w_max


def gcra_wait(tat: float, now: float, interval: float) -> tuple[float, float]:
    """One reservation of the generic cell rate algorithm (a token bucket of one token).

    Args:
        tat: The theoretical arrival time of the next token (monotonic seconds).
        now: The current time.
        interval: Seconds between tokens, `1 / rate`.

    Returns:
        (seconds to wait before sending, the new theoretical arrival time).
    """
    start = max(tat, now)
    return start - now, start + interval


class RateLimiter:
    """Paces requests to stay within a quota it finds from 429s; share one between clients.

    Every client has one (created for it unless given `rate_limiter=`); all calls and batches
    on the client go through it. Pass the same object to several clients in one process to
    have them share one quota. Processes cannot share an object: each adapts from its own 429s,
    and together they settle near the quota.

    Args:
        requests_per_second: The quota, when you know it: the limiter starts pacing at this
            rate instead of waiting for the first 429, and never exceeds it. It still slows
            down on 429s (another process may be using the same key) and climbs back.

    Raises:
        MalformedError: `requests_per_second` is not a positive finite number.

    Attributes:
        requests_per_second: The stated quota, or None.
    """

    def __init__(self, requests_per_second: float | None = None) -> None:
        if requests_per_second is not None and (
            isinstance(requests_per_second, bool)
            or not isinstance(requests_per_second, int | float)
            or not math.isfinite(requests_per_second)
            or requests_per_second <= 0
        ):
            raise bad_input(
                "requests_per_second must be a positive number of requests per second, got "
                f"{requests_per_second!r}"
            )
        self.requests_per_second = (
            None if requests_per_second is None else float(requests_per_second)
        )
        self._lock = threading.Lock()
        # Off until the first 429, unless the quota was stated.
        self._enabled = requests_per_second is not None
        self._rate = self.requests_per_second or 0.0
        self._w_max = self._rate
        self._last_cut = -math.inf
        self._tat = 0.0
        self._throttles = 0
        # The measured response rate (see MEASURE_BUCKET).
        self._measured = 0.0
        self._bucket = -math.inf
        self._count = 0
        self._first_response: float | None = None
        self._logged_rate = 0.0

    def __repr__(self) -> str:
        rate = f"{self._rate:.1f}/s" if self._enabled else "off"
        return (
            f"RateLimiter(requests_per_second={self.requests_per_second!r}, rate={rate}, "
            f"throttles={self._throttles})"
        )

    @property
    def rate(self) -> float | None:
        """The current pace in requests per second, or None while the limiter is off."""
        return self._rate if self._enabled else None

    @property
    def throttles(self) -> int:
        """How many 429 answers the limiter has been told of."""
        return self._throttles

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of responses, in requests per second."""
        return self._measured

    def reserve(self, now: float, max_wait: float | None = None) -> float | None:
        """Take the next token for a request about to be sent.

        Args:
            now: The current monotonic time.
            max_wait: The longest the caller can wait (what is left of its deadline); None for
                no limit.

        Returns:
            Seconds to wait before sending (0.0 when the limiter is off or a token is free), or
            None when the wait would exceed `max_wait`: then nothing is reserved.
        """
        if not self._enabled:
            return 0.0
        with self._lock:
            wait, tat = gcra_wait(self._tat, now, 1.0 / self._rate)
            if max_wait is not None and wait >= max_wait:
                return None
            self._tat = tat
            return wait

    def peek(self, now: float) -> float:
        """Seconds until the next token, without taking it (0.0 when the limiter is off)."""
        if not self._enabled:
            return 0.0
        return max(self._tat - now, 0.0)

    def record(self, now: float, sent_at: float, *, throttled: bool) -> None:
        """Learn from one response.

        Args:
            now: When the response arrived (monotonic).
            sent_at: When its request was sent: a 429 for a request sent before the last cut
                belongs to the event that caused the cut and does not cut again.
            throttled: True for a 429.
        """
        with self._lock:
            self._measure(now)
            if throttled:
                self._throttles += 1
                if sent_at >= self._last_cut:
                    self._cut(now)
            elif self._enabled:
                self._grow(now)

    def _measure(self, now: float) -> None:
        if self._first_response is None:
            self._first_response = now
        self._count += 1
        bucket = math.floor(now / MEASURE_BUCKET) * MEASURE_BUCKET
        if bucket > self._bucket:
            if self._bucket > -math.inf:
                current = self._count / (bucket - self._bucket)
                self._measured = SMOOTHING * current + (1.0 - SMOOTHING) * self._measured
            self._count = 0
            self._bucket = bucket

    def _achieved(self, now: float) -> float:
        """The rate to cut from: what was measured, or, before the first full bucket, the
        responses so far over the time they took."""
        if self._measured > 0:
            return self._measured
        assert self._first_response is not None
        elapsed = max(now - self._first_response, MEASURE_BUCKET)
        return (self._count + 1) / elapsed

    def _cut(self, now: float) -> None:
        achieved = self._achieved(now)
        base = min(achieved, self._rate) if self._enabled else achieved
        self._w_max = base
        self._rate = self._bounded(base * BETA)
        self._last_cut = now
        self._enabled = True
        logger.debug(
            "rate limited (429): pacing requests at %.2f/s (%.2f/s achieved when throttled)",
            self._rate,
            base,
        )
        self._logged_rate = self._rate

    def _grow(self, now: float) -> None:
        rate = cubic_rate(now - self._last_cut, self._w_max) if self._w_max > 0 else math.inf
        if self._measured > 0:
            rate = min(rate, MAX_GROWTH * self._measured)
        self._rate = self._bounded(rate)
        if abs(self._rate - self._logged_rate) > _LOG_STEP * self._logged_rate:
            logger.debug("rate limiter: pacing requests at %.2f/s", self._rate)
            self._logged_rate = self._rate

    def _bounded(self, rate: float) -> float:
        if self.requests_per_second is not None:
            rate = min(rate, self.requests_per_second)
        return max(rate, MIN_RATE)
