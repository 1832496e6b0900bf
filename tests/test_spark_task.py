"""What one Spark task runs (`composo._spark._task`), called directly on pandas batches, without
Spark, against the local mock server over loopback. The same function runs inside Spark in
tests/test_spark.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from composo import ComposoError, MockServer
from composo._spark._quota import TaskShare
from composo._spark._task import (
    ClientSettings,
    EvaluateTask,
    executor_api_key,
    make_client,
)

pd = pytest.importorskip("pandas", reason="needs the spark extra: pip install 'composo[spark]'")
pytest.importorskip("pyspark", reason="needs the spark extra: pip install 'composo[spark]'")

pytestmark = pytest.mark.e2e

KEY = "task-key"
TWO = {"date": "Reward answers that give a delivery date", "polite": "Passes if it is polite"}


def conversation(i: int) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"Where is order {i}?"},
        {"role": "assistant", "content": f"Order {i} arrives on day {i % 7}."},
    ]


def frame(start: int, count: int) -> Any:
    ids = range(start, start + count)
    return pd.DataFrame({"id": [f"c{i}" for i in ids], "messages": [conversation(i) for i in ids]})


def task(
    server: MockServer,
    *,
    long: bool = False,
    progress: Any = None,
    columns: tuple[str, ...] | None = None,
) -> EvaluateTask:
    if columns is None:
        fields = ("score", "explanation", "error")
        columns = (
            ("id", "messages", "row", "criterion", *fields)
            if long
            else ("id", "messages", *(f"{name}_{field}" for name in TWO for field in fields))
        )
    return EvaluateTask(
        criteria=TWO,
        inputs=_inputs(),
        long=long,
        cleaned=False,
        options={},
        share=TaskShare(tasks_at_once=1, requests_per_second=None, max_concurrent_requests=4),
        client=ClientSettings(
            api_key_conf=None, base_url=server.base_url, num_retries=1, timeout=30.0
        ),
        columns=columns,
        progress=progress,
    )


def _inputs() -> Any:
    from composo._frame_rows import Inputs

    return Inputs.check(
        messages=None, prompt=None, response=None, id="id", system=None, tools=None, tags=None
    )


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    monkeypatch.setenv("COMPOSO_API_KEY", KEY)
    with MockServer(api_keys={KEY}) as running:
        yield running


class Recorder:
    """A stand-in for SparkProgress: what the task added, batch by batch."""

    def __init__(self) -> None:
        self.batches: list[dict[str, int]] = []

    def add(self, **counts: int) -> None:
        self.batches.append(counts)


def test_each_batch_comes_back_in_order_before_the_next_is_read(server: MockServer) -> None:
    pulled: list[int] = []
    outputs: list[int] = []

    def batches() -> Iterator[Any]:
        for number, start in enumerate((0, 30, 60)):
            pulled.append(number)
            # Bounded memory: the previous batch was handed back before this one is read.
            assert len(outputs) == number
            yield frame(start, 30)

    for out in task(server)(batches()):
        outputs.append(len(out))
        got = out

    assert pulled == [0, 1, 2]
    assert outputs == [30, 30, 30]
    assert got["id"].tolist() == [f"c{i}" for i in range(60, 90)]
    assert got["date_error"].isna().all()
    assert got["polite_score"].isin([0.0, 1.0]).all()
    assert server.counters.by_status == {200: 180}


def test_a_malformed_row_gets_its_error_and_the_task_goes_on(server: MockServer) -> None:
    rows = frame(0, 4)
    rows.at[1, "messages"] = None
    rows.at[2, "messages"] = [{"role": "user", "content": "only one message"}]

    (out,) = task(server)(iter([rows]))

    assert out["date_error"].isna().tolist() == [True, False, False, True]
    assert out.at[1, "polite_error"] == "MalformedError: column 'messages' is empty in this row"
    assert out.at[2, "date_error"].startswith("MalformedError: ")
    assert out["date_score"].notna().tolist() == [True, False, False, True]
    # Neither malformed row is sent: rows 0 and 3 are, once per criterion.
    assert server.counters.count(status=200) == 4


def test_service_errors_are_row_errors_not_task_failures(server: MockServer) -> None:
    server.configure(api_keys={"another-key"})
    recorder = Recorder()

    (out,) = task(server, progress=recorder)(iter([frame(0, 3)]))

    assert out["date_error"].str.startswith("AuthenticationError: ").all()
    assert out["polite_score"].isna().all()
    assert recorder.batches == [{"rows": 3, "pairs": 6, "failed": 6, "throttled": 0}]


def test_long_rows_are_numbered_across_batches(server: MockServer) -> None:
    out = pd.concat(list(task(server, long=True)(iter([frame(0, 3), frame(3, 2)]))))

    # Outside Spark the partition is 0, so the number is the row's place in the partition.
    assert out["row"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert out["criterion"].tolist() == ["date", "polite"] * 5
    assert out["id"].tolist() == [f"c{i}" for i in range(5) for _ in range(2)]
    assert out["error"].isna().all()
    assert list(out.columns) == [
        "id",
        "messages",
        "row",
        "criterion",
        "score",
        "explanation",
        "error",
    ]


def test_progress_is_added_batch_by_batch(server: MockServer) -> None:
    server.configure(rate_limit=(1, 0.05))
    recorder = Recorder()
    rows = frame(0, 5)
    rows.at[0, "messages"] = "not JSON"

    list(task(server, progress=recorder)(iter([rows, frame(5, 2)])))

    assert [b["rows"] for b in recorder.batches] == [5, 2]
    assert [b["pairs"] for b in recorder.batches] == [10, 4]
    assert [b["failed"] for b in recorder.batches] == [2, 0]
    # 429s are waited out and sent again: counted, never a failure.
    assert sum(b["throttled"] for b in recorder.batches) == server.counters.count(status=429)


class Context:
    """A stand-in for pyspark's TaskContext: the local properties of a task."""

    def __init__(self, properties: dict[str, str]) -> None:
        self.properties = properties

    def getLocalProperty(self, key: str) -> str | None:
        return self.properties.get(key)


