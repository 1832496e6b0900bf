"""Turn the caller's `result=` into the assistant message appended to the conversation.

Provider objects are recognised by their shape (attributes or, for `.model_dump()` output, keys)
so this SDK never imports openai or anthropic. Accepted:

- `str`: the assistant's text.
- a message dict such as `{"role": "assistant", "content": ...}`: used as is (shallow copy).
  `role` defaults to "assistant"; any other role is refused, because a result is the model's
  turn. It needs `content` (which may be None) or OpenAI `tool_calls`.
- an OpenAI `ChatCompletion` (or its dump, a dict with `choices`): the first choice's message,
  or a bare `ChatCompletionMessage`.
- an OpenAI Responses API `Response` (or its dump: `"object": "response"` with `output`).
- an Anthropic `Message` (or its dump: `"type": "message"`, role assistant, a `content` list).

OpenAI inputs become an OpenAI chat message with `tool_calls`; Anthropic inputs become an
Anthropic message with `text` / `tool_use` blocks, so the result matches the format of the
conversation it belongs to. Reasoning and thinking are left out: they are not part of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from composo._exceptions import bad_input

_ACCEPTED = (
    "a str, a message dict, an OpenAI ChatCompletion or Responses API Response, "
    "or an Anthropic Message (or the .model_dump() of one)"
)


def _get(obj: object, name: str) -> Any:
    """Read a field from a pydantic-like object or from its dict dump alike."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _items(value: object) -> list[Any]:
    """A list/tuple field as a list; None and other shapes as empty."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return []


def result_to_message(result: object) -> dict[str, Any]:
    """Build the assistant message for the caller's `result=`.

    Args:
        result: The model output to evaluate; see the module docstring for accepted shapes.

    Returns:
        A new message dict; the caller's object is never modified.

    Raises:
        MalformedError: The result has none of the accepted shapes, or holds nothing to
            evaluate (no choices, no text and no tool calls).
    """
    if isinstance(result, str):
        return {"role": "assistant", "content": result}
    if isinstance(result, Mapping):
        if "choices" in result:
            return _from_chat_completion(result)
        if result.get("object") == "response" and "output" in result:
            return _from_response(result)
        if (
            result.get("type") == "message"
            and result.get("role") == "assistant"
            and isinstance(result.get("content"), list)
        ):
            return _from_anthropic_message(result)
        return _from_message_dict(result)
    if _get(result, "choices") is not None:
        return _from_chat_completion(result)
    if _get(result, "object") == "response" and _get(result, "output") is not None:
        return _from_response(result)
    if _get(result, "type") == "message" and _get(result, "role") == "assistant":
        return _from_anthropic_message(result)
    if _get(result, "role") == "assistant" and hasattr(result, "content"):
        return _from_chat_message(result, "ChatCompletionMessage")
    raise bad_input(f"result must be {_ACCEPTED}; got {type(result).__name__}")


def _from_message_dict(message: Mapping[str, Any]) -> dict[str, Any]:
    """A caller's message dict, copied, with the assistant role filled in when absent."""
    role = message.get("role", "assistant")
    if role != "assistant":
        raise bad_input(
            f"a result message must have role 'assistant', got {role!r}; put other turns in "
            "messages instead"
        )
    if "content" not in message and "tool_calls" not in message:
        raise bad_input(
            "a result message dict needs a 'content' key (or OpenAI 'tool_calls'); got keys "
            f"{sorted(str(key) for key in message)}"
        )
    return {**message, "role": "assistant"}


def _from_chat_completion(completion: object) -> dict[str, Any]:
    """The first choice of an OpenAI ChatCompletion as an OpenAI assistant message."""
    # n > 1 completions hold alternatives; the first is the one an application usually shows.
    choices = _items(_get(completion, "choices"))
    if not choices:
        raise bad_input("result is a ChatCompletion with no choices; there is nothing to evaluate")
    message = _get(choices[0], "message")
    if message is None:
        raise bad_input("result is a ChatCompletion whose first choice has no message")
    return _from_chat_message(message, "ChatCompletion")


def _from_chat_message(message: object, kind: str) -> dict[str, Any]:
    """An OpenAI ChatCompletionMessage (object or dict) as a plain assistant message."""
    content = _get(message, "content")
    if content is None:
        # A refusal is the model's visible answer, so it is what should be judged.
        content = _get(message, "refusal")
    tool_calls = [_chat_tool_call(call) for call in _items(_get(message, "tool_calls"))]
    return _openai_message(content, tool_calls, kind)


