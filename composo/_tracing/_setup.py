"""`ComposoTracer.init`: connect OpenTelemetry, the OpenInference instrumentors and AgentTracer.

Everything goes through OpenTelemetry's public API: the global provider is read with
`trace.get_tracer_provider()` and, only when none was set, set with `trace.set_tracer_provider`;
the collecting processor is added with `add_span_processor`, once per provider.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from collections.abc import Iterable
from enum import Enum
from typing import Final, Protocol, runtime_checkable

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider

from composo._tracing._agent import AgentSpanProcessor, use_provider

logger = logging.getLogger("composo")

_EXTRA: Final = "pip install 'composo[tracing]'"

# Attributes per span when ComposoTracer creates the provider. OpenTelemetry's default, 128,
# evicts the oldest attributes, which for an LLM span means the start of the conversation:
# at two or three attributes a message, a chat of about 60 messages already loses its first
# ones. 20,000 holds several thousand messages with tool calls and still bounds a runaway span.
SPAN_ATTRIBUTE_LIMIT: Final = 20_000
# The variables with which a user sets that limit themselves; when either is set, it wins.
_LIMIT_ENV: Final = ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")


class Instruments(Enum):
    """The LLM client libraries `ComposoTracer.init` can instrument."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLE_GENAI = "google_genai"


# Instrument -> (instrumentor module, instrumentor class, the client library's import name).
_INSTRUMENTORS: Final = {
    Instruments.OPENAI: ("openinference.instrumentation.openai", "OpenAIInstrumentor", "openai"),
    Instruments.ANTHROPIC: (
        "openinference.instrumentation.anthropic",
        "AnthropicInstrumentor",
        "anthropic",
    ),
    Instruments.GOOGLE_GENAI: (
        "openinference.instrumentation.google_genai",
        "GoogleGenAIInstrumentor",
        "google.genai",
    ),
}


@runtime_checkable
class _AcceptsProcessors(Protocol):
    """A tracer provider that takes span processors: the SDK's, or one built on it."""

    def add_span_processor(self, span_processor: SpanProcessor, /) -> None: ...


_lock = threading.Lock()
# Providers that already have the collecting processor, by identity.
_processed: dict[int, otel_trace.TracerProvider] = {}


class ComposoTracer:
    """Sets up tracing of LLM calls for `AgentTracer`."""

    @staticmethod
    def init(
        instruments: Instruments | Iterable[Instruments] | None = None,
        *,
        tracer_provider: otel_trace.TracerProvider | None = None,
    ) -> otel_trace.TracerProvider:
        """Trace LLM calls into `AgentTracer`s; safe to call more than once.

        Uses `tracer_provider`, else the global OpenTelemetry tracer provider when one was set
        (your exporters keep receiving every span), else creates an SDK `TracerProvider` with
        room for long conversations (see `SPAN_ATTRIBUTE_LIMIT`) and sets it as the global
        one. Adds one span processor of its own to it, once however often this is called,
        and instruments each named library with its OpenInference instrumentor unless it is
        instrumented already.

        Args:
            instruments: the libraries whose calls to trace: one `Instruments`, several, or
                None for none (calls then come from instrumentation you set up yourself).
            tracer_provider: the provider to use instead of the global one.

        Returns:
            The tracer provider in use.

        Raises:
            ImportError: an instrumentor, or the library it instruments, is not installed, or
                is a version the instrumentor does not support.
            TypeError: the provider cannot take span processors.
        """
        wanted = _instruments(instruments)
        # Fail before changing anything when a package is missing.
        instrumentors = [_instrumentor(instrument) for instrument in wanted]
        with _lock:
            provider = tracer_provider or _global_provider()
            if id(provider) not in _processed:
                if not isinstance(provider, _AcceptsProcessors):
                    raise TypeError(
                        f"the tracer provider is a {type(provider).__name__}, which cannot take "
                        "span processors; pass an opentelemetry.sdk.trace.TracerProvider as "
                        "tracer_provider="
                    )
                provider.add_span_processor(AgentSpanProcessor())
                _processed[id(provider)] = provider
            use_provider(provider)
        for instrument, instrumentor in zip(wanted, instrumentors, strict=True):
            _instrument(instrument, instrumentor, provider)
        return provider


def _instruments(instruments: Instruments | Iterable[Instruments] | None) -> list[Instruments]:
    if instruments is None:
        return []
    if isinstance(instruments, Instruments | str):
        instruments = [instruments]
    wanted: list[Instruments] = []
    for instrument in instruments:
        try:
            member = Instruments(instrument)
        except ValueError:
            choices = ", ".join(f"Instruments.{member.name}" for member in Instruments)
            raise ValueError(f"unknown instrument {instrument!r}; use one of {choices}") from None
        if member not in wanted:
            wanted.append(member)
    return wanted


def _global_provider() -> otel_trace.TracerProvider:
    current = otel_trace.get_tracer_provider()
    if not isinstance(current, otel_trace.ProxyTracerProvider):
        return current
    provider = TracerProvider(span_limits=_span_limits())
    otel_trace.set_tracer_provider(provider)
    # Another thread may have set one first; whichever won is the one to use.
    return otel_trace.get_tracer_provider()


def _span_limits() -> SpanLimits:
    if any(os.environ.get(name) for name in _LIMIT_ENV):
        return SpanLimits()
    return SpanLimits(max_span_attributes=SPAN_ATTRIBUTE_LIMIT)


class _Instrumentor(Protocol):
    @property
    def is_instrumented_by_opentelemetry(self) -> bool: ...

    def instrument(self, **kwargs: object) -> object: ...


def _instrumentor(instrument: Instruments) -> _Instrumentor:
    module_name, class_name, library = _INSTRUMENTORS[instrument]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"Instruments.{instrument.name} needs {module_name.replace('.', '-')}: {_EXTRA} ({exc})"
        ) from exc
    if _missing(library):
        raise ImportError(
            f"Instruments.{instrument.name} traces the {library} package, which is not "
            f"installed: pip install {library.replace('.', '-')}"
        )
    instrumentor: _Instrumentor = getattr(module, class_name)()
    return instrumentor


def _missing(library: str) -> bool:
    try:
        return importlib.util.find_spec(library) is None
    except ImportError:
        return True


def _instrument(
    instrument: Instruments, instrumentor: _Instrumentor, provider: otel_trace.TracerProvider
) -> None:
    if instrumentor.is_instrumented_by_opentelemetry:
        logger.debug(
            "Instruments.%s is instrumented already; its spans go to the provider it was "
            "instrumented with",
            instrument.name,
        )
        return
    from opentelemetry.instrumentation.dependencies import DependencyConflictError

    try:
        instrumentor.instrument(tracer_provider=provider, raise_exception_on_conflict=True)
    except DependencyConflictError as exc:
        raise ImportError(
            f"Instruments.{instrument.name}: the installed versions do not fit the "
            f"instrumentor ({exc}); {_EXTRA} --upgrade"
        ) from exc
