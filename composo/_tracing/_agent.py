"""AgentTracer: one agent run, collecting its LLM calls and child agents into a trace.

The agent that is current is kept in the OpenTelemetry context (a `contextvars` variable), so
it follows the code the way OpenTelemetry spans do: into nested calls, into asyncio tasks
(each task starts with a copy of its creator's context) and, with `contextvars.copy_context()`,
into executor threads. `AgentSpanProcessor` sees every span start in the context it starts in,
remembers which agent was current, and when an OpenInference LLM span ends, parses it into an
`LLMInteraction` for that agent, at the place the call started.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token
from types import TracebackType
from typing import Final, Literal, Self

from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status, StatusCode

from composo._tracing._parse import parse_llm_span
from composo._version import __version__
from composo_api.models import (
    AgentInstance,
    LLMInteraction,
    MultiAgentTrace,
    MultiAgentTraceAgentInstanceById,
)

logger = logging.getLogger("composo")

# The OpenTelemetry context key under which the current AgentTracer is kept.
_CURRENT: Final = otel_context.create_key("composo-agent-tracer")
# Orders LLM calls and child agents within an agent by when they started, across threads.
_ORDER = itertools.count()
_LLM = OpenInferenceSpanKindValues.LLM.value

_setup_lock = threading.Lock()
# The provider ComposoTracer.init() attached the processor to; agent spans are made with it.
_provider: otel_trace.TracerProvider | None = None
_warned_no_init = False


def use_provider(provider: otel_trace.TracerProvider) -> None:
    """Make agent spans with `provider` (ComposoTracer.init() calls this)."""
    global _provider
    with _setup_lock:
        _provider = provider


def current_agent(context: otel_context.Context | None = None) -> AgentTracer | None:
    """The AgentTracer current in `context` (default: the caller's context)."""
    value = otel_context.get_value(_CURRENT, context)
    return value if isinstance(value, AgentTracer) else None


class AgentTracer:
    """Records one run of an agent: its LLM calls and the agents it calls, as a trace.

    Use it as `with AgentTracer("planner") as tracer:` or `async with`. The agent current
    when it is entered becomes its parent; LLM calls made inside it (through instrumented
    clients, see `ComposoTracer.init`) and agents entered inside it are recorded in the order
    they start. `tracer.trace` is the `MultiAgentTrace` of this agent and its descendants,
    readable inside the block or after it. An exception inside the block propagates, is
    recorded on the agent's span, and leaves what was traced readable.

    Each AgentTracer records one run: enter it once. `agent_id` must be unique in the trace
    it joins.
    """

    def __init__(self, name: str | None = None, agent_id: str | None = None) -> None:
        """Args:
        name: the agent's name, which results are grouped by; default `agent_<8 hex>`.
        agent_id: this run's id; default a random uuid4.
        """
        self._name = name or f"agent_{uuid.uuid4().hex[:8]}"
        self._agent_id = agent_id or str(uuid.uuid4())
        self._lock = threading.Lock()
        # (start order, item): LLM interactions and child tracers, sorted when read.
        self._items: list[tuple[int, LLMInteraction | AgentTracer]] = []
        self._root: AgentTracer = self
        # Every id in this tracer's tree; only the root's set is used.
        self._ids = {self._agent_id}
        self._span: otel_trace.Span | None = None
        self._token: Token[otel_context.Context] | None = None
        self._state: Literal["new", "open", "closed"] = "new"

    @property
    def name(self) -> str:
        """The agent's name."""
        return self._name

    @property
    def agent_id(self) -> str:
        """This run's id: its key in `trace.agent_instance_by_id`."""
        return self._agent_id

    @property
    def trace(self) -> MultiAgentTrace:
        """This agent and all its descendants as the generated `MultiAgentTrace` model.

        A fresh snapshot on every read; pass it (or its `to_dict()`) to `evaluate_trace`.
        """
        instances = MultiAgentTraceAgentInstanceById()
        queue: list[AgentTracer] = [self]
        for tracer in queue:
            with tracer._lock:
                items = sorted(tracer._items, key=lambda item: item[0])
            interactions: list[LLMInteraction | str] = []
            for _, item in items:
                if isinstance(item, AgentTracer):
                    interactions.append(item.agent_id)
                    queue.append(item)
                else:
                    # A copy through the wire form: deepcopy would clone the UNSET sentinel.
                    interactions.append(LLMInteraction.from_dict(item.to_dict()))
            instances[tracer.agent_id] = AgentInstance(
                id=tracer.agent_id, name=tracer.name, interactions=interactions
            )
        return MultiAgentTrace(root_agent_instance_id=self.agent_id, agent_instance_by_id=instances)

    def __repr__(self) -> str:
        return f"AgentTracer(name={self._name!r}, agent_id={self._agent_id!r}, {self._state})"

    def __enter__(self) -> Self:
        self._open()
        self._token = self._activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)
        self._close(exc)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    # Entering is three steps (open, make current, and later close) so that a traced
    # generator can make its agent current only while its body runs (see _decorator.py).

    def _open(self) -> None:
        if self._state != "new":
            raise RuntimeError(
                f"{self!r} was already entered: an AgentTracer records one run of an agent, "
                "so create a new one for each run"
            )
        parent = current_agent()
        if parent is not None:
            parent._adopt(self, next(_ORDER))
        tracer = otel_trace.get_tracer("composo.tracing", __version__, _tracer_provider())
        self._span = tracer.start_span(
            f"agent-{self._name}",
            attributes={
                SpanAttributes.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.AGENT.value,
                SpanAttributes.AGENT_NAME: self._name,
                "composo.agent_instance_id": self._agent_id,
            },
        )
        self._state = "open"

    def _activate(self) -> Token[otel_context.Context]:
        assert self._span is not None, "_open() first"
        context = otel_context.set_value(_CURRENT, self)
        return otel_context.attach(otel_trace.set_span_in_context(self._span, context))

    def _close(self, exc: BaseException | None = None) -> None:
        """End the run's span, marking it failed when `exc` is an error (not an exit)."""
        if self._state != "open" or self._span is None:
            return
        if isinstance(exc, Exception):
            self._span.record_exception(exc)
            self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        self._span.end()
        self._state = "closed"

    @contextmanager
    def _running(self) -> Iterator[None]:
        """This agent current for the duration of the block, opened the first time."""
        if self._state == "new":
            self._open()
        token = self._activate()
        try:
            yield
        finally:
            otel_context.detach(token)

    def _adopt(self, child: AgentTracer, order: int) -> None:
        root = self._root
        with root._lock:
            if child._agent_id in root._ids:
                raise ValueError(
                    f"agent_id {child._agent_id!r} is already used in this trace; each "
                    "AgentTracer needs its own id (leave agent_id out to get a random one)"
                )
            root._ids.add(child._agent_id)
        child._root = root
        with self._lock:
            self._items.append((order, child))

    def _record(self, order: int, interaction: LLMInteraction) -> None:
        with self._lock:
            self._items.append((order, interaction))


