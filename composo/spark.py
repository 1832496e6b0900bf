"""Evaluate a Spark DataFrame within one account quota.

    from composo.spark import SparkProgress, evaluate_spark, summarize

    progress = SparkProgress(spark)
    scored = evaluate_spark(
        df, {"refund": "Reward responses that state the refund window"},
        requests_per_second=50,  # the account's quota, for the whole job
        id="conversation_id", progress=progress,
    )
    scored.write.parquet("scored/")  # the action that runs it; write (or persist) once
    print(progress)
    print(summarize(spark.read.parquet("scored/"), {"refund": "..."}))

Each Spark task makes one client on its executor, reads the API key there (from the Spark conf
entry `spark.composo.secret.apiKey`, else `COMPOSO_API_KEY` in the executor's environment), and
paces its requests at its share of the quota. Needs the spark extra:
`pip install 'composo[spark]'` (PySpark, and the pandas and pyarrow that `mapInPandas` uses);
composo must be installed on the executors too.
"""

from __future__ import annotations

try:
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import pyspark.sql  # noqa: F401
except ImportError as exc:
    raise ImportError(
        f"composo.spark needs the spark extra: pip install 'composo[spark]' ({exc})"
    ) from exc

from composo._spark._job import DEFAULT_API_KEY_CONF, evaluate_spark
from composo._spark._progress import SparkProgress
from composo._spark._quota import TaskShare, split_quota
from composo._spark._summary import Summary, summarize

__all__ = [
    "DEFAULT_API_KEY_CONF",
    "SparkProgress",
    "Summary",
    "TaskShare",
    "evaluate_spark",
    "split_quota",
    "summarize",
]
