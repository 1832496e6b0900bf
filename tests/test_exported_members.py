"""The public surface of `composo`: what `__all__` holds, what importing it costs, and that the
sync and async clients offer the same methods."""

from __future__ import annotations

import functools
import inspect
import json
import subprocess
import sys
import typing
from typing import Any

import pytest

import composo
from composo import AsyncComposo, Composo
from composo._resources import AsyncEvaluations, AsyncTraces, Evaluations, Traces

EXPECTED_ALL = [
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

# Heavy or optional packages that `import composo` must not pull in.
NOT_IMPORTED = (
    "httpx",
    "composo_api",
    "aiohttp",
    "openai",
    "anthropic",
    "google",
    "opentelemetry",
    "openinference",
    "pandas",
    "polars",
    "pyarrow",
    "datasets",
    "numpy",
    "tqdm",
    "IPython",
    "sqlite3",
    "pyspark",
    "py4j",
)

_IMPORT_PROBE = """
import json, logging, sys
root = logging.getLogger()
lib = logging.getLogger("composo")
before = [root.level, list(root.handlers), lib.level, list(lib.handlers), lib.propagate]
import composo
after = [root.level, list(root.handlers), lib.level, list(lib.handlers), lib.propagate]
print(json.dumps({
    "modules": sorted(sys.modules),
    "logging_unchanged": before == after,
    "root_handlers": len(root.handlers),
    "root_level": root.level,
}))
"""


def test_all_is_pinned_and_sorted() -> None:
    assert composo.__all__ == EXPECTED_ALL
    assert sorted(composo.__all__) == composo.__all__


def test_every_name_in_all_resolves() -> None:
    for name in composo.__all__:
        assert getattr(composo, name) is not None, name
    assert composo.criteria.__name__ == "composo.criteria"
    assert isinstance(composo.__version__, str)


def test_dir_lists_the_public_names_only() -> None:
    for name in composo.__all__:  # resolved names land in the module's globals: still hidden
        getattr(composo, name)
    assert dir(composo) == EXPECTED_ALL
    for helper in ("Any", "TYPE_CHECKING", "annotations", "importlib", "typing"):
        assert not hasattr(composo, helper), helper


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        composo.NoSuchThing  # noqa: B018


def test_import_is_light_and_leaves_logging_alone() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(completed.stdout)
    loaded = [module for module in report["modules"] if module.split(".")[0] in NOT_IMPORTED]
    assert loaded == []
    assert "composo" in report["modules"]
    assert report["logging_unchanged"] is True
    assert report["root_handlers"] == 0
    assert completed.stderr == ""


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and callable(value)
    }


def test_sync_and_async_clients_expose_the_same_methods() -> None:
    sync_methods = _public_methods(Composo)
    async_methods = _public_methods(AsyncComposo)
    assert {"evaluate", "evaluate_trace", "close"} <= sync_methods
    assert async_methods - {"aclose", "close"} == sync_methods - {"close"}


def test_evaluate_signatures_match_between_clients() -> None:
    for name in ("evaluate", "evaluate_trace"):
        sync_signature = inspect.signature(getattr(Composo, name))
        async_signature = inspect.signature(getattr(AsyncComposo, name))
        assert sync_signature == async_signature, name
    assert inspect.iscoroutinefunction(AsyncComposo.evaluate)
    assert inspect.iscoroutinefunction(AsyncComposo.evaluate_trace)
    assert not inspect.iscoroutinefunction(Composo.evaluate)


def test_constructor_parameters_match_and_keep_the_official_positions() -> None:
    sync_params = inspect.signature(Composo.__init__).parameters
    async_params = inspect.signature(AsyncComposo.__init__).parameters
    assert set(sync_params) == set(async_params)
    for name in sync_params:
        assert sync_params[name].default == async_params[name].default, name

    def positional(params: Any) -> list[str]:
        return [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]

    # The official SDK's positional order; the sync client's concurrency is keyword-only
    # because the official sync client has no such parameter.
    assert positional(sync_params) == [
        "self", "api_key", "base_url", "num_retries", "model_core", "timeout"
    ]  # fmt: skip
    assert positional(async_params) == [
        "self", "api_key", "base_url", "num_retries", "model_core", "max_concurrent_requests",
        "timeout",
    ]  # fmt: skip


def _resource_classes(client: type) -> dict[str, type]:
    """The client's resources (`client.traces`, ...): name -> the class its property returns."""
    found = {}
    for name, value in inspect.getmembers(client):
        if isinstance(value, functools.cached_property):
            found[name] = typing.get_type_hints(value.func)["return"]
    return found


def test_both_clients_have_the_same_resources() -> None:
    assert _resource_classes(Composo) == {"evaluations": Evaluations, "traces": Traces}
    assert _resource_classes(AsyncComposo) == {
        "evaluations": AsyncEvaluations,
        "traces": AsyncTraces,
    }


@pytest.mark.parametrize(
    ("sync_class", "async_class"), [(Traces, AsyncTraces), (Evaluations, AsyncEvaluations)]
)
def test_resource_methods_match_between_clients(sync_class: type, async_class: type) -> None:
    assert _public_methods(sync_class) == _public_methods(async_class)
    for name in _public_methods(sync_class):
        sync_method, async_method = getattr(sync_class, name), getattr(async_class, name)
        sync_signature = inspect.signature(sync_method)
        async_signature = inspect.signature(async_method)
        assert sync_signature.parameters == async_signature.parameters, name
        returns = str(sync_signature.return_annotation)
        if returns.startswith("Iterator["):
            # A listing: an async iterator, taken without await (`async for`).
            assert async_signature.return_annotation == f"Async{returns}", name
            assert not inspect.iscoroutinefunction(async_method), name
        else:
            assert async_signature.return_annotation == returns, name
            assert inspect.iscoroutinefunction(async_method), name
        assert not inspect.iscoroutinefunction(sync_method), name


def test_account_methods_match_between_clients() -> None:
    for name in ("usage", "rate_limits"):
        assert inspect.signature(getattr(Composo, name)) == inspect.signature(
            getattr(AsyncComposo, name)
        )
        assert inspect.iscoroutinefunction(getattr(AsyncComposo, name))
