"""`evaluate_spark`: the driver's half. Checks everything once, splits the quota, and hands
`mapInPandas` an `EvaluateTask` and the output schema; nothing is read or sent until an action
runs the returned DataFrame."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from composo._base import check_num_retries, check_timeout, resolve_base_url
from composo._batch import batch_spec
from composo._constants import DEFAULT_NUM_RETRIES, DEFAULT_TIMEOUT, LOGGER_NAME
from composo._exceptions import bad_input
from composo._frame_kinds import Table
from composo._frame_rows import CRITERION, ROW, FramePlan, Inputs, result_name
from composo._spark._progress import SparkProgress
from composo._spark._quota import split_quota
from composo._spark._task import ClientSettings, EvaluateTask

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructField

logger = logging.getLogger(LOGGER_NAME)

# The Spark conf entry each task reads the API key from. Its name holds "secret" so that Spark's
# default `spark.redaction.regex` ((?i)secret|password|token|access[.]?key|credential) hides
# its value in the UI's Environment tab, the event log and the history server; a name such as
# spark.composo.apiKey would be shown there in clear.
DEFAULT_API_KEY_CONF: Final = "spark.composo.secret.apiKey"

# The attribute that marks a DataFrame evaluate_spark returned (see `summarize`).
EVALUATED_MARK: Final = "_composo_evaluated"

Criteria = str | Sequence[str] | Mapping[str, str]
Tags = str | Sequence[str] | None


class SchemaTable(Table):
    """A Spark DataFrame's columns without its rows: what the driver checks the plan against."""

    kind = "DataFrame"


def _output_fields(plan: FramePlan) -> list[StructField]:
    """The result columns' fields, named as `plan.output_columns()` names them, typed as the
    pandas columns `FramePlan.result()` builds (scores float64, `row` int64, text otherwise)."""
    from pyspark.sql.types import DataType, DoubleType, LongType, StringType, StructField

    def kind(field: str) -> DataType:
        return DoubleType() if field == "score" else StringType()

    typed: list[tuple[str, DataType]]
    if plan.long:
        typed = [(ROW, LongType()), (CRITERION, StringType())]
        typed += [(field, kind(field)) for field in plan.fields]
    else:
        typed = [
            (result_name(prefix, field), kind(field))
            for prefix in plan.prefixes
            for field in plan.fields
        ]
    assert [name for name, _ in typed] == plan.output_columns()
    return [StructField(name, data_type, nullable=True) for name, data_type in typed]


def _plain_criteria(criteria: object, plan: FramePlan) -> Criteria:
    """The checked criteria in the form the caller gave them (a str, a list or a dict of
    names), as plain built-ins that pickle whatever type the caller passed."""
    if isinstance(criteria, Mapping):
        return dict(zip(plan.prefixes, plan.criteria, strict=True))
    if isinstance(criteria, str):
        return plan.criteria[0]
    return list(plan.criteria)


def _check_case_insensitive(df: DataFrame, new: list[str]) -> None:
    """Spark resolves names without regard to case unless told otherwise: `Score` in the input
    and `score` in the results would be one ambiguous column."""
    if df.sparkSession.conf.get("spark.sql.caseSensitive", "false") == "true":
        return
    have = {name.lower(): name for name in df.columns}
    clashes = [f"{have[name.lower()]!r}/{name!r}" for name in new if name.lower() in have]
    if clashes:
        raise bad_input(
            f"the DataFrame has column(s) that differ from the results' only in case "
            f"({', '.join(clashes)}), one column to Spark; rename them first"
        )


def _cache_path(cache: object) -> str | None:
    if cache is None:
        return None
    if not isinstance(cache, str | os.PathLike):
        raise bad_input(
            "cache= is the path of the result cache, which each executor opens; got "
            f"{type(cache).__name__}"
        )
    if not os.path.isabs(cache):
        raise bad_input(
            f"cache= must be an absolute path (got {os.fspath(cache)!r}): each executor would "
            "resolve a relative one in its own working directory"
        )
    return os.fspath(cache)


