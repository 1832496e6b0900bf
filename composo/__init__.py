"""Composo: score LLM conversations and agent traces against natural-language criteria.

    from composo import Composo

    with Composo() as client:  # reads COMPOSO_API_KEY
        result = client.evaluate(messages, "Reward responses that cite the refund policy")
        print(result.score, result.explanation)

Public names are listed in `__all__`, and `dir(composo)` shows just those; they load on first
use, so `import composo` is fast and has no side effects. Modules whose names start with an
underscore are private.
"""

# No `from __future__ import annotations` and only underscored imports: every module-level name
# would be an attribute of the package (`composo.importlib`).
import importlib as _importlib
import typing as _typing

from composo._version import __version__

if _typing.TYPE_CHECKING:
    from composo import criteria
    from composo._async_client import AsyncComposo
    from composo._batch import AsyncBatch, BatchProgress, BatchResult, SyncBatch
    from composo._cache import ResultCache
    from composo._exceptions import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ComposoError,
        MalformedError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
    )
    from composo._frames import aevaluate_frame, evaluate_frame
    from composo._gate import GateFailure, gate
    from composo._gate_report import GateReport
    from composo._mock import AsyncMockServer, MockServer, mock_server
    from composo._models import BackgroundTask, EvaluationResponse
    from composo._ratelimit import RateLimiter
    from composo._sync_client import Composo
    from composo.tracing import AgentTracer, ComposoTracer, Instruments, agent_tracer
    from composo_api.models import (
        AgentInstance,
        AgentTraceResult,
        AttachCommentResponse,
        AttachRatingResponse,
        EvaluationFilterResponse,
        EvaluationRecord,
        LLMInput,
        LLMInteraction,
        LLMOutput,
        LLMToolCall,
        LLMToolDefinition,
        LLMToolResponse,
        ModelCore,
        MultiAgentTrace,
        MultiAgentTraceResponse,
        RateLimitsResponse,
        TraceListResponse,
        TraceResponse,
        UsageResponse,
    )

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentInstance",
    "AgentTraceResult",
    "AgentTracer",
    "AsyncBatch",
    "AsyncComposo",
    "AsyncMockServer",
    "AttachCommentResponse",
    "AttachRatingResponse",
    "AuthenticationError",
    "BackgroundTask",
    "BadRequestError",
    "BatchProgress",
    "BatchResult",
    "ClientClosedError",
    "Composo",
    "ComposoError",
    "ComposoTracer",
    "EvaluationFilterResponse",
    "EvaluationRecord",
    "EvaluationResponse",
    "GateFailure",
    "GateReport",
    "Instruments",
    "LLMInput",
    "LLMInteraction",
    "LLMOutput",
    "LLMToolCall",
    "LLMToolDefinition",
    "LLMToolResponse",
    "MalformedError",
    "MockServer",
    "ModelCore",
    "MultiAgentTrace",
    "MultiAgentTraceResponse",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RateLimitsResponse",
    "ResultCache",
    "SyncBatch",
    "TraceListResponse",
    "TraceResponse",
    "UsageResponse",
    "__version__",
    "aevaluate_frame",
    "agent_tracer",
    "criteria",
    "evaluate_frame",
    "gate",
    "mock_server",
]

_BATCH = "composo._batch"
_EXCEPTIONS = "composo._exceptions"
# pandas, polars, pyarrow and datasets are optional extras, imported only for their inputs.
_FRAMES = "composo._frames"
_GATE = "composo._gate"
# The local mock server needs the `mock` extra; its names load only when used.
_MOCK = "composo._mock"
_MODELS = "composo_api.models"
# Tracing needs the `tracing` extra; composo.tracing says so when it is missing.
_TRACING = "composo.tracing"
# Where each public name lives; imported on first access (PEP 562).
_LAZY = {
    "APIConnectionError": _EXCEPTIONS,
    "APIError": _EXCEPTIONS,
    "APIStatusError": _EXCEPTIONS,
    "APITimeoutError": _EXCEPTIONS,
    "AgentInstance": _MODELS,
    "AgentTraceResult": _MODELS,
    "AgentTracer": _TRACING,
    "AsyncBatch": _BATCH,
    "AsyncComposo": "composo._async_client",
    "AsyncMockServer": _MOCK,
    "AttachCommentResponse": _MODELS,
    "AttachRatingResponse": _MODELS,
    "AuthenticationError": _EXCEPTIONS,
    "BackgroundTask": "composo._models",
    "BadRequestError": _EXCEPTIONS,
    "BatchProgress": _BATCH,
    "BatchResult": _BATCH,
    "ClientClosedError": _EXCEPTIONS,
    "Composo": "composo._sync_client",
    "ComposoError": _EXCEPTIONS,
    "ComposoTracer": _TRACING,
    "EvaluationFilterResponse": _MODELS,
    "EvaluationRecord": _MODELS,
    "EvaluationResponse": "composo._models",
    "GateFailure": _GATE,
    "GateReport": "composo._gate_report",
    "Instruments": _TRACING,
    "LLMInput": _MODELS,
    "LLMInteraction": _MODELS,
    "LLMOutput": _MODELS,
    "LLMToolCall": _MODELS,
    "LLMToolDefinition": _MODELS,
    "LLMToolResponse": _MODELS,
    "MalformedError": _EXCEPTIONS,
    "MockServer": _MOCK,
    "ModelCore": _MODELS,
    "MultiAgentTrace": _MODELS,
    "MultiAgentTraceResponse": _MODELS,
    "NotFoundError": _EXCEPTIONS,
    "PermissionDeniedError": _EXCEPTIONS,
    "RateLimitError": _EXCEPTIONS,
    "RateLimiter": "composo._ratelimit",
    "RateLimitsResponse": _MODELS,
    "ResultCache": "composo._cache",
    "SyncBatch": _BATCH,
    "TraceListResponse": _MODELS,
    "TraceResponse": _MODELS,
    "UsageResponse": _MODELS,
    "aevaluate_frame": _FRAMES,
    "agent_tracer": _TRACING,
    "evaluate_frame": _FRAMES,
    "gate": _GATE,
    "mock_server": _MOCK,
}


# Hidden from type checkers, so that `composo.Misspelt` is an error for them rather than `Any`.
if not _typing.TYPE_CHECKING:

    def __getattr__(name: str) -> _typing.Any:
        if name == "criteria":
            return _importlib.import_module("composo.criteria")
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'composo' has no attribute {name!r}")
        try:
            value = getattr(_importlib.import_module(module), name)
        except ImportError as exc:
            if module != _MOCK:
                raise
            raise ImportError(
                f"composo.{name} needs the mock extra: pip install 'composo[mock]' ({exc})"
            ) from exc
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return list(__all__)
