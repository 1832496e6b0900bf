"""`client.traces`, `client.evaluations`, `usage()` and `rate_limits()` on both clients, against
a respx-mocked service: what each operation retries, lazy paging, and errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import respx

from composo import (
    APIConnectionError,
    APIError,
    ClientClosedError,
    MalformedError,
    NotFoundError,
)
from composo_api.models import (
    AttachCommentResponse,
    AttachRatingResponse,
    EvaluationRecord,
    RateLimitsResponse,
    TraceResponse,
    UsageResponse,
)
from tests import _client_util
from tests._client_util import BASE_URL, Flavor, body_of, status

flavor = _client_util.flavor
router = _client_util.router

TRACE_ID = "3f2b8c1e-7d4a-4e9b-9c1a-5b6d7e8f9a01"
OTHER_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
TRACES = "/api/v1/traces"
FILTER = "/api/v1/evaluations/filter"


def trace_json(trace_id: str = TRACE_ID) -> dict[str, Any]:
    return {
        "id": trace_id,
        "created_at": "2026-11-26T09:14:58Z",
        "comments": [],
        "evaluations": [],
        "rating": None,
    }


def trace_page(token: str | None, *ids: str) -> dict[str, Any]:
    return {"traces": [trace_json(i) for i in ids], "next_page_token": token}


def evaluation_page(page: int, total_pages: int, *ids: str) -> dict[str, Any]:
    return {
        "evaluations": [{"id": i, "score": 0.5} for i in ids],
        "total": 2 * total_pages,
        "page": page,
        "page_size": 2,
        "total_pages": total_pages,
    }


async def drain(flavor: Flavor, iterator: Iterator[Any] | AsyncIterator[Any]) -> list[Any]:
    """Every item of a listing, the sync client's in a thread of its own."""
    if isinstance(iterator, AsyncIterator):
        return [item async for item in iterator]
    return await asyncio.to_thread(list, iterator)


async def pull(flavor: Flavor, iterator: Iterator[Any] | AsyncIterator[Any]) -> Any:
    """The next item of a listing."""
    if isinstance(iterator, AsyncIterator):
        return await anext(iterator)
    return await asyncio.to_thread(next, iterator)


@dataclasses.dataclass(frozen=True)
class Op:
    """One operation: its route, a good answer, and how to run it on a client."""

    name: str
    method: str
    path: str
    answer: Any
    run: Callable[[Flavor, Any], Awaitable[Any]]
    result_type: type
    retries_after_sent: bool = True


OPS = [
    Op(
        "traces.get",
        "GET",
        f"{TRACES}/{TRACE_ID}",
        trace_json(),
        lambda f, c: f.call(c.traces.get, TRACE_ID),
        TraceResponse,
    ),
    Op(
        "traces.list",
        "GET",
        TRACES,
        trace_page(None, TRACE_ID),
        lambda f, c: drain(f, c.traces.list()),
        list,
    ),
    Op(
        "traces.comment",
        "POST",
        "/api/v1/annotations/comment",
        {"id": "c1", "trace_id": TRACE_ID, "comment": "Good.", "created_at": "2026-11-26T09:15Z"},
        lambda f, c: f.call(c.traces.comment, TRACE_ID, "Good."),
        AttachCommentResponse,
        retries_after_sent=False,
    ),
    Op(
        "traces.rate",
        "POST",
        "/api/v1/annotations/rating",
        {"trace_id": TRACE_ID, "rating": True},
        lambda f, c: f.call(c.traces.rate, TRACE_ID, True),
        AttachRatingResponse,
    ),
    Op(
        "evaluations.filter",
        "POST",
        FILTER,
        evaluation_page(1, 1, "e1"),
        lambda f, c: drain(f, c.evaluations.filter(tags={"run": "a"})),
        list,
    ),
    Op(
        "evaluations.criteria",
        "POST",
        "/api/v1/metadata/criteria",
        {"values": ["Reward brevity"]},
        lambda f, c: f.call(c.evaluations.criteria),
        list,
    ),
    Op(
        "usage",
        "GET",
        "/api/v1/usage",
        {
            "usage": {"total_current_request_count": 1, "total_current_token_count": 9},
            "quota_reset_date": "2026-12-01",
        },
        lambda f, c: f.call(c.usage),
        UsageResponse,
    ),
    Op(
        "rate_limits",
        "GET",
        "/api/v1/rate-limits/me",
        {"plan": "free"},
        lambda f, c: f.call(c.rate_limits),
        RateLimitsResponse,
    ),
]
by_name = pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])


