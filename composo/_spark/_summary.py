"""`summarize`: the per-criterion table `composo evaluate` prints, computed by Spark over an
evaluated DataFrame in one aggregation (one job), whatever its size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composo._batch import format_summary_table
from composo._exceptions import bad_input
from composo._frame_rows import CRITERION, check_criteria, result_name
from composo._spark._job import EVALUATED_MARK, Criteria
from composo._validation import is_binary_criterion

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# The share of a binary criterion's scores at or above this counts as passed (as in
# `composo._batch.summary_rows`: binary scores are 0 or 1).
_PASS = 0.5


class Summary(dict[str, dict[str, Any]]):
    """Per criterion (the dict key, or the criterion's text): `count`, `failures`, `mean`,
    `min`, `max`, and `pass_rate` for `Passes if` / `Fails if` criteria (None otherwise);
    `str()` gives the table `composo evaluate` prints."""

    def __str__(self) -> str:
        return format_summary_table(self, list(self))


def _col(name: str) -> Column:
    """The column named `name`, quoted: a dict key may hold a dot, which Spark would read as
    a struct field."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _stats(score: Column, error: Column, binary: bool, tag: str) -> list[Column]:
    from pyspark.sql import functions as F

    scored = F.when(error.isNull(), score)
    stats = [
        F.count(F.lit(1)).alias(f"{tag}count"),
        F.count(error).alias(f"{tag}failures"),
        F.avg(scored).alias(f"{tag}mean"),
        F.min(scored).alias(f"{tag}min"),
        F.max(scored).alias(f"{tag}max"),
    ]
    if binary:
        passed = F.when(scored.isNotNull(), (scored >= _PASS).cast("double"))
        stats.append(F.avg(passed).alias(f"{tag}pass_rate"))
    return stats


def _entry(row: Any, tag: str, binary: bool) -> dict[str, Any]:
    return {
        "count": int(row[f"{tag}count"]),
        "failures": int(row[f"{tag}failures"]),
        "mean": row[f"{tag}mean"],
        "min": row[f"{tag}min"],
        "max": row[f"{tag}max"],
        "pass_rate": row[f"{tag}pass_rate"] if binary else None,
    }


def summarize(result: DataFrame, criteria: Criteria, *, long: bool = False) -> Summary:
    """The per-criterion summary of an evaluated DataFrame: count, mean, min, max, failures
    and pass rate, as `composo evaluate` prints at the end of a run.

    It runs one Spark job over `result`. On the DataFrame `evaluate_spark` returned, that
    job would evaluate every row again (and be billed again), so it is refused unless the
    frame is persisted: summarize the table you wrote, or `persist()` the result first.

    Args:
        result: What `evaluate_spark` gave (persisted), or the table written from it.
        criteria: The criteria given to `evaluate_spark`, to find the result columns.
        long: True when `result` has one row per (row, criterion).

    Returns:
        A `Summary`: a dict of criterion to its figures; `print()` it for the table.

    Raises:
        MalformedError: The criteria do not match the frame's columns, or `result` is an
            unpersisted `evaluate_spark` result.
    """
    if getattr(result, EVALUATED_MARK, False) and not (
        result.storageLevel.useMemory or result.storageLevel.useDisk
    ):
        raise bad_input(
            "summarize(result) would evaluate every row again (and be billed again): persist "
            "the result first (result = result.persist(); then your action), or summarize the "
            "table you wrote"
        )
    texts, prefixes, labels = check_criteria(criteria)
    needed = (
        [CRITERION, "score", "error"]
        if long
        else [result_name(p, f) for p in prefixes for f in ("score", "error")]
    )
    missing = [name for name in needed if name not in result.columns]
    if missing:
        raise bad_input(
            f"the DataFrame has no column(s) {', '.join(map(repr, missing))}: pass the "
            "criteria (and long=) given to evaluate_spark"
        )
    summary = Summary()
    if long:
        binary = any(is_binary_criterion(text) for text in texts)
        rows = result.groupBy(CRITERION).agg(*_stats(_col("score"), _col("error"), binary, ""))
        found = {row[CRITERION]: row for row in rows.collect()}
        for label, text in zip(labels, texts, strict=True):
            if label in found:
                summary[label] = _entry(found[label], "", is_binary_criterion(text))
        return summary
    columns: list[Column] = []
    for number, (prefix, text) in enumerate(zip(prefixes, texts, strict=True)):
        score, error = _col(result_name(prefix, "score")), _col(result_name(prefix, "error"))
        columns += _stats(score, error, is_binary_criterion(text), f"c{number}_")
    row = result.agg(*columns).collect()[0]
    for number, (label, text) in enumerate(zip(labels, texts, strict=True)):
        summary[label] = _entry(row, f"c{number}_", is_binary_criterion(text))
    return summary
