"""The adaptive rate limiter's maths, table-driven on a fake clock (composo/_ratelimit.py)."""

from __future__ import annotations

import logging
import math
import threading

import pytest

from composo import MalformedError, RateLimiter
from composo._ratelimit import (
    BETA,
    MAX_GROWTH,
    MEASURE_BUCKET,
    MIN_RATE,
    SCALE,
    cubic_k,
    cubic_rate,
    gcra_wait,
)


@pytest.mark.parametrize(
    ("w_max", "expected_k"),
    [(100.0, math.cbrt(100 * 0.3 / 0.4)), (50.0, math.cbrt(50 * 0.3 / 0.4)), (0.0, 0.0)],
)
def test_cubic_k_is_the_time_to_climb_back_to_the_last_limit(
    w_max: float, expected_k: float
) -> None:
    assert cubic_k(w_max) == pytest.approx(expected_k)


@pytest.mark.parametrize("w_max", [1.0, 20.0, 100.0, 5000.0])
def test_cubic_curve_starts_at_beta_reaches_w_max_at_k_then_probes_above(w_max: float) -> None:
    k = cubic_k(w_max)
    assert cubic_rate(0.0, w_max) == pytest.approx(BETA * w_max)
    assert cubic_rate(k, w_max) == pytest.approx(w_max)
    # Flat near the limit, rising faster further out: that is what keeps 429s rare.
    assert cubic_rate(k + 1, w_max) - w_max == pytest.approx(SCALE)
    assert cubic_rate(k + 2, w_max) - w_max == pytest.approx(8 * SCALE)
    assert cubic_rate(k / 2, w_max) < w_max


@pytest.mark.parametrize(
    ("tat", "now", "interval", "wait", "new_tat"),
    [
        (0.0, 10.0, 0.1, 0.0, 10.1),  # idle: the token is free now
        (10.1, 10.0, 0.1, 0.1, 10.2),  # one reserved ahead: wait for it
        (12.0, 10.0, 0.5, 2.0, 12.5),  # a queue of reservations
        (9.0, 10.0, 1.0, 0.0, 11.0),  # a long-past schedule never builds a burst
    ],
)
def test_gcra_reservations(
    tat: float, now: float, interval: float, wait: float, new_tat: float
) -> None:
    assert gcra_wait(tat, now, interval) == pytest.approx((wait, new_tat))


def test_an_untouched_limiter_is_off_and_costs_no_wait() -> None:
    limiter = RateLimiter()
    assert limiter.rate is None
    assert [limiter.reserve(float(n)) for n in range(100)] == [0.0] * 100
    for n in range(100):
        limiter.record(float(n), float(n), throttled=False)
    assert limiter.rate is None  # successes alone never turn it on


def test_a_stated_quota_paces_from_the_start() -> None:
    limiter = RateLimiter(requests_per_second=10)
    waits = [limiter.reserve(100.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert limiter.rate == 10


def test_a_reservation_longer_than_the_time_left_is_refused_and_not_taken() -> None:
    limiter = RateLimiter(requests_per_second=1)
    assert limiter.reserve(0.0) == 0.0
    assert limiter.reserve(0.0, max_wait=0.5) is None
    assert limiter.reserve(0.0, max_wait=2.0) == pytest.approx(1.0)  # the refused one was not held


def _measure(limiter: RateLimiter, rate: float, start: float, seconds: float) -> float:
    """Feed successful responses at `rate` per second; returns the clock afterwards."""
    steps = int(rate * seconds)
    now = start
    for _ in range(steps):
        now += 1.0 / rate
        limiter.record(now, now - 0.05, throttled=False)
    return now


def test_a_throttle_cuts_to_beta_of_the_rate_achieved() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 100.0, 0.0, 5.0)
    assert limiter.measured_rate == pytest.approx(100.0, rel=0.05)
    limiter.record(now, now - 0.05, throttled=True)
    assert limiter.rate == pytest.approx(BETA * 100.0, rel=0.05)
    assert limiter.throttles == 1


def test_a_throttle_before_any_full_measurement_still_cuts_from_what_was_seen() -> None:
    limiter = RateLimiter()
    for n in range(20):  # 20 responses in 0.2 s
        limiter.record(0.01 * n, 0.0, throttled=False)
    limiter.record(0.2, 0.15, throttled=True)
    assert limiter.rate is not None
    assert limiter.rate > MIN_RATE


def test_throttles_of_one_burst_cut_once() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 100.0, 0.0, 5.0)
    limiter.record(now, now - 0.05, throttled=True)
    after_one = limiter.rate
    # Forty more 429s for requests that were already in flight when the rate was cut.
    for n in range(40):
        limiter.record(now + 0.001 * n, now - 0.01, throttled=True)
    assert limiter.rate == after_one
    assert limiter.throttles == 41
    # A 429 for a request sent after the cut is a new event: it cuts again.
    limiter.record(now + 0.2, now + 0.1, throttled=True)
    assert limiter.rate is not None
    assert after_one is not None
    assert limiter.rate < after_one


