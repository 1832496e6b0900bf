"""Turn the caller's arguments into the HTTP calls to make, and responses into results.

No I/O here: both clients share these functions. The request bodies are the generated models'
(`composo_api.models`), serialised by the generated operation modules, so the wire format is
written once, in openapi.yaml. A body is encoded once, strictly (no NaN, valid Unicode only);
an answer is decoded and checked against the API description (`_responses.py`) before it
becomes a result.
"""

from __future__ import annotations

import copy
import json
import math
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import attrs

from composo import _responses
from composo._exceptions import APIError, bad_input, error_from_response
from composo._models import EvaluationResponse, TraceEvaluationResponse
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
    AgentInstance,
    ChatMessage,
    ExplanationCleaning,
    LLMInput,
    LLMInteraction,
    LLMOutput,
    LLMToolCall,
    LLMToolDefinition,
    LLMToolResponse,
    MultiAgentTrace,
    RewardRequest,
    ScoreResponse,
    Tags,
    ToolDefinition,
    TraceRequest,
)
from composo_api.types import UNSET, Unset

_T = TypeVar("_T")

# Longest piece of a refused value quoted in a message.
_PREVIEW = 80


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What the clients need of an HTTP response; `url` is the URL that was called."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to send and how to read its 2xx answer.

    Attributes:
        method: The HTTP method.
        path: The path under base_url, query string included.
        content: The JSON body, encoded once and sent as is by every attempt (b"" for none).
        parse: Turns the decoded 2xx body into the result; raises `_responses.ShapeError` (or
            the generated parser's KeyError/TypeError/ValueError) when it breaks the spec.
        retry_sent: Whether a failure after the request may have reached the server (a 5xx,
            a dropped connection, a timeout) is retried. False for operations that must not
            run twice; they retry only what provably did not run (429s, refused connections).
        cacheable: Whether a result cache may answer this call (see `_cache.py`): True only
            for blocking evaluations by criterion, whose answer depends on nothing but the
            request. Background calls, saved evaluators (edited on the server, out of the
            request's sight) and every other operation are always sent.
    """

    method: str
    path: str
    content: bytes
    parse: Callable[[Any], Any]
    retry_sent: bool = True
    cacheable: bool = False

    @classmethod
    def from_kwargs(
        cls,
        kwargs: dict[str, Any],
        parse: Callable[[Any], Any],
        *,
        retry_sent: bool = True,
        cacheable: bool = False,
    ) -> Call:
        """A call from a generated operation's `_get_kwargs(...)`.

        Raises:
            MalformedError: The body cannot be encoded as JSON (see `encode_json`).
        """
        content = encode_json(kwargs["json"]) if "json" in kwargs else b""
        url = kwargs["url"]
        params = kwargs.get("params")
        if params:
            url = f"{url}?{urllib.parse.urlencode(params, doseq=True)}"
        return cls(kwargs["method"].upper(), url, content, parse, retry_sent, cacheable)


@dataclass(frozen=True, slots=True)
class Plan:
    """The calls one `evaluate`/`evaluate_trace` makes.

    Attributes:
        calls: One call per distinct criterion: a criterion given twice is scored once.
        single: Return one result rather than a list.
        order: For each criterion given, in order, the index of its call.
    """

    calls: list[Call]
    single: bool
    order: list[int] = field(default_factory=list)

    def results(self, values: list[Any]) -> Any:
        """The caller's result from one value per call: one value, or a list in the order the
        criteria were given (a repeated criterion gets its own copy of the one result)."""
        if self.single:
            return values[0]
        seen: set[int] = set()
        out = []
        for index in self.order or range(len(values)):
            value = values[index]
            out.append(copy.deepcopy(value) if index in seen else value)
            seen.add(index)
        return out


def _distinct(values: list[str]) -> tuple[list[str], list[int]]:
    """The distinct values in first-seen order, and each value's index among them."""
    index: dict[str, int] = {}
    order = [index.setdefault(value, len(index)) for value in values]
    return list(index), order


def encode_json(value: Any) -> bytes:
    """Encode a request body as the service reads it: compact UTF-8 JSON, strictly.

    Raises:
        MalformedError: The body holds something JSON cannot carry: NaN or infinity, text that
            is not valid Unicode (a lone surrogate such as "\\ud800"), bytes or another
            non-JSON type, a circular reference, or nesting deeper than the encoder handles.
            The message names where, as a path such as `messages[1].content`.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError) as exc:
        raise bad_input(_unencodable(value, exc)) from None


def _unencodable(value: Any, exc: BaseException) -> str:
    """Say where and why a body cannot be encoded (walked iteratively: it may be very deep)."""
    stack: list[tuple[Any, str, int]] = [(value, "body", 0)]
    active: set[int] = set()
    exits: list[tuple[int, int]] = []
    while stack:
        item, path, depth = stack.pop()
        while exits and exits[-1][1] >= depth:
            active.discard(exits.pop()[0])
        problem = json_problem(item)
        if problem is not None:
            return f"{path} {problem}"
        if isinstance(item, dict | list | tuple):
            if id(item) in active:
                return f"{path} refers back to an enclosing object (a circular reference)"
            active.add(id(item))
            exits.append((id(item), depth))
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str):
                        return f"{path} has a key of type {type(key).__name__}; keys must be str"
                    key_problem = json_problem(key)
                    if key_problem is not None:
                        return f"{path} has a key that {key_problem}"
                children = [(v, f"{path}.{k}") for k, v in item.items()]
            else:
                children = [(v, f"{path}[{i}]") for i, v in enumerate(item)]
            stack.extend((child, where, depth + 1) for child, where in reversed(children))
    if isinstance(exc, RecursionError):
        return "body is nested too deeply to encode as JSON; flatten it"
    return f"body cannot be encoded as JSON ({type(exc).__name__}: {exc})"


def json_problem(item: Any) -> str | None:
    """Why one value cannot go into a request body as it is (containers are walked by the
    caller), or None when it can."""
    if isinstance(item, str):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = item[exc.start : exc.end]
            return (
                f"is not valid Unicode text: it holds {bad!r} at index {exc.start} (a lone "
                "surrogate, often from a broken decode); fix or drop that character"
            )
        return None
    if isinstance(item, float) and not math.isfinite(item):
        return f"is {item!r}, which JSON cannot carry; send a finite number, or a string"
    if isinstance(item, bytes | bytearray):
        return "is bytes; decode it to str first"
    if item is None or isinstance(item, bool | int | float | dict | list | tuple):
        return None
    return f"is a {type(item).__name__}, which is not a JSON value"


def read_response(call: Call, response: RawResponse) -> Any:
    """The call's result for a 2xx response.

    Raises:
        APIError: A 2xx body that is not JSON, or breaks the API description (the message
            names the field).
        APIStatusError: The mapped error of any other status (see `error_from_response`).
    """
    status = response.status_code
    if not 200 <= status < 300:
        raise error_from_response(
            status, response.content, response.headers, method=call.method, url=response.url
        )
    where = f"{status} response to {call.method} {call.path}"
    try:
        data = json.loads(response.content) if response.content else None
    except (ValueError, RecursionError) as exc:
        reason = "is nested too deeply" if isinstance(exc, RecursionError) else "is not JSON"
        raise APIError(f"{where} {reason}", status_code=status, body=response.content) from None
    try:
        return call.parse(data)
    except (_responses.ShapeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise APIError(
            f"{where} does not match the API description: {exc}",
            status_code=status,
            body=response.content,
        ) from None


def _unset_if_none(value: _T | None) -> _T | Unset:
    return UNSET if value is None else value


def _parse_background(data: Any) -> dict[str, Any]:
    # Check the shape (task_id a string), then hand back the server's dict as it was sent.
    result: dict[str, Any] = _responses.check(data, _responses.BACKGROUND_TASK)
    return result


def _parse_score(data: Any) -> EvaluationResponse:
    return EvaluationResponse.from_dict(_responses.check(data, _responses.SCORE))


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
    """Check every argument of `evaluate` and build one reward request per distinct criterion.

    Raises:
        MalformedError: Any argument breaks a rule the server applies; nothing is sent.
    """
    values, single, by_name = _criteria_or_names(criteria, evaluator_name)
    _check_block(block)
    options = evaluate_options(
        evaluate_latest=evaluate_latest,
        explanation_cleaning=explanation_cleaning,
        data_retention=data_retention,
        model_core=model_core,
        criteria=None if by_name else values,
    )
    return plan_reward(
        messages,
        values,
        single=single,
        by_name=by_name,
        system=system,
        tools=tools,
        result=result,
        tags=tags,
        block=block,
        options=options,
        input=input,
    )


def plan_reward(
    messages: object,
    values: list[str],
    *,
    single: bool,
    by_name: bool,
    system: object,
    tools: object,
    result: object,
    tags: Mapping[str, object] | None,
    block: bool,
    options: Mapping[str, Any],
    input: object = None,
) -> Plan:
    """Build the reward requests for one conversation from criteria and options already
    checked (by `plan_evaluate`, or once for a whole batch).

    Args:
        values: The checked criteria (or evaluator names, when `by_name`).
        options: `evaluate_options(...)`'s result.

    Raises:
        MalformedError: The conversation, system, tools, result or tags are invalid, or the
            body cannot be encoded.
    """
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
    converted_tags = convert_tags(tags)
    shared: dict[str, Any] = {
        "messages": [ChatMessage.from_dict(message) for message in conversation],
        "system": _unset_if_none(system),
        "tools": _tools(tools),
        "tags": UNSET if converted_tags is None else Tags.from_dict(converted_tags),
        **options,
    }
    operation = evaluate_reward if block else evaluate_reward_background
    parse = _parse_score if block else _parse_background
    distinct, order = _distinct(values)
    calls = []
    for value in distinct:
        body = RewardRequest(
            **shared,
            evaluation_criteria=UNSET if by_name else value,
            evaluator_name=value if by_name else UNSET,
        )
        kwargs = operation._get_kwargs(body=body)
        calls.append(Call.from_kwargs(kwargs, parse, cacheable=block and not by_name))
    return Plan(calls, single, order)


def _check_block(block: object) -> None:
    if not isinstance(block, bool):
        raise bad_input(
            f"block must be True (wait for the score) or False (background), got {block!r}"
        )


# The trace objects whose unknown fields the service refuses (422), and where they sit; the
# three tool objects (LLMToolCall, LLMToolResponse, LLMToolDefinition) are open, as in the spec.
def _fields(model: type) -> frozenset[str]:
    """The JSON field names of a generated model: its attrs fields, less the trailing "_"
    openapi-python-client adds to a name that is a Python builtin or keyword (`type_`)."""
    return frozenset(
        f.name.removesuffix("_") for f in attrs.fields(model) if f.name != "additional_properties"
    )


_TRACE_FIELDS = _fields(MultiAgentTrace)
_INSTANCE_FIELDS = _fields(AgentInstance)
_INTERACTION_FIELDS = _fields(LLMInteraction)
_INPUT_FIELDS = _fields(LLMInput)
_OUTPUT_FIELDS = _fields(LLMOutput)
_MESSAGE_LISTS = (("input_messages", _INPUT_FIELDS), ("output_messages", _OUTPUT_FIELDS))


def _refuse_unknown(data: object, allowed: frozenset[str], where: str) -> None:
    if not isinstance(data, Mapping):
        return  # the parser reports the wrong type itself
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise bad_input(
            f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; the service "
            f"refuses them (allowed: {', '.join(sorted(allowed))})"
        )


def _check_trace_fields(trace: Mapping[str, Any]) -> None:
    """Refuse unknown fields anywhere in a trace dict, naming the field, as the service would.

    The generated parser silently drops them, so a typo such as `tool_available` would make
    the tools vanish instead of failing.
    """
    _refuse_unknown(trace, _TRACE_FIELDS, "trace")
    instances = trace.get("agent_instance_by_id")
    if not isinstance(instances, Mapping):
        return
    for instance_id, instance in instances.items():
        where = f"trace agent instance {instance_id!r}"
        _refuse_unknown(instance, _INSTANCE_FIELDS, where)
        interactions = instance.get("interactions") if isinstance(instance, Mapping) else None
        if not isinstance(interactions, list):
            continue
        for number, interaction in enumerate(interactions):
            at = f"{where} interaction {number}"
            _refuse_unknown(interaction, _INTERACTION_FIELDS, at)
            if not isinstance(interaction, Mapping):
                continue
            for key, allowed in _MESSAGE_LISTS:
                messages = interaction.get(key)
                if isinstance(messages, list):
                    for index, message in enumerate(messages):
                        _refuse_unknown(message, allowed, f"{at} {key}[{index}]")


def _trace_model(trace: object) -> MultiAgentTrace:
    if isinstance(trace, MultiAgentTrace):
        model = trace
    elif isinstance(trace, Mapping):
        _check_trace_fields(trace)
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
        tools = item.tools_available
        if tools is None or isinstance(tools, Unset):
            continue
        # The parser keeps the raw list when one definition lacks a field, which then fails
        # (AttributeError) when the body is built.
        bad = (
            [tools]
            if not isinstance(tools, list)
            else [tool for tool in tools if not isinstance(tool, LLMToolDefinition)]
        )
        if bad:
            raise bad_input(
                f"{where} tools_available must be a list of tool definitions (name, "
                f"description, parameters), or null: {_preview(bad[0])}"
            )


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def _parse_trace_response(data: Any) -> TraceEvaluationResponse:
    """The trace response, with each instance's result an `EvaluationResponse` (as from
    `evaluate`: None rather than UNSET for absent fields, float scores)."""
    response = TraceEvaluationResponse.from_dict(_responses.check(data, _responses.TRACE_RESULT))
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
    _check_block(block)
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
    distinct, order = _distinct(values)
    calls = []
    for value in distinct:
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
        kwargs = operation._get_kwargs(body=body)
        calls.append(Call.from_kwargs(kwargs, parse, cacheable=block and not by_name))
    return Plan(calls, single, order)
