"""The quota split of `composo.spark`: pure functions, table-driven, no Spark needed."""

from __future__ import annotations

import pytest

from composo import MalformedError
from composo._constants import DEFAULT_MAX_CONCURRENT_REQUESTS
from composo._spark._quota import TaskShare, split_quota, tasks_at_once


@pytest.mark.parametrize(
    ("partitions", "slots", "stated", "expected"),
    [
        (8, 2, None, 2),  # local[2]: two tasks at once
        (3, 16, None, 3),  # a stage never runs more tasks than it has partitions
        (8, 2, 4, 4),  # stated: the caller knows the cluster better
        (2, 2, 8, 2),  # ...but still no more than the partitions
        (1, 0, None, 1),  # at least one
    ],
)
def test_tasks_at_once(partitions: int, slots: int, stated: int | None, expected: int) -> None:
    assert tasks_at_once(partitions, slots, stated) == expected


@pytest.mark.parametrize(
    ("quota", "concurrency", "partitions", "slots", "stated", "expected"),
    [
        (100, None, 8, 2, None, TaskShare(2, 50.0, DEFAULT_MAX_CONCURRENT_REQUESTS)),
        (100, 40, 8, 2, None, TaskShare(2, 50.0, 20)),
        (90, 10, 8, 4, None, TaskShare(4, 22.5, 2)),  # concurrency rounds down: never over
        (10, 8, 3, 16, None, TaskShare(3, 10 / 3, 2)),
        (60, None, 100, 2, 6, TaskShare(6, 10.0, DEFAULT_MAX_CONCURRENT_REQUESTS)),
        (None, None, 8, 2, None, TaskShare(2, None, DEFAULT_MAX_CONCURRENT_REQUESTS)),
        (None, 9, 8, 2, None, TaskShare(2, None, 4)),
    ],
)
def test_split_quota_gives_each_task_an_equal_share(
    quota: float | None,
    concurrency: int | None,
    partitions: int,
    slots: int,
    stated: int | None,
    expected: TaskShare,
) -> None:
    share = split_quota(
        quota, concurrency, partitions=partitions, slots=slots, partitions_at_once=stated
    )
    assert share == expected
    # The job as a whole never goes over what was stated.
    if quota is not None:
        assert share.requests_per_second is not None
        assert share.requests_per_second * share.tasks_at_once == pytest.approx(quota)
    if concurrency is not None:
        assert share.max_concurrent_requests * share.tasks_at_once <= concurrency


@pytest.mark.parametrize(
    ("quota", "concurrency", "stated", "message"),
    [
        (0, None, None, "requests_per_second is the account's quota"),
        (-5, None, None, "requests_per_second is the account's quota"),
        (float("inf"), None, None, "requests_per_second is the account's quota"),
        (True, None, None, "requests_per_second is the account's quota"),
        ("50", None, None, "requests_per_second is the account's quota"),
        (100, 0, None, "max_concurrency must be a positive int"),
        (100, 2.5, None, "max_concurrency must be a positive int"),
        (100, None, 0, "partitions_at_once must be a positive int"),
        (100, 3, None, r"max_concurrency=3 is fewer requests in flight than the 4 tasks"),
        (0.2, None, None, r"below the 0.1/s a limiter paces at least.*coalesce\(2\)"),
    ],
)  # fmt: skip
def test_split_quota_refuses_what_cannot_be_split(
    quota: object, concurrency: object, stated: object, message: str
) -> None:
    with pytest.raises(MalformedError, match=message):
        split_quota(quota, concurrency, partitions=8, slots=4, partitions_at_once=stated)