def route_of(router: respx.MockRouter, op: Op, *answers: Any) -> respx.Route:
    """The op's route answering each request with the next of `answers` (an exception, a
    responder, or a body for a 200)."""
    steps = [
        a if isinstance(a, Exception) or callable(a) else httpx.Response(200, json=a)
        for a in answers
    ]
    return router.request(op.method, op.path).mock(side_effect=steps)


@by_name
async def test_every_operation_returns_its_model(
    flavor: Flavor, router: respx.MockRouter, op: Op
) -> None:
    route = route_of(router, op, op.answer)
    result = await op.run(flavor, flavor.client())
    assert isinstance(result, op.result_type)
    assert route.call_count == 1
    assert route.calls[0].request.headers["API-Key"] == _client_util.API_KEY


@by_name
async def test_a_503_is_retried_except_where_the_request_may_have_created_something(
    flavor: Flavor, router: respx.MockRouter, op: Op
) -> None:
    route = route_of(router, op, status(503, "busy"), op.answer)
    client = flavor.client()
    if op.retries_after_sent:
        assert isinstance(await op.run(flavor, client), op.result_type)
        assert route.call_count == 2
    else:
        with pytest.raises(APIError, match="503 Service Unavailable: busy"):
            await op.run(flavor, client)
        assert route.call_count == 1


@by_name
@pytest.mark.parametrize("failure", [httpx.RemoteProtocolError, httpx.ReadTimeout])
async def test_a_failure_after_sending_is_retried_except_for_a_comment(
    flavor: Flavor, router: respx.MockRouter, op: Op, failure: type[Exception]
) -> None:
    route = route_of(router, op, failure("dropped"), op.answer)
    client = flavor.client()
    if op.retries_after_sent:
        assert isinstance(await op.run(flavor, client), op.result_type)
        assert route.call_count == 2
    else:
        with pytest.raises(APIConnectionError) as caught:
            await op.run(flavor, client)
        assert caught.value.request_sent is True
        assert route.call_count == 1


@by_name
@pytest.mark.parametrize(
    "refusal",
    [status(429, "slow down"), httpx.ConnectError("connection refused")],
    ids=["429", "refused-connection"],
)
async def test_what_never_reached_the_server_is_retried_for_every_operation(
    flavor: Flavor, router: respx.MockRouter, op: Op, refusal: Any
) -> None:
    route = route_of(router, op, refusal, op.answer)
    assert isinstance(await op.run(flavor, flavor.client()), op.result_type)
    assert route.call_count == 2


