"""`composo.spark` end to end: PySpark in local mode (`local[2,2]`: two task slots, a failed task
tried twice) against the project's mock server over loopback. One SparkSession for the module.

The mock's scores are a hash of the criterion and the conversation, so each row's expected score
is what `Composo.evaluate_batch` gives for the same conversation.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from composo import Composo, MalformedError, MockServer
from composo._mock._faults import TIMELINE_STEP

pytest.importorskip("pandas", reason="needs the spark extra: pip install 'composo[spark]'")
pytest.importorskip("pyarrow", reason="needs the spark extra: pip install 'composo[spark]'")
pytest.importorskip("pyspark", reason="needs the spark extra: pip install 'composo[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("PySpark needs Java (17 or later) on PATH or in JAVA_HOME", allow_module_level=True)

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from composo.spark import DEFAULT_API_KEY_CONF, SparkProgress, evaluate_spark, summarize

pytestmark = [
    pytest.mark.e2e,
    # PySpark 4.x warns that it does not fully support pandas 3 whenever it converts (at session
    # start, createDataFrame, mapInPandas, toPandas); CI installs pandas 3, and these tests
    # check what they need of the conversion themselves.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

CONF_KEY = "spark-conf-key"
ENV_KEY = "spark-env-key"
CRITERIA = {
    "date": "Reward answers that give a delivery date",
    "polite": "Passes if the reply is polite",
}
MESSAGE = T.StructType(
    [T.StructField("role", T.StringType()), T.StructField("content", T.StringType())]
)
SCHEMA = T.StructType(
    [T.StructField("id", T.StringType()), T.StructField("messages", T.ArrayType(MESSAGE))]
)

# Spark's own logging, quiet: errors only, and on stderr (which pytest captures).
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %p %c{1}: %m%n
"""


