"""ComposoTracer.init: the provider it creates or reuses, idempotence, attribute limits for
long conversations, and the errors for what is not installed.

What init does to the process-wide OpenTelemetry provider can happen once per process, so
those tests run in a fresh interpreter each (`run_python`), with the fake LLM server.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="needs pip install 'composo[tracing]'")

from opentelemetry.trace import NoOpTracerProvider

from composo.tracing import SPAN_ATTRIBUTE_LIMIT, AgentTracer, ComposoTracer, Instruments
from tests import _tracing_util
from tests._tracing_util import Tracing, ask, instance, questions, require, run_python

tracing = _tracing_util.tracing
llm = _tracing_util.llm
openai_client = _tracing_util.openai_client

# The start of every fresh-interpreter script: a long conversation through a real openai
# client against the fake, inside an agent, and the composo log lines collected.
_PRELUDE = """
import json, logging
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from composo import AgentTracer, ComposoTracer, Instruments
from tests._fake_llm import fake_llm

logs = []
class Collect(logging.Handler):
    def emit(self, record):
        logs.append((record.levelname, record.getMessage()))
logging.getLogger("composo").addHandler(Collect())
logging.getLogger("composo").setLevel(logging.DEBUG)

MESSAGES = [
    {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}"}
    for n in range(200)
]

def traced_conversation():
    with fake_llm() as llm, openai.OpenAI(
        api_key="k", base_url=llm.openai_url, max_retries=0
    ) as client, AgentTracer("long") as tracer:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    agent = tracer.trace.agent_instance_by_id[tracer.agent_id]
    return {
        "interactions": len(agent.interactions),
        "inputs": [m.content for m in agent.interactions[0].input_messages],
        "outputs": [m.to_dict() for m in agent.interactions[0].output_messages],
    }
"""


def _expected_inputs() -> list[str]:
    return [f"message {n}" for n in range(200)]


def test_init_creates_a_provider_that_holds_a_200_message_conversation() -> None:
    # The official tracer's provider kept OpenTelemetry's 128-attribute default, which
    # evicted the input of any conversation longer than about 60 messages.
    require("openai")
    report = run_python(
        _PRELUDE
        + """
provider = ComposoTracer.init(Instruments.OPENAI)
again = ComposoTracer.init([Instruments.OPENAI])
result = traced_conversation()
result["same"] = provider is again is trace.get_tracer_provider()
result["type"] = type(provider).__module__ + "." + type(provider).__name__
result["logs"] = logs
print(json.dumps(result))
"""
    )
    assert report["same"] is True
    assert report["type"] == "opentelemetry.sdk.trace.TracerProvider"
    assert report["interactions"] == 1  # init twice added one processor, not two
    assert report["inputs"] == _expected_inputs()
    assert report["outputs"] == [{"type": "text", "content": "Answer to: message 198"}]
    assert [level for level, _ in report["logs"] if level != "DEBUG"] == []
    assert "Attributes dict is full" not in report["stderr"]


def test_init_reuses_the_users_provider_and_their_exporter_keeps_its_spans() -> None:
    require("openai")
    report = run_python(
        _PRELUDE
        + """
exporter = InMemorySpanExporter()
mine = TracerProvider()  # OpenTelemetry's default limits: 128 attributes a span
mine.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(mine)
provider = ComposoTracer.init(Instruments.OPENAI)
ComposoTracer.init(Instruments.OPENAI)
result = traced_conversation()
result["same"] = provider is mine
result["exported"] = sorted(span.name for span in exporter.get_finished_spans())
result["logs"] = logs
print(json.dumps(result))
"""
    )
    assert report["same"] is True
    assert report["exported"] == ["ChatCompletion", "agent-long"]
    assert report["interactions"] == 1
    # That provider's limit evicted the start of the conversation: what is left is kept,
    # and a warning says how to keep it all.
    inputs = report["inputs"]
    assert 0 < len(inputs) < 200
    assert inputs == _expected_inputs()[-len(inputs) :]
    (warning,) = [message for level, message in report["logs"] if level == "WARNING"]
    assert "attribute count limit" in warning
    assert "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" in warning


def test_init_works_with_a_provider_built_differently() -> None:
    # The official tracer reached into `_active_span_processor._span_processors`, which only
    # the SDK's own TracerProvider has.
    require("openai")
    report = run_python(
        _PRELUDE
        + """
class Wrapping(trace.TracerProvider):
    '''A vendor's provider: an API provider that takes processors, built on the SDK.'''

    def __init__(self):
        self._inner = TracerProvider()

    def get_tracer(self, *args, **kwargs):
        return self._inner.get_tracer(*args, **kwargs)

    def add_span_processor(self, processor):
        self._inner.add_span_processor(processor)

