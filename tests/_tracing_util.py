"""Shared set-up of the tracing tests: the tracing extra (or a clean skip), one instrumented
tracer provider for the test process, the fake LLM server and real clients pointed at it.

The provider is the tests' own, with its own in-memory exporter, handed to
`ComposoTracer.init(tracer_provider=...)`: the process-wide OpenTelemetry provider is left
unset here, and the tests of what `init` does to it run in fresh interpreters
(tests/test_tracing_setup.py).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.sdk.trace",
    reason="the tracing tests need the tracing extra: pip install 'composo[tracing]'",
)
pytest.importorskip(
    "openinference.semconv.trace",
    reason="the tracing tests need the tracing extra: pip install 'composo[tracing]'",
)

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from composo.tracing import SPAN_ATTRIBUTE_LIMIT, ComposoTracer, Instruments
from composo_api.models import AgentInstance, LLMInteraction, MultiAgentTrace
from tests._fake_llm import FakeLLM, fake_llm

ROOT = Path(__file__).resolve().parent.parent

# The client library each instrument traces, by import name.
LIBRARIES = {
    Instruments.OPENAI: "openai",
    Instruments.ANTHROPIC: "anthropic",
    Instruments.GOOGLE_GENAI: "google.genai",
}

WEATHER_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def require(module: str) -> None:
    """Skip the calling test unless the client library `module` is installed."""
    pytest.importorskip(module, reason=f"needs {module} (a test dependency in the dev extra)")


@dataclass(frozen=True)
class Tracing:
    """The tests' instrumented provider and the exporter that stands for a user's own."""

    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name in (None, s.name)]


@pytest.fixture(scope="session")
def tracing() -> Tracing:
    """Every installed client library instrumented once, into the tests' provider."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=SPAN_ATTRIBUTE_LIMIT))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    present = [instrument for instrument, module in LIBRARIES.items() if installed(module)]
    ComposoTracer.init(present, tracer_provider=provider)
    return Tracing(provider, exporter)


@pytest.fixture(scope="session")
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as server:
        yield server


@pytest.fixture
def openai_client(llm: FakeLLM) -> Iterator[Any]:
    """A real `openai.OpenAI` client talking to the fake."""
    require("openai")
    import openai

    with openai.OpenAI(api_key="test-key", base_url=llm.openai_url, max_retries=0) as client:
        yield client


def ask(client: Any, question: str) -> str:
    """One chat completion with a single user message; returns the reply's text."""
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    text: str = answer.choices[0].message.content
    return text


def questions(agent: AgentInstance) -> list[str]:
    """The user text of each LLM interaction of `agent`, in order; child ids as they are."""
    asked: list[str] = []
    for item in agent.interactions:
        if isinstance(item, str):
            asked.append(item)
            continue
        (message,) = item.input_messages
        assert isinstance(message.content, str)
        asked.append(message.content)
    return asked


def only_interaction(instance: AgentInstance) -> LLMInteraction:
    (interaction,) = instance.interactions
    assert isinstance(interaction, LLMInteraction)
    return interaction


def interactions(instance: AgentInstance) -> list[LLMInteraction]:
    return [item for item in instance.interactions if isinstance(item, LLMInteraction)]


def instance(trace: MultiAgentTrace, agent_id: str) -> AgentInstance:
    return trace.agent_instance_by_id[agent_id]


def wire(items: list[Any]) -> list[dict[str, Any]]:
    """Models as the JSON the service receives."""
    return [item.to_dict() for item in items]


def run_python(code: str, *, timeout: float = 120) -> dict[str, Any]:
    """Run `code` in a fresh interpreter from the checkout; it prints one JSON object last."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["stderr"] = completed.stderr
    return report
