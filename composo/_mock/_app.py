"""The aiohttp application: one route per operation of openapi.yaml, and its request pipeline.

Each request goes: latency -> injected fault -> API key -> rate limit -> parameter and body
validation (from the spec) -> service rules -> handler. The pipeline is built once per
operation with everything precomputed, and logs nothing per request, to stay fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from composo._mock._faults import (
    DROPPED,
    UNMATCHED,
    FaultConfig,
    RequestCounters,
    TokenBucket,
    retry_after_seconds,
)
from composo._mock._handlers import HANDLERS, Call, Handler, Reply
from composo._mock._rules import reward_rule_errors, trace_rule_errors
from composo._mock._spec import CompiledSpec, Operation
from composo._mock._store import Store
from composo._mock._validate import ErrorItem, parse_body, parse_parameters, schema_errors

logger = logging.getLogger("composo.mock")

# Rules beyond the schema, per operationId.
_RULES: Mapping[str, Callable[[Mapping[str, Any]], list[ErrorItem]]] = {
    "evaluateReward": reward_rule_errors,
    "evaluateRewardBackground": reward_rule_errors,
    "evaluateTrace": trace_rule_errors,
    "evaluateTraceBackground": trace_rule_errors,
}

_FAULT_DETAILS: Mapping[int, str] = {
    429: "Rate limit exceeded. Try again later.",
    500: "Internal server error (fault injected by the Composo mock)",
    503: "Service unavailable (fault injected by the Composo mock)",
    524: "A timeout occurred (fault injected by the Composo mock)",
}

# aiohttp knows no reason phrase for Cloudflare's 524.
_REASONS: Mapping[int, str] = {524: "A Timeout Occurred"}

# Counted as the status of a request whose client disconnected before it was answered.
CLIENT_GONE = 499

# Seconds a stopping server waits for requests still being answered.
SHUTDOWN_TIMEOUT = 1.0

# The largest request body the mock reads (aiohttp's default, 1 MiB, is smaller than a long
# conversation): 32 MiB, as openapi.yaml says. Larger bodies are answered 413, never 500.
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class MockState:
    """Everything the routes share; fields are swapped whole, so other threads may set them."""

    spec: CompiledSpec
    config: FaultConfig
    api_keys: frozenset[str] | None
    rng: random.Random
    store: Store
    counters: RequestCounters = field(default_factory=RequestCounters)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    check_responses: bool = False


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        reason=_REASONS.get(status),
        headers=headers,
        content_type="application/json",
    )


def _checked(state: MockState, op: Operation, status: int, payload: Any) -> tuple[int, Any]:
    """The reply itself, or a 500 naming the mismatch when it breaks the spec's schema."""
    validator = state.spec.response_validator(op.operation_id, status)
    if validator is None:
        return status, payload
    errors = schema_errors(validator, payload, "response")
    if not errors:
        return status, payload
    logger.error("%s %s answered %s against openapi.yaml: %s", op.method, op.path, status, errors)
    return 500, {"detail": f"mock response breaks openapi.yaml: {errors}"}


def _prefer_rule_wording(
    rules: Callable[[Mapping[str, Any]], list[ErrorItem]],
    body: Any,
    schema_found: list[ErrorItem],
) -> list[ErrorItem]:
    """The service's own words for the cross-field rules openapi.yaml also states.

    The spec writes those rules as if/then conditions, whose schema errors read poorly ("...
    should not be valid under {}"); when the coded rules explain the same refusal, their
    messages replace the schema's `value_error` items and those at the same location.
    """
    if not isinstance(body, Mapping):  # a JSON string, list or number: the schema's words
        return schema_found
    try:
        ruled = rules(body)
    except (KeyError, TypeError, AttributeError):  # fields the rules cannot read
        return schema_found
    if not ruled:
        return schema_found
    explained = {tuple(item["loc"]) for item in ruled}
    return ruled + [
        item
        for item in schema_found
        if item.get("type") != "value_error" and tuple(item["loc"]) not in explained
    ]


def _too_large(length: int | None) -> str:
    size = f"{length:,} bytes" if length is not None else "larger"
    return f"Request body is {size}; the limit is {MAX_BODY_BYTES // (1024 * 1024)} MiB"


def _unauthorized(header: str, key: str | None, allowed: frozenset[str] | None) -> str | None:
    if not key:
        return f"Missing API key: send it in the {header} header"
    if allowed is not None and key not in allowed:
        return "Invalid API key"
    return None


