"""`evaluate_frame` / `aevaluate_frame` end to end: every kind of table, over real sockets
against the local mock server (`composo_mock`), whose scores are a hash of the criterion and
the conversation, so each row's expected score is what `evaluate_batch(...).collect()` gives."""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import composo
from composo import AsyncComposo, Composo, MalformedError, MockServer
from composo._batch import SyncBatch

pytestmark = pytest.mark.e2e

pd = pytest.importorskip("pandas", reason="needs the pandas extra: pip install 'composo[pandas]'")

CRITERION = "Reward answers that give a delivery date"
TWO = [CRITERION, "Passes if the reply is polite"]


def conversation(i: int) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"Where is order {i}?"},
        {"role": "assistant", "content": f"Order {i} arrives on day {i % 7}."},
    ]


def expected_scores(server: MockServer, count: int, criteria: list[str]) -> list[list[float]]:
    """Per criterion, each row's score as the batch API itself gives it, in input order."""
    with Composo(base_url=server.base_url, api_key="k") as client:
        items = ({"messages": conversation(i)} for i in range(count))
        results = client.evaluate_batch(items, criteria).collect()
    by_criterion: list[list[float]] = [[] for _ in criteria]
    for result in results:
        assert result.score is not None
        by_criterion[result.criterion_index].append(result.score)
    return by_criterion


@pytest.fixture
def client(composo_mock: MockServer) -> Iterator[Composo]:
    with Composo(base_url=composo_mock.base_url, api_key="k") as sync_client:
        yield sync_client


def messages_frame(count: int) -> Any:
    return pd.DataFrame(
        {"id": [f"c{i}" for i in range(count)], "messages": [conversation(i) for i in range(count)]}
    )


def test_pandas_message_lists_score_every_row_in_order(
    composo_mock: MockServer, client: Composo
) -> None:
    frame = messages_frame(40)
    out = composo.evaluate_frame(frame, CRITERION, client=client, progress=False)
    assert out["score"].tolist() == expected_scores(composo_mock, 40, [CRITERION])[0]
    assert out["error"].isna().all()
    assert out["explanation"].str.startswith("Synthetic result").all()
    assert list(out.columns) == ["id", "messages", "score", "explanation", "error"]
    assert out["messages"].tolist() == frame["messages"].tolist()
    # A new frame: the caller's is not changed.
    assert list(frame.columns) == ["id", "messages"]


def test_prompt_and_response_columns(composo_mock: MockServer, client: Composo) -> None:
    frame = pd.DataFrame(
        {
            "question": [conversation(i)[0]["content"] for i in range(10)],
            "answer": [conversation(i)[1]["content"] for i in range(10)],
        }
    )
    out = composo.evaluate_frame(
        frame, TWO, prompt="question", response="answer", client=client, progress=False
    )
    expected = expected_scores(composo_mock, 10, TWO)
    assert out["criterion_1_score"].tolist() == expected[0]
    assert out["criterion_2_score"].tolist() == expected[1]
    assert set(out["criterion_2_score"]) <= {0.0, 1.0}


def test_many_rows_keep_their_order_when_results_complete_out_of_order(
    composo_mock: MockServer,
) -> None:
    # The mock answers in a random 0-20 ms, so with 8 in flight results complete out of
    # order; the client below also shuffles them, so the test never relies on timing.
    composo_mock.configure(latency_range=(0.005, 0.02))

    class ShuffledBatch:
        def __init__(self, batch: SyncBatch) -> None:
            self._batch = batch
            self.progress = batch.progress

        def __enter__(self) -> ShuffledBatch:
            return self

        def __exit__(self, *exc: object) -> None:
            self._batch.close()

        def __iter__(self) -> Iterator[Any]:
            results = list(self._batch)
            random.Random(3).shuffle(results)
            return iter(results)

    class ShufflingComposo(Composo):
        def evaluate_batch(self, *args: Any, **kwargs: Any) -> Any:
            return ShuffledBatch(super().evaluate_batch(*args, **kwargs))

    frame = messages_frame(300)
    with ShufflingComposo(base_url=composo_mock.base_url, api_key="k") as shuffling:
        out = composo.evaluate_frame(frame, TWO, client=shuffling, concurrency=8, progress=False)
    composo_mock.configure(latency=0.0)
    expected = expected_scores(composo_mock, 300, TWO)
    assert out["criterion_1_score"].tolist() == expected[0]
    assert out["criterion_2_score"].tolist() == expected[1]
    assert out["id"].tolist() == [f"c{i}" for i in range(300)]


