"""Read one OpenInference LLM span's attributes into the generated `LLMInteraction` model.

The OpenInference instrumentors for OpenAI (chat completions and the Responses API, plain and
streamed), Anthropic and Google GenAI flatten every call into the same attributes, named by
`openinference-semantic-conventions`:

    llm.input_messages.<i>.message.role / .content / .name / .tool_call_id
    llm.input_messages.<i>.message.contents.<j>.message_content.type / .text / .image.image.url
    llm.input_messages.<i>.message.contents.<j>.tool_call.*    (Anthropic tool_use blocks)
    llm.input_messages.<i>.message.tool_calls.<k>.tool_call.id / .function.name / .arguments
    llm.output_messages.<i>.message.*                           (the same shape)
    llm.tools.<i>.tool.json_schema                              (one tool definition, as JSON)
    llm.provider (or llm.system)                                (which API answered)
    input.value / output.value                                  (raw request and response)

Each message becomes one trace entry per part, in order: its text, its content parts, then its
tool calls. Nothing the span holds is dropped silently: a part the trace model has no place for
(an image, a reasoning block, a tool schema without a function) is kept as text with a type
naming it, and one DEBUG line on the `composo` logger says what was changed for each span.
No I/O, no OpenTelemetry: the functions take a plain mapping, so they are tested on dicts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openinference.semconv.trace import (
    ImageAttributes,
    MessageAttributes,
    MessageContentAttributes,
    SpanAttributes,
    ToolAttributes,
    ToolCallAttributes,
)

from composo_api.models import (
    LLMInput,
    LLMInteraction,
    LLMOutput,
    LLMToolCall,
    LLMToolDefinition,
    LLMToolResponse,
)

logger = logging.getLogger("composo")

_INPUT_MESSAGES = SpanAttributes.LLM_INPUT_MESSAGES + "."
_OUTPUT_MESSAGES = SpanAttributes.LLM_OUTPUT_MESSAGES + "."
_TOOLS = SpanAttributes.LLM_TOOLS + "."
_CONTENTS = MessageAttributes.MESSAGE_CONTENTS + "."
_TOOL_CALLS = MessageAttributes.MESSAGE_TOOL_CALLS + "."
_ROLE = MessageAttributes.MESSAGE_ROLE
_CONTENT = MessageAttributes.MESSAGE_CONTENT
_NAME = MessageAttributes.MESSAGE_NAME
_TOOL_CALL_ID = MessageAttributes.MESSAGE_TOOL_CALL_ID
_FUNCTION_CALL_NAME = MessageAttributes.MESSAGE_FUNCTION_CALL_NAME
_FUNCTION_CALL_ARGUMENTS = MessageAttributes.MESSAGE_FUNCTION_CALL_ARGUMENTS_JSON
_PART_TYPE = MessageContentAttributes.MESSAGE_CONTENT_TYPE
_PART_TEXT = MessageContentAttributes.MESSAGE_CONTENT_TEXT
_PART_IMAGE_URL = f"{MessageContentAttributes.MESSAGE_CONTENT_IMAGE}.{ImageAttributes.IMAGE_URL}"
_CALL_ID = ToolCallAttributes.TOOL_CALL_ID
_CALL_NAME = ToolCallAttributes.TOOL_CALL_FUNCTION_NAME
_CALL_ARGUMENTS = ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON
_CALL_PREFIX = _CALL_ID.rsplit(".", 1)[0] + "."

# Part types the trace model names differently: reasoning is what the API calls thinking tokens.
_PART_TYPES = {"reasoning": "thinking_tokens", "thinking": "thinking_tokens"}
# Gemini calls the assistant "model"; the trace uses one name for it whatever the provider.
_ROLES = {"model": "assistant"}
# A data: URL can be megabytes of base64; the trace keeps its media type, not the bytes.
_DATA_URL = re.compile(r"data:([^;,]*)[;,]")
_INDEX = re.compile(r"(\d+)\.(.+)", re.DOTALL)


@dataclass
class _Notes:
    """What one span's parse changed or kept as text, logged as a single DEBUG line."""

    span_name: str
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def log(self) -> None:
        if self.lines:
            logger.debug("LLM span %r: %s", self.span_name, "; ".join(self.lines))


@dataclass
class _CallIds:
    """Ids for tool calls that have none (Gemini's), and tool responses matched to them.

    A call without an id gets `<name>-<n>`, counted per interaction; a response without an id
    takes the id of the earliest unanswered such call with the same name.
    """

    count: int = 0
    unanswered: list[tuple[str, str]] = field(default_factory=list)

    def for_call(self, call_id: object, name: str) -> str:
        if isinstance(call_id, str) and call_id:
            return call_id
        self.count += 1
        made = f"{name}-{self.count}"
        self.unanswered.append((name, made))
        return made

    def for_response(self, call_id: object, name: object) -> str:
        if isinstance(call_id, str) and call_id:
            return call_id
        for position, (call_name, made) in enumerate(self.unanswered):
            if call_name == name:
                del self.unanswered[position]
                return made
        self.count += 1
        return f"{name if isinstance(name, str) and name else 'tool'}-response-{self.count}"


def indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The `<prefix><n>.<rest>` attributes grouped by n, in numeric order of n, keyed by rest.

    Indices may have gaps (the Responses API starts a bare-string input at 1), so the order,
    not the numbers, is what is kept.
    """
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        match = _INDEX.fullmatch(key, len(prefix))
        if match is not None:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [groups[index] for index in sorted(groups)]


def parse_llm_span(
    attributes: Mapping[str, Any], *, span_name: str = "", dropped_attributes: int = 0
) -> LLMInteraction:
    """The interaction an OpenInference LLM span records.

    Args:
        attributes: the span's attributes.
        span_name: the span's name, for the log lines.
        dropped_attributes: how many attributes the tracer provider's limit evicted.

    Returns:
        The interaction, with whatever the span holds; never fails on an unexpected shape.
    """
    notes = _Notes(span_name)
    if dropped_attributes:
        logger.warning(
            "LLM span %r lost %d attributes to the tracer provider's attribute count limit; "
            "the oldest go first, so the start of the conversation is missing from the trace. "
            "Raise the limit (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, or TracerProvider(span_limits="
            "SpanLimits(max_span_attributes=...))) or let ComposoTracer.init() create the "
            "provider",
            span_name,
            dropped_attributes,
        )
    provider = attributes.get(SpanAttributes.LLM_PROVIDER) or attributes.get(
        SpanAttributes.LLM_SYSTEM
    )
    ids = _CallIds()
    inputs: list[LLMInput] = []
    for message in indexed(attributes, _INPUT_MESSAGES):
        inputs.extend(_input_entries(message, provider, ids, notes))
    if not inputs:
        inputs = _raw_input(attributes, notes)
    outputs: list[LLMOutput] = []
    for message in indexed(attributes, _OUTPUT_MESSAGES):
        outputs.extend(_output_entries(message, ids, notes))
    if not outputs:
        outputs = _raw_output(attributes, notes)
    tools = [_tool(tool, notes) for tool in indexed(attributes, _TOOLS)]
    notes.log()
    interaction = LLMInteraction(input_messages=inputs, output_messages=outputs)
    if tools:
        interaction.tools_available = tools
    return interaction


def _role(message: Mapping[str, Any], notes: _Notes) -> str:
    role = message.get(_ROLE)
    if not isinstance(role, str) or not role:
        notes.add("a message without a role kept as role 'unknown'")
        return "unknown"
    return _ROLES.get(role, role)


def _input_entries(
    message: Mapping[str, Any], provider: object, ids: _CallIds, notes: _Notes
) -> list[LLMInput]:
    role = _role(message, notes)
    if role in ("tool", "function") or _TOOL_CALL_ID in message:
        return [
            LLMInput(
                role="tool",
                type_="tool_response",
                content=_tool_response(message, provider, ids, notes),
            )
        ]
    entries = [
        LLMInput(role=role, type_=kind, content=item)
        for kind, item in _message_items(message, ids, notes)
    ]
    if not entries:
        notes.add(f"an empty {role} message kept as empty text")
        entries.append(LLMInput(role=role, type_="text", content=""))
    return entries


def _output_entries(message: Mapping[str, Any], ids: _CallIds, notes: _Notes) -> list[LLMOutput]:
    return [
        LLMOutput(type_=kind, content=item) for kind, item in _message_items(message, ids, notes)
    ]


def _tool_response(
    message: Mapping[str, Any], provider: object, ids: _CallIds, notes: _Notes
) -> LLMToolResponse:
    texts = []
    content = message.get(_CONTENT)
    if content is not None:
        text = _text(content)
        texts.append(_anthropic_blocks_text(text) if provider == "anthropic" else text)
    texts.extend(_part(part, notes)[1] for part in indexed(message, _CONTENTS))
    name = message.get(_NAME)
    response = LLMToolResponse(
        id=ids.for_response(message.get(_TOOL_CALL_ID), name), response="\n".join(texts)
    )
    if isinstance(name, str):
        response.name = name
    return response


def _message_items(
    message: Mapping[str, Any], ids: _CallIds, notes: _Notes
) -> Iterable[tuple[str, str | LLMToolCall]]:
    """(type, content) for a message's parts in order: its text and content parts, then its
    tool calls.

    Anthropic reports each tool_use block twice, as a content part and as a tool call; the
    first of each id is kept, so the block keeps its place among the text parts.
    """
    content = message.get(_CONTENT)
    if content is not None:
        yield "text", _text(content)
    seen: set[str] = set()
    for part in indexed(message, _CONTENTS):
        if any(key.startswith(_CALL_PREFIX) for key in part):
            call = _tool_call(part, ids, notes)
            seen.add(call.id)
            yield "tool_call", call
        else:
            yield _part(part, notes)
    for fields in indexed(message, _TOOL_CALLS):
        if fields.get(_CALL_ID) not in seen:
            yield "tool_call", _tool_call(fields, ids, notes)
    if isinstance(message.get(_FUNCTION_CALL_NAME), str):
        # The deprecated OpenAI `function_call`: one call, no id.
        legacy = {
            _CALL_NAME: message[_FUNCTION_CALL_NAME],
            _CALL_ARGUMENTS: message.get(_FUNCTION_CALL_ARGUMENTS),
        }
        yield "tool_call", _tool_call(legacy, ids, notes)


def _text(content: object) -> str:
    return content if isinstance(content, str) else json.dumps(content, default=str)


def _part(part: Mapping[str, Any], notes: _Notes) -> tuple[str, str]:
    kind = part.get(_PART_TYPE)
    kind = kind if isinstance(kind, str) and kind else "text"
    text = part.get(_PART_TEXT)
    if isinstance(text, str):
        return _PART_TYPES.get(kind, kind), text
    url = part.get(_PART_IMAGE_URL)
    if isinstance(url, str):
        data = _DATA_URL.match(url)
        notes.add(f"an {kind} part kept as a placeholder")
        shown = f"inline {data.group(1) or 'data'}" if data else url
        return kind, f"[{kind}: {shown}]"
    notes.add(f"a {kind} part without text kept as its attributes")
    rest = {key: value for key, value in part.items() if key != _PART_TYPE}
    return kind, f"[{kind}]" if not rest else f"[{kind}: {json.dumps(rest, default=str)}]"


def _anthropic_blocks_text(text: str) -> str:
    """The text of an Anthropic tool_result's list content, which the instrumentor records as
    the blocks' JSON (`[{"type": "text", "text": "..."}]`); anything else is returned as is."""
    if not text.startswith("["):
        return text
    try:
        blocks = json.loads(text)
    except ValueError:
        return text
    if not isinstance(blocks, list) or not all(
        isinstance(block, dict) and "type" in block for block in blocks
    ):
        return text
    pieces = [
        block["text"]
        if block["type"] == "text" and isinstance(block.get("text"), str)
        else f"[{block['type']}]"
        for block in blocks
    ]
    return "\n".join(pieces)