def _route(
    state: MockState, op: Operation, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler running the whole pipeline for one operation."""
    method, template, header = op.method, op.path, op.api_key_header
    parameters, body_validator, body_required = op.parameters, op.body_validator, op.body_required
    rules = _RULES.get(op.operation_id)
    counters = state.counters

    async def answer(request: web.Request) -> tuple[int, Any, Mapping[str, str] | None]:
        config = state.config
        key = request.headers.get(header, "") if header is not None else ""
        if header is not None:
            refusal = _unauthorized(header, key, state.api_keys)
            if refusal is not None:
                return 401, {"detail": refusal}, None
        if config.rate_limit is not None:
            now = time.monotonic()
            bucket = state.buckets.get(key)
            if bucket is None:
                bucket = state.buckets[key] = TokenBucket(*config.rate_limit, now)
            wait = bucket.take(now)
            if wait:
                headers = {"Retry-After": str(retry_after_seconds(wait))}
                return 429, {"detail": _FAULT_DETAILS[429]}, headers
        params: Mapping[str, Any] = {}
        errors: list[ErrorItem] = []
        if parameters:
            params, errors = parse_parameters(parameters, request.query, request.match_info)
        body = None
        if body_validator is not None:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return 413, {"detail": _too_large(request.content_length)}, None
            body, body_errors = parse_body(raw, body_required)
            if not body_errors and body is not None:
                body_errors = schema_errors(body_validator, body, "body")
                if body_errors and rules is not None:
                    body_errors = _prefer_rule_wording(rules, body, body_errors)
            errors.extend(body_errors)
            if not errors and rules is not None:
                errors = rules(body)
        if errors:
            return 422, {"detail": errors}, None
        status, payload = handler(state, Call(body, params, key))
        return status, payload, None

    async def serve(request: web.Request) -> web.StreamResponse:
        counters.enter()
        status = 500
        try:
            config = state.config
            delay = config.delay(state.rng)
            if delay:
                await asyncio.sleep(delay)
            fault = config.draw_fault(state.rng)
            if fault == DROPPED:
                status = DROPPED
                if request.transport is not None:
                    request.transport.close()
                # Writing to the closed transport fails quietly: the client gets no answer.
                return web.Response()
            headers: Mapping[str, str] | None = None
            if fault is not None:
                status, payload = fault, {"detail": _FAULT_DETAILS[fault]}
                if fault == 429 and config.retry_after is not None:
                    headers = {"Retry-After": str(config.retry_after)}
            else:
                try:
                    status, payload, headers = await answer(request)
                except ConnectionResetError:
                    # The client went away mid-request (a cancelled call, Ctrl-C): nobody is
                    # left to answer, and it is no failure of the mock's.
                    status = CLIENT_GONE
                    return web.Response()
                except Exception:
                    logger.exception("the Composo mock failed on %s %s", method, request.path)
                    status, payload = 500, {"detail": "Internal server error"}
            if state.check_responses:
                status, payload = _checked(state, op, status, payload)
            return _json(status, payload, headers)
        finally:
            counters.leave(method, template, status)

    return serve


def _unmatched(
    state: MockState, templates: list[tuple[re.Pattern[str], str]]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Answers paths and methods the spec does not have, as FastAPI would (404 / 405).

    `templates` pairs each path's pattern with its `Allow` value: a 405 must list the methods
    the path does serve (RFC 9110), as Starlette's does.
    """

    async def serve(request: web.Request) -> web.StreamResponse:
        state.counters.enter()
        status = 404
        try:
            for pattern, allow in templates:
                if pattern.fullmatch(request.path):
                    status = 405
                    return _json(405, {"detail": "Method Not Allowed"}, {"Allow": allow})
            return _json(404, {"detail": "Not Found"})
        finally:
            state.counters.leave(request.method, UNMATCHED, status)

    return serve


def _template_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def build_app(state: MockState) -> web.Application:
    """The aiohttp application serving every operation of the state's spec."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    methods: dict[str, list[str]] = {}
    for op in state.spec.operations.values():
        handler = HANDLERS.get(op.operation_id, _not_implemented)
        app.router.add_route(op.method, op.path, _route(state, op, handler))
        methods.setdefault(op.path, []).append(op.method)
    templates = [
        (_template_pattern(path), ", ".join(sorted(served))) for path, served in methods.items()
    ]
    app.router.add_route("*", "/{tail:.*}", _unmatched(state, templates))
    return app


def _not_implemented(state: MockState, call: Call) -> Reply:
    return 501, {"detail": "This operation is in openapi.yaml but not served by the mock"}


async def start_site(state: MockState, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Starts serving on host:port (0 for a free port).

    Returns:
        The runner (call `cleanup()` to stop) and the bound port.
    """
    runner = web.AppRunner(
        build_app(state), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])
