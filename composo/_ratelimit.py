"""The adaptive client-side rate limiter: finds an account's quota from its 429s and paces
every request of the clients that share it.

Why this algorithm: it is the AWS SDKs' *adaptive* retry mode (botocore's `retries/adaptive.py`,
`bucket.py`, `throttling.py`), a token bucket in front of every send whose fill rate follows
CUBIC, TCP's congestion control: cut to `BETA` of the rate the server let through when a
throttle arrives, then grow back along a cubic curve that rises fast while far below the last
known limit, stays flat near it, and probes above it only slowly. Against a fixed quota that
means long stretches just under the limit and few 429s; AIMD (additive increase) instead climbs
at a constant slope and spends more of its time either well below the quota or crossing it.
Departures from botocore, each measured with `scripts/bench-ratelimit` to waste less quota:

- The cut starts from the rate of *successes* (the quota's estimate), not the send rate with
  its 429s, is at most halving in one step (`MAX_CUT`), and is shallower (`BETA` 0.8, not 0.7).

- One cut per congestion event, as TCP does per round trip: a 429 for a request sent before the
  last cut, or arriving within `CUT_SPACING` of it, belongs to the burst that caused that cut,
  so it does not cut again. botocore compounds the cut for every 429 of a burst (0.7, 0.49,
  0.34, ...), which at high concurrency drops the rate to a fraction of the quota after each
  probe.
- Tickets on a schedule instead of a polling bucket: a sender takes a numbered ticket and is
  told when its turn comes; the schedule releases tickets at the current rate, so when the
  rate changes every waiting ticket's turn moves with it (a waiter sleeps at most `RECHECK`
  before looking again). Sync threads and asyncio tasks share one limiter without a lock held
  across a sleep, waiters are served in order, and the rate holds whatever the sleep
  granularity. (A plain reservation would commit a queue of 200 waiters to the rate in force
  when they queued: after a cut, 20 s of pacing at 10/s, whatever came after.)

The limiter stays out of the way until the first 429 (or until a caller states the quota with
`requests_per_second`): before that `take` is one attribute read, and each response costs a
lock and an append to the window of recent successes. Every method takes the
monotonic time as an argument, so the maths is tested table-driven with a fake clock.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from typing import Final

from composo._constants import LOGGER_NAME
from composo._exceptions import bad_input

logger = logging.getLogger(LOGGER_NAME)

# CUBIC's multiplicative decrease: after a throttle the rate drops to 80% of what the server let
# through. TCP (RFC 9438) and botocore use 0.7, deep enough to drain a router's queue; a 429
# costs the server nothing and the next cut follows within CUT_SPACING if need be, so a
# shallower cut keeps more of the quota (scripts/bench-ratelimit: 92-96% of a 50/s quota used
# at 0.8, 89-94% at 0.7, with 429s under 1% of successes after the first seconds either way).
BETA: Final = 0.8

# CUBIC's scale constant C (requests/s per s^3): with BETA it sets how long the rate takes to
# climb back to the last limit, K = cbrt(W_max * (1 - BETA) / C): 2.9 s from a 50/s quota,
# 3.7 s from 100/s. botocore's value.
SCALE: Final = 0.4

# The slowest the limiter paces, in requests per second: low enough for a free plan's quota
# (500 requests an hour is 0.14/s), high enough that one token never waits half a minute.
MIN_RATE: Final = 0.1

# The least the pace climbs after a cut, in requests/s per second (see `_grow`). The same for
# every client, as in AIMD, which is what makes shares of one quota even out: CUBIC alone
# climbs back towards each client's own last limit and keeps an uneven split for a long time.
ADDITIVE: Final = 3.0

# The deepest one cut goes before BETA is applied: half the current pace.
MAX_CUT: Final = 0.5

# The rate may grow to at most this multiple of the rate actually measured, so an idle or
# concurrency-bound client does not build up a rate it has never tried (botocore's 2x).
MAX_GROWTH: Final = 2.0

# The measured rate is the rate of successful responses over the last MEASURE_WINDOW seconds.
# Successes, not all responses: when 429s arrive, the rate the server let through is the best
# estimate of the quota, so that is where a cut starts from (botocore cuts from the send rate,
# 429s included, which after a burst of 429s overshoots, and during a ramp undershoots). One
# second holds 50 responses at 50/s: stable enough, and short enough to follow a quota that
# changes.
MEASURE_WINDOW: Final = 1.0

# Before a full window has passed, the rate is estimated over at least this many seconds, so
# the first few responses do not suggest an absurd rate.
MIN_MEASURE_SPAN: Final = 0.1

# Cuts are at least this far apart: a 429 that arrives within half a second of a cut belongs to
# the same event even when its request left just after the cut, since the server's bucket was
# still empty from the burst that caused it (TCP likewise cuts at most once per round trip).
CUT_SPACING: Final = 0.5

# The longest a waiter sleeps before looking at its ticket again, so that a rate that rises
# while it waits lets it go sooner: half a second, a few wake-ups a second per waiter.
RECHECK: Final = 0.5

# Rate changes of less than this fraction since the last logged one are not logged at DEBUG.
_LOG_STEP: Final = 0.1

# The ticket of a request the limiter does not pace (it is off): its turn is always now.
FREE: Final = -1


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


def ticket_due(anchor_time: float, anchor_ticket: float, rate: float, ticket: float) -> float:
    """When a ticket's turn comes on a schedule releasing `rate` tickets a second, ticket
    `anchor_ticket` being due at `anchor_time`."""
    return anchor_time + (ticket - anchor_ticket) / rate


def ticket_at(anchor_time: float, anchor_ticket: float, rate: float, now: float) -> float:
    """The (fractional) ticket whose turn it is at `now` on that schedule."""
    return anchor_ticket + (now - anchor_time) * rate


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
        # The ticket schedule: ticket `_anchor_ticket` is due at `_anchor_time`, later ones
        # every 1 / `_rate` s; `_issued` is the next ticket to hand out.
        self._anchor_time = -math.inf
        self._anchor_ticket = 0.0
        self._issued = 0
        self._throttles = 0
        # Times of the successes of the last MEASURE_WINDOW seconds (see MEASURE_WINDOW).
        self._successes: collections.deque[float] = collections.deque()
        self._first_response: float | None = None
        self._last_seen = -math.inf
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
        """Successful responses per second over the last second (or since the first)."""
        with self._lock:
            return self._success_rate(self._last_seen)

    def take(self, now: float, max_wait: float | None = None) -> tuple[int, float] | None:
        """Take the next ticket for a request about to be sent.

        Args:
            now: The current monotonic time.
            max_wait: The longest the caller can wait (what is left of its deadline); None for
                no limit.

        Returns:
            (the ticket, seconds until its turn): (`FREE`, 0.0) while the limiter is off. None
            when the turn would come after `max_wait`: then no ticket is taken.
        """
        if not self._enabled:
            return FREE, 0.0
        with self._lock:
            ticket = self._issued
            due = ticket_due(self._anchor_time, self._anchor_ticket, self._rate, ticket)
            if due < now:
                # Idle since the last ticket: the schedule restarts now, with no saved-up burst.
                self._anchor_time, self._anchor_ticket, due = now, float(ticket), now
            if max_wait is not None and due - now >= max_wait:
                return None
            self._issued = ticket + 1
            return ticket, due - now

    def wait_for(self, ticket: int, now: float) -> float:
        """Seconds until `ticket`'s turn at the current rate (0.0 or less: it may go)."""
        if ticket == FREE:
            return 0.0
        with self._lock:
            return ticket_due(self._anchor_time, self._anchor_ticket, self._rate, ticket) - now

    def peek(self, now: float) -> float:
        """Seconds a ticket taken now would wait (0.0 when the limiter is off)."""
        if not self._enabled:
            return 0.0
        with self._lock:
            due = ticket_due(self._anchor_time, self._anchor_ticket, self._rate, self._issued)
        return max(due - now, 0.0)

    def record(self, now: float, sent_at: float, *, throttled: bool) -> None:
        """Learn from one response.

        Args:
            now: When the response arrived (monotonic).
            sent_at: When its request was sent: a 429 for a request sent before the last cut
                belongs to the event that caused the cut and does not cut again.
            throttled: True for a 429.
        """
        with self._lock:
            self._measure(now, throttled)
            if throttled:
                self._throttles += 1
                if sent_at >= self._last_cut and now - self._last_cut >= CUT_SPACING:
                    self._cut(now)
            elif self._enabled:
                self._grow(now)

    def _measure(self, now: float, throttled: bool) -> None:
        if self._first_response is None:
            self._first_response = now
        self._last_seen = max(self._last_seen, now)
        successes = self._successes
        if not throttled:
            successes.append(now)
        horizon = now - MEASURE_WINDOW
        while successes and successes[0] < horizon:
            successes.popleft()

    def _success_rate(self, now: float) -> float:
        """Successes per second in the window ending at the last response (`_measure` keeps
        only those in the deque)."""
        if self._first_response is None:
            return 0.0
        span = min(max(now - self._first_response, MIN_MEASURE_SPAN), MEASURE_WINDOW)
        return len(self._successes) / span

    def _achieved(self, now: float) -> float:
        """The rate the server let through, to cut from; at least one request a window."""
        return max(self._success_rate(now), 1.0 / MEASURE_WINDOW)

    def _set_rate(self, now: float, rate: float) -> None:
        """Change the pace; tickets still waiting keep their place and move to the new pace."""
        if self._enabled and self._rate > 0:
            serving = ticket_at(self._anchor_time, self._anchor_ticket, self._rate, now)
            self._anchor_ticket = min(serving, float(self._issued))
        else:
            self._anchor_ticket = float(self._issued)
        self._anchor_time = now
        self._rate = rate

    def _cut(self, now: float) -> None:
        achieved = self._achieved(now)
        # Never below half the current pace in one cut: a client sharing the quota with
        # others may have seen few successes of its own, and one burst of 429s should not
        # take it to nothing (the next cut, CUT_SPACING later, goes further if need be).
        base = max(min(achieved, self._rate), self._rate * MAX_CUT) if self._enabled else achieved
        self._w_max = base
        self._set_rate(now, self._bounded(base * BETA))
        self._last_cut = now
        self._enabled = True
        logger.debug(
            "rate limited (429): pacing requests at %.2f/s (%.2f/s achieved when throttled)",
            self._rate,
            base,
        )
        self._logged_rate = self._rate

    def _grow(self, now: float) -> None:
        elapsed = now - self._last_cut
        rate = cubic_rate(elapsed, self._w_max) if self._w_max > 0 else math.inf
        # TCP CUBIC's "friendly region": never slower than a steady additive climb, so a
        # client holding a small share of a shared quota gains on one holding a large share.
        rate = max(rate, BETA * self._w_max + ADDITIVE * elapsed)
        measured = self._success_rate(now)
        if measured > 0:
            rate = min(rate, MAX_GROWTH * measured)
        self._set_rate(now, self._bounded(rate))
        if abs(self._rate - self._logged_rate) > _LOG_STEP * self._logged_rate:
            logger.debug("rate limiter: pacing requests at %.2f/s", self._rate)
            self._logged_rate = self._rate

    def _bounded(self, rate: float) -> float:
        if self.requests_per_second is not None:
            rate = min(rate, self.requests_per_second)
        return max(rate, MIN_RATE)