def _tool_call(call: Mapping[str, Any], ids: _CallIds, notes: _Notes) -> LLMToolCall:
    name = call.get(_CALL_NAME)
    if not isinstance(name, str) or not name:
        notes.add("a tool call without a name kept as 'unknown'")
        name = "unknown"
    arguments = call.get(_CALL_ARGUMENTS)
    if arguments is None:
        arguments = "{}"
    elif not isinstance(arguments, str):
        arguments = json.dumps(arguments, default=str)
    return LLMToolCall(id=ids.for_call(call.get(_CALL_ID), name), name=name, parameters=arguments)


def _tool(tool: Mapping[str, Any], notes: _Notes) -> LLMToolDefinition:
    """One offered tool, from its JSON schema in any of the providers' shapes:
    OpenAI chat `{"type": "function", "function": {...}}`, OpenAI Responses and Gemini
    `{"name", "description", "parameters"}`, Anthropic `{"name", "description", "input_schema"}`.
    """
    raw = tool.get(ToolAttributes.TOOL_JSON_SCHEMA)
    schema: Any = None
    if isinstance(raw, str):
        try:
            schema = json.loads(raw)
        except ValueError:
            notes.add("a tool schema that is not JSON kept as its text")
    if not isinstance(schema, dict):
        name = tool.get(ToolAttributes.TOOL_NAME)
        description = tool.get(ToolAttributes.TOOL_DESCRIPTION)
        return LLMToolDefinition(
            name=name if isinstance(name, str) else "unknown",
            description=description if isinstance(description, str) else "",
            parameters=raw if isinstance(raw, str) else json.dumps(raw, default=str),
        )
    function = schema["function"] if isinstance(schema.get("function"), dict) else schema
    name = function.get("name") or schema.get("type") or "unknown"
    description = function.get("description") or ""
    parameters = function.get("parameters", function.get("input_schema"))
    if parameters is None:
        # A built-in tool (web search, code execution): its settings are all there is.
        notes.add(f"tool {name!r} has no parameter schema; its definition is kept instead")
        parameters = {key: value for key, value in schema.items() if key != "name"}
    return LLMToolDefinition(
        name=str(name),
        description=str(description),
        parameters=parameters if isinstance(parameters, str) else json.dumps(parameters),
    )


def _raw_input(attributes: Mapping[str, Any], notes: _Notes) -> list[LLMInput]:
    raw = attributes.get(SpanAttributes.INPUT_VALUE)
    if raw is None:
        notes.add("no input messages recorded")
        return []
    notes.add("no input messages recorded; the raw request is kept as one user message")
    return [LLMInput(role="user", type_="text", content=str(raw))]


def _raw_output(attributes: Mapping[str, Any], notes: _Notes) -> list[LLMOutput]:
    raw = attributes.get(SpanAttributes.OUTPUT_VALUE)
    if raw is None:
        notes.add("no output messages recorded (did the call fail?)")
        return []
    notes.add("no output messages recorded; the raw response is kept as one text output")
    return [LLMOutput(type_="text", content=str(raw))]
