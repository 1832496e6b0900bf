"""Trace agents' LLM calls into a `MultiAgentTrace` for `evaluate_trace`.

    from composo import AgentTracer, Composo, ComposoTracer, Instruments, agent_tracer

    ComposoTracer.init(Instruments.OPENAI)  # once, at start-up

    @agent_tracer("researcher")
    def research(question): ...  # LLM calls in here belong to "researcher"

    with AgentTracer("planner") as tracer:
        ...                    # LLM calls here belong to "planner"
        research("...")        # a child agent of "planner"

    with Composo() as client:
        client.evaluate_trace(tracer.trace, "Reward agents that ...")

Needs the tracing extra: `pip install 'composo[tracing]'` (OpenTelemetry's SDK and the
OpenInference instrumentors for openai, anthropic and google-genai).

The current agent follows `contextvars`, as OpenTelemetry's context does: asyncio tasks
inherit it, threads do not. To trace work handed to an executor as part of the current agent,
run it in a copy of the context: `executor.submit(contextvars.copy_context().run, fn, *args)`.
"""

from __future__ import annotations

try:
    import openinference.semconv.trace  # noqa: F401
    import opentelemetry.sdk.trace  # noqa: F401
except ImportError as exc:
    raise ImportError(
        f"composo's tracing needs the tracing extra: pip install 'composo[tracing]' ({exc})"
    ) from exc

from composo._tracing._agent import AgentTracer
from composo._tracing._decorator import agent_tracer
from composo._tracing._setup import SPAN_ATTRIBUTE_LIMIT, ComposoTracer, Instruments

__all__ = ["SPAN_ATTRIBUTE_LIMIT", "AgentTracer", "ComposoTracer", "Instruments", "agent_tracer"]