trace.set_tracer_provider(Wrapping())
provider = ComposoTracer.init(Instruments.OPENAI)
result = traced_conversation()
result["type"] = type(provider).__name__
print(json.dumps(result))
"""
    )
    assert report["type"] == "Wrapping"
    assert report["interactions"] == 1
    assert report["inputs"][-1] == "message 199"


def test_tracing_names_without_the_extra_raise_import_error_naming_it() -> None:
    report = run_python(
        """
import json, sys
sys.modules["opentelemetry"] = None  # as if the tracing extra were not installed
import composo
errors = {}
for name in ("ComposoTracer", "Instruments", "AgentTracer", "agent_tracer"):
    try:
        getattr(composo, name)
    except ImportError as exc:
        errors[name] = str(exc)
print(json.dumps({"errors": errors, "client": composo.Composo.__name__}))
"""
    )
    assert report["client"] == "Composo"
    assert sorted(report["errors"]) == [
        "AgentTracer",
        "ComposoTracer",
        "Instruments",
        "agent_tracer",
    ]
    for message in report["errors"].values():
        assert "pip install 'composo[tracing]'" in message


def test_importing_composo_tracing_loads_no_client_library_and_leaves_logging_alone() -> None:
    # The official package imported openai and anthropic and configured logging at import.
    report = run_python(
        """
import json, logging, sys
root = logging.getLogger()
before = (root.level, list(root.handlers), logging.getLogger("composo").handlers[:])
from composo import AgentTracer, ComposoTracer, agent_tracer
ComposoTracer.init()
after = (root.level, list(root.handlers), logging.getLogger("composo").handlers[:])
loaded = sorted(
    {m.split(".")[0] for m in sys.modules} & {"openai", "anthropic", "google"}
)
print(json.dumps({"loaded": loaded, "logging_unchanged": before == after}))
"""
    )
    assert report["loaded"] == []
    assert report["logging_unchanged"] is True
    assert report["stderr"] == ""


# In this process: the tests' own provider (tests/_tracing_util.py).


def test_init_again_adds_nothing(openai_client: Any, tracing: Tracing) -> None:
    assert ComposoTracer.init(tracer_provider=tracing.provider) is tracing.provider
    assert ComposoTracer.init([Instruments.OPENAI], tracer_provider=tracing.provider) is (
        tracing.provider
    )
    with AgentTracer("once") as tracer:
        ask(openai_client, "recorded once")
    assert questions(instance(tracer.trace, tracer.agent_id)) == ["recorded once"]


def test_instruments_are_the_official_values() -> None:
    assert {member.name: member.value for member in Instruments} == {
        "OPENAI": "openai",
        "ANTHROPIC": "anthropic",
        "GOOGLE_GENAI": "google_genai",
    }
    assert isinstance(SPAN_ATTRIBUTE_LIMIT, int)


def test_unknown_instrument_is_refused(tracing: Tracing) -> None:
    with pytest.raises(ValueError, match="unknown instrument 'mistral'"):
        ComposoTracer.init(["mistral"], tracer_provider=tracing.provider)  # type: ignore[list-item]


def test_missing_instrumentor_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tracing: Tracing
) -> None:
    monkeypatch.setitem(sys.modules, "openinference.instrumentation.google_genai", None)
    with pytest.raises(ImportError, match=r"pip install 'composo\[tracing\]'"):
        ComposoTracer.init(Instruments.GOOGLE_GENAI, tracer_provider=tracing.provider)


def test_missing_client_library_is_named(monkeypatch: pytest.MonkeyPatch, tracing: Tracing) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ImportError, match="traces the anthropic package, which is not installed"):
        ComposoTracer.init(Instruments.ANTHROPIC, tracer_provider=tracing.provider)


def test_a_provider_without_span_processors_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot take span processors"):
        ComposoTracer.init(tracer_provider=NoOpTracerProvider())


def test_a_span_limit_set_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from composo._tracing._setup import _span_limits

    monkeypatch.delenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", raising=False)
    monkeypatch.delenv("OTEL_ATTRIBUTE_COUNT_LIMIT", raising=False)
    assert _span_limits().max_span_attributes == SPAN_ATTRIBUTE_LIMIT
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "500")
    assert _span_limits().max_span_attributes == 500


def test_an_agent_with_no_llm_call_still_has_an_instance() -> None:
    with AgentTracer("idle") as tracer:
        pass
    assert instance(tracer.trace, tracer.agent_id).interactions == []
