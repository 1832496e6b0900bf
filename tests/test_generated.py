"""The generated client (composo_api) is typed end to end and speaks the spec's wire format."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_type_hints

import attrs
import httpx
import pytest

import composo_api
from composo_api import models
from composo_api.api.traces import list_traces
from composo_api.client import Client
from tests._spec_util import component, operations, resolve, same_json, spec, validator

ROOT = Path(__file__).resolve().parent.parent


def _module_for(operation: dict[str, Any]) -> Any:
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation["operationId"]).lower()
    tag = operation["tags"][0].lower()
    return importlib.import_module(f"composo_api.api.{tag}.{name}")


def _ops() -> list[tuple[str, dict[str, Any]]]:
    return [(op["operationId"], op) for _, _, op in operations()]


@pytest.mark.parametrize(("operation_id", "operation"), _ops(), ids=[i for i, _ in _ops()])
def test_request_body_is_a_typed_generated_model(
    operation_id: str, operation: dict[str, Any]
) -> None:
    module = _module_for(operation)
    hints = get_type_hints(module._get_kwargs)
    if "requestBody" not in operation:
        assert "body" not in hints
        return
    body_type = hints["body"]
    assert attrs.has(body_type), f"{operation_id}: body is {body_type!r}, not a generated model"
    assert getattr(models, body_type.__name__) is body_type


@pytest.mark.parametrize(("operation_id", "operation"), _ops(), ids=[i for i, _ in _ops()])
def test_success_response_parses_into_a_typed_generated_model(
    operation_id: str, operation: dict[str, Any]
) -> None:
    module = _module_for(operation)
    response = resolve(operation["responses"]["200"])
    schema = resolve(response["content"]["application/json"]["schema"])
    example = schema["examples"][0]
    http_response = httpx.Response(200, json=example)
    parsed = module._parse_response(client=Client(base_url="http://x"), response=http_response)
    assert attrs.has(type(parsed)), f"{operation_id}: 200 parses to {type(parsed)!r}"
    assert same_json(parsed.to_dict(), example)


def _response_schema_examples() -> list[tuple[str, str, Any]]:
    names = set()
    for _, _, operation in operations():
        for response in operation["responses"].values():
            content = resolve(response).get("content", {})
            for media in content.values():
                names.add(media["schema"]["$ref"].rsplit("/", 1)[-1])
    cases = []
    for name in sorted(names):
        for index, example in enumerate(spec()["components"]["schemas"][name]["examples"]):
            cases.append((f"{name}[{index}]", name, example))
    return cases


@pytest.mark.parametrize(
    ("name", "example"),
    [(n, e) for _, n, e in _response_schema_examples()],
    ids=[i for i, _, _ in _response_schema_examples()],
)
def test_response_example_round_trips_through_its_model(name: str, example: Any) -> None:
    model = getattr(models, name)
    parsed = model.from_dict(example)
    assert same_json(parsed.to_dict(), example)


def test_reward_request_built_with_the_generated_models_validates_against_the_spec() -> None:
    body = models.RewardRequest(
        messages=[
            models.ChatMessage.from_dict({"role": "user", "content": "Where is order 8812?"}),
            models.ChatMessage.from_dict({"role": "assistant", "content": "It ships today."}),
        ],
        evaluation_criteria="Reward answers that give a delivery date.",
        model_core=models.ModelCore.ALIGN_20251111,
        tags=models.Tags.from_dict({"environment": "test"}),
        explanation_cleaning=models.ExplanationCleaning.END_USER,
        data_retention="archive-30d",  # a mode this client does not know yet still goes out
    )
    wire = body.to_dict()
    assert validator(component("RewardRequest")).is_valid(wire)
    assert wire["model_core"] == "align-20251111"
    assert wire["data_retention"] == "archive-30d"
    assert json.loads(json.dumps(wire)) == wire


def test_trace_request_built_with_the_generated_models_validates_against_the_spec() -> None:
    interaction = models.LLMInteraction(
        input_messages=[models.LLMInput(role="user", content="Find flights to JFK")],
        output_messages=[
            models.LLMOutput(
                content=models.LLMToolCall(id="c1", name="search", parameters='{"to": "JFK"}'),
                type_="tool_call",
            )
        ],
    )
    instance = models.AgentInstance(id="a1", name="flights", interactions=[interaction, "a2"])
    child = models.AgentInstance(id="a2", name="helper", interactions=[interaction])
    agents = models.MultiAgentTraceAgentInstanceById.from_dict({})
    agents["a1"] = instance
    agents["a2"] = child
    body = models.TraceRequest(
        trace=models.MultiAgentTrace(root_agent_instance_id="a1", agent_instance_by_id=agents),
        evaluation_criteria="Reward agents that call tools with correct arguments.",
        model_core="align-20990101",
    )
    wire = body.to_dict()
    assert validator(component("TraceRequest")).is_valid(wire)
    assert wire["trace"]["agent_instance_by_id"]["a1"]["interactions"][1] == "a2"


def test_fields_the_service_fills_in_are_left_out_unless_set() -> None:
    # The spec states no `default` (tests/test_spec.py), so the generated models and operations
    # send a field the service fills in only when the caller set it, as the spec asks.
    messages = [models.ChatMessage.from_dict({"role": "user", "content": "x"})] * 2
    reward = models.RewardRequest(messages=messages, evaluation_criteria="Reward x")
    assert set(reward.to_dict()) == {"messages", "evaluation_criteria"}
    trace = models.MultiAgentTrace.from_dict(
        {"root_agent_instance_id": "a", "agent_instance_by_id": {}}
    )
    assert set(models.TraceRequest(trace=trace, evaluator_name="e").to_dict()) == {
        "trace",
        "evaluator_name",
    }
    assert models.EvaluationFilterRequest().to_dict() == {}
    assert list_traces._get_kwargs()["params"] == {}
    assert list_traces._get_kwargs(page_size=50)["params"] == {"page_size": 50}
    latest = models.RewardRequest(messages=messages, evaluator_name="e", evaluate_latest=True)
    assert latest.to_dict()["evaluate_latest"] is True


def test_unknown_model_core_in_a_payload_parses_as_a_plain_string() -> None:
    parsed = models.RewardRequest.from_dict(
        {"messages": [{}, {}], "evaluation_criteria": "Reward x", "model_core": "align-2099"}
    )
    assert parsed.model_core == "align-2099"


def test_generated_package_is_importable_under_its_own_name() -> None:
    assert composo_api.__name__ == "composo_api"
    assert (Path(composo_api.__file__).parent.parent / "README.md").exists()
    assert inspect.isclass(composo_api.Client)


def test_regenerate_check_passes_on_the_committed_tree() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regenerate"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generated/ matches openapi.yaml" in done.stdout
