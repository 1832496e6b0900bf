"""The mock's answer to each operation of openapi.yaml, keyed by operationId.

Handlers get a request that already passed authentication and validation, and return
`(status, body)`. They run on the server's event loop and do no I/O.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from composo._mock._rules import DEFAULT_MODEL_CORE
from composo._mock._scoring import (
    canonical_json,
    reward_conversation,
    score_response,
    trace_results,
)
from composo._mock._store import InvalidPageToken, Result

if TYPE_CHECKING:
    from composo._mock._app import MockState

_NOT_FOUND = {"detail": "Trace not found"}


@dataclass(frozen=True, slots=True)
class Call:
    """A validated request: its JSON body, typed parameters and API key."""

    body: Any
    params: Mapping[str, Any]
    api_key: str


Reply = tuple[int, Any]
Handler = Callable[["MockState", Call], Reply]


def _record(
    state: MockState,
    endpoint_type: str,
    body: Mapping[str, Any],
    stored_input: dict[str, Any],
    tokens: int,
    results: list[Result],
) -> str | None:
    """Counts usage and, unless data_retention is `none`, stores the evaluation."""
    state.store.usage.add(body.get("model_core", DEFAULT_MODEL_CORE), tokens)
    if body.get("data_retention") == "none":
        return None
    return state.store.add_evaluation(
        trace_id=body.get("trace_id"),
        endpoint_type=endpoint_type,
        criteria=body.get("evaluation_criteria"),
        evaluator_name=body.get("evaluator_name"),
        tags=body.get("tags"),
        stored_input=stored_input,
        results=results,
    )


def _tokens(conversation: bytes, body: Mapping[str, Any]) -> int:
    # A rough 4 bytes per token, like common tokenizer rules of thumb.
    seed = body.get("evaluation_criteria") or body.get("evaluator_name") or ""
    return (len(conversation) + len(seed)) // 4 + 1


def _reward(state: MockState, body: Mapping[str, Any]) -> dict[str, Any]:
    conversation = reward_conversation(body)
    result = score_response(
        body.get("evaluation_criteria"),
        body.get("evaluator_name"),
        conversation,
        body.get("explanation_cleaning") == "end_user",
    )
    stored = {key: body[key] for key in ("messages", "system", "tools") if key in body}
    row = Result(result["score"], result["explanation"], result["sources"])
    _record(state, "reward", body, stored, _tokens(conversation, body), [row])
    return result


def evaluate_reward(state: MockState, call: Call) -> Reply:
    """POST /api/v1/evals/reward."""
    return 200, _reward(state, call.body)


def evaluate_reward_background(state: MockState, call: Call) -> Reply:
    """POST /api/v1/evals/reward/background: scored and stored at once, answered with a task id."""
    _reward(state, call.body)
    return 200, {"task_id": str(uuid.uuid4())}


def _trace(state: MockState, body: Mapping[str, Any]) -> dict[str, Any]:
    trace = body["trace"]
    by_name = trace_results(trace, body.get("evaluation_criteria"), body.get("evaluator_name"))
    rows = [
        Result(
            result["score"],
            result["explanation"],
            result["sources"],
            {"agent_name": name, "agent_instance_id": instance_id},
        )
        for name, group in by_name.items()
        for instance_id, result in group["results_by_agent_instance_id"].items()
        if result is not None
    ]
    trace_id = _record(state, "trace", body, trace, _tokens(canonical_json(trace), body), rows)
    return {"request_id": trace_id or str(uuid.uuid4()), "results_by_agent_name": by_name}


def evaluate_trace(state: MockState, call: Call) -> Reply:
    """POST /api/v1/evals/trace."""
    return 200, _trace(state, call.body)


def evaluate_trace_background(state: MockState, call: Call) -> Reply:
    """POST /api/v1/evals/trace/background."""
    _trace(state, call.body)
    return 200, {"task_id": str(uuid.uuid4())}


def attach_comment(state: MockState, call: Call) -> Reply:
    """POST /api/v1/annotations/comment."""
    stored = state.store.add_comment(call.body["trace_id"], call.body["comment"])
    return (404, _NOT_FOUND) if stored is None else (200, stored)


def attach_rating(state: MockState, call: Call) -> Reply:
    """POST /api/v1/annotations/rating."""
    record = state.store.set_rating(call.body["trace_id"], call.body["rating"])
    if record is None:
        return 404, _NOT_FOUND
    return 200, {"trace_id": record.id, "rating": record.rating}


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def list_traces(state: MockState, call: Call) -> Reply:
    """GET /api/v1/traces."""
    params = call.params
    try:
        page, token = state.store.list_traces(
            params.get("page_token"),
            params.get("page_size") or 50,
            _instant(params.get("start_date")),
            _instant(params.get("end_date")),
        )
    except InvalidPageToken:
        return 400, {"detail": "Invalid page_token"}
    return 200, {"traces": [record.to_json() for record in page], "next_page_token": token}


def get_trace(state: MockState, call: Call) -> Reply:
    """GET /api/v1/traces/{trace_id}."""
    record = state.store.get(call.params["trace_id"])
    return (404, _NOT_FOUND) if record is None else (200, record.to_json())


def _next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def get_usage(state: MockState, call: Call) -> Reply:
    """GET /api/v1/usage: what this server scored since it started or was reset."""
    usage = state.store.usage
    return 200, {
        "usage": {
            "monthly_token_quota": None,
            "models": {name: dict(counts) for name, counts in usage.models.items()},
            "total_current_request_count": usage.requests,
            "total_current_token_count": usage.tokens,
        },
        "quota_reset_date": _next_month(datetime.now(UTC).date()).isoformat(),
    }


def get_rate_limits(state: MockState, call: Call) -> Reply:
    """GET /api/v1/rate-limits/me: the mock's configured limit for this key."""
    limit = state.config.rate_limit
    if limit is None:
        return 200, {"plan": "mock", "rate_limit": None}
    bucket = state.buckets.get(call.api_key)
    remaining = limit[0] if bucket is None else int(bucket.peek(time.monotonic()))
    return 200, {
        "plan": "mock",
        "rate_limit": {"requests": limit[0], "per_seconds": limit[1], "remaining": remaining},
    }