def conversation(i: int) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"Where is order {i}?"},
        {"role": "assistant", "content": f"Order {i} arrives on day {i % 7}."},
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(api_keys={CONF_KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    log_config = tmp_path_factory.mktemp("spark") / "log4j2.properties"
    log_config.write_text(LOG4J2)
    with pytest.MonkeyPatch.context() as env:
        # The executors are Python workers of this interpreter; loopback only, no network.
        env.setenv("PYSPARK_PYTHON", sys.executable)
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = (
            SparkSession.builder.master("local[2,2]")
            .appName("composo-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.task.maxFailures", "2")
            .config(
                "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config.as_uri()}"
            )
            .config("spark.executorEnv.COMPOSO_API_KEY", ENV_KEY)
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


@pytest.fixture(autouse=True)
def fresh(spark: SparkSession, server: MockServer) -> Iterator[None]:
    """Each test starts with the key in the session's conf and a mock as it was started."""
    server.reset()
    spark.conf.set(DEFAULT_API_KEY_CONF, CONF_KEY)
    yield
    spark.conf.unset(DEFAULT_API_KEY_CONF)
    spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")


def frame(spark: SparkSession, count: int, partitions: int) -> DataFrame:
    rows = [(f"c{i}", conversation(i)) for i in range(count)]
    # parallelize keeps each partition's rows in order on every run, unlike a shuffle.
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), SCHEMA)


def expected(server: MockServer, count: int) -> dict[str, list[float]]:
    with Composo(base_url=server.base_url, api_key=CONF_KEY) as client:
        items = ({"messages": conversation(i)} for i in range(count))
        results = client.evaluate_batch(items, list(CRITERIA.values())).collect()
    names = list(CRITERIA)
    scores: dict[str, list[float]] = {name: [] for name in names}
    for result in results:
        assert result.score is not None
        scores[names[result.criterion_index]].append(result.score)
    return scores


def evaluate(df: DataFrame, server: MockServer, **kwargs: Any) -> DataFrame:
    kwargs.setdefault("requests_per_second", 500)
    kwargs.setdefault("base_url", server.base_url)
    return evaluate_spark(df, CRITERIA, id="id", **kwargs)


def test_every_row_comes_back_once_in_order_with_its_scores(
    spark: SparkSession, server: MockServer
) -> None:
    df = frame(spark, 120, 4)
    progress = SparkProgress(spark)

    out = evaluate(df, server, progress=progress).collect()
    billed = server.counters.count(status=200)

    assert [row["id"] for row in out] == [f"c{i}" for i in range(120)]
    want = expected(server, 120)
    assert [row["date_score"] for row in out] == want["date"]
    assert [row["polite_score"] for row in out] == want["polite"]
    assert all(row["date_error"] is None and row["polite_error"] is None for row in out)
    assert out[0]["date_explanation"].startswith("Synthetic result")
    assert [m.asDict() for m in out[7]["messages"]] == conversation(7)
    assert (progress.rows, progress.pairs, progress.failed) == (120, 240, 0)
    assert billed == 240


def test_the_output_schema_is_the_input_plus_typed_result_columns(
    spark: SparkSession, server: MockServer
) -> None:
    out = evaluate(frame(spark, 2, 1), server, explanation_cleaning="end_user")

    assert out.schema.fields[:2] == SCHEMA.fields
    assert [(f.name, f.dataType) for f in out.schema.fields[2:6]] == [
        ("date_score", T.DoubleType()),
        ("date_explanation", T.StringType()),
        ("date_error", T.StringType()),
        ("date_cleaned_explanation", T.StringType()),
    ]
    assert out.columns[6:] == [
        "polite_score", "polite_explanation", "polite_error", "polite_cleaned_explanation"
    ]  # fmt: skip
    assert server.counters.total == 0  # nothing runs before an action
    assert out.first()["polite_cleaned_explanation"] is not None


def test_an_empty_dataframe_gives_an_empty_result(spark: SparkSession, server: MockServer) -> None:
    out = evaluate(spark.createDataFrame([], SCHEMA).repartition(2), server)

    assert out.collect() == []
    assert out.columns[:2] == ["id", "messages"]
    assert server.counters.total == 0


def test_results_join_back_on_the_id(spark: SparkSession, server: MockServer) -> None:
    df = frame(spark, 60, 3)
    scored = evaluate(df, server).select("id", "date_score")

    joined = df.join(scored, on="id", how="left").collect()

    assert len(joined) == 60
    want = dict(zip((f"c{i}" for i in range(60)), expected(server, 60)["date"], strict=True))
    assert {row["id"]: row["date_score"] for row in joined} == want


def test_long_format_has_one_row_per_row_and_criterion(
    spark: SparkSession, server: MockServer
) -> None:
    out = evaluate(frame(spark, 50, 3), server, long=True).collect()

    assert len(out) == 100
    assert [(row["id"], row["criterion"]) for row in out[:4]] == [
        ("c0", "date"), ("c0", "polite"), ("c1", "date"), ("c1", "polite")
    ]  # fmt: skip
    # `row` numbers the input rows as monotonically_increasing_id() would: unique, in order.
    numbers = [row["row"] for row in out[::2]]
    assert numbers == sorted(set(numbers))
    assert len(numbers) == 50
    assert all(row["row"] == number for row, number in zip(out[1::2], numbers, strict=True))
    want = expected(server, 50)
    assert [row["score"] for row in out if row["criterion"] == "polite"] == want["polite"]
    assert all(row["error"] is None for row in out)


def test_malformed_rows_get_their_error_and_the_job_goes_on(
    spark: SparkSession, server: MockServer
) -> None:
    import json

    texts = [json.dumps(conversation(i)) for i in range(6)]
    texts[1] = "not JSON"
    texts[2] = None  # type: ignore[call-overload]
    texts[4] = json.dumps(conversation(4)[:1])  # one message: nothing to judge
    df = spark.createDataFrame(
        [(f"c{i}", t) for i, t in enumerate(texts)], "id string, messages string"
    )
    progress = SparkProgress(spark)

    out = evaluate(df, server, progress=progress).collect()

    assert [row["id"] for row in out] == [f"c{i}" for i in range(6)]
    errors = [row["date_error"] for row in out]
    assert [e is None for e in errors] == [True, False, False, True, False, True]
    assert errors[1].startswith("MalformedError: column 'messages' holds text that is not JSON")
    assert errors[2] == "MalformedError: column 'messages' is empty in this row"
    assert [row["polite_score"] is None for row in out] == [False, True, True, False, True, False]
    assert (progress.rows, progress.pairs, progress.failed) == (6, 12, 6)
    assert server.counters.count(status=200) == 6


def test_prompt_and_response_columns(spark: SparkSession, server: MockServer) -> None:
    df = spark.createDataFrame(
        [(conversation(i)[0]["content"], conversation(i)[1]["content"]) for i in range(5)],
        "question string, answer string",
    )

    out = evaluate_spark(
        df, CRITERIA, prompt="question", response="answer", requests_per_second=50,
        base_url=server.base_url,
    ).collect()  # fmt: skip

    assert [row["date_score"] for row in out] == expected(server, 5)["date"]


def test_the_key_comes_from_the_executors_environment_without_the_conf(
    spark: SparkSession, server: MockServer
) -> None:
    spark.conf.unset(DEFAULT_API_KEY_CONF)
    server.configure(api_keys={ENV_KEY})

    out = evaluate(frame(spark, 4, 2), server).collect()

    assert all(row["date_error"] is None for row in out)


def test_the_conf_entry_wins_over_the_environment(spark: SparkSession, server: MockServer) -> None:
    # The mock accepts only the conf's key; the executors' environment holds another one.
    out = evaluate(frame(spark, 4, 2), server).collect()
    assert all(row["date_error"] is None for row in out)

    spark.conf.set(DEFAULT_API_KEY_CONF, "a-wrong-key")
    out = evaluate(frame(spark, 4, 2), server).collect()
    assert all(row["date_error"].startswith("AuthenticationError: ") for row in out)


def test_the_key_is_never_in_the_function_spark_ships(
    spark: SparkSession, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyspark.core.rdd

    df = frame(spark, 2, 1)
    conf_secret, env_secret = "conf-secret-7d1e", "env-secret-93ab"
    spark.conf.set(DEFAULT_API_KEY_CONF, conf_secret)
    monkeypatch.setenv("COMPOSO_API_KEY", env_secret)  # on the driver: never read there
    shipped: list[bytes] = []
    prepare = pyspark.core.rdd._prepare_for_python_RDD

    def capture(sc: Any, command: Any) -> Any:
        prepared = prepare(sc, command)
        shipped.append(bytes(prepared[0]))
        return prepared

    monkeypatch.setattr(pyspark.core.rdd, "_prepare_for_python_RDD", capture)

    evaluate(df, server)

    (ours,) = [pickled for pickled in shipped if b"EvaluateTask" in pickled]
    assert b"composo._spark._task" in ours
    assert server.base_url.encode() in ours
    for pickled in shipped:
        assert conf_secret.encode() not in pickled
        assert env_secret.encode() not in pickled
        assert CONF_KEY.encode() not in pickled


def test_spark_redacts_the_default_conf_entry(spark: SparkSession) -> None:
    """Spark's default spark.redaction.regex hides the key in the UI and the event log."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    entries = jvm.java.util.ArrayList()
    entries.add(jvm.scala.Tuple2(DEFAULT_API_KEY_CONF, CONF_KEY))
    entries.add(jvm.scala.Tuple2("spark.composo.apiKey", CONF_KEY))
    entries.add(jvm.scala.Tuple2("spark.executorEnv.COMPOSO_API_KEY", CONF_KEY))
    pairs = jvm.scala.jdk.javaapi.CollectionConverters.asScala(entries).toSeq()

    shown = jvm.org.apache.spark.util.Utils.redact(spark.sparkContext._jsc.sc().conf(), pairs)

    assert shown.apply(0)._2() == "*********(redacted)"
    # Names Spark shows in clear (docs/spark.md says so of the executorEnv one).
    assert shown.apply(1)._2() == CONF_KEY
    assert shown.apply(2)._2() == CONF_KEY


def fail_first_attempt(batches: Iterator[Any]) -> Iterator[Any]:
    """Passes rows through, but attempt 0 of partition 1 fails after its first batch: by then
    evaluate_spark's task upstream has yielded (and been billed for) that batch."""
    from pyspark import TaskContext

    context = TaskContext.get()
    for batch in batches:
        yield batch
        if context is not None and context.partitionId() == 1 and context.attemptNumber() == 0:
            raise RuntimeError("injected failure: attempt 0 of partition 1")


def test_a_failed_task_is_retried_and_every_row_comes_back_once(
    spark: SparkSession, server: MockServer
) -> None:
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "10")
    progress = SparkProgress(spark)
    evaluated = evaluate(frame(spark, 120, 4), server, progress=progress)

    out = evaluated.mapInPandas(fail_first_attempt, evaluated.schema).collect()
    billed = server.counters.count(status=200)

    assert [row["id"] for row in out] == [f"c{i}" for i in range(120)]
    assert all(row["date_error"] is None and row["polite_error"] is None for row in out)
    assert [row["date_score"] for row in out] == expected(server, 120)["date"]
    # The failed attempt's counts were dropped with its rows...
    assert (progress.rows, progress.pairs, progress.failed) == (120, 240, 0)
    # ...but its requests were made: without the result cache, a retry re-scores its
    # partition (30 rows x 2 criteria) and what the failed attempt scored is billed twice.
    assert 240 < billed <= 240 + 60


def test_with_the_cache_a_retried_task_re_scores_nothing_it_scored(
    spark: SparkSession, server: MockServer, tmp_path: Path
) -> None:
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "10")
    cache = str(tmp_path / "shared-cache.sqlite3")
    evaluated = evaluate(frame(spark, 120, 4), server, cache=cache)

    out = evaluated.mapInPandas(fail_first_attempt, evaluated.schema).collect()
    billed = server.counters.count(status=200)

    assert [row["id"] for row in out] == [f"c{i}" for i in range(120)]
    assert [row["date_score"] for row in out] == expected(server, 120)["date"]
    # The failed attempt stored every pair it scored; the retry found them in the cache.
    assert billed == 240


