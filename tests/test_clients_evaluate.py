"""`evaluate` on both clients: results, concurrency of several criteria, background calls,
`result=`, tags, and what goes on the wire."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import pytest
import respx
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from composo import ComposoError, EvaluationResponse, MalformedError
from composo_api.models import Source
from tests import _client_util
from tests._client_util import (
    CRITERION,
    MESSAGES,
    REWARD_BACKGROUND,
    Flavor,
    InFlight,
    bodies,
    body_of,
    criterion_of,
    ok,
    reward_route,
    score_json,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router

CRITERIA = [
    "Reward responses that state the refund window",
    "Penalize responses that invent policies",
    "Passes if the reply is polite",
]


async def test_string_criterion_returns_one_evaluation_response(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    reward_route(
        router,
        return_value=httpx.Response(
            200,
            json=score_json(1, "States 30 days.", sources=[{"id": "msg-1", "type": "message"}]),
        ),
    )
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert isinstance(result, EvaluationResponse)
    assert result.score == 1.0
    assert isinstance(result.score, float)
    assert result.explanation == "States 30 days."
    assert result.cleaned_explanation is None
    assert result.sources == [Source(id="msg-1", type_="message")]


async def test_missing_optional_fields_read_as_none(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    reward_route(router, return_value=httpx.Response(200, json=score_json(None, "Not applicable")))
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score is None
    assert result.cleaned_explanation is None
    assert result.sources is None


async def test_list_of_criteria_returns_results_in_criteria_order(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    # The first criterion is answered last: order must follow the input, not completion.
    scores = {CRITERIA[0]: 0.1, CRITERIA[1]: 0.5, CRITERIA[2]: 1.0}
    delays = {CRITERIA[0]: 0.06, CRITERIA[1]: 0.0, CRITERIA[2]: 0.03}
    effects = {
        criterion: flavor.delayed(delays[criterion], ok(scores[criterion]))
        for criterion in CRITERIA
    }
    route = reward_route(
        router, side_effect=lambda request: effects[criterion_of(request)](request)
    )
    client = flavor.client()
    results = await flavor.call(client.evaluate, MESSAGES, CRITERIA)
    assert isinstance(results, list)
    assert [result.score for result in results] == [0.1, 0.5, 1.0]
    assert sorted(body["evaluation_criteria"] for body in bodies(route)) == sorted(CRITERIA)


async def test_one_element_list_returns_a_list(flavor: Flavor, router: respx.MockRouter) -> None:
    route = reward_route(router)
    client = flavor.client()
    results = await flavor.call(client.evaluate, MESSAGES, [CRITERION])
    assert isinstance(results, list)
    assert len(results) == 1
    assert isinstance(results[0], EvaluationResponse)
    assert route.call_count == 1


async def test_tuple_of_criteria_returns_a_list(flavor: Flavor, router: respx.MockRouter) -> None:
    reward_route(router)
    client = flavor.client()
    results = await flavor.call(client.evaluate, MESSAGES, tuple(CRITERIA[:2]))
    assert [type(result) for result in results] == [EvaluationResponse, EvaluationResponse]


async def test_empty_criteria_list_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="empty") as caught:
        await flavor.call(client.evaluate, MESSAGES, [])
    assert isinstance(caught.value, ValueError)
    assert caught.value.status_code is None
    assert route.call_count == 0


async def test_each_criterion_is_one_request_and_they_run_concurrently(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    in_flight = InFlight()
    route = reward_route(router, side_effect=flavor.delayed(0.2, in_flight=in_flight))
    client = flavor.client()
    start = time.monotonic()
    results = await flavor.call(client.evaluate, MESSAGES, CRITERIA)
    elapsed = time.monotonic() - start
    assert len(results) == 3
    assert route.call_count == 3
    assert [body["evaluation_criteria"] for body in bodies(route)].count(CRITERIA[0]) == 1
    assert in_flight.max == 3
    assert elapsed < 0.35


async def test_block_false_posts_to_background_and_returns_the_task(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    blocking = reward_route(router)
    background = router.post(REWARD_BACKGROUND).respond(200, json={"task_id": "task-1"})
    client = flavor.client()
    task = await flavor.call(client.evaluate, MESSAGES, CRITERION, block=False)
    assert task == {"task_id": "task-1"}
    assert background.call_count == 1
    assert blocking.call_count == 0
    assert body_of(background.calls.last)["evaluation_criteria"] == CRITERION


async def test_block_false_with_a_list_returns_a_list_of_tasks(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"task_id": f"task-{criterion_of(request)[:6]}"})

    background = router.post(REWARD_BACKGROUND).mock(side_effect=answer)
    client = flavor.client()
    tasks = await flavor.call(client.evaluate, MESSAGES, CRITERIA[:2], block=False)
    assert tasks == [{"task_id": "task-Reward"}, {"task_id": "task-Penali"}]
    assert background.call_count == 2


async def test_background_answer_without_task_id_is_an_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    router.post(REWARD_BACKGROUND).respond(200, json={"status": "queued"})
    client = flavor.client()
    with pytest.raises(ComposoError, match="does not match the API description") as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION, block=False)
    assert caught.value.status_code == 200


def _chat_completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Within 30 days."},
                }
            ],
        }
    )


def _anthropic_message() -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet",
            "content": [{"type": "text", "text": "Within 30 days."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    )


@pytest.mark.parametrize(
    ("make_result", "expected_message"),
    [
        (lambda: "Within 30 days.", {"role": "assistant", "content": "Within 30 days."}),
        (
            lambda: {"role": "assistant", "content": "Within 30 days."},
            {"role": "assistant", "content": "Within 30 days."},
        ),
        (_chat_completion, {"role": "assistant", "content": "Within 30 days."}),
        (
            _anthropic_message,
            {"role": "assistant", "content": [{"type": "text", "text": "Within 30 days."}]},
        ),
    ],
    ids=["str", "dict", "openai-chat-completion", "anthropic-message"],
)
async def test_result_is_appended_once_to_every_request_and_messages_untouched(
    flavor: Flavor,
    router: respx.MockRouter,
    make_result: Any,
    expected_message: dict[str, Any],
) -> None:
    route = reward_route(router)
    client = flavor.client()
    prompt = [{"role": "user", "content": "How long do I have to return a jacket?"}]
    before = copy.deepcopy(prompt)
    await flavor.call(client.evaluate, prompt, CRITERIA, result=make_result())
    assert route.call_count == 3
    for body in bodies(route):
        assert body["messages"] == [*before, expected_message]
    assert prompt == before


async def test_result_on_repeated_calls_never_accumulates(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    for _ in range(3):
        await flavor.call(client.evaluate, MESSAGES, CRITERIA[:2], result="Thirty days.")
    assert {len(body["messages"]) for body in bodies(route)} == {len(MESSAGES) + 1}
    assert len(MESSAGES) == 2


async def test_result_of_an_unknown_type_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="result must be"):
        await flavor.call(client.evaluate, MESSAGES, CRITERION, result=42)
    assert route.call_count == 0


async def test_fewer_than_two_messages_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="at least 2"):
        await flavor.call(client.evaluate, MESSAGES[:1], CRITERION)
    assert route.call_count == 0


async def test_tag_values_are_converted_to_strings(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    tags = {"run": 3, "temperature": 0.5, "prod": True, "beta": False, "team": "support"}
    await flavor.call(client.evaluate, MESSAGES, CRITERION, tags=tags)
    assert body_of(route.calls.last)["tags"] == {
        "run": "3",
        "temperature": "0.5",
        "prod": "true",
        "beta": "false",
        "team": "support",
    }
    assert tags["run"] == 3


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({"owner": None}, "owner"),
        ({"meta": {"a": 1}}, "meta"),
        ({"ids": [1, 2]}, "ids"),
        ({"pair": (1, 2)}, "pair"),
        ({"set": {1}}, "set"),
        ({"ratio": float("nan")}, "ratio"),
        ({"ratio": float("inf")}, "ratio"),
        ({"long": "x" * 65}, "long"),
        ({"k" * 65: "v"}, "kkkk"),
        ({"": "v"}, "empty"),
    ],
)
async def test_bad_tags_are_refused_naming_the_key(
    flavor: Flavor, router: respx.MockRouter, tags: dict[Any, Any], named: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=named):
        await flavor.call(client.evaluate, MESSAGES, CRITERION, tags=tags)
    assert route.call_count == 0


async def test_tags_at_the_length_limit_are_sent(flavor: Flavor, router: respx.MockRouter) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, CRITERION, tags={"k" * 64: "v" * 64})
    assert body_of(route.calls.last)["tags"] == {"k" * 64: "v" * 64}


async def test_only_required_fields_are_sent_by_default(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert body_of(route.calls.last) == {"messages": MESSAGES, "evaluation_criteria": CRITERION}


async def test_every_set_field_is_sent_and_nothing_else(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    tools = [{"type": "function", "function": {"name": "lookup_policy", "parameters": {}}}]
    await flavor.call(
        client.evaluate,
        MESSAGES,
        CRITERION,
        system="You are a support agent.",
        tools=tools,
        tags={"team": "support"},
        evaluate_latest=False,
        explanation_cleaning="end_user",
        data_retention="none",
        model_core="align-20251111",
    )
    assert body_of(route.calls.last) == {
        "messages": MESSAGES,
        "evaluation_criteria": CRITERION,
        "system": "You are a support agent.",
        "tools": tools,
        "tags": {"team": "support"},
        "evaluate_latest": False,
        "explanation_cleaning": "end_user",
        "data_retention": "none",
        "model_core": "align-20251111",
    }


async def test_evaluate_latest_true_is_sent_when_given(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, CRITERION, evaluate_latest=True)
    assert body_of(route.calls.last)["evaluate_latest"] is True


@pytest.mark.parametrize(
    "criterion",
    [
        "passes if the reply is polite",
        "fails if the reply is rude",
        "Penalize made-up policies",
        "Reward " + "x" * (4096 - len("Reward ")),
    ],
)
async def test_accepted_criteria_are_sent_unchanged(
    flavor: Flavor, router: respx.MockRouter, criterion: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, criterion)
    assert body_of(route.calls.last)["evaluation_criteria"] == criterion


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ("Passes If the reply is polite", "must start with"),
        (" Reward polite replies", "must start with"),
        ("Score the reply", "must start with"),
        ("Reward " + "x" * (4097 - len("Reward ")), "4097 characters"),
        ("", "blank"),
        ("   ", "blank"),
        ([CRITERIA[0], "rate it"], r"criteria\[1\]"),
        (42, "string or a list"),
        ([CRITERIA[0], 7], r"criteria\[1\] must be a string"),
    ],
)
async def test_bad_criteria_are_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, criteria: Any, message: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=message):
        await flavor.call(client.evaluate, MESSAGES, criteria)
    assert route.call_count == 0


async def test_neither_criteria_nor_evaluator_name_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="evaluator_name"):
        await flavor.call(client.evaluate, MESSAGES)
    assert route.call_count == 0


async def test_both_criteria_and_evaluator_name_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="not both"):
        await flavor.call(client.evaluate, MESSAGES, CRITERION, evaluator_name="refund-check")
    assert route.call_count == 0


async def test_evaluator_name_string_sends_the_name_and_returns_one_result(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, evaluator_name="refund-check")
    assert isinstance(result, EvaluationResponse)
    assert body_of(route.calls.last) == {"messages": MESSAGES, "evaluator_name": "refund-check"}


async def test_evaluator_name_list_returns_a_list_in_order(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    scores = {"refund-check": 0.2, "tone-check": 0.9}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=score_json(scores[criterion_of(request)]))

    route = reward_route(router, side_effect=answer)
    client = flavor.client()
    results = await flavor.call(
        client.evaluate, MESSAGES, evaluator_name=["refund-check", "tone-check"]
    )
    assert [result.score for result in results] == [0.2, 0.9]
    assert all("evaluation_criteria" not in body for body in bodies(route))


@pytest.mark.parametrize("name", ["", "  ", "n" * 256])
async def test_bad_evaluator_name_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, name: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="evaluator_name"):
        await flavor.call(client.evaluate, MESSAGES, evaluator_name=name)
    assert route.call_count == 0


async def test_lightning_core_with_evaluate_latest_false_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="evaluate_latest=False"):
        await flavor.call(
            client.evaluate,
            MESSAGES,
            CRITERIA[2],
            model_core="align-lightning-20251127",
            evaluate_latest=False,
        )
    assert route.call_count == 0


async def test_client_lightning_core_with_evaluate_latest_false_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client(model_core="align-lightning-20251127")
    with pytest.raises(MalformedError, match="align-lightning-20251127"):
        await flavor.call(client.evaluate, MESSAGES, CRITERIA[2], evaluate_latest=False)
    assert route.call_count == 0


async def test_lightning_core_scoring_the_latest_turn_is_sent(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client(model_core="align-lightning-20251127")
    await flavor.call(client.evaluate, MESSAGES, CRITERIA[2])
    assert body_of(route.calls.last)["model_core"] == "align-lightning-20251127"


async def test_explanation_cleaning_end_user_returns_the_cleaned_explanation(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(
        router,
        return_value=httpx.Response(
            200, json=score_json(0.7, "Raw.", cleaned_explanation="Clear to a customer.")
        ),
    )
    client = flavor.client()
    result = await flavor.call(
        client.evaluate, MESSAGES, CRITERION, explanation_cleaning="end_user"
    )
    assert result.cleaned_explanation == "Clear to a customer."
    assert body_of(route.calls.last)["explanation_cleaning"] == "end_user"


@pytest.mark.parametrize("value", ["END_USER", "developer", 1])
async def test_unknown_explanation_cleaning_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, value: object
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="explanation_cleaning"):
        await flavor.call(client.evaluate, MESSAGES, CRITERION, explanation_cleaning=value)
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"system": 5}, "system"),
        ({"tools": "lookup"}, "tools"),
        ({"tools": ["lookup"]}, r"tools\[0\]"),
        ({"evaluate_latest": "yes"}, "evaluate_latest"),
        ({"data_retention": ""}, "data_retention"),
        ({"tags": ["team"]}, "tags"),
    ],
)
async def test_other_bad_arguments_are_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, kwargs: dict[str, Any], message: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=message):
        await flavor.call(client.evaluate, MESSAGES, CRITERION, **kwargs)
    assert route.call_count == 0


async def test_responses_api_input_replaces_messages(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(
        client.evaluate, input="Where is my parcel?", result="It arrives today.", criteria=CRITERION
    )
    assert body_of(route.calls.last)["messages"] == [
        {"role": "user", "content": "Where is my parcel?"},
        {"role": "assistant", "content": "It arrives today."},
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages": MESSAGES, "input": "hi"}, "not both"),
        ({}, "pass messages"),
    ],
)
async def test_messages_and_input_are_exclusive_and_one_is_needed(
    flavor: Flavor, router: respx.MockRouter, kwargs: dict[str, Any], message: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=message):
        await flavor.call(client.evaluate, criteria=CRITERION, **kwargs)
    assert route.call_count == 0
