"""A local fake of the OpenAI, Anthropic and Gemini HTTP APIs, for the tracing tests.

The real client libraries talk to it over loopback, so the OpenInference instrumentors see the
calls they see in production. It answers like a small agent model, from the request alone:
given tools and no tool result yet, it says "Let me check." and calls every tool offered
with `{"query": <last user text>}`; otherwise it answers `Answer to: <last user text>`.
Both forms come plain or streamed (server-sent events), in each API's own wire format.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CREATED = 1_760_000_000


@dataclass(frozen=True)
class Reply:
    """What the fake model says: text, then tool calls (id, name, JSON arguments)."""

    text: str
    calls: list[tuple[str, str, str]] = field(default_factory=list)


def _reply(last_user_text: str, tool_names: list[str], answered: bool) -> Reply:
    if tool_names and not answered:
        arguments = json.dumps({"query": last_user_text})
        calls = [
            (f"call_{_digest(last_user_text, name, index)}", name, arguments)
            for index, name in enumerate(tool_names)
        ]
        return Reply("Let me check.", calls)
    return Reply(f"Answer to: {last_user_text}")


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def _texts(content: Any, text_types: tuple[str, ...] = ("text",)) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") in text_types
        )
    return ""


def _sse(events: list[tuple[str | None, Any]]) -> web.Response:
    lines = []
    for name, data in events:
        if name is not None:
            lines.append(f"event: {name}")
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}\n")
    return web.Response(body="\n".join(lines) + "\n", content_type="text/event-stream")


# OpenAI chat completions


def _openai_chat(body: dict[str, Any]) -> web.Response:
    messages = body.get("messages", [])
    users = [m for m in messages if m.get("role") == "user"]
    reply = _reply(
        _texts(users[-1]["content"]) if users else "",
        [tool["function"]["name"] for tool in body.get("tools", [])],
        bool(messages) and messages[-1].get("role") == "tool",
    )
    finish = "tool_calls" if reply.calls else "stop"
    model = body.get("model", "gpt-4o-mini")
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, n, a in reply.calls
            ]
        return web.json_response(
            {
                "id": f"chatcmpl-{_digest(body)}",
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
            }
        )
    base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": CREATED}
    base["model"] = model

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> tuple[None, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return None, {**base, "choices": [choice]}

    half = len(reply.text) // 2
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": reply.text[:half]}),
        chunk({"content": reply.text[half:]}),
    ]
    for index, (call_id, name, arguments) in enumerate(reply.calls):
        start = {"index": index, "id": call_id, "type": "function"}
        start["function"] = {"name": name, "arguments": ""}
        events.append(chunk({"tool_calls": [start]}))
        cut = len(arguments) // 2
        for piece in (arguments[:cut], arguments[cut:]):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events += [chunk({}, finish), (None, "[DONE]")]
    return _sse(events)


# OpenAI Responses


def _openai_responses(body: dict[str, Any]) -> web.Response:
    items = body.get("input", "")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    users = [item for item in items if item.get("role") == "user"]
    reply = _reply(
        _texts(users[-1]["content"], ("input_text",)) if users else "",
        [tool["name"] for tool in body.get("tools", []) if tool.get("type") == "function"],
        bool(items) and items[-1].get("type") == "function_call_output",
    )
    output: list[dict[str, Any]] = [
        {
            "type": "message",
            "id": f"msg_{_digest(reply.text)}",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
        }
    ]
    for call_id, name, arguments in reply.calls:
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{call_id}",
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        )
    return web.json_response(
        {
            "id": f"resp_{_digest(body)}",
            "object": "response",
            "created_at": CREATED,
            "status": "completed",
            "model": body.get("model", "gpt-4o-mini"),
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": body.get("tools", []),
            "usage": {
                "input_tokens": 12,
                "output_tokens": 7,
                "total_tokens": 19,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
    )


# Anthropic messages


def _anthropic(body: dict[str, Any]) -> web.Response:
    messages = body.get("messages", [])
    users = [m for m in messages if m.get("role") == "user" and _texts(m["content"])]
    last = messages[-1] if messages else {}
    answered = isinstance(last.get("content"), list) and any(
        block.get("type") == "tool_result" for block in last["content"]
    )
    reply = _reply(
        _texts(users[-1]["content"]) if users else "",
        [tool["name"] for tool in body.get("tools", [])],
        answered,
    )
    stop = "tool_use" if reply.calls else "end_turn"
    model = body.get("model", "claude-sonnet-4-5")
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
    for call_id, name, arguments in reply.calls:
        tool_id = call_id.replace("call_", "toolu_")
        blocks.append(
            {"type": "tool_use", "id": tool_id, "name": name, "input": json.loads(arguments)}
        )
    message = {
        "id": f"msg_{_digest(body)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 7},
    }
    if not body.get("stream"):
        return web.json_response(message)
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opening = {"type": "text", "text": ""}
            half = len(block["text"]) // 2
            deltas = [
                {"type": "text_delta", "text": piece}
                for piece in (block["text"][:half], block["text"][half:])
            ]
        else:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            cut = len(arguments) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in (arguments[:cut], arguments[cut:])
            ]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
        )
        for delta in deltas:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 7},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return _sse(events)


# Gemini generateContent


def _gemini(body: dict[str, Any], model: str, stream: bool) -> web.Response:
    contents = body.get("contents", [])
    user_texts = [
        " ".join(part["text"] for part in content.get("parts", []) if "text" in part)
        for content in contents
        if content.get("role", "user") == "user"
    ]
    user_texts = [text for text in user_texts if text]
    last_parts = contents[-1].get("parts", []) if contents else []
    tool_names = [
        declaration["name"]
        for tool in body.get("tools", [])
        for declaration in tool.get("functionDeclarations", [])
    ]
    reply = _reply(
        user_texts[-1] if user_texts else "",
        tool_names,
        any("functionResponse" in part for part in last_parts),
    )
    parts: list[dict[str, Any]] = [{"text": reply.text}]
    for _, name, arguments in reply.calls:
        parts.append({"functionCall": {"name": name, "args": json.loads(arguments)}})
    answer = {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19},
        "modelVersion": model,
    }
    return _sse([(None, answer)]) if stream else web.json_response(answer)


class FakeLLM:
    """The fake, listening on loopback in a background thread; `requests` records
    (path, JSON body) of every call, in arrival order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        assert self._port is not None, "start() first"
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/openai/v1"

    @property
    def anthropic_url(self) -> str:
        return f"{self.url}/anthropic"

    @property
    def gemini_url(self) -> str:
        return f"{self.url}/gemini"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        path = request.path
        with self._lock:
            self.requests.append((path, body))
        if path == "/openai/v1/chat/completions":
            return _openai_chat(body)
        if path == "/openai/v1/responses":
            return _openai_responses(body)
        if path == "/anthropic/v1/messages":
            return _anthropic(body)
        if path.startswith("/gemini/") and ":" in path:
            model, method = path.rsplit("/", 1)[1].split(":", 1)
            return _gemini(body, model, stream=method == "streamGenerateContent")
        return web.json_response({"error": f"no fake for {path}"}, status=404)

    def start(self) -> FakeLLM:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None)

        async def listen() -> None:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._port = runner.addresses[0][1]

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(listen())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(30) or failure:
            raise RuntimeError(f"the fake LLM server did not start: {failure}")
        return self

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._loop = self._thread = None


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    """A running FakeLLM, stopped on exit."""
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()
