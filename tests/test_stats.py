"""Tests for composo._stats: quantiles, binomial draws, the bootstrap interval and the rules."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

import pytest

from composo._stats import (
    binomial,
    bootstrap_mean_ci,
    excludes_zero,
    histogram,
    is_regression,
    mean,
    pass_rate,
    quantile,
)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.3, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([0.0, 10.0], 0.25, 2.5),
        ([0.0, 1.0, 2.0, 3.0, 4.0], 0.025, 0.1),
        ([0.0, 1.0, 2.0, 3.0, 4.0], 0.975, 3.9),
    ],
)
def test_quantile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 0.5), ([1.0], -0.1), ([1.0], 1.5)])
def test_quantile_refuses_no_values_or_q_outside_the_unit_interval(
    values: list[float], q: float
) -> None:
    with pytest.raises(ValueError, match=r"quantile|q must"):
        quantile(values, q)


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        # Drawn with CPython 3.12's random.Random(seed).binomialvariate for the same cases:
        # the port must give the very same stream on every Python.
        (0, [0, 2, 5, 15, 490, 37052, 22, 7]),
        (1, [1, 2, 4, 9, 511, 36526, 27, 7]),
        (2, [0, 1, 4, 11, 504, 36970, 25, 7]),
    ],
)
def test_binomial_matches_cpython_binomialvariate(seed: int, expected: list[int]) -> None:
    cases = [(1, 0.5), (5, 0.3), (40, 0.1), (1000, 0.01), (1000, 0.5), (100000, 0.37)]
    cases += [(30, 0.9), (7, 0.99)]
    uniform = random.Random(seed).random

    assert [binomial(uniform, n, p) for n, p in cases] == expected


@pytest.mark.parametrize(("n", "p"), [(20, 0.2), (500, 0.3), (5000, 0.02), (200, 0.8)])
def test_binomial_draws_have_the_binomial_mean_and_variance(n: int, p: float) -> None:
    uniform = random.Random(7).random
    draws = [binomial(uniform, n, p) for _ in range(4000)]

    assert all(0 <= k <= n for k in draws)
    # Four standard errors of the sample mean and about 10% on the variance: a fixed seed,
    # so this either always holds or never does.
    assert statistics.fmean(draws) == pytest.approx(
        n * p, abs=4 * math.sqrt(n * p * (1 - p) / 4000)
    )
    assert statistics.pvariance(draws) == pytest.approx(n * p * (1 - p), rel=0.12)


@pytest.mark.parametrize(
    ("n", "p", "expected"), [(0, 0.5, 0), (10, 0.0, 0), (10, 1.0, 10), (10**6, 1e-18, 0)]
)
def test_binomial_edge_cases_need_no_randomness(n: int, p: float, expected: int) -> None:
    def no_random() -> float:
        raise AssertionError("drew a random number")

    assert binomial(no_random, n, p) == expected


@pytest.mark.parametrize(("n", "p"), [(-1, 0.5), (3, -0.1), (3, 1.5)])
def test_binomial_refuses_bad_parameters(n: int, p: float) -> None:
    with pytest.raises(ValueError, match=r"n must|p must"):
        binomial(random.Random(0).random, n, p)


def test_bootstrap_of_no_values_is_none_and_of_equal_values_is_that_value() -> None:
    assert bootstrap_mean_ci([], seed=0) is None
    assert bootstrap_mean_ci([0.0] * 50, seed=0) == (0.0, 0.0)
    assert bootstrap_mean_ci([-0.25] * 3, seed=0) == (-0.25, -0.25)


def test_bootstrap_is_deterministic_per_seed_and_blind_to_order() -> None:
    rng = random.Random(3)
    values = [round(rng.gauss(-0.05, 0.2), 3) for _ in range(400)]
    shuffled = values[:]
    rng.shuffle(shuffled)

    first = bootstrap_mean_ci(values, seed=11)
    assert first == bootstrap_mean_ci(values, seed=11)
    assert first == bootstrap_mean_ci(shuffled, seed=11)
    assert first != bootstrap_mean_ci(values, seed=12)


@pytest.mark.parametrize(
    ("label", "draw", "n"),
    [
        ("graded, three decimals", lambda r: round(r.gauss(-0.04, 0.15), 3), 500),
        ("graded, continuous", lambda r: r.gauss(0.02, 0.3), 300),
        ("binary differences", lambda r: float(r.random() < 0.3) - float(r.random() < 0.4), 600),
        ("more values than one resample draws", lambda r: r.gauss(-0.01, 0.2), 6000),
    ],
)
def test_bootstrap_interval_matches_the_normal_theory_interval(
    label: str, draw: Callable[[random.Random], float], n: int
) -> None:
    rng = random.Random(5)
    values = [draw(rng) for _ in range(n)]
    centre = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(n)

    interval = bootstrap_mean_ci(values, seed=0)

    assert interval is not None, label
    low, high = interval
    assert low < centre < high
    # The bootstrap's bounds sit within 15% of a half-width of the normal-theory ones.
    assert low == pytest.approx(centre - half, abs=0.15 * half), label
    assert high == pytest.approx(centre + half, abs=0.15 * half), label


def test_bootstrap_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_mean_ci([0.1, 0.2], seed=0, resamples=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean_ci([0.1, 0.2], seed=0, level=1.0)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (None, False),
        ((-0.1, 0.1), False),
        ((0.0, 0.1), False),
        ((0.01, 0.1), True),
        ((-0.1, -0.01), True),
        ((-0.1, 0.0), False),
    ],
)
def test_excludes_zero(interval: tuple[float, float] | None, expected: bool) -> None:
    assert excludes_zero(interval) is expected


@pytest.mark.parametrize(
    ("difference", "interval", "delta", "expected"),
    [
        (-0.05, (-0.06, -0.04), 0.02, True),  # dropped by more than delta, surely
        (-0.05, (-0.11, 0.01), 0.02, False),  # dropped, but the interval reaches zero
        (-0.01, (-0.015, -0.005), 0.02, False),  # surely lower, but by less than delta
        (-0.02, (-0.03, -0.01), 0.02, False),  # exactly delta is not more than delta
        (0.05, (0.04, 0.06), 0.0, False),  # an improvement
        (-0.001, (-0.002, -0.0005), 0.0, True),  # delta 0: any sure drop
        (None, None, 0.0, False),  # no pairs
    ],
)
def test_is_regression(
    difference: float | None,
    interval: tuple[float, float] | None,
    delta: float,
    expected: bool,
) -> None:
    assert is_regression(difference, interval, delta) is expected


@pytest.mark.parametrize(
    ("values", "bins", "expected"),
    [
        ([0.0, 0.05, 0.15, 0.999, 1.0], 20, [1, 1, 0, 1] + [0] * 15 + [2]),
        ([0.0, 1.0, 1.0], 2, [1, 2]),
        ([0.5], 2, [0, 1]),
        ([-0.1, 1.2], 4, [1, 0, 0, 1]),
        ([], 3, [0, 0, 0]),
    ],
)
def test_histogram_bins_over_the_unit_interval(
    values: list[float], bins: int, expected: list[int]
) -> None:
    assert histogram(values, bins) == expected


def test_mean_and_pass_rate_of_nothing_are_none() -> None:
    assert mean([]) is None
    assert pass_rate([]) is None
    assert mean([0.2, 0.4]) == pytest.approx(0.3)
    assert pass_rate([0.0, 1.0, 1.0, 0.5]) == 0.75