def _tracer_provider() -> otel_trace.TracerProvider:
    global _warned_no_init
    if _provider is not None:
        return _provider
    if not _warned_no_init:
        _warned_no_init = True
        logger.warning(
            "AgentTracer is used before ComposoTracer.init(): no LLM call will be recorded"
        )
    return otel_trace.get_tracer_provider()


class AgentSpanProcessor(SpanProcessor):
    """Hands each OpenInference LLM span that ends to the agent current where it started.

    Added once to the tracer provider by `ComposoTracer.init`; it only reads spans, so the
    provider's other processors and exporters see them unchanged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (trace id, span id) -> (agent, start order) for spans started inside an agent.
        self._started: dict[tuple[int, int], tuple[AgentTracer, int]] = {}

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        agent = current_agent(parent_context)
        if agent is None:
            return
        key = (span.context.trace_id, span.context.span_id)
        with self._lock:
            self._started[key] = (agent, next(_ORDER))

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None:
            return
        with self._lock:
            started = self._started.pop((span.context.trace_id, span.context.span_id), None)
        attributes = span.attributes or {}
        if started is None or attributes.get(SpanAttributes.OPENINFERENCE_SPAN_KIND) != _LLM:
            return
        agent, order = started
        try:
            interaction = parse_llm_span(
                attributes, span_name=span.name, dropped_attributes=span.dropped_attributes
            )
        except Exception:
            # A parser bug must not break the traced application; say so loudly instead.
            logger.exception("LLM span %r could not be read into the trace", span.name)
            return
        agent._record(order, interaction)

    def shutdown(self) -> None:
        with self._lock:
            self._started.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
