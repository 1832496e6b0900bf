"""Both layers of the SDK against the local mock server, over real sockets.

The curated clients run with their default transports (`Composo` on httpx, `AsyncComposo` on
aiohttp); each test body runs against both, the sync client's calls in a worker thread. The
generated client (`composo_api`) calls every operation of openapi.yaml, and each typed model
it parses must serialise back to the JSON the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest

from composo import (
    APIError,
    AsyncComposo,
    AuthenticationError,
    Composo,
    EvaluationResponse,
    MalformedError,
    MultiAgentTraceResponse,
)
from composo._mock import MockServer
from composo._requests import Call
from composo._retry import RetryPolicy
from composo._transport import AiohttpSender, HttpcoreSender
from composo_api import AuthenticatedClient
from composo_api.api.account import get_rate_limits, get_usage
from composo_api.api.analytics import filter_evaluations, list_criteria
from composo_api.api.annotations import attach_comment, attach_rating
from composo_api.api.evaluations import (
    evaluate_reward,
    evaluate_reward_background,
    evaluate_trace,
    evaluate_trace_background,
)
from composo_api.api.traces import get_trace, list_traces
from composo_api.models import (
    AttachCommentRequest,
    AttachCommentResponse,
    AttachRatingRequest,
    AttachRatingResponse,
    BackgroundTaskResponse,
    CriteriaMetadataRequest,
    CriteriaMetadataResponse,
    ErrorResponse,
    EvaluationFilterRequest,
    EvaluationFilterResponse,
    RateLimitsResponse,
    RewardRequest,
    ScoreResponse,
    TraceListResponse,
    TraceRequest,
    TraceResponse,
    UsageResponse,
    ValidationErrorResponse,
)
from composo_api.types import Response
from tests._spec_util import same_json

pytestmark = pytest.mark.e2e

API_KEY = "e2e-key"
REWARD = "/api/v1/evals/reward"
REWARD_BACKGROUND = "/api/v1/evals/reward/background"
TRACE_BACKGROUND = "/api/v1/evals/trace/background"
USER = {"role": "user", "content": "Can I return the jacket I bought three weeks ago?"}
ASSISTANT = {"role": "assistant", "content": "Yes, returns are accepted within 30 days."}
MESSAGES = [USER, ASSISTANT]
CRITERION = "Reward responses that state the refund window."
BINARY = "Passes if the reply names a time limit."


def agent_trace() -> dict[str, Any]:
    """A planner instance holding only a child id, and the flight agent instance it called."""
    interaction = {
        "input_messages": [{"role": "user", "content": "Find a morning flight to JFK."}],
        "output_messages": [{"type": "text", "content": "BA117 leaves at 08:25."}],
    }
    return {
        "root_agent_instance_id": "planner-1",
        "agent_instance_by_id": {
            "planner-1": {"id": "planner-1", "name": "planner", "interactions": ["flights-1"]},
            "flights-1": {"id": "flights-1", "name": "flights", "interactions": [interaction]},
        },
    }


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    # Only API_KEY is accepted, so a wrong key really is refused.
    with MockServer(api_keys=[API_KEY]) as running:
        yield running


def stored(server: MockServer, path: str, body: Any = None) -> Any:
    """What the server holds, read with a plain HTTP client (GET, or POST with `body`)."""
    headers = {"API-Key": API_KEY}
    url = server.base_url + path
    response = (
        httpx.get(url, headers=headers)
        if body is None
        else httpx.post(url, json=body, headers=headers)
    )
    assert response.status_code == 200, response.text
    return response.json()


def requests_to(server: MockServer, path: str, status: int | None = None) -> int:
    return server.counters.count("POST", path, status)


# --- the curated clients --------------------------------------------------------------------


class Threaded:
    """A `Composo` whose methods are awaited like `AsyncComposo`'s; each call runs in a thread,
    as it would in an application thread, never on the event loop."""

    def __init__(self, client: Composo) -> None:
        self.inner = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@pytest.fixture(params=["Composo", "AsyncComposo"])
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@contextlib.asynccontextmanager
async def opened(kind: str, server: MockServer, **settings: Any) -> AsyncIterator[Any]:
    """A curated client on its default transport, its methods awaitable in both cases."""
    settings = {"api_key": API_KEY, "base_url": server.base_url, **settings}
    if kind == "Composo":
        with Composo(**settings) as sync_client:
            yield Threaded(sync_client)
    else:
        async with AsyncComposo(**settings) as async_client:
            yield async_client


@pytest.fixture
async def client(kind: str, server: MockServer) -> AsyncIterator[Any]:
    async with opened(kind, server) as opened_client:
        yield opened_client


def fast_retries(client: Any) -> None:
    """Shortens the backoff between retries (configuration, not real sleeping)."""
    inner = getattr(client, "inner", client)
    inner._retry_policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01)


async def test_default_transports_are_httpx_for_sync_and_aiohttp_for_async(
    server: MockServer,
) -> None:
    async with opened("Composo", server) as sync_client, opened("AsyncComposo", server) as aio:
        assert type(sync_client.inner._sender) is HttpcoreSender
        assert isinstance(aio._sender, AiohttpSender)


async def test_evaluate_one_criterion_returns_a_score(client: Any) -> None:
    result = await client.evaluate(MESSAGES, CRITERION)

    assert isinstance(result, EvaluationResponse)
    assert 0.0 <= result.score <= 1.0
    assert "synthetic" in result.explanation.lower()
    assert result.cleaned_explanation is None


async def test_evaluate_a_list_of_criteria_returns_results_in_order(client: Any) -> None:
    together = await client.evaluate(MESSAGES, [CRITERION, BINARY])
    one_by_one = [await client.evaluate(MESSAGES, c) for c in (CRITERION, BINARY)]

    assert [r.score for r in together] == [r.score for r in one_by_one]
    assert together[1].score in (0.0, 1.0)


async def test_evaluator_name_is_scored_instead_of_a_criterion(client: Any) -> None:
    [result] = await client.evaluate(MESSAGES, evaluator_name=["support-tone-v2"])

    assert isinstance(result, EvaluationResponse)
    assert "support-tone-v2" in result.explanation


async def test_block_false_posts_to_the_background_endpoint(
    client: Any, server: MockServer
) -> None:
    before = requests_to(server, REWARD_BACKGROUND, 200)

    started = await client.evaluate(MESSAGES, CRITERION, block=False)

    assert set(started) == {"task_id"}
    uuid.UUID(started["task_id"])
    assert requests_to(server, REWARD_BACKGROUND, 200) == before + 1


async def test_result_and_tags_reach_the_server_as_documented(
    client: Any, server: MockServer
) -> None:
    run = uuid.uuid4().hex
    conversation = [USER]

    await client.evaluate(
        conversation,
        CRITERION,
        result="Within 30 days of delivery.",
        tags={"run": run, "attempt": 3, "flagged": True},
    )

    filtered = stored(
        server, "/api/v1/evaluations/filter", {"filters": [{"key": "run", "values": [run]}]}
    )
    [record] = filtered["evaluations"]
    trace = stored(server, f"/api/v1/traces/{record['trace_id']}")
    assert trace["tags"] == {"run": run, "attempt": "3", "flagged": "true"}
    reply = {"role": "assistant", "content": "Within 30 days of delivery."}
    assert trace["trace"]["messages"] == [USER, reply]
    assert conversation == [USER]  # the caller's list is left alone


async def test_evaluate_trace_groups_results_by_agent_name(client: Any, server: MockServer) -> None:
    response = await client.evaluate_trace(agent_trace(), CRITERION)

    assert isinstance(response, MultiAgentTraceResponse)
    flights = response.results_by_agent_name["flights"].results_by_agent_instance_id
    planner = response.results_by_agent_name["planner"].results_by_agent_instance_id
    assert isinstance(flights["flights-1"], EvaluationResponse)
    assert 0.0 <= flights["flights-1"].score <= 1.0
    assert planner["planner-1"] is None  # it holds no LLM interaction of its own
    assert stored(server, f"/api/v1/traces/{response.request_id}")["id"] == response.request_id


async def test_evaluate_trace_with_a_list_returns_one_response_per_criterion(
    client: Any,
) -> None:
    responses = await client.evaluate_trace(agent_trace(), [CRITERION, BINARY])

    assert len(responses) == 2
    assert len({r.request_id for r in responses}) == 2
    binary = responses[1].results_by_agent_name["flights"]
    assert binary.results_by_agent_instance_id["flights-1"].score in (0.0, 1.0)
    assert binary.summary_statistics is None  # none for binary criteria


async def test_evaluate_trace_in_the_background_returns_a_task_id(
    client: Any, server: MockServer
) -> None:
    before = requests_to(server, TRACE_BACKGROUND, 200)

    started = await client.evaluate_trace(agent_trace(), CRITERION, block=False)

    assert set(started) == {"task_id"}
    assert requests_to(server, TRACE_BACKGROUND, 200) == before + 1


async def test_wrong_api_key_raises_authentication_error_without_retrying(
    kind: str, server: MockServer
) -> None:
    before = requests_to(server, REWARD, 401)

    async with opened(kind, server, api_key="not-the-key") as wrong:
        with pytest.raises(AuthenticationError) as caught:
            await wrong.evaluate(MESSAGES, CRITERION)

    assert caught.value.status_code == 401
    assert caught.value.detail == "Invalid API key"
    assert requests_to(server, REWARD, 401) == before + 1


async def test_client_refuses_what_the_server_would_refuse_before_sending(
    client: Any, server: MockServer
) -> None:
    # align-lightning-20251127 takes only binary criteria: the client says so itself.
    before = server.counters.count("POST", REWARD)

    with pytest.raises(MalformedError, match="only binary criteria") as caught:
        await client.evaluate(MESSAGES, CRITERION, model_core="align-lightning-20251127")

    assert caught.value.status_code is None
    assert server.counters.count("POST", REWARD) == before
    result = await client.evaluate(MESSAGES, BINARY, model_core="align-lightning-20251127")
    assert result.score in (0.0, 1.0)


async def test_server_side_validation_error_is_a_malformed_error(
    client: Any, server: MockServer
) -> None:
    # Every rule the spec states is also checked by the client, so this request is built
    # with the generated model directly and sent through the client's own send loop.
    body = RewardRequest.from_dict({"messages": MESSAGES[:1], "evaluation_criteria": CRITERION})
    call = Call.from_kwargs(evaluate_reward._get_kwargs(body=body), EvaluationResponse.from_dict)
    before = requests_to(server, REWARD, 422)

    with pytest.raises(MalformedError) as caught:
        await client._send(call)

    assert caught.value.status_code == 422
    [problem] = caught.value.detail
    assert problem["loc"] == ["body", "messages"]
    assert requests_to(server, REWARD, 422) == before + 1  # not retried


@pytest.fixture
def unavailable(server: MockServer) -> Iterator[MockServer]:
    """The server answering every request with 503, for one test."""
    server.configure(p503=1.0)
    try:
        yield server
    finally:
        server.configure(p503=0.0)


async def test_persistent_503_is_retried_then_raised_as_api_error(
    kind: str, unavailable: MockServer
) -> None:
    before = requests_to(unavailable, REWARD, 503)

    async with opened(kind, unavailable, num_retries=2) as flaky:
        fast_retries(flaky)
        with pytest.raises(APIError) as caught:
            await flaky.evaluate(MESSAGES, CRITERION)

    assert caught.value.status_code == 503
    assert requests_to(unavailable, REWARD, 503) == before + 3  # the first try and 2 retries


# --- the generated client, every operation --------------------------------------------------


@pytest.fixture(scope="module")
def api(server: MockServer) -> Iterator[AuthenticatedClient]:
    generated = AuthenticatedClient(
        base_url=server.base_url, token=API_KEY, prefix="", auth_header_name="API-Key"
    )
    with generated:
        yield generated


def parsed(response: Response[Any], status: int, model: type[Any]) -> Any:
    """The typed model of a response, after checking it round-trips to the JSON sent."""
    assert response.status_code == status, response.content
    value = response.parsed
    assert isinstance(value, model), f"{type(value).__name__} is not {model.__name__}"
    assert attrs.has(type(value))
    sent = json.loads(response.content)
    assert same_json(value.to_dict(), sent), (value.to_dict(), sent)
    return value


def reward_body(**fields: Any) -> RewardRequest:
    return RewardRequest.from_dict(
        {"messages": MESSAGES, "evaluation_criteria": CRITERION, **fields}
    )


def trace_body(**fields: Any) -> TraceRequest:
    return TraceRequest.from_dict(
        {"trace": agent_trace(), "evaluation_criteria": CRITERION, **fields}
    )


def test_generated_evaluate_reward_and_its_background_twin(api: AuthenticatedClient) -> None:
    body = reward_body(explanation_cleaning="end_user", tags={"suite": "e2e"})

    score = parsed(evaluate_reward.sync_detailed(client=api, body=body), 200, ScoreResponse)
    task = parsed(
        evaluate_reward_background.sync_detailed(client=api, body=body),
        200,
        BackgroundTaskResponse,
    )

    assert 0.0 <= score.score <= 1.0
    assert isinstance(score.cleaned_explanation, str)
    uuid.UUID(task.task_id)


def test_generated_validation_error_parses_into_its_model(api: AuthenticatedClient) -> None:
    body = RewardRequest.from_dict({"messages": MESSAGES[:1], "evaluator_name": "tone"})

    refused = parsed(
        evaluate_reward.sync_detailed(client=api, body=body), 422, ValidationErrorResponse
    )

    [problem] = refused.detail
    assert problem.loc == ["body", "messages"]
    assert problem.type_ == "too_short"


def test_generated_trace_evaluation_is_stored_and_annotated(api: AuthenticatedClient) -> None:
    result = parsed(
        evaluate_trace.sync_detailed(client=api, body=trace_body()), 200, MultiAgentTraceResponse
    )
    parsed(
        evaluate_trace_background.sync_detailed(client=api, body=trace_body()),
        200,
        BackgroundTaskResponse,
    )
    # The spec types a stored trace's id as a UUID in requests and in TraceResponse, but
    # request_id and the annotation responses' trace_id as plain strings.
    trace_id = uuid.UUID(result.request_id)

    comment = parsed(
        attach_comment.sync_detailed(
            client=api, body=AttachCommentRequest(trace_id=trace_id, comment="Seat not confirmed.")
        ),
        200,
        AttachCommentResponse,
    )
    rating = parsed(
        attach_rating.sync_detailed(
            client=api, body=AttachRatingRequest(trace_id=trace_id, rating=False)
        ),
        200,
        AttachRatingResponse,
    )
    fetched = parsed(get_trace.sync_detailed(trace_id, client=api), 200, TraceResponse)

    assert comment.trace_id == rating.trace_id == result.request_id
    assert fetched.id == trace_id
    assert [c.comment for c in fetched.comments] == ["Seat not confirmed."]
    assert fetched.comments[0].id == comment.id
    assert fetched.rating is False
    [evaluation] = fetched.evaluations  # one per scored instance: only flights-1
    assert evaluation.criteria == CRITERION
    assert evaluation.sub_trace["agent_name"] == "flights"


def test_generated_unknown_trace_is_404_with_an_error_body(api: AuthenticatedClient) -> None:
    missing = uuid.uuid4()

    fetched = parsed(get_trace.sync_detailed(missing, client=api), 404, ErrorResponse)
    comment = attach_comment.sync_detailed(
        client=api, body=AttachCommentRequest(trace_id=missing, comment="Hello?")
    )

    assert fetched.detail == "Trace not found"
    assert comment.status_code == 404
    assert isinstance(comment.parsed, ErrorResponse)


def test_generated_list_traces_pages_through_next_page_token(api: AuthenticatedClient) -> None:
    since = datetime.now(UTC)
    created = [
        parsed(
            evaluate_trace.sync_detailed(client=api, body=trace_body()),
            200,
            MultiAgentTraceResponse,
        ).request_id
        for _ in range(3)
    ]

    listed: list[str] = []
    token: str | None = None
    for _ in range(10):
        kwargs: dict[str, Any] = {"page_token": token} if token else {}
        page = parsed(
            list_traces.sync_detailed(client=api, page_size=1, start_date=since, **kwargs),
            200,
            TraceListResponse,
        )
        listed += [str(trace.id) for trace in page.traces]
        assert len(page.traces) <= 1
        token = page.next_page_token
        if token is None:
            break

    assert listed == created[::-1]  # newest first, each once


def test_generated_usage_and_rate_limits(api: AuthenticatedClient) -> None:
    evaluate_reward.sync_detailed(client=api, body=reward_body())

    usage = parsed(get_usage.sync_detailed(client=api), 200, UsageResponse)
    limits = parsed(get_rate_limits.sync_detailed(client=api), 200, RateLimitsResponse)

    assert usage.usage.total_current_request_count >= 1
    assert usage.usage.total_current_token_count >= 1
    assert limits["plan"] == "mock"


def test_generated_filter_and_criteria_find_a_tagged_evaluation(
    api: AuthenticatedClient,
) -> None:
    run = uuid.uuid4().hex
    criterion = f"Reward replies written for run {run}."
    evaluate_reward.sync_detailed(
        client=api, body=reward_body(evaluation_criteria=criterion, tags={"run": run})
    )
    query = EvaluationFilterRequest.from_dict(
        {"filters": [{"key": "run", "values": [run]}], "endpoint_type": "reward"}
    )

    found = parsed(
        filter_evaluations.sync_detailed(client=api, body=query), 200, EvaluationFilterResponse
    )
    criteria = parsed(
        list_criteria.sync_detailed(
            client=api, body=CriteriaMetadataRequest.from_dict({"endpoint_type": "reward"})
        ),
        200,
        CriteriaMetadataResponse,
    )

    [record] = found.evaluations
    assert record.criteria == criterion
    assert record.tags["run"] == run
    assert (found.total, found.page, found.total_pages) == (1, 1, 1)
    assert criterion in criteria.values