CONF = "spark.composo.secret.apiKey"


@pytest.mark.parametrize(
    ("conf_name", "properties", "env", "expected"),
    [
        (CONF, {CONF: "from-conf"}, "from-env", "from-conf"),  # the conf entry wins
        (CONF, {}, "from-env", None),  # None: the client reads COMPOSO_API_KEY
        (CONF, {CONF: ""}, "from-env", None),
        (None, {CONF: "from-conf"}, "from-env", None),  # api_key_conf=None: environment only
    ],
)
def test_executor_api_key_prefers_the_conf_entry(
    monkeypatch: pytest.MonkeyPatch,
    conf_name: str | None,
    properties: dict[str, str],
    env: str,
    expected: str | None,
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", env)
    assert executor_api_key(conf_name, Context(properties)) == expected  # type: ignore[arg-type]


def test_no_key_on_the_executor_fails_the_task_saying_where_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COMPOSO_API_KEY", raising=False)
    with pytest.raises(ComposoError) as caught:
        executor_api_key(CONF, Context({}))  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"the Spark conf entry {CONF!r}" in message
    assert "spark.executorEnv.COMPOSO_API_KEY" in message


def test_the_task_client_is_paced_at_its_share(server: MockServer) -> None:
    share = TaskShare(tasks_at_once=4, requests_per_second=12.5, max_concurrent_requests=3)
    settings = ClientSettings(api_key_conf=None, base_url=server.base_url, num_retries=2, timeout=9)

    with make_client(settings, share, None) as client:
        assert client.rate_limiter.requests_per_second == 12.5
        assert client.rate_limiter.rate == 12.5  # pacing from the first request
        assert client.max_concurrent_requests == 3
        assert (client.num_retries, client.timeout) == (2, 9.0)


def test_the_cache_path_reaches_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict[str, Any]] = []

    class FakeComposo:
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)

    monkeypatch.setattr("composo._sync_client.Composo", FakeComposo)
    share = TaskShare(tasks_at_once=1, requests_per_second=None, max_concurrent_requests=1)
    for cache in (None, "/shared/composo-cache.sqlite"):
        settings = ClientSettings(None, "http://127.0.0.1:9", 1, 5.0, cache=cache)
        make_client(settings, share, "k")

    assert made[0]["cache"] is None
    assert made[1]["cache"] == "/shared/composo-cache.sqlite"
