"""The span parser on plain attribute dicts: the OpenInference shapes each instrumentor
writes, and what happens to the parts the trace model has no place for (kept, and logged)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytest.importorskip("openinference.semconv.trace", reason="needs pip install 'composo[tracing]'")

from composo._tracing._parse import indexed, parse_llm_span

IN = "llm.input_messages"
OUT = "llm.output_messages"


def _wire(attributes: dict[str, Any]) -> dict[str, Any]:
    return parse_llm_span(attributes, span_name="test").to_dict()


def test_indexed_groups_by_number_in_numeric_order_with_gaps() -> None:
    attributes = {
        f"{IN}.10.message.role": "user",
        f"{IN}.2.message.role": "assistant",
        f"{IN}.2.message.content": "two",
        "llm.model_name": "gpt",
    }
    assert indexed(attributes, f"{IN}.") == [
        {"message.role": "assistant", "message.content": "two"},
        {"message.role": "user"},
    ]


@pytest.mark.parametrize(
    ("attributes", "inputs"),
    [
        pytest.param(
            {
                f"{IN}.0.message.role": "assistant",
                f"{IN}.0.message.content": "Checking both.",
                f"{IN}.0.message.tool_calls.0.tool_call.id": "a",
                f"{IN}.0.message.tool_calls.0.tool_call.function.name": "f",
                f"{IN}.0.message.tool_calls.0.tool_call.function.arguments": '{"x": 1}',
                f"{IN}.0.message.tool_calls.1.tool_call.id": "b",
                f"{IN}.0.message.tool_calls.1.tool_call.function.name": "g",
                f"{IN}.0.message.tool_calls.1.tool_call.function.arguments": "{}",
            },
            [
                {"role": "assistant", "type": "text", "content": "Checking both."},
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "a", "name": "f", "parameters": '{"x": 1}'},
                },
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "b", "name": "g", "parameters": "{}"},
                },
            ],
            id="text-beside-two-tool-calls",
        ),
        pytest.param(
            {
                f"{IN}.0.message.role": "assistant",
                f"{IN}.0.message.contents.0.message_content.type": "text",
                f"{IN}.0.message.contents.0.message_content.text": "First",
                f"{IN}.0.message.tool_calls.0.tool_call.id": "t1",
                f"{IN}.0.message.tool_calls.0.tool_call.function.name": "f",
                f"{IN}.0.message.tool_calls.0.tool_call.function.arguments": "{}",
                f"{IN}.0.message.contents.1.message_content.type": "tool_use",
                f"{IN}.0.message.contents.1.tool_call.id": "t1",
                f"{IN}.0.message.contents.1.tool_call.function.name": "f",
                f"{IN}.0.message.contents.1.tool_call.function.arguments": "{}",
                f"{IN}.0.message.contents.2.message_content.type": "text",
                f"{IN}.0.message.contents.2.message_content.text": "Then",
            },
            [
                {"role": "assistant", "type": "text", "content": "First"},
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "t1", "name": "f", "parameters": "{}"},
                },
                {"role": "assistant", "type": "text", "content": "Then"},
            ],
            id="anthropic-tool-use-reported-twice-kept-once-in-place",
        ),
        pytest.param(
            {
                "llm.provider": "anthropic",
                f"{IN}.0.message.role": "tool",
                f"{IN}.0.message.tool_call_id": "t1",
                f"{IN}.0.message.content": json.dumps(
                    [{"type": "text", "text": "18C"}, {"type": "image", "source": {}}]
                ),
            },
            [
                {
                    "role": "tool",
                    "type": "tool_response",
                    "content": {"id": "t1", "response": "18C\n[image]"},
                }
            ],
            id="anthropic-tool-result-list-content",
        ),
        pytest.param(
            {
                "llm.provider": "openai",
                f"{IN}.0.message.role": "tool",
                f"{IN}.0.message.tool_call_id": "t1",
                f"{IN}.0.message.content": '[{"type": "text", "text": "tool output"}]',
            },
            [
                {
                    "role": "tool",
                    "type": "tool_response",
                    "content": {
                        "id": "t1",
                        "response": '[{"type": "text", "text": "tool output"}]',
                    },
                }
            ],
            id="other-providers-tool-text-is-kept-verbatim",
        ),
        pytest.param(
            {
                f"{IN}.0.message.role": "model",
                f"{IN}.0.message.tool_calls.0.tool_call.function.name": "lookup",
                f"{IN}.0.message.tool_calls.0.tool_call.function.arguments": '{"q": 1}',
                f"{IN}.0.message.tool_calls.1.tool_call.function.name": "lookup",
                f"{IN}.0.message.tool_calls.1.tool_call.function.arguments": '{"q": 2}',
                f"{IN}.1.message.role": "tool",
                f"{IN}.1.message.name": "lookup",
                f"{IN}.1.message.content": "one",
                f"{IN}.2.message.role": "tool",
                f"{IN}.2.message.name": "lookup",
                f"{IN}.2.message.content": "two",
            },
            [
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "lookup-1", "name": "lookup", "parameters": '{"q": 1}'},
                },
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "lookup-2", "name": "lookup", "parameters": '{"q": 2}'},
                },
                {
                    "role": "tool",
                    "type": "tool_response",
                    "content": {"id": "lookup-1", "response": "one", "name": "lookup"},
                },
                {
                    "role": "tool",
                    "type": "tool_response",
                    "content": {"id": "lookup-2", "response": "two", "name": "lookup"},
                },
            ],
            id="gemini-id-less-calls-paired-with-their-responses",
        ),
        pytest.param(
            {
                f"{IN}.0.message.role": "assistant",
                f"{IN}.0.message.contents.0.message_content.type": "reasoning",
                f"{IN}.0.message.contents.0.message_content.text": "Think first.",
                f"{IN}.0.message.contents.0.message_content.signature": "sig",
            },
            [{"role": "assistant", "type": "thinking_tokens", "content": "Think first."}],
            id="reasoning-is-thinking-tokens",
        ),
        pytest.param(
            {
                f"{IN}.0.message.role": "assistant",
                f"{IN}.0.message.function_call_name": "legacy",
                f"{IN}.0.message.function_call_arguments_json": '{"a": 1}',
                f"{IN}.1.message.role": "function",
                f"{IN}.1.message.name": "legacy",
                f"{IN}.1.message.content": "done",
            },
            [
                {
                    "role": "assistant",
                    "type": "tool_call",
                    "content": {"id": "legacy-1", "name": "legacy", "parameters": '{"a": 1}'},
                },
                {
                    "role": "tool",
                    "type": "tool_response",
                    "content": {"id": "legacy-1", "response": "done", "name": "legacy"},
                },
            ],
            id="deprecated-openai-function-call",
        ),
    ],
)
def test_input_messages(attributes: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    assert _wire(attributes)["input_messages"] == inputs


@pytest.mark.parametrize(
    ("part", "entry", "logged"),
    [
        pytest.param(
            {"message_content.type": "image", "message_content.image.image.url": "https://x/a.png"},
            {"role": "user", "type": "image", "content": "[image: https://x/a.png]"},
            "image part kept as a placeholder",
            id="image-url",
        ),
        pytest.param(
            {
                "message_content.type": "image",
                "message_content.image.image.url": "data:image/png;base64," + "A" * 10_000,
            },
            {"role": "user", "type": "image", "content": "[image: inline image/png]"},
            "image part kept as a placeholder",
            id="inline-image-without-its-bytes",
        ),
        pytest.param(
            {"message_content.type": "audio", "message_content.audio.audio.url": "https://x/a.mp3"},
            {
                "role": "user",
                "type": "audio",
                "content": '[audio: {"message_content.audio.audio.url": "https://x/a.mp3"}]',
            },
            "audio part without text kept as its attributes",
            id="other-part-kept-as-its-attributes",
        ),
    ],
)
def test_parts_without_text_are_kept_and_logged(
    part: dict[str, Any], entry: dict[str, Any], logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="composo")
    attributes = {f"{IN}.0.message.role": "user"}
    attributes.update({f"{IN}.0.message.contents.0.{key}": value for key, value in part.items()})
    assert _wire(attributes)["input_messages"] == [entry]
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.name == "composo"
    assert logged in record.getMessage()


def test_output_messages_keep_text_and_every_tool_call() -> None:
    attributes = {
        f"{OUT}.0.message.role": "assistant",
        f"{OUT}.0.message.contents.0.message_content.type": "text",
        f"{OUT}.0.message.contents.0.message_content.text": "Checking.",
        f"{OUT}.1.message.role": "assistant",
        f"{OUT}.1.message.tool_calls.0.tool_call.id": "c1",
        f"{OUT}.1.message.tool_calls.0.tool_call.function.name": "f",
        f"{OUT}.1.message.tool_calls.0.tool_call.function.arguments": "{}",
    }
    assert _wire(attributes)["output_messages"] == [
        {"type": "text", "content": "Checking."},
        {"type": "tool_call", "content": {"id": "c1", "name": "f", "parameters": "{}"}},
    ]


SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


@pytest.mark.parametrize(
    ("schema", "tool"),
    [
        pytest.param(
            {
                "type": "function",
                "function": {"name": "f", "description": "d", "parameters": SCHEMA},
            },
            ("f", "d", SCHEMA),
            id="openai-chat",
        ),
        pytest.param(
            {"type": "function", "name": "f", "description": "d", "parameters": SCHEMA},
            ("f", "d", SCHEMA),
            id="openai-responses",
        ),
        pytest.param(
            {"name": "f", "description": "d", "input_schema": SCHEMA},
            ("f", "d", SCHEMA),
            id="anthropic",
        ),
        pytest.param({"name": "f", "parameters": SCHEMA}, ("f", "", SCHEMA), id="no-description"),
        pytest.param(
            {"type": "web_search", "search_context_size": "low"},
            ("web_search", "", {"type": "web_search", "search_context_size": "low"}),
            id="built-in-tool-keeps-its-settings",
        ),
    ],
)
def test_tools_in_every_providers_shape(schema: dict[str, Any], tool: tuple[str, str, Any]) -> None:
    attributes = {"llm.tools.0.tool.json_schema": json.dumps(schema)}
    (parsed,) = parse_llm_span(attributes).tools_available  # type: ignore[misc]
    assert (parsed.name, parsed.description, json.loads(parsed.parameters)) == tool


def test_a_tool_schema_that_is_not_json_is_kept_as_text() -> None:
    (parsed,) = parse_llm_span({"llm.tools.0.tool.json_schema": "not json"}).tools_available  # type: ignore[misc]
    assert (parsed.name, parsed.parameters) == ("unknown", "not json")


def test_no_tools_leaves_tools_available_out() -> None:
    assert "tools_available" not in _wire({f"{IN}.0.message.role": "user"})


def test_without_messages_the_raw_request_and_response_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="composo")
    wire = _wire({"input.value": '{"prompt": "hi"}', "output.value": '{"text": "hello"}'})
    assert wire["input_messages"] == [
        {"role": "user", "type": "text", "content": '{"prompt": "hi"}'}
    ]
    assert wire["output_messages"] == [{"type": "text", "content": '{"text": "hello"}'}]
    assert "the raw request is kept" in caplog.text
    assert "the raw response is kept" in caplog.text


def test_a_failed_call_keeps_its_input_with_no_output(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="composo")
    wire = _wire({f"{IN}.0.message.role": "user", f"{IN}.0.message.content": "hi"})
    assert wire["output_messages"] == []
    assert "no output messages recorded" in caplog.text


def test_evicted_attributes_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    attributes = {f"{IN}.63.message.role": "user", f"{IN}.63.message.content": "late"}
    interaction = parse_llm_span(attributes, span_name="ChatCompletion", dropped_attributes=130)
    assert [m.content for m in interaction.input_messages] == ["late"]
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "'ChatCompletion' lost 130 attributes" in record.getMessage()


def test_a_message_without_role_or_content_is_kept() -> None:
    wire = _wire({f"{IN}.0.message.name": "x"})
    assert wire["input_messages"] == [{"role": "unknown", "type": "text", "content": ""}]
