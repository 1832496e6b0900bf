"""Rows as batch items and results as columns (`composo/_frame_rows.py`), without a network."""

from __future__ import annotations

import math
from typing import Any

import pytest

from composo import BatchResult, EvaluationResponse, MalformedError
from composo._frame_kinds import CHUNK_ROWS, PandasTable
from composo._frame_rows import FramePlan, Inputs, check_criteria, is_missing, plain

np = pytest.importorskip("numpy", reason="needs numpy (comes with the pandas extra)")
pd = pytest.importorskip("pandas", reason="needs the pandas extra")

CRITERION = "Reward answers that give a delivery date"
TWO = [CRITERION, "Passes if the reply is polite"]


def conversation(i: int) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"Where is order {i}?"},
        {"role": "assistant", "content": f"Order {i} arrives tomorrow."},
    ]


def columns(**given: Any) -> Inputs:
    names = ("messages", "prompt", "response", "id", "system", "tools", "tags")
    return Inputs.check(**{name: given.get(name) for name in names})


def plan_for(frame: Any, criteria: Any = CRITERION, **given: Any) -> FramePlan:
    long = given.pop("long", False)
    return FramePlan(PandasTable(frame), criteria, columns(**given), long=long, cleaned=False)


def test_missing_cells_are_none_nan_and_pandas_na() -> None:
    assert is_missing(None)
    assert is_missing(math.nan)
    assert is_missing(np.float64("nan"))
    assert is_missing(pd.NA)
    assert is_missing(pd.NaT)
    assert not is_missing("")
    assert not is_missing(0.0)
    assert not is_missing([])


def test_numpy_arrays_of_dicts_become_lists_without_arrow_nulls() -> None:
    # What pandas gives for a list-of-structs column read from Parquet: arrays of dicts in
    # which every message has every field, None where it had none.
    cell = np.array(
        [
            {"role": "user", "content": "hi", "tool_calls": None},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": np.array([{"id": "t1", "name": "lookup"}], dtype=object),
            },
        ],
        dtype=object,
    )
    assert plain(cell, drop_nulls=False) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "name": "lookup"}]},
    ]


def test_plain_keeps_a_callers_own_none_and_converts_numpy_scalars() -> None:
    cell = [{"role": "assistant", "content": None, "n": np.int64(3), "ok": np.bool_(True)}]
    converted = plain(cell, drop_nulls=False)
    assert converted == [{"role": "assistant", "content": None, "n": 3, "ok": True}]
    assert type(converted[0]["n"]) is int
    assert type(converted[0]["ok"]) is bool
    assert plain(np.array([1.5, 2.5]), drop_nulls=False) == [1.5, 2.5]
    assert plain(("a", "b"), drop_nulls=False) == ["a", "b"]


@pytest.mark.parametrize(
    ("criteria", "prefixes", "labels"),
    [
        (CRITERION, [""], [CRITERION]),
        ([CRITERION], ["criterion_1"], [CRITERION]),
        (TWO, ["criterion_1", "criterion_2"], TWO),
        (tuple(TWO), ["criterion_1", "criterion_2"], TWO),
        ({"date": TWO[0], "polite": TWO[1]}, ["date", "polite"], ["date", "polite"]),
    ],
)
def test_criteria_name_their_result_columns(
    criteria: Any, prefixes: list[str], labels: list[str]
) -> None:
    texts, got_prefixes, got_labels = check_criteria(criteria)
    assert texts == (TWO if len(prefixes) == 2 else [CRITERION])
    assert got_prefixes == prefixes
    assert got_labels == labels


def test_wide_column_names_follow_the_criteria() -> None:
    frame = pd.DataFrame({"messages": [conversation(0)]})
    assert plan_for(frame).output_columns() == ["score", "explanation", "error"]
    assert plan_for(frame, TWO).output_columns() == [
        "criterion_1_score",
        "criterion_1_explanation",
        "criterion_1_error",
        "criterion_2_score",
        "criterion_2_explanation",
        "criterion_2_error",
    ]
    assert plan_for(frame, {"tone": TWO[1]}).output_columns() == [
        "tone_score",
        "tone_explanation",
        "tone_error",
    ]
    assert plan_for(frame, TWO, long=True).output_columns() == [
        "row",
        "criterion",
        "score",
        "explanation",
        "error",
    ]


@pytest.mark.parametrize(
    ("criteria", "match"),
    [
        ("Be nice", "must start with"),
        ([], "empty list"),
        ({"": CRITERION}, "dict keys"),
        ({3: CRITERION}, "dict keys"),
    ],
)
def test_bad_criteria_are_refused_before_anything_is_read(criteria: Any, match: str) -> None:
    with pytest.raises(MalformedError, match=match):
        plan_for(pd.DataFrame({"messages": [conversation(0)]}), criteria)


def test_unknown_and_taken_columns_are_refused() -> None:
    frame = pd.DataFrame({"messages": [conversation(0)], "score": [1.0]})
    with pytest.raises(MalformedError, match=r"no column 'convo'; its columns are 'messages'"):
        plan_for(frame, messages="convo")
    with pytest.raises(MalformedError, match=r"already has column\(s\) 'score'.*dict"):
        plan_for(frame)
    # A dict of criteria names the columns out of the way.
    assert plan_for(frame, {"date": CRITERION}).output_columns()[0] == "date_score"
    with pytest.raises(MalformedError, match="not both"):
        plan_for(frame, messages="messages", prompt="q")
    with pytest.raises(MalformedError, match="names a column"):
        plan_for(frame, system=3)
    with pytest.raises(MalformedError, match="long must be True or False"):
        plan_for(pd.DataFrame({"messages": [conversation(0)]}), long="yes")