def filter_evaluations(state: MockState, call: Call) -> Reply:
    """POST /api/v1/evaluations/filter."""
    body = call.body
    # JSON Schema counts 3.0 as an integer, and pydantic turns it into 3: so does the mock.
    page = int(body.get("page", 1))
    page_size = int(body.get("page_size", 50))
    criteria_filter = body.get("criteria_filter")
    rows = state.store.filter_evaluations(
        body.get("filters", []),
        None if criteria_filter is None else criteria_filter["values"],
        body.get("endpoint_type"),
    )
    start = (page - 1) * page_size
    return 200, {
        "evaluations": rows[start : start + page_size],
        "total": len(rows),
        "page": page,
        "page_size": page_size,
        "total_pages": math.ceil(len(rows) / page_size),
    }


def list_criteria(state: MockState, call: Call) -> Reply:
    """POST /api/v1/metadata/criteria."""
    return 200, {"values": state.store.criteria(call.body.get("endpoint_type"))}


HANDLERS: Mapping[str, Handler] = {
    "evaluateReward": evaluate_reward,
    "evaluateRewardBackground": evaluate_reward_background,
    "evaluateTrace": evaluate_trace,
    "evaluateTraceBackground": evaluate_trace_background,
    "attachComment": attach_comment,
    "attachRating": attach_rating,
    "listTraces": list_traces,
    "getTrace": get_trace,
    "getUsage": get_usage,
    "getRateLimits": get_rate_limits,
    "filterEvaluations": filter_evaluations,
    "listCriteria": list_criteria,
}
