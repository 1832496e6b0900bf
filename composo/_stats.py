"""The statistics behind `composo compare`: pure functions of their inputs and a seed.

Everything random draws from a `random.Random` through its `random()` method only, the one
stream CPython promises to keep from version to version for a given seed, so a comparison
gives the same interval on every Python the package supports. The helpers built on top of it
in the standard library (`choices`, `binomialvariate`) carry no such promise.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

# Bootstrap resamples: the 95% interval's bounds are the 2.5th and 97.5th percentiles, so 2000
# puts 50 resampled means beyond each bound, enough that rerunning with another seed moves a
# bound by a small fraction of the interval's width.
RESAMPLES: Final = 2000

# Confidence level of the interval `compare` reports and `--fail-on-regression` tests.
LEVEL: Final = 0.95

# Histogram bins over [0, 1] for graded criteria: 0.05 wide, fine enough to see a shift of the
# size a gate cares about, coarse enough that 100 items still draw a shape.
BINS: Final = 20

# Values one bootstrap resample draws at most: pure Python draws a few million values a second,
# so 2000 resamples of 2000 keep a criterion's interval near a second however big the run; up
# to this size the bootstrap is the textbook one.
MAX_DRAWS: Final = 2000

# Relative costs of the two ways of drawing the rest of a resample (see `_resample_sum`): one
# binomial draw for a whole group of equal values, or one uniform draw per observation left.
_BINOMIAL_COST: Final = 4
_DIRECT_COST: Final = 1


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return math.fsum(values) / len(values) if values else None


def pass_rate(scores: Sequence[float]) -> float | None:
    """The share of scores of at least 0.5 (a binary criterion's 1s), or None for none."""
    return sum(1 for score in scores if score >= 0.5) / len(scores) if scores else None


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly between neighbours.

    The definition spreadsheets and NumPy use by default (Hyndman and Fan's type 7).

    Raises:
        ValueError: No values, or q outside [0, 1].
    """
    if not ordered:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q}")
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def binomial(uniform: Callable[[], float], n: int, p: float) -> int:
    """A Binomial(n, p) draw made from `uniform()` values in [0, 1).

    The algorithm of CPython 3.12's `random.binomialvariate`: Devroye's geometric method when
    n * p < 10, else Hörmann's BTRS transformed rejection, O(1) per draw on average. Kept here
    so its stream is fixed by this package, not by the Python version.

    Raises:
        ValueError: n negative or p outside [0, 1].
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if p == 0.0 or n == 0:
        return 0
    if p == 1.0:
        return n
    if n == 1:
        return int(uniform() < p)
    if p > 0.5:
        return n - binomial(uniform, n, 1.0 - p)
    if n * p < 10.0:
        successes = trials = 0
        c = math.log2(1.0 - p)
        if not c:  # p so small that 1 - p rounds to 1
            return 0
        while True:
            u = uniform()
            if u == 0.0:  # an infinitely long wait for the next success
                return successes
            trials += math.floor(math.log2(u) / c) + 1
            if trials > n:
                return successes
            successes += 1
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / (1.0 - p))
    mode = math.floor((n + 1) * p)
    h = math.lgamma(mode + 1) + math.lgamma(n - mode + 1)
    while True:
        u = uniform() - 0.5
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        v = uniform()
        if us >= 0.07 and v <= vr:
            return k
        v *= alpha / (a / (us * us) + b)
        # v can be 0.0 when uniform() returned 0.0; log(0) has no value, and such a draw
        # is accepted for any k (the right-hand side is finite).
        if (
            v <= 0.0
            or math.log(v) <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - mode) * lpq
        ):
            return k


class _Groups:
    """The distinct values of a sample with their counts, biggest group first."""

    def __init__(self, values: Sequence[float]) -> None:
        counted = sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))
        self.values = [value for value, _ in counted]
        self.counts = [count for _, count in counted]
        self.total = sum(self.counts)
        # The sample again, group after group: observation number r is by_rank[r].
        self.by_rank = [value for value, count in counted for _ in range(count)]


