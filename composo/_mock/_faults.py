"""Fault injection, rate limiting and request counters of the mock server."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

# The status recorded in counters for a connection closed without a response.
DROPPED: Final = 0

# Pseudo path template counted for requests that match no operation of the spec.
UNMATCHED: Final = "<unmatched>"

# The timeline counts answers per tenth of a second: fine enough to check a client against a
# quota over every one-second window starting at a tenth of a second (any one-second window
# lies inside eleven steps), coarse enough that an hour is 36,000 entries at most.
TIMELINE_STEP: Final = 0.1

# Steps with answers the timeline keeps, the newest: an hour of a busy mock, so one left running
# for days stays small.
TIMELINE_STEPS: Final = 36_000


@dataclass(frozen=True)
class FaultConfig:
    """How the server misbehaves on purpose; immutable, swapped whole by `configure`.

    Args:
        latency: seconds added to every request.
        latency_range: (min, max) seconds, drawn uniformly per request (instead of latency).
        p429: probability of answering 429 with a `Retry-After` header.
        retry_after: seconds in that header; None sends no header.
        p500: probability of answering 500.
        p503: probability of answering 503.
        p524: probability of answering 524 (edge timeout).
        p_drop: probability of closing the connection without an answer.
        rate_limit: (requests, per_seconds) token bucket per API key; None for no limit.
    """

    latency: float = 0.0
    latency_range: tuple[float, float] | None = None
    p429: float = 0.0
    retry_after: int | None = 1
    p500: float = 0.0
    p503: float = 0.0
    p524: float = 0.0
    p_drop: float = 0.0
    rate_limit: tuple[int, float] | None = None
    # Cumulative thresholds, so one random draw picks at most one fault.
    _thresholds: tuple[tuple[float, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Checks the settings and precomputes the fault thresholds.

        Raises:
            ValueError: for a negative latency, a probability outside [0, 1], probabilities
                summing above 1, or a rate limit that is not positive.
        """
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0, got {self.latency}")
        if self.latency_range is not None:
            low, high = self.latency_range
            if not 0 <= low <= high:
                raise ValueError(f"latency_range must be 0 <= min <= max, got {low}, {high}")
            if self.latency:
                raise ValueError("give latency or latency_range, not both")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {self.retry_after}")
        if self.rate_limit is not None:
            requests, per_seconds = self.rate_limit
            if requests < 1 or per_seconds <= 0:
                raise ValueError(
                    f"rate_limit must be (requests >= 1, seconds > 0), got {self.rate_limit}"
                )
        faults = ((self.p_drop, DROPPED), (self.p429, 429), (self.p500, 500), (self.p503, 503),
                  (self.p524, 524))  # fmt: skip
        total = 0.0
        thresholds = []
        for probability, status in faults:
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"fault probabilities must lie in [0, 1], got {probability}")
            if probability:
                total += probability
                thresholds.append((total, status))
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total}, more than 1")
        object.__setattr__(self, "_thresholds", tuple(thresholds))

    def delay(self, rng: random.Random) -> float:
        """Seconds to wait before answering this request."""
        if self.latency_range is not None:
            return rng.uniform(*self.latency_range)
        return self.latency

    def draw_fault(self, rng: random.Random) -> int | None:
        """The fault for this request (a status, or DROPPED), or None to serve it."""
        if not self._thresholds:
            return None
        draw = rng.random()
        for threshold, status in self._thresholds:
            if draw < threshold:
                return status
        return None


class TokenBucket:
    """A token bucket: bursts of `capacity`, refilled at `capacity / per_seconds` a second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: int, per_seconds: float, now: float) -> None:
        """A full bucket."""
        self.capacity = float(capacity)
        self.rate = capacity / per_seconds
        self.tokens = float(capacity)
        self.stamp = now

    def peek(self, now: float) -> float:
        """The tokens available at `now`, without taking one."""
        return min(self.capacity, self.tokens + (now - self.stamp) * self.rate)

    def take(self, now: float) -> float:
        """Takes a token if there is one.

        Returns:
            0.0 when a token was taken, else the seconds until one will be available.
        """
        self.tokens = self.peek(now)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """The Retry-After value for a wait: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


