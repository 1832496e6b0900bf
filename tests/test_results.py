"""Tests for composo._results: `result=` becomes one assistant message, recognised by shape."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from composo._exceptions import MalformedError
from composo._results import result_to_message

# --- payloads shaped like real provider responses -----------------------------------------

CHAT_TEXT: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": "Paris is the capital of France."},
        }
    ],
}

CHAT_TOOLS: dict[str, Any] = {
    **CHAT_TEXT,
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    },
                ],
            },
        }
    ],
}

CHAT_REFUSAL: dict[str, Any] = {
    **CHAT_TEXT,
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
        }
    ],
}

CHAT_EMPTY: dict[str, Any] = {**CHAT_TEXT, "choices": []}

RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1_700_000_000,
    "model": "gpt-4.1",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "output": [
        {"id": "rs_1", "type": "reasoning", "summary": []},
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "Let me check. ", "annotations": []},
                {"type": "output_text", "text": "One moment.", "annotations": []},
            ],
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_9",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
    ],
}

RESPONSE_TEXT_ONLY: dict[str, Any] = {**RESPONSE, "output": RESPONSE["output"][:2]}
RESPONSE_REASONING_ONLY: dict[str, Any] = {**RESPONSE, "output": RESPONSE["output"][:1]}

ANTHROPIC: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 20},
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig"},
        {"type": "text", "text": "Checking the weather.", "citations": None},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
}

ANTHROPIC_THINKING_ONLY: dict[str, Any] = {**ANTHROPIC, "content": ANTHROPIC["content"][:1]}

EXPECTED_CHAT_TEXT = {"role": "assistant", "content": "Paris is the capital of France."}
EXPECTED_CHAT_TOOLS = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ],
}
EXPECTED_RESPONSE = {
    "role": "assistant",
    "content": "Let me check. One moment.",
    "tool_calls": [
        {
            "id": "call_9",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}
EXPECTED_ANTHROPIC = {
    "role": "assistant",
    "content": [
        {"type": "text", "text": "Checking the weather."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
}


# --- plain Python inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("4", {"role": "assistant", "content": "4"}),
        ("", {"role": "assistant", "content": ""}),
        ({"role": "assistant", "content": "4"}, {"role": "assistant", "content": "4"}),
        ({"content": "4"}, {"role": "assistant", "content": "4"}),
        (
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
        ),
        (
            {"role": "assistant", "tool_calls": EXPECTED_CHAT_TOOLS["tool_calls"]},
            {"role": "assistant", "tool_calls": EXPECTED_CHAT_TOOLS["tool_calls"]},
        ),
        ({"role": "assistant", "content": None, "name": "bot"}, None),
    ],
)
def test_str_and_message_dicts_become_an_assistant_message(
    result: object, expected: dict[str, Any] | None
) -> None:
    assert result_to_message(result) == (result if expected is None else expected)


def test_message_dict_is_copied_not_reused() -> None:
    given = {"role": "assistant", "content": "4"}
    message = result_to_message(given)
    assert message == given
    assert message is not given
    message["content"] = "5"
    assert given == {"role": "assistant", "content": "4"}


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (42, "result must be a str, a message dict, an OpenAI ChatCompletion .*; got int"),
        (None, "got NoneType"),
        (["4"], "got list"),
        (b"4", "got bytes"),
        (object(), "got object"),
        ({"role": "assistant"}, "needs a 'content' key .*got keys \\['role'\\]"),
        ({}, "needs a 'content' key"),
        ({"role": "user", "content": "hi"}, "must have role 'assistant', got 'user'"),
        (CHAT_EMPTY, "ChatCompletion with no choices"),
        ({"choices": [{"index": 0}]}, "first choice has no message"),
        (
            {"choices": [{"message": {"role": "assistant", "content": None}}]},
            "ChatCompletion with no text and no tool calls",
        ),
        (RESPONSE_REASONING_ONLY, "Response with no text and no tool calls"),
        (ANTHROPIC_THINKING_ONLY, "Anthropic Message with no text or tool_use blocks"),
    ],
)
def test_unusable_results_are_refused_with_what_is_accepted(result: object, message: str) -> None:
    with pytest.raises(MalformedError, match=message) as info:
        result_to_message(result)
    assert info.value.status_code is None


# --- model_dump() dicts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dump", "expected"),
    [
        (CHAT_TEXT, EXPECTED_CHAT_TEXT),
        (CHAT_TOOLS, EXPECTED_CHAT_TOOLS),
        (CHAT_REFUSAL, {"role": "assistant", "content": "I can't help."}),
        (RESPONSE, EXPECTED_RESPONSE),
        (RESPONSE_TEXT_ONLY, {"role": "assistant", "content": "Let me check. One moment."}),
        (ANTHROPIC, EXPECTED_ANTHROPIC),
    ],
)
def test_provider_dumps_are_recognised_by_their_keys(
    dump: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(dump)
    assert result_to_message(dump) == expected
    assert dump == before


# --- real openai objects ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (CHAT_TEXT, EXPECTED_CHAT_TEXT),
        (CHAT_TOOLS, EXPECTED_CHAT_TOOLS),
        (CHAT_REFUSAL, {"role": "assistant", "content": "I can't help."}),
    ],
)
def test_openai_chat_completion_becomes_an_openai_assistant_message(
    payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    chat = pytest.importorskip("openai.types.chat")
    completion = chat.ChatCompletion.model_validate(payload)
    assert result_to_message(completion) == expected
    assert result_to_message(completion.model_dump()) == expected
    assert result_to_message(completion.choices[0].message) == expected


def test_openai_chat_completion_custom_tool_call_is_kept() -> None:
    chat = pytest.importorskip("openai.types.chat")
    payload = copy.deepcopy(CHAT_TOOLS)
    payload["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_c", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}
    ]
    completion = chat.ChatCompletion.model_validate(payload)
    assert result_to_message(completion) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_c", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}
        ],
    }


def test_openai_chat_completion_without_choices_is_refused() -> None:
    chat = pytest.importorskip("openai.types.chat")
    completion = chat.ChatCompletion.model_validate(CHAT_EMPTY)
    with pytest.raises(MalformedError, match="ChatCompletion with no choices"):
        result_to_message(completion)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (RESPONSE, EXPECTED_RESPONSE),
        (RESPONSE_TEXT_ONLY, {"role": "assistant", "content": "Let me check. One moment."}),
    ],
)
def test_openai_response_becomes_an_openai_assistant_message(
    payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    responses = pytest.importorskip("openai.types.responses")
    response = responses.Response.model_validate(payload)
    assert response.output_text == "Let me check. One moment."
    assert result_to_message(response) == expected
    assert result_to_message(response.model_dump()) == expected


def test_openai_response_with_only_reasoning_is_refused() -> None:
    responses = pytest.importorskip("openai.types.responses")
    response = responses.Response.model_validate(RESPONSE_REASONING_ONLY)
    with pytest.raises(MalformedError, match="Response with no text and no tool calls"):
        result_to_message(response)


# --- real anthropic objects ---------------------------------------------------------------


def test_anthropic_message_becomes_an_anthropic_assistant_message() -> None:
    types = pytest.importorskip("anthropic.types")
    message = types.Message.model_validate(ANTHROPIC)
    assert result_to_message(message) == EXPECTED_ANTHROPIC
    assert result_to_message(message.model_dump()) == EXPECTED_ANTHROPIC


def test_anthropic_tool_input_is_copied() -> None:
    types = pytest.importorskip("anthropic.types")
    message = types.Message.model_validate(ANTHROPIC)
    converted = result_to_message(message)
    converted["content"][1]["input"]["city"] = "Rome"
    assert message.content[2].input == {"city": "Paris"}


def test_anthropic_message_with_only_thinking_is_refused() -> None:
    types = pytest.importorskip("anthropic.types")
    message = types.Message.model_validate(ANTHROPIC_THINKING_ONLY)
    with pytest.raises(MalformedError, match="Anthropic Message with no text or tool_use"):
        result_to_message(message)


# --- responses_input_to_messages: the official SDK's `input=` ---------------------------------


def test_responses_input_string_is_one_user_message() -> None:
    from composo._results import responses_input_to_messages

    assert responses_input_to_messages("Where is my order?") == [
        {"role": "user", "content": "Where is my order?"}
    ]


def test_responses_input_items_become_chat_messages() -> None:
    from composo._results import responses_input_to_messages

    items = [
        {"role": "system", "content": "Be brief."},
        {"type": "message", "role": "user", "content": "Weather in Paris?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"q":"Paris"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "It is"},
                {"type": "output_text", "text": "18C."},
            ],
        },
    ]
    assert responses_input_to_messages(items) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"q":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "assistant", "content": "It is\n18C."},
    ]


def test_responses_input_accepts_real_openai_item_objects() -> None:
    openai_types = pytest.importorskip("openai.types.responses")
    from composo._results import responses_input_to_messages

    items = [
        openai_types.EasyInputMessageParam(role="user", content="Hi"),
        openai_types.ResponseFunctionToolCall(
            type="function_call", call_id="c9", name="lookup", arguments="{}"
        ),
    ]
    messages = responses_input_to_messages(items)
    assert messages[0] == {"role": "user", "content": "Hi"}
    assert messages[1]["tool_calls"][0]["id"] == "c9"


@pytest.mark.parametrize("bad", [42, b"bytes", [{"type": "mystery"}], [7]])
def test_responses_input_of_unknown_shape_is_refused(bad: object) -> None:
    from composo._results import responses_input_to_messages

    with pytest.raises(MalformedError):
        responses_input_to_messages(bad)
