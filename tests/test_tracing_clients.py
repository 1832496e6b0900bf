"""Real openai, anthropic and google-genai clients, instrumented by the OpenInference
instrumentors, talking to the local fake (tests/_fake_llm.py): what each call becomes in the
trace. The official tracer dropped most of these; each test names what it lost."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")

from composo.tracing import AgentTracer
from composo_api.models import LLMInteraction, LLMToolDefinition
from tests import _tracing_util
from tests._fake_llm import FakeLLM
from tests._tracing_util import (
    WEATHER_TOOL_SCHEMA,
    instance,
    interactions,
    only_interaction,
    require,
    wire,
)

tracing = _tracing_util.tracing
llm = _tracing_util.llm
openai_client = _tracing_util.openai_client
pytestmark = pytest.mark.usefixtures("tracing")

SYSTEM = "You answer questions about the weather."
TIME_TOOL_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}}


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "type": "text", "content": text}


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "name": name, "parameters": json.dumps(arguments)}


def _response(call_id: str, text: str, name: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"id": call_id, "response": text}
    if name is not None:
        content["name"] = name
    return {"role": "tool", "type": "tool_response", "content": content}


def _tools(interaction: LLMInteraction) -> list[tuple[str, str, Any]]:
    assert isinstance(interaction.tools_available, list)
    return [_tool(tool) for tool in interaction.tools_available]


def _tool(tool: LLMToolDefinition) -> tuple[str, str, Any]:
    return tool.name, tool.description, json.loads(tool.parameters)


def _the_interaction(tracer: AgentTracer) -> LLMInteraction:
    return only_interaction(instance(tracer.trace, tracer.agent_id))


# OpenAI chat completions

OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": WEATHER_TOOL_SCHEMA,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The time in a zone",
            "parameters": TIME_TOOL_SCHEMA,
        },
    },
]


def _openai_follow_up(question: str, answer: Any) -> list[dict[str, Any]]:
    """The conversation after the model's tool calls, with the tools' results."""
    message = answer.choices[0].message
    calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments},
        }
        for call in message.tool_calls
    ]
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": question},
        {"role": "assistant", "content": message.content, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18°C and sunny"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "14:05"},
    ]


def test_openai_chat_keeps_every_tool_call_and_the_text_beside_them(openai_client: Any) -> None:
    # The official tracer kept only the first input tool call and dropped the assistant text.
    question = "What is the weather in Paris, and what time is it there?"
    with AgentTracer("weather") as tracer:
        first = openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            tools=OPENAI_TOOLS,
        )
        follow_up = _openai_follow_up(question, first)
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=follow_up, tools=OPENAI_TOOLS
        )

    calls = [(c.id, c.function.name) for c in first.choices[0].message.tool_calls]
    arguments = {"query": question}
    asked, answered = interactions(instance(tracer.trace, tracer.agent_id))
    assert wire(asked.output_messages) == [
        {"type": "text", "content": "Let me check."},
        {"type": "tool_call", "content": _call(calls[0][0], "get_weather", arguments)},
        {"type": "tool_call", "content": _call(calls[1][0], "get_time", arguments)},
    ]
    assert wire(answered.input_messages) == [
        _text("system", SYSTEM),
        _text("user", question),
        _text("assistant", "Let me check."),
        {
            "role": "assistant",
            "type": "tool_call",
            "content": _call(calls[0][0], "get_weather", arguments),
        },
        {
            "role": "assistant",
            "type": "tool_call",
            "content": _call(calls[1][0], "get_time", arguments),
        },
        _response(calls[0][0], "18°C and sunny"),
        _response(calls[1][0], "14:05"),
    ]
    assert wire(answered.output_messages) == [{"type": "text", "content": f"Answer to: {question}"}]
    assert _tools(answered) == [
        ("get_weather", "The weather in a city", WEATHER_TOOL_SCHEMA),
        ("get_time", "The time in a zone", TIME_TOOL_SCHEMA),
    ]


async def test_openai_async_chat_is_recorded(llm: FakeLLM) -> None:
    require("openai")
    import openai

    client = openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0)
    async with client, AgentTracer("async-chat") as tracer:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
        )

    interaction = _the_interaction(tracer)
    assert wire(interaction.input_messages) == [_text("user", "Hello there")]
    assert wire(interaction.output_messages) == [
        {"type": "text", "content": "Answer to: Hello there"}
    ]


def test_openai_streamed_chat_is_recorded_whole(openai_client: Any) -> None:
    # The official tracer dropped streamed responses altogether.
    question = "Weather in Rome?"
    with AgentTracer("streamer") as tracer:
        stream = openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            tools=OPENAI_TOOLS[:1],
            stream=True,
        )
        chunks = list(stream)

    streamed_text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed_text == "Let me check."
    (call_id,) = {
        call.id
        for c in chunks
        if c.choices
        for call in c.choices[0].delta.tool_calls or []
        if call.id
    }
    assert wire(_the_interaction(tracer).output_messages) == [
        {"type": "text", "content": "Let me check."},
        {"type": "tool_call", "content": _call(call_id, "get_weather", {"query": question})},
    ]


async def test_openai_async_streamed_chat_is_recorded_whole(llm: FakeLLM) -> None:
    require("openai")
    import openai

    client = openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0)
    async with client, AgentTracer("async-streamer") as tracer:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Stream me an answer"}],
            stream=True,
        )
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]

    assert "".join(p or "" for p in pieces) == "Answer to: Stream me an answer"
    assert wire(_the_interaction(tracer).output_messages) == [
        {"type": "text", "content": "Answer to: Stream me an answer"}
    ]


def test_openai_content_part_lists_are_kept(
    openai_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The official tracer dropped a call whose message content was a list of parts.
    caplog.set_level(logging.DEBUG, logger="composo")
    with AgentTracer("vision") as tracer:
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                        {"type": "text", "text": "Answer in one word."},
                    ],
                }
            ],
        )

    assert wire(_the_interaction(tracer).input_messages) == [
        _text("user", "What is in this picture?"),
        {"role": "user", "type": "image", "content": "[image: https://example.com/cat.png]"},
        _text("user", "Answer in one word."),
    ]
    assert "image part kept as a placeholder" in caplog.text


# OpenAI Responses


def test_openai_responses_api_is_recorded(openai_client: Any) -> None:
    # The official tracer did not read Responses API calls at all.
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": WEATHER_TOOL_SCHEMA,
        }
    ]
    with AgentTracer("responder") as tracer:
        first = openai_client.responses.create(
            model="gpt-4o-mini", instructions=SYSTEM, input="Weather in Lima?", tools=tools
        )
        call = next(item for item in first.output if item.type == "function_call")
        openai_client.responses.create(
            model="gpt-4o-mini",
            instructions=SYSTEM,
            input=[
                {"role": "user", "content": "Weather in Lima?"},
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
                {"type": "function_call_output", "call_id": call.call_id, "output": "20°C"},
            ],
            tools=tools,
        )

    asked, answered = interactions(instance(tracer.trace, tracer.agent_id))
    question_call = _call(call.call_id, "get_weather", {"query": "Weather in Lima?"})
    assert wire(asked.input_messages) == [
        _text("system", SYSTEM),
        _text("user", "Weather in Lima?"),
    ]
    assert wire(asked.output_messages) == [
        {"type": "text", "content": "Let me check."},
        {"type": "tool_call", "content": question_call},
    ]
    assert wire(answered.input_messages) == [
        _text("system", SYSTEM),
        _text("user", "Weather in Lima?"),
        {"role": "assistant", "type": "tool_call", "content": question_call},
        _response(call.call_id, "20°C"),
    ]
    assert wire(answered.output_messages) == [
        {"type": "text", "content": "Answer to: Weather in Lima?"}
    ]
    assert _tools(answered) == [("get_weather", "The weather in a city", WEATHER_TOOL_SCHEMA)]


# Anthropic messages

ANTHROPIC_TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": WEATHER_TOOL_SCHEMA,
    }
]
ANTHROPIC_CONVERSATION = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Weather in Paris?"},
            {"type": "text", "text": "And in Oslo."},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check both."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [
                    {"type": "text", "text": "18°C"},
                    {"type": "text", "text": "sunny"},
                ],
            },
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "5°C, rain"},
        ],
    },
]
ANTHROPIC_INPUT = [
    _text("system", SYSTEM),
    _text("user", "Weather in Paris?"),
    _text("user", "And in Oslo."),
    _text("assistant", "Let me check both."),
    {
        "role": "assistant",
        "type": "tool_call",
        "content": _call("toolu_1", "get_weather", {"city": "Paris"}),
    },
    {
        "role": "assistant",
        "type": "tool_call",
        "content": _call("toolu_2", "get_weather", {"city": "Oslo"}),
    },
    _response("toolu_1", "18°C\nsunny"),
    _response("toolu_2", "5°C, rain"),
]
ANTHROPIC_ANSWER = [{"type": "text", "content": "Answer to: Weather in Paris? And in Oslo."}]


@pytest.fixture
def anthropic_client(llm: FakeLLM) -> Iterator[Any]:
    require("anthropic")
    import anthropic

    with anthropic.Anthropic(api_key="k", base_url=llm.anthropic_url, max_retries=0) as client:
        yield client


def test_anthropic_messages_keep_system_text_blocks_tool_use_and_tool_results(
    anthropic_client: Any,
) -> None:
    # The official tracer dropped the system prompt, turned the user's text blocks into "",
    # kept one tool call, and dropped the call for the tool_result with list content.
    with AgentTracer("claude") as tracer:
        anthropic_client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=256,
            system=SYSTEM,
            messages=ANTHROPIC_CONVERSATION,
            tools=ANTHROPIC_TOOLS,
        )

    interaction = _the_interaction(tracer)
    assert wire(interaction.input_messages) == ANTHROPIC_INPUT
    assert wire(interaction.output_messages) == ANTHROPIC_ANSWER
    assert _tools(interaction) == [("get_weather", "The weather in a city", WEATHER_TOOL_SCHEMA)]


async def test_anthropic_async_messages_are_recorded(llm: FakeLLM) -> None:
    require("anthropic")
    import anthropic

    async with (
        anthropic.AsyncAnthropic(api_key="k", base_url=llm.anthropic_url, max_retries=0) as client,
        AgentTracer("async-claude") as tracer,
    ):
        await client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=256,
            system=SYSTEM,
            messages=ANTHROPIC_CONVERSATION,
        )

    interaction = _the_interaction(tracer)
    assert wire(interaction.input_messages) == ANTHROPIC_INPUT
    assert wire(interaction.output_messages) == ANTHROPIC_ANSWER


def test_anthropic_streams_are_recorded_with_their_tool_use(anthropic_client: Any) -> None:
    question = [{"role": "user", "content": "Weather in Bern?"}]
    system_blocks = [{"type": "text", "text": SYSTEM}]
    with AgentTracer("claude-stream") as tracer:
        events = list(
            anthropic_client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=256,
                system=system_blocks,
                messages=question,
                tools=ANTHROPIC_TOOLS,
                stream=True,
            )
        )
        with anthropic_client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=256, messages=question
        ) as stream:
            text = "".join(stream.text_stream)

    assert events[-1].type == "message_stop"
    assert text == "Answer to: Weather in Bern?"
    (tool_use_id,) = [
        e.content_block.id
        for e in events
        if e.type == "content_block_start" and e.content_block.type == "tool_use"
    ]
    streamed, helper = interactions(instance(tracer.trace, tracer.agent_id))
    assert wire(streamed.input_messages) == [
        _text("system", SYSTEM),
        _text("user", "Weather in Bern?"),
    ]
    assert wire(streamed.output_messages) == [
        {"type": "text", "content": "Let me check."},
        {
            "type": "tool_call",
            "content": _call(tool_use_id, "get_weather", {"query": "Weather in Bern?"}),
        },
    ]
    assert wire(helper.output_messages) == [
        {"type": "text", "content": "Answer to: Weather in Bern?"}
    ]


async def test_anthropic_async_stream_is_recorded(llm: FakeLLM) -> None:
    require("anthropic")
    import anthropic

    async with (
        anthropic.AsyncAnthropic(api_key="k", base_url=llm.anthropic_url, max_retries=0) as client,
        AgentTracer("async-claude-stream") as tracer,
        client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=256,
            messages=[{"role": "user", "content": "Stream please"}],
        ) as stream,
    ):
        message = await stream.get_final_message()

    assert message.content[0].text == "Answer to: Stream please"
    assert wire(_the_interaction(tracer).output_messages) == [
        {"type": "text", "content": "Answer to: Stream please"}
    ]


# Google GenAI


@pytest.fixture
def genai_client(llm: FakeLLM) -> Iterator[Any]:
    require("google.genai")
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=llm.gemini_url))
    try:
        yield client
    finally:
        client.close()


def _gemini_config(with_tools: bool = True) -> Any:
    from google.genai import types

    declaration = types.FunctionDeclaration(
        name="get_weather",
        description="The weather in a city",
        parameters_json_schema=WEATHER_TOOL_SCHEMA,
    )
    tools = [types.Tool(function_declarations=[declaration])] if with_tools else None
    return types.GenerateContentConfig(system_instruction=SYSTEM, tools=tools)


def test_google_genai_calls_are_recorded_with_paired_tool_ids(genai_client: Any) -> None:
    from google.genai import types

    contents = [
        types.Content(role="user", parts=[types.Part(text="Weather in Kyiv?")]),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(name="get_weather", args={"city": "Kyiv"})
                )
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="get_weather", response={"temp": "3°C"}
                    )
                )
            ],
        ),
    ]
    with AgentTracer("gemini") as tracer:
        genai_client.models.generate_content(
            model="gemini-2.5-flash", contents="Weather in Kyiv?", config=_gemini_config()
        )
        answer = genai_client.models.generate_content(
            model="gemini-2.5-flash", contents=contents, config=_gemini_config()
        )

    assert answer.text == "Answer to: Weather in Kyiv?"
    asked, answered = interactions(instance(tracer.trace, tracer.agent_id))
    assert wire(asked.output_messages) == [
        {"type": "text", "content": "Let me check."},
        # Gemini's calls have no id; the trace gives each one, unique in the interaction.
        {
            "type": "tool_call",
            "content": _call("get_weather-1", "get_weather", {"query": "Weather in Kyiv?"}),
        },
    ]
    assert wire(answered.input_messages) == [
        _text("system", SYSTEM),
        _text("user", "Weather in Kyiv?"),
        {
            "role": "assistant",
            "type": "tool_call",
            "content": _call("get_weather-1", "get_weather", {"city": "Kyiv"}),
        },
        _response("get_weather-1", '{"temp": "3°C"}', name="get_weather"),
    ]
    assert _tools(answered) == [("get_weather", "The weather in a city", WEATHER_TOOL_SCHEMA)]


def test_google_genai_stream_is_recorded(genai_client: Any) -> None:
    with AgentTracer("gemini-stream") as tracer:
        chunks = list(
            genai_client.models.generate_content_stream(
                model="gemini-2.5-flash", contents="Stream it", config=_gemini_config(False)
            )
        )

    assert "".join(chunk.text or "" for chunk in chunks) == "Answer to: Stream it"
    interaction = _the_interaction(tracer)
    assert wire(interaction.input_messages) == [_text("system", SYSTEM), _text("user", "Stream it")]
    assert wire(interaction.output_messages) == [
        {"type": "text", "content": "Answer to: Stream it"}
    ]


# google-genai's async client subclasses aiohttp.ClientSession, which aiohttp deprecates.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_google_genai_async_call_is_recorded(llm: FakeLLM) -> None:
    require("google.genai")
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=llm.gemini_url))
    try:
        async with AgentTracer("gemini-async") as tracer:
            await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="Async hello"
            )
    finally:
        await client.aio.aclose()
        client.close()

    assert wire(_the_interaction(tracer).output_messages) == [
        {"type": "text", "content": "Answer to: Async hello"}
    ]
