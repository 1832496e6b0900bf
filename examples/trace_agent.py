"""Trace a small multi-agent run and score it with evaluate_trace, offline.

    python examples/trace_agent.py

Needs `pip install 'composo[tracing,mock]' openai` (the dev install has all of it). The
OpenAI client's HTTP goes to a fake model (`fake_model`, through an httpx MockTransport) and
the trace is scored by the local Composo mock server, whose scores are synthetic. For real
calls, drop `http_client=` (OPENAI_API_KEY is read as usual) and use `Composo()` with
COMPOSO_API_KEY instead of the mock server.
"""

from __future__ import annotations

import json

import httpx
import openai

from composo import AgentTracer, Composo, ComposoTracer, Instruments, MockServer, agent_tracer

CRITERION = "Reward agents whose answer uses the tool results they were given"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Today's weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def fake_model(request: httpx.Request) -> httpx.Response:
    """Answers like a chat model: calls get_weather when offered it, then answers."""
    body = json.loads(request.content)
    last = body["messages"][-1]
    if body.get("tools") and last["role"] != "tool":
        call = {"name": "get_weather", "arguments": json.dumps({"city": "Rome"})}
        message = {
            "role": "assistant",
            "content": "Let me check the weather.",
            "tool_calls": [{"id": "call_weather_1", "type": "function", "function": call}],
        }
    else:
        message = {"role": "assistant", "content": f"Noted: {last['content']}"}
    choice = {"index": 0, "finish_reason": "stop", "message": message}
    completion = {"id": "chatcmpl-demo", "object": "chat.completion", "created": 0}
    return httpx.Response(200, json={**completion, "model": body["model"], "choices": [choice]})


def get_weather(city: str) -> str:
    return f"{city}: 24°C and sunny"


ComposoTracer.init(Instruments.OPENAI)  # once, before any agent runs
llm = openai.OpenAI(
    api_key="not-needed-for-the-fake",
    base_url="https://llm.invalid/v1",
    http_client=httpx.Client(transport=httpx.MockTransport(fake_model)),
)


@agent_tracer("weather")
def weather_agent(question: str) -> str:
    """One tool-using agent: the model asks for the weather, gets it, and answers."""
    messages: list[dict[str, object]] = [{"role": "user", "content": question}]
    reply = (
        llm.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
        .choices[0]
        .message
    )
    messages.append(reply.model_dump(exclude_none=True))
    for call in reply.tool_calls or []:
        city = json.loads(call.function.arguments)["city"]
        messages.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(city)})
    final = llm.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
    )
    return final.choices[0].message.content or ""


@agent_tracer("writer")
def writer_agent(notes: str) -> str:
    answer = llm.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Write a day plan: {notes}"}]
    )
    return answer.choices[0].message.content or ""


def main() -> None:
    with AgentTracer("planner") as planner:
        llm.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan a day in Rome"}]
        )
        notes = weather_agent("What is the weather in Rome today?")
        print("writer:", writer_agent(notes))

    trace = planner.trace
    for agent in trace.agent_instance_by_id.additional_properties.values():
        print(f"{agent.name}: {len(agent.interactions)} items")

    with MockServer() as server, Composo(base_url=server.base_url, api_key="demo") as client:
        response = client.evaluate_trace(trace, CRITERION)
    for name, result in response.results_by_agent_name.additional_properties.items():
        for instance_id, score in result.results_by_agent_instance_id.additional_properties.items():
            print(f"{name} ({instance_id[:8]}): {score.score if score else None}")


if __name__ == "__main__":
    main()