def test_summarize_gives_the_table_composo_evaluate_prints(
    spark: SparkSession, server: MockServer
) -> None:
    out = evaluate(frame(spark, 40, 2), server).persist()
    try:
        summary = summarize(out, CRITERIA)
    finally:
        out.unpersist()
    billed = server.counters.count(status=200)

    want = expected(server, 40)
    assert summary["date"]["count"] == 40
    assert summary["date"]["failures"] == 0
    assert summary["date"]["mean"] == pytest.approx(sum(want["date"]) / 40)
    assert (summary["date"]["min"], summary["date"]["max"]) == (
        min(want["date"]),
        max(want["date"]),
    )
    assert summary["date"]["pass_rate"] is None
    assert summary["polite"]["pass_rate"] == pytest.approx(sum(want["polite"]) / 40)
    lines = str(summary).splitlines()
    assert lines[0].split() == [
        "criterion",
        "count",
        "mean",
        "min",
        "max",
        "failures",
        "pass",
        "rate",
    ]
    assert lines[2].split()[:2] == ["date", "40"]
    assert billed == 80  # evaluated once


def test_summarize_counts_failures_in_the_long_format(
    spark: SparkSession, server: MockServer
) -> None:
    df = spark.createDataFrame([("a", conversation(0)), ("b", None)], SCHEMA)
    out = evaluate(df, server, long=True).persist()
    try:
        summary = summarize(out, CRITERIA, long=True)
    finally:
        out.unpersist()

    assert summary["polite"]["count"] == 2
    assert summary["polite"]["failures"] == 1
    assert summary["polite"]["pass_rate"] in (0.0, 1.0)