@dataclass(frozen=True)
class Counters:
    """A snapshot of what the server has answered since it started or was reset.

    Attributes:
        total: requests answered (dropped connections included).
        by_route: (method, path template) -> status -> count; status 0 means dropped by the
            mock, 499 that the client went away before it was answered.
        by_status: status -> count.
        in_flight: requests being handled when the snapshot was taken.
        peak_in_flight: the most requests handled at once.
        timeline: step -> status -> count: the answers of each TIMELINE_STEP (a tenth of a
            second) since the counters started or were reset, step 0 first; steps without an
            answer are left out, and only the newest TIMELINE_STEPS are kept.
    """

    total: int
    by_route: Mapping[tuple[str, str], Mapping[int, int]]
    by_status: Mapping[int, int]
    in_flight: int
    peak_in_flight: int
    timeline: Mapping[int, Mapping[int, int]] = field(default_factory=dict)

    def count(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """How many requests matched the method, path template and status given."""
        return sum(
            n
            for (m, p), statuses in self.by_route.items()
            if method in (None, m) and path in (None, p)
            for s, n in statuses.items()
            if status in (None, s)
        )

    def per_second(self, status: int | None = None) -> list[int]:
        """Answers (with `status`, or any) in each one-second window of the timeline.

        The windows slide a TIMELINE_STEP at a time, from the first step with an answer to the
        last: item i counts the answers of steps `first + i` to `first + i + 9`, a second.

        Returns:
            One count per window; empty when nothing was answered.
        """
        if not self.timeline:
            return []
        first, last = min(self.timeline), max(self.timeline)
        steps = [
            sum(n for s, n in self.timeline.get(step, {}).items() if status in (None, s))
            for step in range(first, last + 1)
        ]
        width = round(1.0 / TIMELINE_STEP)
        window = sum(steps[:width])
        counts = [window]
        for i in range(1, len(steps)):
            window += (steps[i + width - 1] if i + width - 1 < len(steps) else 0) - steps[i - 1]
            counts.append(window)
        return counts


class RequestCounters:
    """Live counters, written by the server loop and read as `Counters` from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Zeroed counters; `clock` (monotonic seconds) times the timeline."""
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}
        self._clock = clock
        self._start = clock()
        # step -> status -> count, steps in increasing order (see TIMELINE_STEP).
        self._timeline: dict[int, dict[int, int]] = {}
        self.in_flight = 0
        self.peak_in_flight = 0

    def enter(self) -> None:
        """A request started."""
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def leave(self, method: str, path: str, status: int) -> None:
        """A request was answered (or dropped) with `status`."""
        self.in_flight -= 1
        key = (method, path, status)
        now = self._clock()
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            step = int((now - self._start) / TIMELINE_STEP)
            statuses = self._timeline.get(step)
            if statuses is None:
                statuses = self._timeline[step] = {}
                # Steps are added in increasing order, so the oldest is the first key.
                while len(self._timeline) > TIMELINE_STEPS:
                    del self._timeline[next(iter(self._timeline))]
            statuses[status] = statuses.get(status, 0) + 1

    def reset(self) -> None:
        """Forgets counts and the timeline (whose step 0 starts now); the peak restarts from the
        requests now in flight."""
        with self._lock:
            self._counts = {}
            self._start = self._clock()
            self._timeline = {}
            self.peak_in_flight = self.in_flight

    def snapshot(self) -> Counters:
        """The counts now."""
        with self._lock:
            counts = dict(self._counts)
            timeline = {step: dict(statuses) for step, statuses in self._timeline.items()}
        by_route: dict[tuple[str, str], dict[int, int]] = {}
        by_status: dict[int, int] = {}
        for (method, path, status), n in counts.items():
            by_route.setdefault((method, path), {})[status] = n
            by_status[status] = by_status.get(status, 0) + n
        return Counters(
            total=sum(counts.values()),
            by_route=by_route,
            by_status=by_status,
            in_flight=self.in_flight,
            peak_in_flight=self.peak_in_flight,
            timeline=timeline,
        )
