"""One account quota for a whole Spark job: how it is split across the tasks that run at once.

Spark runs at most one task per slot (executor cores divided by `spark.task.cpus`), and never
more than the stage has partitions. The job states the account's quota once; each task's client
gets `requests_per_second = quota / tasks_at_once` (and `max_concurrency / tasks_at_once`
requests in flight), and its adaptive limiter (`composo._ratelimit`) starts pacing at that
share, never exceeds it, and still slows down on its own 429s.

The trade-off: a share is fixed for the task's life, so a task that finishes early (the last
wave of a stage, a small partition) leaves its share unused until the next task takes its slot.
The alternative, every task finding the quota from 429s (the per-executor free-for-all), starts
`tasks_at_once` times over the quota: each limiter is off until its first 429, then has to
learn its own share from 429s while all the others do the same; the account answers 429s to
every task at once, each retry waits out a Retry-After, and the job spends its first minutes
well above and then well below the quota. Stated shares start at the quota and stay under it.

Pure functions, no Spark: the driver measures the slots and partitions and passes them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from composo._constants import DEFAULT_MAX_CONCURRENT_REQUESTS
from composo._exceptions import bad_input
from composo._ratelimit import MIN_RATE


@dataclass(frozen=True, slots=True)
class TaskShare:
    """What each task of the job may use.

    Attributes:
        tasks_at_once: The tasks the quota is split between.
        requests_per_second: Each task's limiter's ceiling and starting pace; None when no
            quota was stated (each task then finds it from its own 429s).
        max_concurrent_requests: Each task's requests in flight.
    """

    tasks_at_once: int
    requests_per_second: float | None
    max_concurrent_requests: int


def _positive_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_input(f"{name} must be a positive int or None, got {value!r}")
    return value


def _quota(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise bad_input(
            "requests_per_second is the account's quota: a positive number of requests per "
            f"second (or None to find it from 429s), got {value!r}"
        )
    return float(value)


def tasks_at_once(partitions: int, slots: int, stated: int | None) -> int:
    """How many tasks share the quota: the ones stated, else one per slot, and never more than
    there are partitions (a stage of 3 partitions runs 3 tasks at most)."""
    limit = stated if stated is not None else max(slots, 1)
    return max(min(limit, partitions), 1)


def split_quota(
    requests_per_second: object,
    max_concurrency: object,
    *,
    partitions: int,
    slots: int,
    partitions_at_once: object = None,
) -> TaskShare:
    """Each task's share of the account's quota.

    Args:
        requests_per_second: The account's quota for the whole job, or None.
        max_concurrency: The account's limit on requests in flight for the whole job, or None
            for `DEFAULT_MAX_CONCURRENT_REQUESTS` per task.
        partitions: The partitions of the DataFrame evaluated (one task each).
        slots: The tasks the cluster runs at once (its cores over `spark.task.cpus`).
        partitions_at_once: The tasks the caller says run at once, instead of `slots`.

    Returns:
        The share: the quota and the concurrency divided by the tasks that run at once.

    Raises:
        MalformedError: An argument of the wrong type, or a quota too small to divide (a share
            under `MIN_RATE`, or fewer requests in flight than tasks).
    """
    quota = _quota(requests_per_second)
    concurrency = _positive_int(max_concurrency, "max_concurrency")
    stated = _positive_int(partitions_at_once, "partitions_at_once")
    tasks = tasks_at_once(partitions, slots, stated)
    per_task_rate = None if quota is None else quota / tasks
    if quota is not None and per_task_rate is not None and per_task_rate < MIN_RATE:
        raise bad_input(
            f"requests_per_second={quota:g} split over {tasks} tasks at once is "
            f"{per_task_rate:.3g}/s each, below the {MIN_RATE}/s a limiter paces at least; "
            f"run fewer tasks at once (df.coalesce({max(int(quota / MIN_RATE), 1)}))"
        )
    if concurrency is None:
        per_task_concurrency = DEFAULT_MAX_CONCURRENT_REQUESTS
    else:
        per_task_concurrency = concurrency // tasks
        if per_task_concurrency < 1:
            raise bad_input(
                f"max_concurrency={concurrency} is fewer requests in flight than the {tasks} "
                f"tasks that run at once; run fewer at once (df.coalesce({concurrency}), or "
                "fewer executor cores) or raise max_concurrency"
            )
    return TaskShare(tasks, per_task_rate, per_task_concurrency)