def _resample_sum(groups: _Groups, draws: int, uniform: Callable[[], float]) -> float:
    """The sum of one bootstrap resample: `draws` draws with replacement from the sample.

    Drawing with replacement is drawing multinomial counts of the distinct values. Big groups
    take one binomial draw each (how many of the draws left fall in that group); once fewer
    draws are left than it would take binomials to finish, the rest are drawn one by one from
    the groups not yet drawn. Either way the counts are exactly multinomial, and the work per
    resample is about min(draws, distinct values): binary criteria have three distinct
    differences, so their resamples cost a few binomials at any size.
    """
    remaining = draws
    left = groups.total  # observations in the groups not yet drawn
    start = 0  # rank of the first of them
    total = 0.0
    groups_left = len(groups.values)
    by_rank = groups.by_rank
    for value, count in zip(groups.values, groups.counts, strict=True):
        if remaining == 0:
            break
        if remaining * _DIRECT_COST <= groups_left * _BINOMIAL_COST:
            return total + math.fsum(
                [by_rank[start + math.floor(uniform() * left)] for _ in range(remaining)]
            )
        drawn = remaining if count == left else binomial(uniform, remaining, count / left)
        total += value * drawn
        remaining -= drawn
        left -= count
        start += count
        groups_left -= 1
    return total


def bootstrap_mean_ci(
    values: Sequence[float],
    seed: int | str,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    max_draws: int = MAX_DRAWS,
) -> tuple[float, float] | None:
    """A percentile bootstrap confidence interval for the mean of `values`.

    Up to `max_draws` values, the plain percentile bootstrap: each resample draws as many
    values as the sample has. Above it, each resample draws `max_draws` of them and the
    resampled means' spread around the sample mean is shrunk by sqrt(max_draws / n) (the
    m-out-of-n bootstrap), which for a mean estimates the same interval at a bounded cost.

    Args:
        values: The sample, e.g. the paired differences new - base of one criterion. Their
            order does not matter: the resampling depends only on the multiset.
        seed: Seeds the resampling; the same values and seed give the same interval.
        resamples: Bootstrap resamples drawn.
        level: The confidence level, e.g. 0.95.
        max_draws: The most values one resample draws.

    Returns:
        (low, high), or None for no values. A sample whose values are all equal gives a
        zero-width interval at that value.

    Raises:
        ValueError: resamples or max_draws below 1, or level outside (0, 1).
    """
    if resamples < 1 or max_draws < 1:
        raise ValueError(f"resamples and max_draws must be >= 1, got {resamples}, {max_draws}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if not values:
        return None
    groups = _Groups(values)
    if len(groups.values) == 1:
        return groups.values[0], groups.values[0]
    uniform = random.Random(seed).random
    draws = min(groups.total, max_draws)
    means = sorted(_resample_sum(groups, draws, uniform) / draws for _ in range(resamples))
    tail = (1.0 - level) / 2.0
    low, high = quantile(means, tail), quantile(means, 1.0 - tail)
    if draws == groups.total:
        return low, high
    centre = math.fsum(values) / groups.total
    shrink = math.sqrt(draws / groups.total)
    return centre + (low - centre) * shrink, centre + (high - centre) * shrink


def excludes_zero(interval: tuple[float, float] | None) -> bool:
    """Whether a confidence interval lies wholly on one side of zero."""
    return interval is not None and (interval[0] > 0.0 or interval[1] < 0.0)


def is_regression(
    difference: float | None, interval: tuple[float, float] | None, delta: float
) -> bool:
    """The `--fail-on-regression DELTA` rule: the mean dropped by more than `delta` and the
    interval of the difference lies wholly below zero."""
    return (
        difference is not None
        and interval is not None
        and difference < -delta
        and interval[1] < 0.0
    )


def histogram(values: Sequence[float], bins: int = BINS) -> list[int]:
    """Counts of `values` in `bins` equal bins over [0, 1]; 1.0 falls in the last bin.

    Values outside [0, 1] are clamped into the first or last bin.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    counts = [0] * bins
    for value in values:
        # Rounded first, so that 0.15 * 20 = 3.0000000000000004 still lands in bin 3.
        counts[min(max(math.floor(round(value * bins, 9)), 0), bins - 1)] += 1
    return counts
