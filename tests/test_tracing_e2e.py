"""End to end: agents traced through real openai, anthropic and google-genai clients (against
the fake LLM), then `evaluate_trace(tracer.trace, ...)` against the local Composo mock over
real sockets; the mock validates every request against openapi.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")

from composo import AsyncComposo, Composo, EvaluationResponse, MockServer, MultiAgentTraceResponse
from composo.tracing import AgentTracer, agent_tracer
from tests import _tracing_util
from tests._fake_llm import FakeLLM
from tests._tracing_util import WEATHER_TOOL_SCHEMA, ask, require

tracing = _tracing_util.tracing
llm = _tracing_util.llm
openai_client = _tracing_util.openai_client
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("tracing")]

API_KEY = "tracing-e2e-key"
CRITERION = "Reward agents that answer the user's question using the tools' results"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


def _stored_trace(server: MockServer, request_id: str) -> Any:
    response = httpx.get(
        f"{server.base_url}/api/v1/traces/{request_id}", headers={"API-Key": API_KEY}
    )
    assert response.status_code == 200, response.text
    return response.json()["trace"]


def _every_provider(llm: FakeLLM, openai_client: Any) -> AgentTracer:
    """A planner (OpenAI chat with tools) calling a researcher (Responses API), a Claude
    reviewer and a Gemini summariser."""
    require("anthropic")
    require("google.genai")
    import anthropic
    from google import genai
    from google.genai import types

    @agent_tracer("researcher")
    def research(question: str) -> str:
        answer = openai_client.responses.create(model="gpt-4o-mini", input=question)
        text: str = answer.output_text
        return text

    @agent_tracer("reviewer")
    def review(draft: str) -> None:
        with anthropic.Anthropic(api_key="k", base_url=llm.anthropic_url, max_retries=0) as claude:
            claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=256,
                system="You review drafts.",
                messages=[{"role": "user", "content": [{"type": "text", "text": draft}]}],
            )

    @agent_tracer("summariser")
    def summarise(text: str) -> None:
        gemini = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=llm.gemini_url))
        try:
            gemini.models.generate_content(model="gemini-2.5-flash", contents=text)
        finally:
            gemini.close()

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": WEATHER_TOOL_SCHEMA,
            },
        }
    ]
    with AgentTracer("planner", agent_id="planner-1") as planner:
        question = "Plan a day in Rome around the weather"
        first = openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], tools=tools
        )
        call = first.choices[0].message.tool_calls[0]
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            tools=tools,
            messages=[
                {"role": "user", "content": question},
                {
                    "role": "assistant",
                    "content": first.choices[0].message.content,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.function.name,
                                "arguments": call.function.arguments,
                            },
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": call.id, "content": "24°C, sunny"},
            ],
        )
        notes = research("Top sights in Rome")
        review(notes)
        summarise(notes)
    return planner


def test_traced_agents_are_scored_by_evaluate_trace(
    llm: FakeLLM, openai_client: Any, server: MockServer
) -> None:
    planner = _every_provider(llm, openai_client)
    trace = planner.trace

    with Composo(base_url=server.base_url, api_key=API_KEY) as client:
        response = client.evaluate_trace(trace, CRITERION)
        from_dict = client.evaluate_trace(trace.to_dict(), CRITERION)

    assert isinstance(response, MultiAgentTraceResponse)
    assert isinstance(from_dict, MultiAgentTraceResponse)
    by_name = response.results_by_agent_name.additional_properties
    assert sorted(by_name) == ["planner", "researcher", "reviewer", "summariser"]
    planner_result = by_name["planner"].results_by_agent_instance_id["planner-1"]
    assert isinstance(planner_result, EvaluationResponse)
    assert 0.0 <= planner_result.score <= 1.0
    for name in ("researcher", "reviewer", "summariser"):
        (result,) = by_name[name].results_by_agent_instance_id.additional_properties.values()
        assert isinstance(result, EvaluationResponse)
    # The service stores exactly the trace the tracer built.
    assert _stored_trace(server, response.request_id) == trace.to_dict()


async def test_async_agents_are_scored_by_the_async_client(
    llm: FakeLLM, server: MockServer
) -> None:
    require("openai")
    import openai

    @agent_tracer
    async def helper(client: Any) -> None:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Help with the plan"}]
        )

    openai_async = openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0)
    async with openai_async, AgentTracer("lead") as lead:
        await openai_async.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Make a plan"}]
        )
        await helper(openai_async)

    async with AsyncComposo(base_url=server.base_url, api_key=API_KEY) as composo:
        response = await composo.evaluate_trace(lead.trace, CRITERION)

    assert isinstance(response, MultiAgentTraceResponse)
    assert sorted(response.results_by_agent_name.additional_properties) == ["helper", "lead"]
    lead_results = response.results_by_agent_name["lead"].results_by_agent_instance_id
    assert isinstance(lead_results[lead.agent_id], EvaluationResponse)


def test_several_criteria_score_one_traced_agent(openai_client: Any, server: MockServer) -> None:
    with AgentTracer("chatty") as chatty:
        for turn in range(3):
            ask(openai_client, f"turn {turn}")
    with Composo(base_url=server.base_url, api_key=API_KEY) as client:
        response = client.evaluate_trace(
            chatty.trace, [CRITERION, "Passes if every turn is answered"]
        )
    assert [sorted(r.results_by_agent_name.additional_properties) for r in response] == [
        ["chatty"],
        ["chatty"],
    ]