async def test_async_many_rows_keep_their_order(composo_mock: MockServer) -> None:
    composo_mock.configure(latency_range=(0.005, 0.02))
    frame = messages_frame(300)
    async with AsyncComposo(
        base_url=composo_mock.base_url, api_key="k", max_concurrent_requests=16
    ) as client:
        out = await composo.aevaluate_frame(
            frame, CRITERION, client=client, concurrency=16, progress=False
        )
    composo_mock.configure(latency=0.0)
    assert out["score"].tolist() == expected_scores(composo_mock, 300, [CRITERION])[0]
    assert composo_mock.counters.peak_in_flight > 1


def test_long_format_has_one_row_per_row_and_criterion(
    composo_mock: MockServer, client: Composo
) -> None:
    frame = messages_frame(5).set_index("id")
    named = {"date": TWO[0], "polite": TWO[1]}
    out = composo.evaluate_frame(frame, named, client=client, long=True, progress=False)
    expected = expected_scores(composo_mock, 5, TWO)
    assert len(out) == 10
    assert out.index.tolist() == [f"c{i}" for i in range(5) for _ in range(2)]
    assert out["row"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert out["criterion"].tolist() == ["date", "polite"] * 5
    assert out["score"].tolist() == [expected[w][i] for i in range(5) for w in range(2)]
    assert list(out.columns) == ["messages", "row", "criterion", "score", "explanation", "error"]
    # Back to one row per input row, one column per criterion.
    wide = out.pivot(index="row", columns="criterion", values="score")
    assert wide["polite"].tolist() == expected[1]


def test_malformed_rows_get_their_error_and_the_rest_are_scored(
    composo_mock: MockServer, client: Composo
) -> None:
    np = pytest.importorskip("numpy")
    cells: list[Any] = [conversation(i) for i in range(8)]
    cells[1] = None
    cells[2] = math.nan
    cells[3] = 42
    cells[4] = [{"role": "user", "content": "only one message"}]
    cells[5] = np.array(conversation(5), dtype=object)  # what Parquet gives: not malformed
    cells[6] = json.dumps(conversation(6))  # JSON text, as a CSV stores it: not malformed
    frame = pd.DataFrame({"messages": cells})
    out = composo.evaluate_frame(frame, TWO, client=client, progress=False)
    # Rows that cannot be scored are never sent: 4 good rows x 2 criteria.
    assert composo_mock.counters.by_status == {200: 8}
    expected = expected_scores(composo_mock, 8, TWO)
    for which in (1, 2):
        scores = out[f"criterion_{which}_score"].tolist()
        errors = out[f"criterion_{which}_error"].tolist()
        for row in (0, 5, 6, 7):
            assert scores[row] == expected[which - 1][row]
            assert not isinstance(errors[row], str)
        for row in (1, 2, 3, 4):
            assert math.isnan(scores[row])
            assert errors[row].startswith("MalformedError: ")
        assert "'messages' is empty" in errors[1]
        assert "'messages' is empty" in errors[2]
        assert "messages must be a list of dicts, got int" in errors[3]
        assert "at least 2 are needed" in errors[4]


def test_polars_frames(composo_mock: MockServer, client: Composo) -> None:
    pl = pytest.importorskip("polars", reason="needs the polars extra")
    frame = pl.DataFrame(
        {
            "messages": [conversation(i) for i in range(12)],
            "prompt": [conversation(i)[0]["content"] for i in range(12)],
            "response": [conversation(i)[1]["content"] for i in range(12)],
        }
    )
    expected = expected_scores(composo_mock, 12, TWO)
    out = composo.evaluate_frame(frame, TWO, client=client, progress=False)
    assert isinstance(out, pl.DataFrame)
    assert out["criterion_1_score"].to_list() == expected[0]
    assert out["criterion_2_score"].to_list() == expected[1]
    assert out["criterion_1_error"].null_count() == 12
    assert out.schema["criterion_1_score"] == pl.Float64
    by_text = composo.evaluate_frame(
        frame, CRITERION, prompt="prompt", response="response", client=client, progress=False
    )
    assert by_text["score"].to_list() == expected[0]
    long = composo.evaluate_frame(frame, TWO, client=client, long=True, progress=False)
    assert long["row"].to_list() == [i for i in range(12) for _ in range(2)]
    assert long["score"].to_list() == [expected[w][i] for i in range(12) for w in range(2)]


def test_polars_struct_nulls_are_absent_fields_not_none_values(
    composo_mock: MockServer, client: Composo
) -> None:
    pl = pytest.importorskip("polars", reason="needs the polars extra")
    # One message has `name`, so in Arrow every message has it (null elsewhere); the row
    # without one must score as its own messages do, not as messages with `"name": null`.
    cells = [
        [{"role": "user", "content": "Hi", "name": "ann"}, *conversation(0)[1:]],
        conversation(1),
    ]
    out = composo.evaluate_frame(
        pl.DataFrame({"messages": cells}), CRITERION, client=client, progress=False
    )
    with Composo(base_url=composo_mock.base_url, api_key="k") as direct:
        assert out["score"].to_list() == [
            direct.evaluate(cells[0], CRITERION).score,
            direct.evaluate(cells[1], CRITERION).score,
        ]


def test_huggingface_dataset(composo_mock: MockServer, client: Composo) -> None:
    datasets = pytest.importorskip("datasets", reason="needs the datasets extra")
    source = datasets.Dataset.from_dict(
        {"messages": [conversation(i) for i in range(30)], "label": [i % 2 for i in range(30)]}
    ).cast_column("label", datasets.ClassLabel(names=["bad", "good"]))
    # A view with an indices mapping, as shuffle/select/filter give, in a non-Python format.
    view = source.select(range(29, -1, -1)).with_format("numpy")
    out = composo.evaluate_frame(view, TWO, client=client, progress=False)
    expected = expected_scores(composo_mock, 30, TWO)
    assert isinstance(out, datasets.Dataset)
    assert out.num_rows == 30
    assert out["criterion_1_score"] == expected[0][::-1]
    assert out["criterion_2_score"] == expected[1][::-1]
    assert out["criterion_1_error"] == [None] * 30
    assert out.features["label"] == source.features["label"]  # features kept
    assert out.features["criterion_1_score"] == datasets.Value("float64")
    long = composo.evaluate_frame(view, CRITERION, client=client, long=True, progress=False)
    assert long.num_rows == 30
    assert long["score"] == expected[0][::-1]
    assert long["label"] == [i % 2 for i in range(29, -1, -1)]


def test_pyarrow_table(composo_mock: MockServer, client: Composo) -> None:
    pa = pytest.importorskip("pyarrow", reason="needs the arrow extra")
    table = pa.table({"messages": [conversation(i) for i in range(10)]})
    out = composo.evaluate_frame(table, CRITERION, client=client, progress=False)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["messages", "score", "explanation", "error"]
    assert out.column("score").to_pylist() == expected_scores(composo_mock, 10, [CRITERION])[0]
    assert out.column("error").null_count == 10


def test_parquet_path_returns_pandas(
    composo_mock: MockServer, client: Composo, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow", reason="needs the arrow extra")
    path = tmp_path / "conversations.parquet"
    frame = messages_frame(20)
    frame.loc[3, "messages"] = None
    frame.to_parquet(path)
    out = composo.evaluate_frame(path, CRITERION, client=client, progress=False)
    assert isinstance(out, pd.DataFrame)
    expected = expected_scores(composo_mock, 20, [CRITERION])[0]
    scores = out["score"].tolist()
    assert [s for i, s in enumerate(scores) if i != 3] == [
        s for i, s in enumerate(expected) if i != 3
    ]
    assert math.isnan(scores[3])
    assert out["error"].tolist()[3] == "MalformedError: column 'messages' is empty in this row"
    assert out["id"].tolist() == [f"c{i}" for i in range(20)]
    # A str path works as well as a Path.
    again = composo.evaluate_frame(str(path), CRITERION, client=client, progress=False)
    assert again["score"].tolist()[:3] == scores[:3]


def test_jsonl_path_keeps_unreadable_lines_as_rows_with_their_error(
    composo_mock: MockServer, client: Composo, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.jsonl"
    lines = [json.dumps({"id": f"c{i}", "messages": conversation(i)}) for i in range(6)]
    lines[2] = '{"id": "c2", "messages": [oops'
    lines[4] = "[1, 2]"
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")
    out = composo.evaluate_frame(path, CRITERION, client=client, progress=False)
    expected = expected_scores(composo_mock, 6, [CRITERION])[0]
    assert len(out) == 6  # the blank line is no row
    scores, errors = out["score"].tolist(), out["error"].tolist()
    for row in (0, 1, 3, 5):
        assert scores[row] == expected[row]
    assert errors[2].startswith("MalformedError: line 3 of conversations.jsonl is not valid JSON")
    assert (
        errors[4] == "MalformedError: line 6 of conversations.jsonl is a JSON list, not an object"
    )
    assert out["id"].tolist()[:2] == ["c0", "c1"]


def test_csv_path_with_json_message_cells(
    composo_mock: MockServer, client: Composo, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.csv"
    frame = pd.DataFrame({"messages": [json.dumps(conversation(i)) for i in range(5)]})
    frame.to_csv(path, index=False)
    out = composo.evaluate_frame(path, CRITERION, client=client, progress=False)
    assert out["score"].tolist() == expected_scores(composo_mock, 5, [CRITERION])[0]


def test_options_reach_every_request(composo_mock: MockServer, client: Composo) -> None:
    out = composo.evaluate_frame(
        messages_frame(3),
        {"date": CRITERION},
        client=client,
        explanation_cleaning="end_user",
        progress=False,
    )
    assert list(out.columns)[-4:] == [
        "date_score",
        "date_explanation",
        "date_error",
        "date_cleaned_explanation",
    ]
    assert out["date_cleaned_explanation"].notna().all()
    with pytest.raises(MalformedError, match="explanation_cleaning"):
        composo.evaluate_frame(
            messages_frame(3), CRITERION, client=client, explanation_cleaning="x", progress=False
        )
    assert composo_mock.counters.by_status == {200: 3}


def test_without_a_client_one_is_made_from_the_environment(
    composo_mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "env-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", composo_mock.base_url)
    out = composo.evaluate_frame(messages_frame(4), CRITERION, progress=False)
    assert out["score"].tolist() == expected_scores(composo_mock, 4, [CRITERION])[0]

    async def run() -> Any:
        return await composo.aevaluate_frame(
            messages_frame(4), CRITERION, concurrency=2, progress=False
        )

    assert asyncio.run(run())["score"].tolist() == out["score"].tolist()


async def test_sync_helper_and_client_work_inside_a_running_event_loop(
    composo_mock: MockServer,
) -> None:
    # As in a Jupyter cell: a loop is running in this thread, and sync code is called.
    asyncio.get_running_loop()
    with Composo(base_url=composo_mock.base_url, api_key="k") as sync_client:
        out = composo.evaluate_frame(messages_frame(6), TWO, client=sync_client, progress=False)
        single = sync_client.evaluate(conversation(0), TWO)
    assert [out["criterion_1_score"][0], out["criterion_2_score"][0]] == [r.score for r in single]


def test_the_wrong_kind_of_client_or_input_is_refused(composo_mock: MockServer) -> None:
    async def with_async_client() -> None:
        async with AsyncComposo(base_url=composo_mock.base_url, api_key="k") as client:
            with pytest.raises(MalformedError, match="aevaluate_frame"):
                composo.evaluate_frame(messages_frame(1), CRITERION, client=client)  # type: ignore[call-overload]
            with (
                Composo(base_url=composo_mock.base_url, api_key="k") as sync_client,
                pytest.raises(MalformedError, match="takes an AsyncComposo"),
            ):
                await composo.aevaluate_frame(messages_frame(1), CRITERION, client=sync_client)  # type: ignore[call-overload]

    asyncio.run(with_async_client())
    with pytest.raises(MalformedError, match=r"for a list of dicts, use client\.evaluate_batch"):
        composo.evaluate_frame([{"messages": conversation(0)}], CRITERION)  # type: ignore[call-overload]
    with pytest.raises(MalformedError, match=r"give a \.parquet, \.jsonl"):
        composo.evaluate_frame("conversations.xlsx", CRITERION)
    with pytest.raises(MalformedError, match="is not a file"):
        composo.evaluate_frame("missing.parquet", CRITERION)
    with pytest.raises(MalformedError, match="progress must be True, False or None"):
        composo.evaluate_frame(messages_frame(1), CRITERION, progress="yes")  # type: ignore[arg-type]
    assert composo_mock.counters.by_status == {}


def test_a_missing_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'composo\[pandas,arrow\]'"):
        composo.evaluate_frame(path, CRITERION)
    (tmp_path / "rows.jsonl").write_text("{}\n")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'composo\[pandas\]'"):
        composo.evaluate_frame(tmp_path / "rows.jsonl", CRITERION)


def test_progress_counts_every_pair_including_rows_never_sent(
    client: Composo, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.DataFrame({"messages": [conversation(0), None, conversation(2), conversation(3)]})
    composo.evaluate_frame(frame, TWO, client=client, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("composo: 8/8 done, 2 failed, ")
    composo.evaluate_frame(frame, TWO, client=client, progress=False)
    composo.evaluate_frame(frame, TWO, client=client)  # None: nobody watches a pipe
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "datasets"])
@pytest.mark.parametrize("long", [False, True])
def test_an_empty_table_gives_an_empty_result_with_the_result_columns(
    composo_mock: MockServer, client: Composo, kind: str, long: bool
) -> None:
    frame: Any = pd.DataFrame({"messages": pd.Series([], dtype=object)})
    if kind == "polars":
        pl = pytest.importorskip("polars", reason="needs the polars extra")
        frame = pl.DataFrame({"messages": []}, schema={"messages": pl.List(pl.String)})
    elif kind == "arrow":
        pa = pytest.importorskip("pyarrow", reason="needs the arrow extra")
        frame = pa.table({"messages": pa.array([], pa.list_(pa.string()))})
    elif kind == "datasets":
        datasets = pytest.importorskip("datasets", reason="needs the datasets extra")
        frame = datasets.Dataset.from_dict({"messages": []})
    out = composo.evaluate_frame(frame, TWO, client=client, long=long, progress=False)
    names = out.column_names if hasattr(out, "column_names") else list(out.columns)
    assert names[-3:] == (
        ["score", "explanation", "error"]
        if long
        else ["criterion_2_score", "criterion_2_explanation", "criterion_2_error"]
    )
    assert len(out) == 0
    assert composo_mock.counters.by_status == {}


def test_a_cache_given_to_the_helpers_answers_a_rerun_without_requests(
    composo_mock: MockServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "env-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", composo_mock.base_url)
    composo_mock.reset_counters()
    first = composo.evaluate_frame(messages_frame(6), TWO, progress=False, cache=tmp_path)
    assert composo_mock.counters.total == 12

    async def rerun() -> Any:
        return await composo.aevaluate_frame(messages_frame(6), TWO, progress=False, cache=tmp_path)

    again = asyncio.run(rerun())
    assert composo_mock.counters.total == 12
    assert again.equals(first)


def test_the_helpers_take_a_cache_or_a_client_not_both(client: Composo, tmp_path: Path) -> None:
    with pytest.raises(MalformedError, match="pass cache= or client=, not both"):
        composo.evaluate_frame(messages_frame(1), CRITERION, client=client, cache=tmp_path)
