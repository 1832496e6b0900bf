"""Turn the caller's arguments into the HTTP calls to make, and responses into results.

No I/O here: both clients share these functions. The request bodies are the generated models'
(`composo_api.models`), serialised by the generated operation modules, so the wire format is
written once, in openapi.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from composo._exceptions import ComposoError, bad_input
from composo._models import EvaluationResponse
from composo._results import responses_input_to_messages, result_to_message
from composo._validation import (
    build_messages,
    check_core_takes_criteria,
    check_exactly_one,
    check_model_core,
    convert_tags,
    normalize_criteria,
    normalize_evaluator_names,
)
from composo_api.api.evaluations import (
    evaluate_reward,
    evaluate_reward_background,
    evaluate_trace,
    evaluate_trace_background,
)
from composo_api.models import (
    BackgroundTaskResponse,
    ChatMessage,
    ExplanationCleaning,
    LLMInteraction,
    LLMToolCall,
    LLMToolResponse,
    MultiAgentTrace,
    MultiAgentTraceResponse,
    RewardRequest,
    ScoreResponse,
    Tags,
    ToolDefinition,
    TraceRequest,
)
from composo_api.types import UNSET, Unset

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to send and how to read its 2xx answer."""

    method: str
    path: str
    # The JSON body, encoded once and sent as is by every attempt.
    content: bytes
    parse: Callable[[Any], Any]

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], parse: Callable[[Any], Any]) -> Call:
        """A call from a generated operation's `_get_kwargs(...)`."""
        content = json.dumps(kwargs["json"], ensure_ascii=False, separators=(",", ":")).encode()
        return cls(kwargs["method"].upper(), kwargs["url"], content, parse)


@dataclass(frozen=True, slots=True)
class Plan:
    """The calls one `evaluate`/`evaluate_trace` makes; `single` means return one result."""

    calls: list[Call]
    single: bool


def _unset_if_none(value: _T | None) -> _T | Unset:
    return UNSET if value is None else value


def _parse_background(data: Any) -> dict[str, Any]:
    # Validate the shape (task_id present), then hand back the server's dict as it was sent.
    BackgroundTaskResponse.from_dict(data)
    result: dict[str, Any] = data
    return result


def _criteria_or_names(criteria: object, evaluator_name: object) -> tuple[list[str], bool, bool]:
    """(values, single, values_are_evaluator_names), after the either-or rule."""
    check_exactly_one(criteria, evaluator_name)
    if criteria is not None:
        values, single = normalize_criteria(criteria)
        return values, single, False
    names, single = normalize_evaluator_names(evaluator_name)
    return names, single, True


def _explanation_cleaning(value: object) -> ExplanationCleaning | Unset:
    if value is None:
        return UNSET
    known = {member.value: member for member in ExplanationCleaning}
    if isinstance(value, str) and value in known:
        return known[value]
    raise bad_input(f"explanation_cleaning is {value!r}; use one of {', '.join(map(repr, known))}")


def _data_retention(value: object) -> str | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, str) or not value.strip():
        raise bad_input(f"data_retention must be a non-empty string such as 'none', got {value!r}")
    return value


def _tools(tools: object) -> list[ToolDefinition] | Unset:
    if tools is None:
        return UNSET
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise bad_input(
            f"tools must be a list of tool definition dicts, got {type(tools).__name__}"
        )
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise bad_input(f"tools[{index}] must be a dict, got {type(tool).__name__}")
    return [ToolDefinition.from_dict(tool) for tool in tools]


