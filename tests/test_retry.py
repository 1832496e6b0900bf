"""Tests for composo._retry: the retry predicate, Retry-After parsing, backoff and deadline."""

from __future__ import annotations

import email.utils
import time

import pytest

from composo._constants import (
    BACKOFF_MULTIPLIER,
    INITIAL_BACKOFF,
    JITTER,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
)
from composo._retry import (
    RetryPolicy,
    backoff_delay,
    fits_deadline,
    is_retryable_status,
    parse_retry_after,
)

NOW = 1_700_000_000.0


def _never_random() -> float:
    return 0.0


def _almost_one() -> float:
    return 0.999999


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (524, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (405, False),
        (418, False),
        (422, False),
        (200, False),
        (302, False),
        (600, False),
    ],
)
def test_is_retryable_status_retries_only_transient_statuses(
    status_code: int, expected: bool
) -> None:
    assert is_retryable_status(status_code) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("1", 1.0),
        ("0", 0.0),
        (" 3 ", 3.0),
        ("2.5", 2.5),
        ("120", 120.0),  # not capped here
        ("-5", 0.0),
        ("abc", None),
        ("1,5", None),
        ("nan", None),
        ("inf", None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Tue, 14 Nov 2023 22:13:50 -0000", 30.0),  # naive date is taken as GMT
        ("Tue, 99 Foo 2023 25:00:00 GMT", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_uses_the_clock_when_now_is_not_given() -> None:
    header = email.utils.formatdate(time.time() + 100, usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 95.0 <= seconds <= 100.0


def test_default_policy_uses_the_named_constants() -> None:
    assert RetryPolicy() == RetryPolicy(
        initial_backoff=INITIAL_BACKOFF,
        max_backoff=MAX_BACKOFF,
        multiplier=BACKOFF_MULTIPLIER,
        jitter=JITTER,
        max_retry_after=MAX_RETRY_AFTER,
    )


@pytest.mark.parametrize(
    ("retry_index", "expected"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (50, 8.0), (5000, 8.0)],
)
def test_backoff_grows_exponentially_up_to_the_cap(retry_index: int, expected: float) -> None:
    assert backoff_delay(retry_index, RetryPolicy(), rand=_never_random) == expected


@pytest.mark.parametrize("retry_index", [0, 1, 2, 3, 4, 10])
def test_backoff_jitter_only_shortens_by_at_most_the_jitter_fraction(retry_index: int) -> None:
    policy = RetryPolicy()
    longest = backoff_delay(retry_index, policy, rand=_never_random)
    shortest = backoff_delay(retry_index, policy, rand=_almost_one)
    assert shortest < longest
    assert shortest == pytest.approx(longest * (1 - JITTER), rel=1e-5)


def test_backoff_with_default_random_stays_within_the_jitter_band() -> None:
    policy = RetryPolicy()
    delays = {backoff_delay(2, policy) for _ in range(200)}
    assert all(2.0 * (1 - JITTER) <= delay <= 2.0 for delay in delays)
    assert len(delays) > 1


def test_tiny_policy_gives_tiny_delays_for_tests() -> None:
    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.002, jitter=0.0)
    assert [backoff_delay(i, policy) for i in range(3)] == [0.001, 0.002, 0.002]


@pytest.mark.parametrize(
    ("retry_after", "rand", "expected"),
    [
        (3.0, 0.0, 3.0),  # exactly what the server asked
        (3.0, 0.5, 3.0 * (1 + JITTER * 0.5)),  # jitter only adds
        (0.1, 0.0, 0.1),  # shorter than the exponential step: still honoured
        (0.0, 0.9, 0.0),
        (-4.0, 0.5, 0.0),
        (3600.0, 0.0, MAX_RETRY_AFTER),  # capped
    ],
)
def test_retry_after_replaces_the_exponential_delay(
    retry_after: float, rand: float, expected: float
) -> None:
    delay = backoff_delay(3, RetryPolicy(), retry_after=retry_after, rand=lambda: rand)
    assert delay == pytest.approx(expected)


def test_retry_after_is_never_undercut_by_jitter() -> None:
    policy = RetryPolicy()
    assert all(backoff_delay(0, policy, retry_after=2.0) >= 2.0 for _ in range(200))


def test_retry_after_cap_comes_from_the_policy() -> None:
    policy = RetryPolicy(max_retry_after=0.01, jitter=0.0)
    assert backoff_delay(0, policy, retry_after=30.0) == 0.01


@pytest.mark.parametrize(
    ("delay", "remaining", "expected"),
    [
        (0.5, 10.0, True),
        (0.0, 0.1, True),
        (9.99, 10.0, True),
        (10.0, 10.0, False),  # would wake up exactly at the deadline with no time to send
        (11.0, 10.0, False),
        (0.0, 0.0, False),
        (0.5, -1.0, False),
        (-1.0, 0.5, True),
    ],
)
def test_fits_deadline_refuses_sleeps_that_reach_the_deadline(
    delay: float, remaining: float, expected: bool
) -> None:
    assert fits_deadline(delay, remaining) is expected
