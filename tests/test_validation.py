"""Tests for composo._validation: bad input is refused locally with a message saying what to do."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from composo._exceptions import MalformedError
from composo._validation import (
    build_messages,
    check_exactly_one,
    check_model_core,
    convert_tags,
    is_binary_criterion,
    is_lightning_core,
    normalize_criteria,
    normalize_evaluator_names,
)

USER = {"role": "user", "content": "What is 2 + 2?"}
ASSISTANT = {"role": "assistant", "content": "4"}


def _refused(match: str) -> Any:
    """Expect a client-side MalformedError (no status code) whose message contains `match`."""
    return pytest.raises(MalformedError, match=match)


# --- criteria -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("Reward helpful answers", (["Reward helpful answers"], True)),
        ("Penalize rudeness", (["Penalize rudeness"], True)),
        ("Passes if the answer is 4", (["Passes if the answer is 4"], True)),
        ("Fails if the answer is wrong", (["Fails if the answer is wrong"], True)),
        ("reward helpful answers", (["reward helpful answers"], True)),
        ("passes if x", (["passes if x"], True)),
        ("penalize x", (["penalize x"], True)),
        (["Reward a"], (["Reward a"], False)),
        (("Reward a", "fails if b"), (["Reward a", "fails if b"], False)),
        ("Reward " + "x" * 4089, (["Reward " + "x" * 4089], True)),
    ],
)
def test_normalize_criteria_accepts_server_valid_criteria(
    criteria: object, expected: tuple[list[str], bool]
) -> None:
    assert normalize_criteria(criteria) == expected


def test_normalize_criteria_returns_a_new_list() -> None:
    given = ["Reward a", "Reward b"]
    items, single = normalize_criteria(given)
    assert items == given
    assert items is not given
    assert single is False


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "criteria is an empty list"),
        (None, "criteria must be a string or a list of strings, got NoneType"),
        (42, "got int"),
        ({"Reward a"}, "got set"),
        (["Reward a", 3], r"criteria\[1\] must be a string, got int"),
        ("", "criteria is blank"),
        ("   ", "criteria is blank"),
        (["Reward a", "\n"], r"criteria\[1\] is blank"),
        ("Reward " + "x" * 4090, "criteria has 4097 characters; the limit is 4096"),
        ("Passes If x", "must start with one of 'Reward', 'Penalize', 'Passes if', 'Fails if'"),
        (" Reward x", "got ' Reward x'"),
        ("REWARD x", "'REWARD x'"),
        ("Rewards x", None),
        ("Score the answer", "'Score the answer'"),
        (["Reward a", "fails If b"], r"criteria\[1\] must start with"),
    ],
)
def test_normalize_criteria_refuses_what_the_server_would_refuse(
    criteria: object, message: str | None
) -> None:
    if message is None:
        # "Rewards x" starts with "Reward", so the server accepts it too.
        assert normalize_criteria(criteria) == (["Rewards x"], True)
        return
    with _refused(message) as info:
        normalize_criteria(criteria)
    assert info.value.status_code is None


def test_bad_prefix_message_quotes_only_the_start_of_a_long_criterion() -> None:
    criterion = "Please reward " + "very " * 200
    with _refused("only the first letter may be lower case") as info:
        normalize_criteria(criterion)
    assert "'Please reward very very very very very v'..." in str(info.value)
    assert len(str(info.value)) < 250


@pytest.mark.parametrize(
    ("criterion", "binary"),
    [
        ("Passes if x", True),
        ("passes if x", True),
        ("Fails if x", True),
        ("fails if x", True),
        ("Reward x", False),
        ("Penalize x", False),
        ("Passes If x", False),
        ("", False),
    ],
)
def test_is_binary_criterion_follows_the_prefix_rule(criterion: str, binary: bool) -> None:
    assert is_binary_criterion(criterion) is binary


# --- evaluator names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-evaluator", (["my-evaluator"], True)),
        (["a", "b"], (["a", "b"], False)),
        (("x" * 255,), (["x" * 255], False)),
    ],
)
def test_normalize_evaluator_names_accepts_names(
    value: object, expected: tuple[list[str], bool]
) -> None:
    assert normalize_evaluator_names(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "evaluator_name is an empty list"),
        (7, "evaluator_name must be a string or a list of strings, got int"),
        ("", "evaluator_name is blank"),
        (["ok", " "], r"evaluator_name\[1\] is blank"),
        (["ok", None], r"evaluator_name\[1\] must be a string, got NoneType"),
        ("x" * 256, "evaluator_name has 256 characters; the limit is 255"),
    ],
)
def test_normalize_evaluator_names_refuses_bad_names(value: object, message: str) -> None:
    with _refused(message):
        normalize_evaluator_names(value)


# --- exactly one of criteria / evaluator_name ---------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "evaluator_name"), [("Reward x", None), (None, "saved"), ([], None)]
)
def test_check_exactly_one_accepts_one_of_the_two(criteria: object, evaluator_name: object) -> None:
    check_exactly_one(criteria, evaluator_name)


@pytest.mark.parametrize(
    ("criteria", "evaluator_name", "message"),
    [
        (None, None, "pass criteria .* or the evaluator_name of a saved evaluator"),
        ("Reward x", "saved", "pass either criteria or evaluator_name, not both"),
    ],
)
def test_check_exactly_one_refuses_none_or_both(
    criteria: object, evaluator_name: object, message: str
) -> None:
    with _refused(message):
        check_exactly_one(criteria, evaluator_name)


# --- tags ---------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


# Mixed-in enums whose str() is "Level.HIGH" / "Stage.PROD": the tag must hold the value.
class Level(int, enum.Enum):
    HIGH = 3


class Stage(str, enum.Enum):  # noqa: UP042
    PROD = "prod"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (None, None),
        ({}, {}),
        ({"env": "prod"}, {"env": "prod"}),
        ({"empty": ""}, {"empty": ""}),
        ({"n": 3}, {"n": "3"}),
        ({"n": -12}, {"n": "-12"}),
        ({"f": 0.1}, {"f": "0.1"}),
        ({"f": 2.0}, {"f": "2.0"}),
        ({"f": 1e20}, {"f": "1e+20"}),
        ({"b": True, "c": False}, {"b": "true", "c": "false"}),
        ({"level": Level.HIGH}, {"level": "3"}),
        ({"stage": Stage.PROD}, {"stage": "prod"}),
        ({"k" * 64: "v" * 64}, {"k" * 64: "v" * 64}),
    ],
)
def test_convert_tags_turns_scalars_into_strings(
    tags: dict[str, object] | None, expected: dict[str, str] | None
) -> None:
    assert convert_tags(tags) == expected


def test_convert_tags_returns_a_new_dict_and_leaves_the_callers_alone() -> None:
    tags: dict[str, object] = {"n": 1}
    converted = convert_tags(tags)
    assert converted == {"n": "1"}
    assert converted is not tags
    assert tags == {"n": 1}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["env", "prod"], "tags must be a mapping of str to str, got list"),
        ("env=prod", "got str"),
        ({1: "x"}, "tag key 1 must be a string, got int"),
        ({"": "x"}, "tag keys must not be empty"),
        ({"k" * 65: "x"}, "has 65 characters; the limit is 64"),
        ({"env": None}, r"tags\['env'\] is a NoneType; tag values must be str, int, float or bool"),
        ({"env": {"a": 1}}, r"tags\['env'\] is a dict"),
        ({"env": ["a"]}, r"tags\['env'\] is a list"),
        ({"env": ("a",)}, r"tags\['env'\] is a tuple"),
        ({"env": {"a"}}, r"tags\['env'\] is a set"),
        ({"env": b"prod"}, r"tags\['env'\] is a bytes"),
        ({"env": Colour.RED}, r"tags\['env'\] is a Colour"),
        ({"x": float("nan")}, r"tags\['x'\] is nan; tag numbers must be finite"),
        ({"x": float("inf")}, r"tags\['x'\] is inf"),
        ({"x": float("-inf")}, r"tags\['x'\] is -inf"),
        ({"env": "v" * 65}, r"tags\['env'\] has 65 characters; the limit is 64"),
        ({"n": 10**70}, r"tags\['n'\] has 71 characters"),
    ],
)
def test_convert_tags_refuses_what_the_server_cannot_store(tags: Any, message: str) -> None:
    with _refused(message):
        convert_tags(tags)


# --- messages -----------------------------------------------------------------------------


def test_build_messages_appends_the_result_once_without_mutating_the_callers_list() -> None:
    messages = [USER]
    result = {"role": "assistant", "content": "4"}
    first = build_messages(messages, result)
    second = build_messages(messages, result)
    assert first == second == [USER, result]
    assert messages == [USER]
    assert first is not messages


def test_build_messages_without_result_returns_a_copy() -> None:
    messages = [USER, ASSISTANT]
    built = build_messages(messages, None)
    assert built == messages
    assert built is not messages
    built.append(USER)
    assert messages == [USER, ASSISTANT]


def test_build_messages_accepts_a_tuple() -> None:
    assert build_messages((USER, ASSISTANT), None) == [USER, ASSISTANT]


@pytest.mark.parametrize(
    ("messages", "result", "message"),
    [
        ("hello", None, "messages must be a list of dicts, got str"),
        ({"role": "user"}, None, "messages must be a list of dicts, got dict"),
        ([USER, "hi"], None, r"messages\[1\] must be a dict, got str"),
        ([], None, r"messages holds 0 message\(s\) and no result; at least 2"),
        ([USER], None, r"holds 1 message\(s\) and no result.*result= can supply"),
        ([], ASSISTANT, r"holds 1 message\(s\) with the result"),
    ],
)
def test_build_messages_refuses_bad_conversations(
    messages: object, result: dict[str, Any] | None, message: str
) -> None:
    with _refused(message):
        build_messages(messages, result)


# --- model core ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("core", "lightning"),
    [
        ("align-lightning-20251127", True),
        ("align-lightning-20250731", True),
        ("align-20251111", False),
        ("align-20260109", False),
        ("lightning", False),
    ],
)
def test_is_lightning_core_uses_the_name_prefix(core: str, lightning: bool) -> None:
    assert is_lightning_core(core) is lightning


@pytest.mark.parametrize(
    ("core", "for_trace", "evaluate_latest"),
    [
        ("align-20251111", False, None),
        ("align-20251111", True, False),
        ("align-29991231", False, None),  # unknown cores must work without an SDK release
        ("some-future-core", True, None),
        ("align-lightning-20251127", False, None),
        ("align-lightning-20251127", False, True),
    ],
)
def test_check_model_core_accepts_any_usable_core(
    core: str, for_trace: bool, evaluate_latest: bool | None
) -> None:
    assert check_model_core(core, for_trace=for_trace, evaluate_latest=evaluate_latest) == core


@pytest.mark.parametrize(
    ("core", "for_trace", "evaluate_latest", "message"),
    [
        (None, False, None, "model_core must be a string, got NoneType"),
        (20251111, False, None, "got int"),
        ("", False, None, "model_core is blank"),
        ("  ", False, None, "model_core is blank"),
        (
            "align-lightning-20251127",
            True,
            None,
            "model_core 'align-lightning-20251127' cannot evaluate traces; use an align core",
        ),
        (
            "align-lightning-20250731",
            False,
            False,
            r"'align-lightning-20250731' cannot score every turn \(evaluate_latest=False\)",
        ),
    ],
)
def test_check_model_core_refuses_unusable_cores(
    core: object, for_trace: bool, evaluate_latest: bool | None, message: str
) -> None:
    with _refused(message):
        check_model_core(core, for_trace=for_trace, evaluate_latest=evaluate_latest)


@pytest.mark.parametrize(
    ("core", "criteria", "refused"),
    [
        ("align-lightning-20251127", ["Passes if polite"], False),
        ("align-lightning-20251127", ["passes if polite", "Fails if rude"], False),
        ("align-lightning-20251127", ["Passes if polite", "Reward warmth"], True),
        ("align-lightning-20250731", ["Reward warmth"], False),
        ("align-20251111", ["Reward warmth"], False),
    ],
)
def test_binary_only_core_refuses_graded_criteria(
    core: str, criteria: list[str], refused: bool
) -> None:
    from composo._validation import check_core_takes_criteria

    if refused:
        with pytest.raises(MalformedError, match="only binary criteria"):
            check_core_takes_criteria(core, criteria)
    else:
        check_core_takes_criteria(core, criteria)