def evaluate_options(
    *,
    evaluate_latest: object,
    explanation_cleaning: object,
    data_retention: object,
    model_core: object,
    criteria: list[str] | None,
) -> dict[str, Any]:
    """Check the `evaluate` options that do not depend on the conversation.

    Returns:
        Those fields of a `RewardRequest`, `UNSET` where the caller gave nothing.

    Raises:
        MalformedError: An option breaks a rule the server applies, alone or with `criteria`
            (a core that takes only binary criteria).
    """
    if evaluate_latest is not None and not isinstance(evaluate_latest, bool):
        raise bad_input(f"evaluate_latest must be True or False, got {evaluate_latest!r}")
    core: str | Unset = UNSET
    if model_core is not None:
        core = check_model_core(model_core, evaluate_latest=evaluate_latest)
        if criteria is not None:
            check_core_takes_criteria(core, criteria)
    return {
        "model_core": core,
        "evaluate_latest": _unset_if_none(evaluate_latest),
        "explanation_cleaning": _explanation_cleaning(explanation_cleaning),
        "data_retention": _data_retention(data_retention),
    }


def plan_evaluate(
    messages: object,
    criteria: object,
    *,
    system: object,
    tools: object,
    result: object,
    block: bool,
    tags: Mapping[str, object] | None,
    evaluator_name: object,
    evaluate_latest: bool | None,
    explanation_cleaning: object,
    data_retention: object,
    model_core: str | None,
    input: object = None,
) -> Plan:
    """Check every argument of `evaluate` and build one reward request per criterion.

    Raises:
        MalformedError: Any argument breaks a rule the server applies; nothing is sent.
    """
    values, single, by_name = _criteria_or_names(criteria, evaluator_name)
    if input is not None:
        if messages is not None:
            raise bad_input("pass either messages or input (a Responses API input), not both")
        messages = responses_input_to_messages(input)
    elif messages is None:
        raise bad_input("pass messages (the conversation), or input (a Responses API input)")
    result_message = None if result is None else result_to_message(result)
    conversation = build_messages(messages, result_message)
    if system is not None and not isinstance(system, str):
        raise bad_input(f"system must be a string, got {type(system).__name__}")
    options = evaluate_options(
        evaluate_latest=evaluate_latest,
        explanation_cleaning=explanation_cleaning,
        data_retention=data_retention,
        model_core=model_core,
        criteria=None if by_name else values,
    )
    converted_tags = convert_tags(tags)
    shared: dict[str, Any] = {
        "messages": [ChatMessage.from_dict(message) for message in conversation],
        "system": _unset_if_none(system),
        "tools": _tools(tools),
        "tags": UNSET if converted_tags is None else Tags.from_dict(converted_tags),
        **options,
    }
    operation = evaluate_reward if block else evaluate_reward_background
    parse = EvaluationResponse.from_dict if block else _parse_background
    calls = []
    for value in values:
        body = RewardRequest(
            **shared,
            evaluation_criteria=UNSET if by_name else value,
            evaluator_name=value if by_name else UNSET,
        )
        calls.append(Call.from_kwargs(operation._get_kwargs(body=body), parse))
    return Plan(calls, single)


def _trace_model(trace: object) -> MultiAgentTrace:
    if isinstance(trace, MultiAgentTrace):
        model = trace
    elif isinstance(trace, Mapping):
        try:
            model = MultiAgentTrace.from_dict(trace)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad_input(
                f"trace is not a valid MultiAgentTrace ({type(exc).__name__}: {exc}); it needs "
                "root_agent_instance_id and agent_instance_by_id, each instance id, name and "
                "interactions"
            ) from exc
    else:
        raise bad_input(f"trace must be a MultiAgentTrace or a dict, got {type(trace).__name__}")
    instances = model.agent_instance_by_id.additional_properties
    for instance_id, instance in instances.items():
        _check_interactions(instance_id, instance.interactions)
    if not any(
        isinstance(item, LLMInteraction)
        for instance in instances.values()
        for item in instance.interactions
    ):
        raise bad_input(
            "trace holds no LLM interaction; at least one agent instance needs one to be scored"
        )
    return model