def evaluate_spark(
    df: DataFrame,
    criteria: Criteria,
    *,
    requests_per_second: float | None,
    messages: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    id: str | None = None,
    system: str | None = None,
    tools: str | None = None,
    tags: Tags = None,
    max_concurrency: int | None = None,
    partitions_at_once: int | None = None,
    api_key_conf: str | None = DEFAULT_API_KEY_CONF,
    base_url: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    long: bool = False,
    progress: SparkProgress | None = None,
    num_retries: int = DEFAULT_NUM_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
    evaluate_latest: bool | None = None,
    explanation_cleaning: str | None = None,
    data_retention: str | None = None,
    model_core: str | None = None,
) -> DataFrame:
    """Score every row of a Spark DataFrame against each criterion, within one account quota.

    Returns at once: the evaluation runs when an action (a write, `collect`, `count`...) runs
    the returned DataFrame, and again on every further action unless you persist or write it
    (each run is billed). Each task makes one client on its executor, reads the API key there,
    and evaluates its partition a pandas batch at a time with `evaluate_batch`, paced at its
    share of the quota. Row errors are rows: a row that cannot be scored gets its `error`.

    Args:
        df: The DataFrame (a classic SparkSession's; Spark Connect is not supported).
        criteria: As in `evaluate_frame`: a str (columns `score`, `explanation`, `error`), a
            list (`criterion_1_score`...), or a dict of names to criteria (`<name>_score`...).
        requests_per_second: The account's quota for the whole job. It is split evenly across
            the tasks that run at once; each task's limiter starts at its share, never
            exceeds it, and slows down on its own 429s. None states no quota: each task finds
            it from its own 429s, starting all of them at once (not recommended).
        messages: The column of conversations (arrays of message structs or maps, or JSON
            text); "messages" unless `prompt` is given.
        prompt: Instead of `messages`, a column of user prompts (text).
        response: A column of assistant replies appended to each conversation.
        id: A column naming each row (the results keep every input column anyway).
        system: A column of system prompts (text).
        tools: A column of tool definition lists (or their JSON text).
        tags: A column of tag maps, or a list of columns whose values become tags.
        max_concurrency: The account's limit on requests in flight for the whole job, split
            like the quota; None for 5 per task. To reach a quota of Q requests/s against a
            service that answers in L seconds, about Q * L must be in flight.
        partitions_at_once: How many tasks run at once, when you know better than Spark's
            `defaultParallelism` (dynamic allocation, a shared cluster); never more than the
            DataFrame's partitions are counted.
        api_key_conf: The Spark conf entry that holds the API key, read by each task (Spark
            passes SQL conf entries to tasks); when it is unset, `COMPOSO_API_KEY` in the
            executors' environment. None uses only the environment. The key is never read on
            the driver nor shipped in the task's code.
        base_url: The API's URL; None for `COMPOSO_BASE_URL` on the executors, else production.
        cache: The result cache's path, opened by each task's client (off when None): one
            path on one machine, or a path on each executor's local disk (SQLite's WAL mode
            needs its processes on one host). A retried task then re-scores only what the
            failed attempt had not stored.
        long: True for one row per (row, criterion), with columns `row` (as
            `monotonically_increasing_id()` would number the input row), `criterion` (the
            dict key, or the criterion's text), `score`, `explanation`, `error`.
        progress: A `SparkProgress` whose accumulators count rows, pairs, failures and 429s.
        num_retries: As in `Composo`, for each task's client.
        timeout: As in `Composo`: seconds one evaluation may take in all.
        evaluate_latest: As in `Composo.evaluate`, for every row.
        explanation_cleaning: As in `Composo.evaluate`; adds `cleaned_explanation` columns.
        data_retention: As in `Composo.evaluate`, for every row.
        model_core: As in `Composo.evaluate`, for every row.

    Returns:
        A DataFrame with the input's columns and rows, plus the result columns (scores are
        doubles, null when the pair failed; `error` is `"<ErrorClass>: <message>"` or null);
        with `long=True`, one row per (row, criterion).

    Raises:
        MalformedError: Before anything runs: an unknown column, a result column the input
            already has, invalid criteria or options, a quota that cannot be split.
    """
    if getattr(df, "_jdf", None) is None:
        # Spark Connect's DataFrame has no JVM handle, hence no SparkContext: no accumulators,
        # no defaultParallelism.
        raise bad_input(
            "evaluate_spark takes a DataFrame of a classic SparkSession (not Spark Connect), "
            f"got {type(df).__module__}.{type(df).__name__}"
        )
    inputs = Inputs.check(
        messages=messages,
        prompt=prompt,
        response=response,
        id=id,
        system=system,
        tools=tools,
        tags=tags,
    )
    cleaned = explanation_cleaning is not None
    plan = FramePlan(SchemaTable(df.columns, 0), criteria, inputs, long=long, cleaned=cleaned)
    new_fields = _output_fields(plan)
    _check_case_insensitive(df, [f.name for f in new_fields])
    options: dict[str, Any] = {
        "evaluate_latest": evaluate_latest,
        "explanation_cleaning": explanation_cleaning,
        "data_retention": data_retention,
        "model_core": model_core,
    }
    batch_spec(plan.criteria, concurrency=None, default_concurrency=1, **options)
    if api_key_conf is not None and (not isinstance(api_key_conf, str) or not api_key_conf):
        raise bad_input(f"api_key_conf names a Spark conf entry, got {api_key_conf!r}")
    if progress is not None and not isinstance(progress, SparkProgress):
        raise bad_input(f"progress must be a SparkProgress, got {type(progress).__name__}")
    settings = ClientSettings(
        api_key_conf=api_key_conf,
        base_url=None if base_url is None else resolve_base_url(base_url),
        num_retries=check_num_retries(num_retries),
        timeout=check_timeout(timeout),
        cache=_cache_path(cache),
    )
    context = df.sparkSession.sparkContext
    task_cpus = int(context.getConf().get("spark.task.cpus", "1") or "1")
    share = split_quota(
        requests_per_second,
        max_concurrency,
        partitions=df.rdd.getNumPartitions(),
        slots=context.defaultParallelism // max(task_cpus, 1),
        partitions_at_once=partitions_at_once,
    )
    logger.info(
        "composo: evaluate_spark splits the quota over %d tasks at once: each at most %s "
        "requests/s and %d in flight",
        share.tasks_at_once,
        "unstated" if share.requests_per_second is None else f"{share.requests_per_second:.2f}",
        share.max_concurrent_requests,
    )
    from pyspark.sql.types import StructType

    schema = StructType([*df.schema.fields, *new_fields])
    task = EvaluateTask(
        criteria=_plain_criteria(criteria, plan),
        inputs=inputs,
        long=long,
        cleaned=cleaned,
        options={k: v for k, v in options.items() if v is not None},
        share=share,
        client=settings,
        columns=tuple(schema.fieldNames()),
        progress=progress,
    )
    out = df.mapInPandas(task, schema)
    setattr(out, EVALUATED_MARK, True)
    return out