def _chat_tool_call(call: object) -> dict[str, Any]:
    """One chat tool call in the OpenAI wire format (function or custom tool)."""
    if _get(call, "type") == "custom":
        custom = _get(call, "custom")
        return {
            "id": _get(call, "id"),
            "type": "custom",
            "custom": {"name": _get(custom, "name"), "input": _get(custom, "input")},
        }
    function = _get(call, "function")
    return {
        "id": _get(call, "id"),
        "type": "function",
        "function": {"name": _get(function, "name"), "arguments": _get(function, "arguments")},
    }


def _from_response(response: object) -> dict[str, Any]:
    """An OpenAI Responses API Response as an OpenAI chat assistant message."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for item in _items(_get(response, "output")):
        kind = _get(item, "type")
        if kind == "message":
            for part in _items(_get(item, "content")):
                part_type = _get(part, "type")
                if part_type == "output_text":
                    texts.append(_get(part, "text") or "")
                elif part_type == "refusal":
                    texts.append(_get(part, "refusal") or "")
        elif kind == "function_call":
            tool_calls.append(
                {
                    "id": _get(item, "call_id"),
                    "type": "function",
                    "function": {"name": _get(item, "name"), "arguments": _get(item, "arguments")},
                }
            )
        elif kind == "custom_tool_call":
            tool_calls.append(
                {
                    "id": _get(item, "call_id"),
                    "type": "custom",
                    "custom": {"name": _get(item, "name"), "input": _get(item, "input")},
                }
            )
        # Reasoning and hosted-tool items (web search, file search...) are not the answer.
    # Joined without a separator, like openai's own `Response.output_text`.
    content = "".join(texts) if texts else None
    return _openai_message(content, tool_calls, "Response")


def _openai_message(content: object, tool_calls: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """An OpenAI assistant message, refusing one with neither text nor tool calls."""
    if content is None and not tool_calls:
        raise bad_input(f"result is a {kind} with no text and no tool calls to evaluate")
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _from_anthropic_message(message: object) -> dict[str, Any]:
    """An Anthropic Message as an Anthropic assistant message with text and tool_use blocks."""
    blocks: list[dict[str, Any]] = []
    for block in _items(_get(message, "content")):
        kind = _get(block, "type")
        if kind == "text":
            blocks.append({"type": "text", "text": _get(block, "text")})
        elif kind == "tool_use":
            tool_input = _get(block, "input")
            blocks.append(
                {
                    "type": "tool_use",
                    "id": _get(block, "id"),
                    "name": _get(block, "name"),
                    # A copy, so a later change to the caller's object cannot alter the request.
                    "input": dict(tool_input) if isinstance(tool_input, Mapping) else tool_input,
                }
            )
        # Thinking blocks and server-side tool blocks are not part of the answer.
    if not blocks:
        raise bad_input("result is an Anthropic Message with no text or tool_use blocks")
    return {"role": "assistant", "content": blocks}


def responses_input_to_messages(value: object) -> list[dict[str, Any]]:
    """Turn an OpenAI Responses API `input` (a str or a list of items) into chat messages.

    Recognised by shape, like `result_to_message`: a str is one user message; items with
    `role` and `content` are messages (an assistant `output_text` list is joined into text);
    `function_call` items become assistant `tool_calls`, `function_call_output` items become
    `tool` messages. Reasoning items are left out, as in results.

    Raises:
        MalformedError: Not a str or a list, or an item of none of these shapes.
    """
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise bad_input(
            f"input must be a str or a list of Responses API input items, got "
            f"{type(value).__name__}"
        )
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        kind = _get(item, "type")
        role = _get(item, "role")
        if kind == "reasoning":
            continue
        if kind == "function_call":
            call = {"name": _get(item, "name"), "arguments": _get(item, "arguments")}
            tool_call = {"id": _get(item, "call_id"), "type": "function", "function": call}
            messages.append({"role": "assistant", "content": None, "tool_calls": [tool_call]})
        elif kind == "function_call_output":
            output = _get(item, "output")
            messages.append(
                {"role": "tool", "tool_call_id": _get(item, "call_id"), "content": output}
            )
        elif isinstance(role, str) and (isinstance(item, Mapping) or hasattr(item, "content")):
            content = _get(item, "content")
            if (
                role == "assistant"
                and isinstance(content, Sequence)
                and not isinstance(content, str)
            ):
                texts = [_get(part, "text") for part in content]
                content = "\n".join(text for text in texts if isinstance(text, str))
            messages.append({"role": role, "content": content})
        else:
            raise bad_input(
                f"input[{index}] is not a Responses API input item this SDK knows (a message "
                f"with role and content, a function_call or a function_call_output): "
                f"{type(item).__name__}"
            )
    return messages