def _check_interactions(instance_id: str, interactions: list[Any]) -> None:
    """Refuse what the generated parser let through as raw data.

    The generated `from_dict` keeps a union member it cannot parse (an interaction without
    `output_messages`, a tool call without `parameters`) as the raw value instead of failing,
    so the parsed model is checked here, before anything is sent.
    """
    for number, item in enumerate(interactions):
        where = f"trace agent instance {instance_id!r} interaction {number}"
        if isinstance(item, str):
            continue
        if not isinstance(item, LLMInteraction):
            raise bad_input(
                f"{where} is neither an LLM interaction (input_messages, output_messages) nor "
                f"the id of a child instance: {_preview(item)}"
            )
        for index, message in enumerate(item.input_messages):
            if not isinstance(message.content, str | LLMToolCall | LLMToolResponse):
                raise bad_input(
                    f"{where} input_messages[{index}].content must be text, a tool call (id, "
                    f"name, parameters) or a tool response (id, response): "
                    f"{_preview(message.content)}"
                )
        for index, output in enumerate(item.output_messages):
            if not isinstance(output.content, str | LLMToolCall):
                raise bad_input(
                    f"{where} output_messages[{index}].content must be text or a tool call "
                    f"(id, name, parameters): {_preview(output.content)}"
                )


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _parse_trace_response(data: Any) -> MultiAgentTraceResponse:
    """The trace response, with each instance's result an `EvaluationResponse` (as from
    `evaluate`: None rather than UNSET for absent fields, float scores)."""
    response = MultiAgentTraceResponse.from_dict(data)
    for agent in response.results_by_agent_name.additional_properties.values():
        results = agent.results_by_agent_instance_id.additional_properties
        for instance_id, result in results.items():
            if isinstance(result, ScoreResponse) and not isinstance(result, EvaluationResponse):
                results[instance_id] = EvaluationResponse.from_dict(result.to_dict())
    return response


def plan_evaluate_trace(
    trace: object,
    criteria: object,
    *,
    model_core: str | None,
    block: bool,
    tags: Mapping[str, object] | None,
    evaluator_name: object,
    evaluate_latest: bool | None = None,
    data_retention: object = None,
) -> Plan:
    """Check every argument of `evaluate_trace` and build one trace request per criterion.

    Raises:
        MalformedError: Any argument breaks a rule the server applies; nothing is sent.
    """
    values, single, by_name = _criteria_or_names(criteria, evaluator_name)
    model = _trace_model(trace)
    core: str | Unset = UNSET
    if model_core is not None:
        core = check_model_core(model_core, for_trace=True)
    if evaluate_latest is not None and evaluate_latest is not False:
        raise bad_input(
            f"evaluate_latest={evaluate_latest!r} is not accepted for traces: a trace is always "
            "scored whole (leave it out, or pass False)"
        )
    retention = _data_retention(data_retention)
    converted_tags = convert_tags(tags)
    operation = evaluate_trace if block else evaluate_trace_background
    parse = _parse_trace_response if block else _parse_background
    calls = []
    for value in values:
        body = TraceRequest(
            trace=model,
            model_core=core,
            tags=UNSET if converted_tags is None else Tags.from_dict(converted_tags),
            # Sent only when the caller set it (left out, the service assumes False).
            evaluate_latest=_unset_if_none(evaluate_latest),
            data_retention=retention,
            evaluation_criteria=UNSET if by_name else value,
            evaluator_name=value if by_name else UNSET,
        )
        calls.append(Call.from_kwargs(operation._get_kwargs(body=body), parse))
    return Plan(calls, single)


def parse_success(call: Call, status_code: int, data: Any, body: bytes) -> Any:
    """Read a 2xx answer into the call's result type.

    Raises:
        ComposoError: The body does not have the shape openapi.yaml promises.
    """
    try:
        return call.parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ComposoError(
            f"{status_code} response to {call.method} {call.path} does not match the API "
            f"description ({type(exc).__name__}: {exc})",
            status_code=status_code,
            body=body,
        ) from exc