async def test_a_comment_sends_the_text_for_the_trace(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    comment = next(op for op in OPS if op.name == "traces.comment")
    route = route_of(router, comment, comment.answer)
    stored = await flavor.call(flavor.client().traces.comment, TRACE_ID.upper(), "Good.")
    assert body_of(route.calls[0]) == {"trace_id": TRACE_ID, "comment": "Good."}
    assert stored.comment == "Good."


async def test_listing_fetches_a_page_only_when_iteration_reaches_it(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.get(TRACES).mock(
        side_effect=[
            httpx.Response(200, json=trace_page("page-2", TRACE_ID)),
            httpx.Response(200, json=trace_page(None, OTHER_ID)),
        ]
    )
    traces = flavor.client().traces.list(page_size=1)
    assert route.call_count == 0
    first = await pull(flavor, traces)
    assert str(first.id) == TRACE_ID
    assert route.call_count == 1
    rest = await drain(flavor, traces)
    assert [str(t.id) for t in rest] == [OTHER_ID]
    assert [dict(call.request.url.params) for call in route.calls] == [
        {"page_size": "1"},
        {"page_size": "1", "page_token": "page-2"},
    ]


async def test_list_pages_yields_each_page_with_its_token(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    router.get(TRACES).mock(
        side_effect=[
            httpx.Response(200, json=trace_page("page-2", TRACE_ID, OTHER_ID)),
            httpx.Response(200, json=trace_page(None, OTHER_ID)),
        ]
    )
    pages = await drain(flavor, flavor.client().traces.list_pages(page_size=2))
    assert [(len(p.traces), p.next_page_token) for p in pages] == [(2, "page-2"), (1, None)]


async def test_a_failed_page_is_retried_without_fetching_the_earlier_pages_again(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.get(TRACES).mock(
        side_effect=[
            httpx.Response(200, json=trace_page("page-2", TRACE_ID)),
            httpx.Response(503, json={"detail": "busy"}),
            httpx.Response(200, json=trace_page(None, OTHER_ID)),
        ]
    )
    traces = await drain(flavor, flavor.client().traces.list(page_token="page-1"))
    assert [str(t.id) for t in traces] == [TRACE_ID, OTHER_ID]
    tokens = [call.request.url.params.get("page_token") for call in route.calls]
    assert tokens == ["page-1", "page-2", "page-2"]


async def test_filter_pages_by_number_up_to_total_pages(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.post(FILTER).mock(
        side_effect=[
            httpx.Response(200, json=evaluation_page(1, 2, "e1", "e2")),
            httpx.Response(200, json=evaluation_page(2, 2, "e3")),
        ]
    )
    records = await drain(
        flavor, flavor.client().evaluations.filter(endpoint_type="trace", page_size=2)
    )
    assert all(isinstance(r, EvaluationRecord) for r in records)
    assert [r.id for r in records] == ["e1", "e2", "e3"]
    assert [body_of(call) for call in route.calls] == [
        {"endpoint_type": "trace", "page": 1, "page_size": 2},
        {"endpoint_type": "trace", "page": 2, "page_size": 2},
    ]


@pytest.mark.parametrize(
    ("method", "path", "run"),
    [
        ("GET", f"{TRACES}/{TRACE_ID}", lambda f, c: f.call(c.traces.get, TRACE_ID)),
        (
            "POST",
            "/api/v1/annotations/rating",
            lambda f, c: f.call(c.traces.rate, TRACE_ID, good=False),
        ),
    ],
)
async def test_an_unknown_trace_is_not_found_and_the_message_names_the_url(
    flavor: Flavor,
    router: respx.MockRouter,
    method: str,
    path: str,
    run: Callable[[Flavor, Any], Awaitable[Any]],
) -> None:
    route = router.request(method, path).mock(side_effect=status(404, "Trace not found"))
    with pytest.raises(NotFoundError) as caught:
        await run(flavor, flavor.client(num_retries=3))
    assert route.call_count == 1  # a 404 is never retried
    assert caught.value.status_code == 404
    assert f"Trace not found ({method} {BASE_URL}{path})" in str(caught.value)


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (lambda f, c: f.call(c.traces.get, "trace-1"), r"^trace_id must be a UUID"),
        (lambda f, c: f.call(c.traces.comment, "trace-1", "x"), r"^trace_id must be a UUID"),
        (lambda f, c: f.call(c.traces.rate, TRACE_ID, "up"), r"^good must be True"),
        (lambda f, c: f.call(c.evaluations.criteria, "rewards"), r"^endpoint_type must be"),
        (lambda f, c: f.call(c.traces.list, page_size=501), r"^page_size must be from 1 to 500"),
        (lambda f, c: f.call(c.evaluations.filter, tags={"run": 1.5j}), r"tags\['run'\]"),
        (lambda f, c: f.call(c.evaluations.filter_pages, page=0), r"^page must be an int"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_sent(
    flavor: Flavor,
    router: respx.MockRouter,
    run: Callable[[Flavor, Any], Awaitable[Any]],
    message: str,
) -> None:
    everything = router.route().mock(return_value=httpx.Response(500))
    with pytest.raises(MalformedError, match=message):
        await run(flavor, flavor.client())
    assert everything.call_count == 0


async def test_a_listing_refuses_a_naive_date_when_called_not_when_iterated(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.get(TRACES).mock(return_value=httpx.Response(200, json=trace_page(None)))
    client = flavor.client()
    with pytest.raises(MalformedError, match=r"^start_date is a naive datetime"):
        client.traces.list_pages(start_date=datetime(2026, 11, 1))
    assert route.call_count == 0


async def test_a_page_that_breaks_the_spec_is_an_api_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    router.get(TRACES).mock(return_value=httpx.Response(200, json={"traces": "none"}))
    with pytest.raises(APIError, match=r"GET /api/v1/traces does not match the API description"):
        await drain(flavor, flavor.client().traces.list())


async def test_a_closed_client_refuses_resource_calls(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.get(TRACES).mock(return_value=httpx.Response(200, json=trace_page(None)))
    client = flavor.client()
    listing = client.traces.list()
    await flavor.close_all()
    with pytest.raises(ClientClosedError):
        await flavor.call(client.traces.get, TRACE_ID)
    with pytest.raises(ClientClosedError):
        await drain(flavor, listing)
    with pytest.raises(ClientClosedError):
        await flavor.call(client.usage)
    assert route.call_count == 0


async def test_filter_body_reaches_the_service_as_built(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.post(FILTER).mock(return_value=httpx.Response(200, json=evaluation_page(1, 1)))
    await drain(
        flavor,
        flavor.client().evaluations.filter(
            tags={"env": ["prod", "staging"]}, criteria=["Reward brevity"]
        ),
    )
    assert json.loads(route.calls[0].request.content) == {
        "filters": [{"key": "env", "values": ["prod", "staging"]}],
        "criteria_filter": {"values": ["Reward brevity"]},
        "page": 1,
    }