def test_summarize_refuses_to_evaluate_again(spark: SparkSession, server: MockServer) -> None:
    out = evaluate(frame(spark, 2, 1), server)

    with pytest.raises(MalformedError, match="would evaluate every row again"):
        summarize(out, CRITERIA)
    with pytest.raises(MalformedError, match="pass the criteria"):
        summarize(frame(spark, 2, 1), CRITERIA)
    assert server.counters.total == 0


def test_watch_writes_the_counts_while_the_job_runs(
    spark: SparkSession, server: MockServer
) -> None:
    progress = SparkProgress(spark)
    stream = io.StringIO()

    with progress.watch(interval=0.2, stream=stream):
        evaluate(frame(spark, 20, 2), server, progress=progress).collect()

    last = stream.getvalue().splitlines()[-1]
    assert last.startswith(
        "composo: 20 rows, 40 pairs done, 0 failed, 0 rate-limited (429) answers"
    )
    assert repr(progress) == "SparkProgress(rows=20, pairs=40, failed=0, throttled=0)"
    with pytest.raises(MalformedError, match="interval must be a positive number"):  # noqa: SIM117
        with progress.watch(interval=0):
            pass


@pytest.mark.parametrize(
    ("columns", "kwargs", "message"),
    [
        ("id string, text string", {}, "has no column 'messages'"),
        ("id string, messages string, date_score double", {}, "already has column"),
        ("id string, messages string, Date_Score double", {}, "differ from the results' only"),
        ("id string, messages string", {"requests_per_second": 0}, "account's quota"),
        ("id string, messages string", {"max_concurrency": 1}, "fewer requests in flight"),
        ("id string, messages string", {"cache": "cache.sqlite"}, "must be an absolute path"),
        ("id string, messages string", {"api_key_conf": ""}, "names a Spark conf entry"),
        ("id string, messages string", {"base_url": "ftp://x"}, "http"),
        ("id string, messages string", {"model_core": " "}, "model_core is blank"),
        ("id string, messages string", {"progress": object()}, "SparkProgress"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_anything_runs(
    spark: SparkSession, server: MockServer, columns: str, kwargs: dict[str, Any], message: str
) -> None:
    df = spark.createDataFrame([], columns).repartition(4)

    with pytest.raises(MalformedError, match=message):
        evaluate(df, server, **kwargs)
    assert server.counters.total == 0


@pytest.mark.slow
def test_the_quota_is_shared_by_the_tasks_and_used(spark: SparkSession, server: MockServer) -> None:
    """4,000 rows x 2 criteria over 8 partitions against a 200/s quota with a burst of 20: the
    suite's proportionate version of the benchmark's 20,000 x 2 (scripts/bench-spark)."""
    quota, burst, rows = 200, 20, 4000
    server.configure(rate_limit=(burst, burst / quota))
    progress = SparkProgress(spark)

    out = evaluate(frame(spark, rows, 8), server, requests_per_second=quota, progress=progress)
    result = out.select("id", "date_error", "polite_error").collect()

    # Every (row, criterion) exactly once, none failed.
    assert sorted(row["id"] for row in result) == sorted(f"c{i}" for i in range(rows))
    assert all(row["date_error"] is None and row["polite_error"] is None for row in result)
    assert (progress.pairs, progress.failed) == (2 * rows, 0)
    counters = server.counters
    assert counters.count(status=200) == 2 * rows
    # Never over the quota by more than its burst in any one-second window (every window
    # starting at a tenth of a second), counting every request the tasks sent, 429s included.
    windows = counters.per_second()
    assert max(windows) <= quota + burst, max(windows)
    # At least 80% of the quota used, from the first answer to the last.
    span = len(windows) * TIMELINE_STEP
    assert 2 * rows / span >= 0.8 * quota, (2 * rows / span, counters.by_status)


def test_import_composo_spark_without_pyspark_names_the_extra() -> None:
    probe = (
        "import sys; sys.modules['pyspark'] = None\n"
        "try:\n    import composo.spark\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "composo.spark needs the spark extra: pip install 'composo[spark]'" in completed.stdout


@pytest.mark.slow
def test_the_docs_example_runs(tmp_path: Path) -> None:
    """docs/spark.md's example, as written, in a fresh interpreter (its own mock and session)."""
    docs = Path(__file__).resolve().parent.parent / "docs" / "spark.md"
    text = docs.read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    completed = subprocess.run(
        [sys.executable, "-W", "ignore::FutureWarning", str(script)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "pass rate" in completed.stdout
    # Persisted: evaluated once for three actions. (A loaded machine may draw a 429 or two,
    # which are waited out and sent again: only the successes are counted.)
    assert "\n800\n" in completed.stdout
