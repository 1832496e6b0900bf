"""`@agent_tracer` on plain functions, coroutine functions, generators and async generators:
bare or with arguments, the agent current exactly while the function's own code runs, and a
fresh agent_id for every call."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")

from opentelemetry.trace import StatusCode

from composo.tracing import AgentTracer, agent_tracer
from composo_api.models import MultiAgentTrace
from tests import _tracing_util
from tests._fake_llm import FakeLLM
from tests._tracing_util import Tracing, ask, instance, questions, require

tracing = _tracing_util.tracing
llm = _tracing_util.llm
openai_client = _tracing_util.openai_client
pytestmark = pytest.mark.usefixtures("tracing")


def _children(trace: MultiAgentTrace, parent: AgentTracer) -> list[str]:
    return [i for i in instance(trace, parent.agent_id).interactions if isinstance(i, str)]


def _by_id(trace: MultiAgentTrace, agent_id: str) -> tuple[str, list[str]]:
    agent = instance(trace, agent_id)
    return agent.name, questions(agent)


@pytest.fixture
def async_openai(llm: FakeLLM) -> Any:
    require("openai")
    import openai

    return openai.AsyncOpenAI(api_key="k", base_url=llm.openai_url, max_retries=0)


async def _ask_async(client: Any, question: str) -> str:
    answer = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    text: str = answer.choices[0].message.content
    return text


def test_bare_decorator_traces_each_call_as_a_child_agent(openai_client: Any) -> None:
    # The official decorator needed parentheses.
    @agent_tracer
    def plan(question: str) -> str:
        """Plans."""
        return ask(openai_client, question)

    assert (plan.__name__, plan.__doc__) == ("plan", "Plans.")
    assert inspect.unwrap(plan) is not plan
    with AgentTracer("boss") as boss:
        assert plan("first plan") == "Answer to: first plan"
        plan("second plan")

    trace = boss.trace
    first, second = _children(trace, boss)
    assert _by_id(trace, first) == ("plan", ["first plan"])
    assert _by_id(trace, second) == ("plan", ["second plan"])


def test_decorator_with_a_name_and_on_a_method(openai_client: Any) -> None:
    class Researcher:
        @agent_tracer("researcher")
        def run(self, topic: str) -> str:
            return ask(openai_client, topic)

        @agent_tracer(name="reviewer")
        def review(self) -> None:
            ask(openai_client, "review it")

    with AgentTracer("boss") as boss:
        Researcher().run("topic")
        Researcher().review()

    trace = boss.trace
    researcher, reviewer = _children(trace, boss)
    assert _by_id(trace, researcher) == ("researcher", ["topic"])
    assert _by_id(trace, reviewer) == ("reviewer", ["review it"])


async def test_async_decorator_traces_the_coroutine_while_it_runs(async_openai: Any) -> None:
    # The official decorator closed the agent before the coroutine ran: the child came out
    # empty, its calls landed in the parent, and the function was no longer async.
    @agent_tracer("async-child")
    async def child(question: str) -> str:
        return await _ask_async(async_openai, question)

    assert inspect.iscoroutinefunction(child)
    async with async_openai, AgentTracer("parent") as parent:
        pending = child("child question")
        await _ask_async(async_openai, "parent question")
        assert await pending == "Answer to: child question"

    trace = parent.trace
    (child_id,) = _children(trace, parent)
    assert questions(instance(trace, parent.agent_id)) == ["parent question", child_id]
    assert _by_id(trace, child_id) == ("async-child", ["child question"])


def test_generator_decorator_traces_the_body_not_the_consumer(openai_client: Any) -> None:
    # The official decorator closed the agent before the generator's body ran.
    @agent_tracer
    def steps() -> Iterator[str]:
        yield ask(openai_client, "step one")
        yield ask(openai_client, "step two")

    assert inspect.isgeneratorfunction(steps)
    with AgentTracer("consumer") as consumer:
        for reply in steps():
            ask(openai_client, f"consume {reply}")

    trace = consumer.trace
    (steps_id,) = _children(trace, consumer)
    assert questions(instance(trace, consumer.agent_id)) == [
        steps_id,
        "consume Answer to: step one",
        "consume Answer to: step two",
    ]
    assert _by_id(trace, steps_id) == ("steps", ["step one", "step two"])


def test_generator_decorator_forwards_send_throw_close_and_return(tracing: Tracing) -> None:
    closed: list[str] = []

    @agent_tracer("echo")
    def echo() -> Iterator[str]:
        received = yield "ready"
        try:
            while True:
                received = yield f"got {received}"
        except KeyError:
            yield "caught"
        finally:
            closed.append("closed")

    @agent_tracer
    def counted() -> Iterator[int]:
        yield 1
        return 42

    def delegate() -> Iterator[int]:
        result = yield from counted()
        yield result

    tracing.exporter.clear()
    generator = echo()
    assert next(generator) == "ready"
    assert generator.send("a") == "got a"
    assert generator.throw(KeyError("stop")) == "caught"
    generator.close()
    assert closed == ["closed"]
    (span,) = tracing.spans("agent-echo")
    assert span.status.status_code is StatusCode.UNSET
    assert list(delegate()) == [1, 42]


def test_generator_exception_fails_the_agent_span(tracing: Tracing) -> None:
    @agent_tracer("breaks")
    def breaks() -> Iterator[int]:
        yield 1
        raise ValueError("bad item")

    tracing.exporter.clear()
    with pytest.raises(ValueError, match="bad item"):
        list(breaks())
    (span,) = tracing.spans("agent-breaks")
    assert span.status.status_code is StatusCode.ERROR


async def test_async_generator_decorator_traces_the_body_not_the_consumer(
    async_openai: Any,
) -> None:
    @agent_tracer("async-steps")
    async def steps() -> AsyncIterator[str]:
        yield await _ask_async(async_openai, "async one")
        yield await _ask_async(async_openai, "async two")

    assert inspect.isasyncgenfunction(steps)
    async with async_openai, AgentTracer("async-consumer") as consumer:
        async for reply in steps():
            await _ask_async(async_openai, f"consume {reply}")

    trace = consumer.trace
    (steps_id,) = _children(trace, consumer)
    assert questions(instance(trace, consumer.agent_id)) == [
        steps_id,
        "consume Answer to: async one",
        "consume Answer to: async two",
    ]
    assert _by_id(trace, steps_id) == ("async-steps", ["async one", "async two"])


async def test_async_generator_decorator_forwards_asend_athrow_and_aclose(
    tracing: Tracing,
) -> None:
    closed: list[str] = []

    @agent_tracer("async-echo")
    async def echo() -> AsyncIterator[str]:
        received = yield "ready"
        try:
            while True:
                received = yield f"got {received}"
        except KeyError:
            yield "caught"
        finally:
            closed.append("closed")

    tracing.exporter.clear()
    generator = echo()
    assert await anext(generator) == "ready"
    assert await generator.asend("a") == "got a"
    assert await generator.athrow(KeyError("stop")) == "caught"
    await generator.aclose()
    assert closed == ["closed"]
    assert len(tracing.spans("agent-async-echo")) == 1


def test_a_fixed_agent_id_is_not_reused_across_calls(openai_client: Any) -> None:
    # The official decorator gave every call the same id, so only the last run survived.
    @agent_tracer("worker", agent_id="worker")
    def work(question: str) -> None:
        ask(openai_client, question)

    with AgentTracer("boss") as boss:
        for question in ("a", "b", "c"):
            work(question)

    trace = boss.trace
    assert _children(trace, boss) == ["worker", "worker-2", "worker-3"]
    assert [_by_id(trace, i)[1] for i in ("worker", "worker-2", "worker-3")] == [
        ["a"],
        ["b"],
        ["c"],
    ]


def test_decorated_function_exception_propagates(tracing: Tracing) -> None:
    @agent_tracer
    def failing() -> None:
        raise LookupError("no such flight")

    tracing.exporter.clear()
    with pytest.raises(LookupError, match="no such flight"):
        failing()
    (span,) = tracing.spans("agent-failing")
    assert span.status.status_code is StatusCode.ERROR