def test_rows_become_batch_items_with_every_optional_part() -> None:
    frame = pd.DataFrame(
        {
            "messages": [conversation(0), conversation(1)],
            "sys": ["Be brief.", None],
            "tools": ['[{"name": "lookup", "input_schema": {}}]', None],
            "model": ["gpt-x", "gpt-y"],
            "version": [2, None],
            "key": [7.0, math.nan],
        }
    )
    plan = plan_for(frame, system="sys", tools="tools", tags=["model", "version"], id="key")
    first, second = list(plan.items())
    assert first == {
        "messages": conversation(0),
        "id": "7",
        "system": "Be brief.",
        "tools": [{"name": "lookup", "input_schema": {}}],
        "tags": {"model": "gpt-x", "version": 2},
    }
    # Empty optional cells send nothing rather than failing the row.
    assert second == {"messages": conversation(1), "id": None, "tags": {"model": "gpt-y"}}
    assert plan.skipped == 0


def test_prompt_and_response_columns_make_a_two_turn_conversation() -> None:
    frame = pd.DataFrame({"q": ["Where is it?"], "a": ["On its way."]})
    (item,) = plan_for(frame, prompt="q", response="a").items()
    assert item == {
        "messages": [{"role": "user", "content": "Where is it?"}],
        "result": "On its way.",
    }


def test_json_text_cells_are_parsed_as_csv_exports_store_them() -> None:
    text = '[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]'
    frame = pd.DataFrame({"messages": [text]})
    (item,) = plan_for(frame).items()
    assert item["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]


def test_malformed_rows_are_not_sent_and_get_their_error_for_every_criterion() -> None:
    frame = pd.DataFrame(
        {
            "messages": [
                conversation(0),
                None,
                "not json at all",
                conversation(3),
                np.array(conversation(4), dtype=object),  # not malformed: converted
            ]
        }
    )
    plan = plan_for(frame, TWO)
    items = list(plan.items())
    assert [item["messages"] for item in items] == [conversation(i) for i in (0, 3, 4)]
    assert plan.skipped == 4  # two rows, two criteria each
    for index in range(len(items)):
        for which, criterion in enumerate(TWO):
            plan.add(
                BatchResult(
                    index,
                    None,
                    criterion,
                    which,
                    EvaluationResponse(score=0.1 * index + which, explanation=f"e{index}"),
                )
            )
    out = plan.result()
    assert out["criterion_1_score"].tolist()[0] == 0.0
    assert math.isnan(out["criterion_1_score"].tolist()[1])
    assert out["criterion_2_score"].tolist()[3:] == [1.1, 1.2]
    errors = out["criterion_1_error"].tolist()
    assert errors[1] == "MalformedError: column 'messages' is empty in this row"
    assert errors[2].startswith("MalformedError: column 'messages' holds text that is not JSON")
    assert out["criterion_2_error"].tolist()[1:3] == errors[1:3]
    assert [is_missing(e) for e in errors] == [True, False, False, True, True]


def test_prompt_rows_need_text_in_both_columns() -> None:
    frame = pd.DataFrame({"q": ["Where?", None, 5], "a": [None, "Here.", "Here."]})
    plan = plan_for(frame, prompt="q", response="a")
    assert list(plan.items()) == []
    out = plan.result()
    assert out["error"].tolist() == [
        "MalformedError: column 'a' is empty in this row",
        "MalformedError: column 'q' is empty in this row",
        "MalformedError: column 'q' must hold text, got int",
    ]


def test_rows_are_read_a_chunk_at_a_time() -> None:
    frame = pd.DataFrame({"messages": [conversation(i) for i in range(3 * CHUNK_ROWS)]})
    table = PandasTable(frame)
    read: list[int] = []
    chunks = table.chunks

    def counting(names: list[str]) -> Any:
        for chunk in chunks(names):
            read.append(len(chunk[0]))
            yield chunk

    table.chunks = counting  # type: ignore[method-assign]
    plan = FramePlan(table, CRITERION, columns(), long=False, cleaned=False)
    items = plan.items()
    next(items)
    assert read == [CHUNK_ROWS]
    for _ in range(CHUNK_ROWS):
        next(items)
    assert read == [CHUNK_ROWS, CHUNK_ROWS]


def test_results_land_in_their_rows_whatever_order_they_arrive_in() -> None:
    frame = pd.DataFrame({"messages": [conversation(i) for i in range(50)]})
    plan = plan_for(frame, TWO, long=True)
    items = list(plan.items())
    pairs = [(i, w) for i in range(len(items)) for w in range(2)]
    for i, w in reversed(pairs):
        response = EvaluationResponse(score=i + w / 10, explanation="x")
        plan.add(BatchResult(i, None, TWO[w], w, response))
    out = plan.result()
    assert out["row"].tolist() == [i for i in range(50) for _ in range(2)]
    assert out["criterion"].tolist() == TWO * 50
    assert out["score"].tolist() == [i + w / 10 for i in range(50) for w in range(2)]
    assert out.index.tolist() == [i for i in range(50) for _ in range(2)]
