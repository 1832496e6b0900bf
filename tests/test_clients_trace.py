"""`evaluate_trace` on both clients: dict and model traces, results by agent name, background
calls, and the rules checked before anything is sent."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import respx

from composo import (
    AgentInstance,
    EvaluationResponse,
    LLMInput,
    LLMInteraction,
    LLMOutput,
    MalformedError,
    MultiAgentTrace,
    MultiAgentTraceResponse,
)
from composo_api.models import MultiAgentTraceAgentInstanceById
from tests import _client_util
from tests._client_util import (
    TRACE,
    TRACE_BACKGROUND,
    Flavor,
    bodies,
    body_of,
    criterion_of,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router

CRITERION = "Reward agents that break the task into clear steps"

TRACE_DICT: dict[str, Any] = {
    "root_agent_instance_id": "planner-1",
    "agent_instance_by_id": {
        "planner-1": {
            "id": "planner-1",
            "name": "planner",
            "interactions": [
                {
                    "input_messages": [{"role": "user", "content": "Book a trip to Rome"}],
                    "output_messages": [{"content": "1. flights 2. hotel"}],
                },
                "searcher-1",
            ],
        },
        "searcher-1": {
            "id": "searcher-1",
            "name": "searcher",
            "interactions": [
                {
                    "input_messages": [{"role": "user", "content": "Find flights"}],
                    "output_messages": [{"content": "FCO 9:00"}],
                }
            ],
        },
    },
}


def _trace_model() -> MultiAgentTrace:
    instances = MultiAgentTraceAgentInstanceById()
    instances["planner-1"] = AgentInstance(
        id="planner-1",
        name="planner",
        interactions=[
            LLMInteraction(
                input_messages=[LLMInput(role="user", content="Book a trip to Rome")],
                output_messages=[LLMOutput(content="1. flights 2. hotel")],
            ),
            "searcher-1",
        ],
    )
    instances["searcher-1"] = AgentInstance(
        id="searcher-1",
        name="searcher",
        interactions=[
            LLMInteraction(
                input_messages=[LLMInput(role="user", content="Find flights")],
                output_messages=[LLMOutput(content="FCO 9:00")],
            )
        ],
    )
    return MultiAgentTrace(root_agent_instance_id="planner-1", agent_instance_by_id=instances)


def _trace_answer(planner_score: float = 0.9) -> dict[str, Any]:
    return {
        "request_id": "trace-123",
        "results_by_agent_name": {
            "planner": {
                "agent_name": "planner",
                "results_by_agent_instance_id": {
                    "planner-1": {"score": planner_score, "explanation": "Clear plan."}
                },
                "summary_statistics": {
                    "median": planner_score,
                    "min": planner_score,
                    "max": planner_score,
                    "std": 0.0,
                },
            },
            "searcher": {
                "agent_name": "searcher",
                "results_by_agent_instance_id": {"searcher-1": None},
                "summary_statistics": None,
            },
        },
    }


def _trace_route(router: respx.MockRouter) -> respx.Route:
    return router.post(TRACE).respond(200, json=_trace_answer())


@pytest.mark.parametrize("make_trace", [lambda: TRACE_DICT, _trace_model], ids=["dict", "models"])
async def test_trace_is_sent_whole_with_only_set_fields(
    flavor: Flavor, router: respx.MockRouter, make_trace: Any
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    before = copy.deepcopy(TRACE_DICT)
    response = await flavor.call(client.evaluate_trace, make_trace(), CRITERION)
    assert isinstance(response, MultiAgentTraceResponse)
    assert body_of(route.calls.last) == {"trace": TRACE_DICT, "evaluation_criteria": CRITERION}
    assert before == TRACE_DICT


async def test_results_are_readable_by_agent_name(flavor: Flavor, router: respx.MockRouter) -> None:
    _trace_route(router)
    client = flavor.client()
    response = await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    assert response.request_id == "trace-123"
    planner = response.results_by_agent_name["planner"]
    assert planner.agent_name == "planner"
    assert planner.results_by_agent_instance_id["planner-1"].score == 0.9
    assert planner.results_by_agent_instance_id["planner-1"].explanation == "Clear plan."
    assert planner.summary_statistics.median == 0.9
    searcher = response.results_by_agent_name["searcher"]
    assert searcher.results_by_agent_instance_id["searcher-1"] is None
    assert searcher.summary_statistics is None


async def test_instance_results_are_evaluation_responses_like_evaluate_returns(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    _trace_route(router)
    client = flavor.client()
    response = await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    result = response.results_by_agent_name["planner"].results_by_agent_instance_id["planner-1"]
    assert isinstance(result, EvaluationResponse)
    assert result.cleaned_explanation is None
    assert result.sources is None


async def test_list_of_criteria_returns_one_trace_response_each_in_order(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    criteria = [CRITERION, "Passes if every agent finishes its task", "Penalize loops"]
    scores = dict(zip(criteria, [0.1, 1.0, 0.4], strict=True))

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_trace_answer(scores[criterion_of(request)]))

    route = router.post(TRACE).mock(side_effect=answer)
    client = flavor.client()
    responses = await flavor.call(client.evaluate_trace, TRACE_DICT, criteria)
    planner_scores = [
        response.results_by_agent_name["planner"].results_by_agent_instance_id["planner-1"].score
        for response in responses
    ]
    assert planner_scores == [0.1, 1.0, 0.4]
    assert route.call_count == 3
    assert sorted(body["evaluation_criteria"] for body in bodies(route)) == sorted(criteria)


async def test_one_element_list_returns_a_list(flavor: Flavor, router: respx.MockRouter) -> None:
    _trace_route(router)
    client = flavor.client()
    responses = await flavor.call(client.evaluate_trace, TRACE_DICT, [CRITERION])
    assert isinstance(responses, list)
    assert len(responses) == 1


async def test_evaluator_name_is_sent_instead_of_criteria(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate_trace, TRACE_DICT, evaluator_name="planning-quality")
    assert body_of(route.calls.last) == {"trace": TRACE_DICT, "evaluator_name": "planning-quality"}


async def test_block_false_posts_to_trace_background(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    blocking = _trace_route(router)
    background = router.post(TRACE_BACKGROUND).respond(200, json={"task_id": "task-9"})
    client = flavor.client()
    task = await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, block=False)
    tasks = await flavor.call(client.evaluate_trace, TRACE_DICT, [CRITERION], block=False)
    assert task == {"task_id": "task-9"}
    assert tasks == [{"task_id": "task-9"}]
    assert background.call_count == 2
    assert blocking.call_count == 0


async def test_tags_are_converted_for_traces(flavor: Flavor, router: respx.MockRouter) -> None:
    route = _trace_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, tags={"run": 7, "ok": True})
    assert body_of(route.calls.last)["tags"] == {"run": "7", "ok": "true"}


async def test_lightning_core_on_the_client_is_refused_for_traces(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client(model_core="align-lightning-20251127")
    with pytest.raises(MalformedError, match="cannot evaluate traces"):
        await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    assert route.call_count == 0


async def test_lightning_core_per_call_is_refused_for_traces(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="cannot evaluate traces"):
        await flavor.call(
            client.evaluate_trace, TRACE_DICT, CRITERION, model_core="align-lightning-20250731"
        )
    assert route.call_count == 0


async def test_per_call_model_core_overrides_the_client_one(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client(model_core="align-20250529")
    await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, model_core="align-20260109")
    await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    assert [body["model_core"] for body in bodies(route)] == ["align-20260109", "align-20250529"]


async def test_per_call_align_core_rescues_a_lightning_client(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client(model_core="align-lightning-20251127")
    await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, model_core="align-20251111")
    assert body_of(route.calls.last)["model_core"] == "align-20251111"


async def test_trace_without_llm_interaction_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    empty = {
        "root_agent_instance_id": "a",
        "agent_instance_by_id": {
            "a": {"id": "a", "name": "router", "interactions": ["b"]},
            "b": {"id": "b", "name": "worker", "interactions": []},
        },
    }
    with pytest.raises(MalformedError, match="no LLM interaction"):
        await flavor.call(client.evaluate_trace, empty, CRITERION)
    assert route.call_count == 0


def _without(path: list[str]) -> dict[str, Any]:
    broken = copy.deepcopy(TRACE_DICT)
    target = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


@pytest.mark.parametrize(
    "trace",
    [
        _without(["root_agent_instance_id"]),
        _without(["agent_instance_by_id"]),
        _without(["agent_instance_by_id", "planner-1", "name"]),
        _without(["agent_instance_by_id", "planner-1", "interactions"]),
        {"root_agent_instance_id": "a", "agent_instance_by_id": ["not", "a", "map"]},
        {"root_agent_instance_id": "a", "agent_instance_by_id": {"a": "not an instance"}},
    ],
    ids=["no-root", "no-instances", "no-name", "no-interactions", "list-of-ids", "str-instance"],
)
async def test_malformed_trace_dict_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, trace: dict[str, Any]
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="trace") as caught:
        await flavor.call(client.evaluate_trace, trace, CRITERION)
    assert isinstance(caught.value, ValueError)
    assert route.call_count == 0


async def test_malformed_interaction_next_to_a_valid_one_is_refused(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    broken = copy.deepcopy(TRACE_DICT)
    # An interaction without output_messages, beside the valid planner interaction.
    broken["agent_instance_by_id"]["searcher-1"]["interactions"] = [
        {"input_messages": [{"role": "user", "content": "Find flights"}]}
    ]
    with pytest.raises(MalformedError):
        await flavor.call(client.evaluate_trace, broken, CRITERION)
    assert route.call_count == 0


@pytest.mark.parametrize("trace", [None, "trace", [TRACE_DICT]])
async def test_trace_of_the_wrong_type_is_refused(
    flavor: Flavor, router: respx.MockRouter, trace: object
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="MultiAgentTrace or a dict"):
        await flavor.call(client.evaluate_trace, trace, CRITERION)
    assert route.call_count == 0


async def test_trace_criteria_rules_match_evaluate(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="must start with"):
        await flavor.call(client.evaluate_trace, TRACE_DICT, "Judge the plan")
    with pytest.raises(MalformedError, match="empty"):
        await flavor.call(client.evaluate_trace, TRACE_DICT, [])
    with pytest.raises(MalformedError, match="not both"):
        await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, evaluator_name="x")
    assert route.call_count == 0


async def test_official_trace_keywords_are_sent_only_when_set(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    await flavor.call(
        client.evaluate_trace, TRACE_DICT, CRITERION, evaluate_latest=False, data_retention="none"
    )
    assert body_of(route.calls.last) == {
        "trace": TRACE_DICT,
        "evaluation_criteria": CRITERION,
        "evaluate_latest": False,
        "data_retention": "none",
    }


async def test_evaluate_latest_true_is_refused_for_traces(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = _trace_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="scored whole"):
        await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, evaluate_latest=True)
    assert route.call_count == 0
