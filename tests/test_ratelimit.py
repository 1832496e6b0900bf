"""The adaptive rate limiter's maths, table-driven on a fake clock (composo/_ratelimit.py)."""

from __future__ import annotations

import logging
import math
import threading

import pytest

from composo import MalformedError, RateLimiter
from composo._ratelimit import (
    ADDITIVE,
    BETA,
    CUT_SPACING,
    FREE,
    MAX_GROWTH,
    MEASURE_WINDOW,
    MIN_RATE,
    RECHECK,
    SCALE,
    cubic_k,
    cubic_rate,
    ticket_at,
    ticket_due,
)


@pytest.mark.parametrize(
    ("w_max", "expected_k"),
    [
        (100.0, math.cbrt(100 * (1 - BETA) / SCALE)),
        (50.0, math.cbrt(50 * (1 - BETA) / SCALE)),
        (0.0, 0.0),
    ],
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
    ("anchor_time", "anchor_ticket", "rate", "ticket", "due"),
    [
        (10.0, 0.0, 10.0, 0, 10.0),  # the anchor ticket is due at the anchor time
        (10.0, 0.0, 10.0, 5, 10.5),  # then one every 1 / rate s
        (10.0, 3.5, 2.0, 4, 10.25),  # anchors may fall between tickets after a rate change
    ],
)
def test_ticket_schedule(
    anchor_time: float, anchor_ticket: float, rate: float, ticket: int, due: float
) -> None:
    assert ticket_due(anchor_time, anchor_ticket, rate, ticket) == pytest.approx(due)
    assert ticket_at(anchor_time, anchor_ticket, rate, due) == pytest.approx(ticket)


def test_an_untouched_limiter_is_off_and_costs_no_wait() -> None:
    limiter = RateLimiter()
    assert limiter.rate is None
    assert [limiter.take(float(n)) for n in range(100)] == [(FREE, 0.0)] * 100
    assert limiter.wait_for(FREE, 5.0) == 0.0
    for n in range(100):
        limiter.record(float(n), float(n), throttled=False)
    assert limiter.rate is None  # successes alone never turn it on


def test_a_stated_quota_paces_from_the_start() -> None:
    limiter = RateLimiter(requests_per_second=10)
    taken = [limiter.take(100.0) for _ in range(5)]
    assert [wait for _, wait in taken] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])  # type: ignore[misc]
    assert limiter.rate == 10


def test_a_turn_later_than_the_time_left_is_refused_and_no_ticket_taken() -> None:
    limiter = RateLimiter(requests_per_second=1)
    assert limiter.take(0.0) == (0, 0.0)
    assert limiter.take(0.0, max_wait=0.5) is None
    assert limiter.take(0.0, max_wait=2.0) == (1, pytest.approx(1.0))  # no ticket was lost


def test_an_idle_limiter_saves_up_no_burst() -> None:
    limiter = RateLimiter(requests_per_second=2)
    limiter.take(0.0)
    waits = [limiter.take(100.0)[1] for _ in range(3)]  # type: ignore[index]
    assert waits == pytest.approx([0.0, 0.5, 1.0])


def test_waiting_tickets_move_with_the_rate() -> None:
    limiter = RateLimiter(requests_per_second=10)
    tickets = [limiter.take(0.0) for _ in range(21)]
    last, wait = tickets[-1]  # type: ignore[misc]
    assert wait == pytest.approx(2.0)
    # Halfway through the queue the rate drops to 5/s: the ten still waiting take twice as long.
    limiter.record(1.0, 0.9, throttled=True)  # cut to BETA * min(measured, 10)
    rate = limiter.rate
    assert rate is not None
    assert limiter.wait_for(last, 1.0) == pytest.approx(10 / rate)
    # Earlier tickets keep their place: the next one in line is served first.
    assert limiter.wait_for(tickets[11][0], 1.0) < limiter.wait_for(last, 1.0)  # type: ignore[index]


def test_a_rising_rate_brings_every_waiting_turn_forward() -> None:
    limiter = RateLimiter(requests_per_second=100)
    now = _measure(limiter, 100.0, 0.0, 3.0)
    limiter.record(now, now - 0.01, throttled=True)
    start = now
    tickets = [limiter.take(now) for _ in range(300)]
    last = tickets[-1][0]  # type: ignore[index]
    due_before = start + limiter.wait_for(last, start)
    now = _measure(limiter, limiter.rate or 1.0, now, 2.0)  # successes: the rate climbs
    assert now + limiter.wait_for(last, now) < due_before - 0.1
    assert RECHECK <= 0.5  # waiters look again at least this often


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


def test_the_measured_rate_counts_successes_over_the_last_window() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 40.0, 0.0, 3.0)
    for n in range(200):  # a burst of 429s does not inflate it
        limiter.record(now + n * 0.00001, now, throttled=True)
    assert limiter.measured_rate == pytest.approx(40.0, rel=0.05)
    limiter.record(now + 5 * MEASURE_WINDOW, now, throttled=False)  # a lone success later
    assert limiter.measured_rate == pytest.approx(1.0 / MEASURE_WINDOW)


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
    # Nor does one for a request sent just after the cut, within CUT_SPACING of it: the
    # server's bucket was still empty from the same burst.
    limiter.record(now + 0.2, now + 0.1, throttled=True)
    assert limiter.rate == after_one
    # Later, a 429 for a request sent after the cut is a new event: it cuts again.
    limiter.record(now + CUT_SPACING + 0.1, now + 0.3, throttled=True)
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
        t = cut_at + step * 0.5
        # Responses keep arriving at the limiter's own pace, as they would.
        rate = limiter.rate or 0.0
        for n in range(int(rate * 0.5)):
            limiter.record(t - 0.5 + n / rate, t - 1, throttled=False)
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
        mine = [limiter.take(5.0) for _ in range(100)]
        with lock:
            waits.extend(taken[1] for taken in mine if taken is not None)

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


def test_a_small_share_climbs_at_least_additively() -> None:
    limiter = RateLimiter()
    now = _measure(limiter, 4.0, 0.0, 3.0)  # a client holding 4/s of a shared quota
    limiter.record(now, now - 0.01, throttled=True)
    cut = limiter.rate
    assert cut is not None
    later = _measure(limiter, limiter.rate or 1.0, now, 2.0)
    rate = limiter.rate
    assert rate is not None
    # CUBIC alone would still sit near 4/s; the additive floor has it 2 s x ADDITIVE higher
    # (capped by twice what is measured).
    assert rate >= min(cut + ADDITIVE * (later - now) * 0.9, MAX_GROWTH * limiter.measured_rate)
    assert rate > 4.0