def test_after_a_cut_the_rate_climbs_back_along_the_cubic_curve() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 100.0, 0.0, 5.0)
    limiter.record(now, now - 0.05, throttled=True)
    cut_at = now
    w_max = limiter.rate / BETA  # type: ignore[operator]
    seen = []
    for step in range(1, 9):
        t = cut_at + step * MEASURE_BUCKET
        # Responses keep arriving at the limiter's own pace, as they would.
        rate = limiter.rate or 0.0
        for n in range(int(rate * MEASURE_BUCKET)):
            limiter.record(t - MEASURE_BUCKET + n / rate, t - 1, throttled=False)
        limiter.record(t, t - 0.05, throttled=False)
        seen.append(limiter.rate)
        expected = min(cubic_rate(t - cut_at, w_max), MAX_GROWTH * limiter.measured_rate)
        assert limiter.rate == pytest.approx(max(expected, MIN_RATE), rel=1e-6)
    assert seen == sorted(seen)  # never falls without a throttle
    assert seen[-1] == pytest.approx(w_max, rel=0.15)  # back near the limit after ~K s


def test_growth_is_capped_at_twice_what_is_measured() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 100.0, 0.0, 3.0)
    limiter.record(now, now - 0.05, throttled=True)
    # Only 10 responses a second from here (the caller's own concurrency binds).
    now = _measure(limiter, 10.0, now, 30.0)
    assert limiter.rate == pytest.approx(MAX_GROWTH * limiter.measured_rate, rel=1e-6)
    assert limiter.rate < 30


def test_a_stated_quota_is_a_ceiling_and_throttles_still_slow_it() -> None:
    limiter = RateLimiter(requests_per_second=50)
    now = _measure(limiter, 50.0, 0.0, 3.0)
    assert limiter.rate == 50
    limiter.record(now, now - 0.01, throttled=True)
    assert limiter.rate == pytest.approx(BETA * 50, rel=0.05)
    now = _measure(limiter, 50.0, now, 60.0)
    assert limiter.rate == 50  # climbed back, never past the stated quota


def test_the_rate_never_drops_below_the_floor() -> None:
    limiter = RateLimiter()
    now = 0.0
    for _ in range(200):
        now += 1.0
        limiter.record(now, now - 0.5, throttled=True)
    assert limiter.rate == MIN_RATE


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "10", True])
def test_a_stated_quota_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(MalformedError, match="requests_per_second"):
        RateLimiter(requests_per_second=bad)  # type: ignore[arg-type]


def test_threads_sharing_a_limiter_get_distinct_slots() -> None:
    limiter = RateLimiter(requests_per_second=100)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [limiter.reserve(5.0) for _ in range(100)]
        with lock:
            waits.extend(w for w in mine if w is not None)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([n / 100 for n in range(800)])


def test_rate_changes_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 100.0, 0.0, 3.0)
    with caplog.at_level(logging.DEBUG, logger="composo"):
        limiter.record(now, now - 0.05, throttled=True)
    assert any("429" in r.getMessage() and "/s" in r.getMessage() for r in caplog.records)
    assert all(r.name == "composo" for r in caplog.records)


def test_repr_shows_the_pace_and_the_throttles() -> None:
    limiter = RateLimiter(requests_per_second=5)
    assert repr(limiter) == "RateLimiter(requests_per_second=5.0, rate=5.0/s, throttles=0)"
    assert "off" in repr(RateLimiter())
