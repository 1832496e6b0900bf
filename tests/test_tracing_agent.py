"""AgentTracer: which agent each LLM call and child agent belongs to, across nesting,
siblings, exceptions, asyncio tasks and threads, and what the user's own exporter sees.

The calls are real `openai` chat completions against the local fake, so the OpenInference
instrumentor makes the spans; `questions()` lists each agent's items by the user text asked.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")

from opentelemetry.trace import StatusCode

from composo.tracing import AgentTracer
from composo_api.models import MultiAgentTrace
from tests import _tracing_util
from tests._fake_llm import FakeLLM
from tests._tracing_util import Tracing, ask, instance, questions, require

tracing = _tracing_util.tracing
llm = _tracing_util.llm
openai_client = _tracing_util.openai_client
pytestmark = pytest.mark.usefixtures("tracing")


def _questions(trace: MultiAgentTrace, tracer: AgentTracer) -> list[str]:
    return questions(instance(trace, tracer.agent_id))


def test_nested_agents_three_deep_with_siblings(openai_client: Any) -> None:
    with AgentTracer("orchestrator") as root:
        ask(openai_client, "plan the trip")
        with AgentTracer("researcher") as researcher:
            ask(openai_client, "what to research")
            with AgentTracer("searcher") as searcher:
                ask(openai_client, "search flights")
            ask(openai_client, "summarise the research")
        with AgentTracer("writer") as writer:
            ask(openai_client, "write the itinerary")
        ask(openai_client, "wrap up")

    trace = root.trace
    assert trace.root_agent_instance_id == root.agent_id
    assert trace.agent_instance_by_id.additional_keys == [
        root.agent_id,
        researcher.agent_id,
        writer.agent_id,
        searcher.agent_id,
    ]
    assert _questions(trace, root) == [
        "plan the trip",
        researcher.agent_id,
        writer.agent_id,
        "wrap up",
    ]
    assert _questions(trace, researcher) == [
        "what to research",
        searcher.agent_id,
        "summarise the research",
    ]
    assert _questions(trace, searcher) == ["search flights"]
    assert _questions(trace, writer) == ["write the itinerary"]
    names = {i.id: i.name for i in trace.agent_instance_by_id.additional_properties.values()}
    assert names[searcher.agent_id] == "searcher"
    # A child's own trace is its subtree.
    sub = researcher.trace
    assert sub.root_agent_instance_id == researcher.agent_id
    assert sorted(sub.agent_instance_by_id.additional_keys) == sorted(
        [researcher.agent_id, searcher.agent_id]
    )


def test_defaults_are_a_short_hex_name_and_a_uuid4() -> None:
    tracer = AgentTracer()
    assert re.fullmatch(r"agent_[0-9a-f]{8}", tracer.name)
    assert uuid.UUID(tracer.agent_id).version == 4
    assert AgentTracer().agent_id != tracer.agent_id
    named = AgentTracer("planner", agent_id="planner-1")
    assert (named.name, named.agent_id) == ("planner", "planner-1")


def test_trace_is_readable_inside_the_block_and_after(openai_client: Any) -> None:
    with AgentTracer("reader") as tracer:
        assert _questions(tracer.trace, tracer) == []
        ask(openai_client, "first")
        assert _questions(tracer.trace, tracer) == ["first"]
        ask(openai_client, "second")
    assert _questions(tracer.trace, tracer) == ["first", "second"]
    # Each read is a fresh snapshot: changing one does not change the tracer.
    tracer.trace.agent_instance_by_id[tracer.agent_id].interactions.clear()
    assert _questions(tracer.trace, tracer) == ["first", "second"]


def test_parent_is_the_agent_current_on_enter_not_at_construction(openai_client: Any) -> None:
    # The official tracer picked the parent when the tracer was constructed.
    built_outside = AgentTracer("built-outside")
    with AgentTracer("first") as first:
        built_inside_first = AgentTracer("built-inside-first")
    with AgentTracer("second") as second:
        with built_outside:
            ask(openai_client, "outside-built call")
        with built_inside_first:
            ask(openai_client, "inside-built call")

    assert _questions(first.trace, first) == []
    trace = second.trace
    assert _questions(trace, second) == [built_outside.agent_id, built_inside_first.agent_id]
    assert _questions(trace, built_outside) == ["outside-built call"]
    assert _questions(trace, built_inside_first) == ["inside-built call"]


def test_exception_propagates_and_tracing_goes_on(openai_client: Any, tracing: Tracing) -> None:
    fragile = AgentTracer("fragile")

    def failing_agent() -> None:
        with fragile:
            ask(openai_client, "before the failure")
            raise RuntimeError("tool broke")

    with pytest.raises(RuntimeError, match="tool broke"):
        failing_agent()

    assert _questions(fragile.trace, fragile) == ["before the failure"]
    (span,) = [s for s in tracing.spans("agent-fragile")]
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    with AgentTracer("after") as after:
        ask(openai_client, "after the failure")
    assert _questions(after.trace, after) == ["after the failure"]


def test_a_tracer_records_one_run() -> None:
    tracer = AgentTracer("once")
    with tracer:
        pass
    with pytest.raises(RuntimeError, match="already entered"), tracer:
        pass


def test_an_agent_id_is_used_once_per_trace() -> None:
    with AgentTracer("root", agent_id="root-1") as root:
        with AgentTracer("worker", agent_id="worker-1"):
            pass
        with pytest.raises(ValueError, match="'worker-1' is already used"):
            AgentTracer("worker", agent_id="worker-1").__enter__()
        with pytest.raises(ValueError, match="'root-1' is already used"):
            AgentTracer("again", agent_id="root-1").__enter__()
    assert root.trace.agent_instance_by_id.additional_keys == ["root-1", "worker-1"]


async def test_async_with_and_concurrent_tasks_keep_their_own_calls(llm: FakeLLM) -> None:
    require("openai")
    import openai

    both_inside = asyncio.Barrier(2)

    async def worker(client: Any, name: str) -> AgentTracer:
        async with AgentTracer(name) as tracer:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"{name} first"}]
            )
            # Both tasks are inside their agents at once before either goes on.
            await both_inside.wait()
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"{name} second"}]
            )
        return tracer

    client = openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0)
    async with client, AgentTracer("dispatcher") as dispatcher:
        left, right = await asyncio.gather(worker(client, "left"), worker(client, "right"))
        lone = await asyncio.create_task(worker_alone(client))

    trace = dispatcher.trace
    assert sorted(_questions(trace, dispatcher)) == sorted(
        [left.agent_id, right.agent_id, lone.agent_id]
    )
    assert _questions(trace, left) == ["left first", "left second"]
    assert _questions(trace, right) == ["right first", "right second"]
    assert _questions(trace, lone) == ["alone"]


async def worker_alone(client: Any) -> AgentTracer:
    async with AgentTracer("alone") as tracer:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "alone"}]
        )
    return tracer


async def test_concurrent_root_agents_are_separate_traces(llm: FakeLLM) -> None:
    require("openai")
    import openai

    async def run(client: Any, name: str) -> AgentTracer:
        async with AgentTracer(name) as tracer:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": name}]
            )
        return tracer

    async with openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0) as client:
        tracers = await asyncio.gather(*(run(client, f"job {n}") for n in range(5)))

    for number, tracer in enumerate(tracers):
        trace = tracer.trace
        assert trace.agent_instance_by_id.additional_keys == [tracer.agent_id]
        assert _questions(trace, tracer) == [f"job {number}"]


def test_threads_join_the_agent_through_copy_context(openai_client: Any) -> None:
    def traced_worker(number: int) -> AgentTracer:
        with AgentTracer(f"thread-{number}") as tracer:
            ask(openai_client, f"thread {number}")
        return tracer

    with AgentTracer("pool-owner") as owner, ThreadPoolExecutor(max_workers=2) as pool:
        workers = [
            pool.submit(contextvars.copy_context().run, traced_worker, number)
            for number in range(2)
        ]
        # Without a copied context a thread starts outside every agent.
        untraced = pool.submit(ask, openai_client, "no context")
        children = [future.result() for future in workers]
        untraced.result()

    trace = owner.trace
    assert sorted(_questions(trace, owner)) == sorted(child.agent_id for child in children)
    for number, child in enumerate(children):
        assert _questions(trace, child) == [f"thread {number}"]
    every_question = [
        q
        for agent in trace.agent_instance_by_id.additional_properties.values()
        for q in questions(agent)
    ]
    assert "no context" not in every_question


def test_the_users_exporter_receives_agent_and_llm_spans(
    openai_client: Any, tracing: Tracing
) -> None:
    tracing.exporter.clear()
    with AgentTracer("exported", agent_id="exported-1"):
        ask(openai_client, "seen by the exporter")

    (agent_span,) = tracing.spans("agent-exported")
    (llm_span,) = tracing.spans("ChatCompletion")
    assert agent_span.attributes is not None
    assert agent_span.attributes["agent.name"] == "exported"
    assert agent_span.attributes["composo.agent_instance_id"] == "exported-1"
    assert llm_span.parent is not None
    assert agent_span.context is not None
    assert llm_span.parent.span_id == agent_span.context.span_id
