"""`SparkProgress`: the job's counts, kept in Spark accumulators the driver reads.

Each task adds its counts as it finishes each batch of rows; Spark sends a task's additions to
the driver when the task succeeds and drops those of a failed attempt, so the counts match the
rows of the result exactly once however often tasks are retried. The driver sees them grow a
task at a time (more partitions, finer steps). They count every run of the evaluation: an
action on a result that is neither persisted nor written re-runs it, and counts it again.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from composo._exceptions import bad_input

if TYPE_CHECKING:
    from pyspark import Accumulator
    from pyspark.sql import SparkSession


class SparkProgress:
    """Counts of an `evaluate_spark` job, readable on the driver while it runs and after.

    Make one on the driver, pass it as `progress=`, and read it after (or during) the action
    that runs the job: `print(progress)`, or `with progress.watch(): result.write...`.

    Args:
        spark: The session the job runs in (its SparkContext makes the accumulators).

    Attributes:
        rows: Input rows evaluated.
        pairs: (row, criterion) pairs finished, scored or failed.
        failed: Pairs that ended with an `error` (malformed rows count once per criterion).
        throttled: 429 answers the tasks received (each was waited out and sent again).
    """

    def __init__(self, spark: SparkSession) -> None:
        context = spark.sparkContext
        self._rows: Accumulator[int] = context.accumulator(0)
        self._pairs: Accumulator[int] = context.accumulator(0)
        self._failed: Accumulator[int] = context.accumulator(0)
        # Nothing else: the tasks get a pickled copy, and each accumulator pickles as its id.
        self._throttled: Accumulator[int] = context.accumulator(0)

    def add(self, *, rows: int, pairs: int, failed: int, throttled: int) -> None:
        """Add one batch's counts (called in the task, on the executor)."""
        self._rows.add(rows)
        self._pairs.add(pairs)
        self._failed.add(failed)
        self._throttled.add(throttled)

    @property
    def rows(self) -> int:
        """Input rows evaluated so far (read on the driver)."""
        return int(self._rows.value)

    @property
    def pairs(self) -> int:
        """(row, criterion) pairs finished so far, scored or failed."""
        return int(self._pairs.value)

    @property
    def failed(self) -> int:
        """Pairs that ended with an error."""
        return int(self._failed.value)

    @property
    def throttled(self) -> int:
        """429 answers the tasks received."""
        return int(self._throttled.value)

    def __str__(self) -> str:
        return (
            f"composo: {self.rows} rows, {self.pairs} pairs done, {self.failed} failed, "
            f"{self.throttled} rate-limited (429) answers"
        )

    def __repr__(self) -> str:
        return (
            f"SparkProgress(rows={self.rows}, pairs={self.pairs}, failed={self.failed}, "
            f"throttled={self.throttled})"
        )

    @contextmanager
    def watch(self, interval: float = 10.0, stream: IO[str] | None = None) -> Iterator[None]:
        """Write the counts (and the pairs per second since the block began) to `stream` every
        `interval` seconds
        when they have changed, and once at the end: run the job's action inside it.

        Args:
            interval: Seconds between lines.
            stream: Where to write; stderr by default.

        Raises:
            MalformedError: `interval` is not a positive number.
        """
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise bad_input(f"interval must be a positive number of seconds, got {interval!r}")
        out = stream if stream is not None else sys.stderr
        stop = threading.Event()
        started = time.monotonic()
        first = self.pairs
        shown = [first]

        def line() -> None:
            pairs = shown[0] = self.pairs
            elapsed = max(time.monotonic() - started, 1e-9)
            out.write(f"{self} ({(pairs - first) / elapsed:.1f} pairs/s)\n")
            out.flush()

        def loop() -> None:
            while not stop.wait(interval):
                if self.pairs != shown[0]:
                    line()

        thread = threading.Thread(target=loop, name="composo-spark-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            line()
