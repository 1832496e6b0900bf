"""What runs on the executors: one Spark task evaluates its partition, batch by batch.

`EvaluateTask` is the function `mapInPandas` ships. It holds only checked settings (column
names, criteria, options, the task's share of the quota, the name of the Spark conf entry that
holds the API key), never the key: each task reads the key where it runs, makes one client,
and streams its partition's pandas batches (Arrow batches of
`spark.sql.execution.arrow.maxRecordsPerBatch` rows) through `Composo.evaluate_batch` one at a
time, so a task holds one batch and its results, whatever the partition's size. Each batch is
planned and written back by `evaluate_frame`'s own `FramePlan`, so columns, errors and the
long format are the same as there.

Row errors are rows: a malformed row gets its `error` and is not sent; a service error for a
pair is that pair's `error`. Only what is not about a row fails the task (no API key on the
executor, the input itself failing to read), and Spark retries a failed task from its first
row, discarding what the failed attempt had yielded.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from composo._constants import API_KEY_ENV, LOGGER_NAME
from composo._exceptions import ComposoError
from composo._frame_kinds import PandasTable
from composo._frame_rows import ROW, FramePlan, Inputs
from composo._spark._quota import TaskShare

if TYPE_CHECKING:
    import pandas as pd
    from pyspark import TaskContext

    from composo._spark._progress import SparkProgress
    from composo._sync_client import Composo

logger = logging.getLogger(LOGGER_NAME)

# The long format's `row` is what `monotonically_increasing_id()` would give the input row:
# the partition's index above this many bits, the row's position in the partition below.
ROW_ID_BITS: Final = 33


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How each task makes its client: everything but the key, which is read on the executor.

    Attributes:
        api_key_conf: The Spark conf entry holding the key (read from the task's properties),
            or None to use only `COMPOSO_API_KEY` on the executor.
        base_url: The API's URL; None for the executor's `COMPOSO_BASE_URL`, else production.
        num_retries: As in `Composo`.
        timeout: As in `Composo`.
        cache: The result cache's path, opened on the executor; None for no cache.
    """

    api_key_conf: str | None
    base_url: str | None
    num_retries: int
    timeout: float
    cache: str | None = None


def executor_api_key(conf_name: str | None, context: TaskContext | None) -> str | None:
    """The API key for this task: the Spark conf entry `conf_name`, which Spark hands every
    task of a DataFrame query as a local property, else None for the client to read
    `COMPOSO_API_KEY` from the executor's environment.

    Raises:
        ComposoError: Neither is set; the message says where to set it (never a key).
    """
    if conf_name is not None and context is not None:
        value = context.getLocalProperty(conf_name)
        if value:
            return value
    if os.environ.get(API_KEY_ENV):
        return None
    where = f"the Spark conf entry {conf_name!r} (--conf, spark.conf.set) or " if conf_name else ""
    raise ComposoError(
        f"no Composo API key on this executor: set {where}{API_KEY_ENV} in the executors' "
        f"environment (spark.executorEnv.{API_KEY_ENV})"
    )


def make_client(settings: ClientSettings, share: TaskShare, api_key: str | None) -> Composo:
    """The task's one client, paced at the task's share of the quota."""
    from composo._sync_client import Composo

    return Composo(
        api_key=api_key,
        base_url=settings.base_url,
        num_retries=settings.num_retries,
        timeout=settings.timeout,
        max_concurrent_requests=share.max_concurrent_requests,
        requests_per_second=share.requests_per_second,
        cache=settings.cache,
    )


@dataclass(slots=True)
class TaskCounts:
    """What one task did, for its log line and the job's accumulators."""

    rows: int = 0
    pairs: int = 0
    failed: int = 0
    throttled: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class EvaluateTask:
    """The function `mapInPandas` runs once per partition: pandas batches in, the same rows
    with the result columns out, batch by batch, in order.

    Attributes:
        criteria: The criteria as the caller gave them (a str, a list, a dict of names).
        inputs: Which columns hold which part of each row.
        long: One output row per (row, criterion) instead of columns per criterion.
        cleaned: Whether `explanation_cleaning` was asked for (adds its columns).
        options: The checked per-pair options of `evaluate_batch`.
        share: This task's share of the job's quota.
        client: How to make the task's client.
        columns: The output columns, in the schema's order.
        progress: The job's accumulators, or None.
    """

    criteria: Any
    inputs: Inputs
    long: bool
    cleaned: bool
    options: Mapping[str, Any]
    share: TaskShare
    client: ClientSettings
    columns: tuple[str, ...]
    progress: SparkProgress | None = None

    # What Spark calls the function in query plans and the UI (not a field: unannotated).
    __name__ = "composo_evaluate"

    def __call__(self, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import TaskContext

        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        attempt = context.attemptNumber() if context is not None else 0
        key = executor_api_key(self.client.api_key_conf, context)
        counts = TaskCounts()
        rate = self.share.requests_per_second
        logger.info(
            "composo: partition %d (attempt %d) starts: at most %s requests/s, %d in flight",
            partition,
            attempt,
            "unstated" if rate is None else f"{rate:.2f}",
            self.share.max_concurrent_requests,
        )
        with make_client(self.client, self.share, key) as client:
            for frame in batches:
                yield self._evaluate(client, frame, partition, counts)
        elapsed = time.monotonic() - counts.started
        logger.info(
            "composo: partition %d (attempt %d) done: %d rows, %d pairs, %d failed, %d "
            "rate-limited (429) answers in %.1f s",
            partition,
            attempt,
            counts.rows,
            counts.pairs,
            counts.failed,
            counts.throttled,
            elapsed,
        )

    def _evaluate(
        self, client: Composo, frame: pd.DataFrame, partition: int, counts: TaskCounts
    ) -> pd.DataFrame:
        """One batch of rows, evaluated: the batch's rows with the result columns."""
        plan = FramePlan(
            PandasTable(frame), self.criteria, self.inputs, long=self.long, cleaned=self.cleaned
        )
        batch = client.evaluate_batch(
            plan.items(),
            plan.criteria,
            concurrency=self.share.max_concurrent_requests,
            **self.options,
        )
        with batch:
            for result in batch:
                plan.add(result)
        out = plan.result()
        if self.long:
            # Unique in the job, increasing in input order: what monotonically_increasing_id()
            # gives, where the position in this batch alone would repeat in every batch.
            out[ROW] = out[ROW] + ((partition << ROW_ID_BITS) + counts.rows)
        done = batch.progress
        batch_counts = {
            "rows": len(frame),
            "pairs": plan.total,
            "failed": done.failed + plan.skipped,
            "throttled": done.throttled,
        }
        counts.rows += batch_counts["rows"]
        counts.pairs += batch_counts["pairs"]
        counts.failed += batch_counts["failed"]
        counts.throttled += batch_counts["throttled"]
        if self.progress is not None:
            self.progress.add(**batch_counts)
        return out[list(self.columns)]
