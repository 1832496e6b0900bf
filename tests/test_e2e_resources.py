"""The stored-data resources of both clients against the local mock server, over real sockets
(`Composo` on its httpcore transport, `AsyncComposo` on aiohttp): paging across several pages,
date filters, annotations, analytics and the account endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from composo import AsyncComposo, Composo, NotFoundError
from composo._mock import MockServer
from composo_api.models import TraceResponse

pytestmark = pytest.mark.e2e

API_KEY = "e2e-key"
MESSAGES = [
    {"role": "user", "content": "Can I return the jacket I bought three weeks ago?"},
    {"role": "assistant", "content": "Yes, returns are accepted within 30 days."},
]
CRITERION = "Reward responses that state the refund window."
BINARY = "Passes if the reply names a time limit."
RUN = uuid.uuid4().hex
STORED = 120
LIST = ("GET", "/api/v1/traces")
FILTER = ("POST", "/api/v1/evaluations/filter")


class Driver:
    """Runs a client's methods and drains its listings the same way for both clients; the
    sync client's work goes to a thread, as an application thread would do it."""

    def __init__(self, client: Composo | AsyncComposo) -> None:
        self.client: Any = client

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(method):
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def drain(self, iterator: Iterator[Any] | AsyncIterator[Any]) -> list[Any]:
        if isinstance(iterator, AsyncIterator):
            return [item async for item in iterator]
        return await asyncio.to_thread(list, iterator)

    async def pull(self, iterator: Iterator[Any] | AsyncIterator[Any]) -> Any:
        if isinstance(iterator, AsyncIterator):
            return await anext(iterator)
        return await asyncio.to_thread(next, iterator)


def tags_of(n: int) -> dict[str, Any]:
    return {"run": RUN, "n": n, "half": "first" if n < STORED // 2 else "second"}


@pytest.fixture(scope="module")
def stored() -> Iterator[MockServer]:
    """A server holding 120 traces, one reward evaluation each, tagged with RUN, their number
    and which half they are in; the tests that use it only read."""
    with MockServer(api_keys=[API_KEY]) as server:
        items = [{"messages": MESSAGES, "tags": tags_of(n)} for n in range(STORED)]
        with Composo(api_key=API_KEY, base_url=server.base_url) as client:
            results = client.evaluate_batch(items, CRITERION).collect()
        assert all(result.ok for result in results)
        yield server


@pytest.fixture
def fresh() -> Iterator[MockServer]:
    """An empty server of its own, for the tests that write."""
    with MockServer(api_keys=[API_KEY], rate_limit=(100, 60.0)) as server:
        yield server


@contextlib.asynccontextmanager
async def driving(kind: str, server: MockServer) -> AsyncIterator[Driver]:
    settings: dict[str, Any] = {"api_key": API_KEY, "base_url": server.base_url}
    if kind == "Composo":
        with Composo(**settings) as sync_client:
            yield Driver(sync_client)
    else:
        async with AsyncComposo(**settings) as async_client:
            yield Driver(async_client)


@pytest.fixture(params=["Composo", "AsyncComposo"])
async def reader(request: pytest.FixtureRequest, stored: MockServer) -> AsyncIterator[Driver]:
    async with driving(request.param, stored) as driver:
        yield driver


@pytest.fixture(params=["Composo", "AsyncComposo"])
async def writer(request: pytest.FixtureRequest, fresh: MockServer) -> AsyncIterator[Driver]:
    async with driving(request.param, fresh) as driver:
        yield driver


def requests_to(server: MockServer, route: tuple[str, str], status: int | None = 200) -> int:
    return server.counters.count(*route, status)


async def test_list_follows_next_page_token_across_pages(
    reader: Driver, stored: MockServer
) -> None:
    before = requests_to(stored, LIST)

    traces = await reader.drain(reader.client.traces.list(page_size=50))

    assert requests_to(stored, LIST) == before + 3  # 50 + 50 + 20
    assert all(isinstance(trace, TraceResponse) for trace in traces)
    assert len({trace.id for trace in traces}) == STORED
    assert [t.created_at for t in traces] == sorted((t.created_at for t in traces), reverse=True)


async def test_list_pages_gives_each_page_and_a_token_to_resume_from(reader: Driver) -> None:
    pages = await reader.drain(reader.client.traces.list_pages(page_size=50))

    assert [len(page.traces) for page in pages] == [50, 50, 20]
    assert [page.next_page_token is None for page in pages] == [False, False, True]
    resumed = await reader.drain(
        reader.client.traces.list(page_size=50, page_token=pages[0].next_page_token)
    )
    assert [t.id for t in resumed] == [t.id for page in pages[1:] for t in page.traces]


async def test_list_fetches_the_next_page_only_when_iteration_reaches_it(
    reader: Driver, stored: MockServer
) -> None:
    before = requests_to(stored, LIST)
    traces = reader.client.traces.list(page_size=50)
    assert requests_to(stored, LIST) == before

    for _ in range(50):
        await reader.pull(traces)
    assert requests_to(stored, LIST) == before + 1
    await reader.pull(traces)
    assert requests_to(stored, LIST) == before + 2


async def test_date_filters_bound_created_at_inclusively(reader: Driver) -> None:
    every = await reader.drain(reader.client.traces.list(page_size=500))
    cut = every[59].created_at
    later = cut + timedelta(microseconds=1)

    newer = await reader.drain(reader.client.traces.list(start_date=cut, page_size=40))
    # Any aware time zone will do; it is sent as UTC.
    older = await reader.drain(
        reader.client.traces.list(end_date=cut.astimezone(timezone(timedelta(hours=-5))))
    )
    window = await reader.drain(
        reader.client.traces.list(start_date=every[89].created_at, end_date=every[30].created_at)
    )
    future = await reader.drain(
        reader.client.traces.list(start_date=datetime.now(UTC) + timedelta(days=1))
    )

    assert {t.id for t in newer} == {t.id for t in every if t.created_at >= cut}
    assert {t.id for t in older} == {t.id for t in every if t.created_at <= cut}
    assert {t.id for t in newer} & {t.id for t in older} == {
        t.id for t in every if cut <= t.created_at < later
    }
    assert {t.id for t in window} == {
        t.id for t in every if every[89].created_at <= t.created_at <= every[30].created_at
    }
    assert len(window) >= 60
    assert future == []


async def test_get_returns_the_stored_trace_with_its_tags_and_evaluation(reader: Driver) -> None:
    newest = await reader.pull(reader.client.traces.list(page_size=1))

    trace = await reader.call(reader.client.traces.get, str(newest.id))

    assert trace.id == newest.id
    tags = trace.tags.to_dict()
    assert tags == {key: str(value) for key, value in tags_of(int(tags["n"])).items()}
    [evaluation] = trace.evaluations
    assert evaluation.criteria == CRITERION
    assert 0.0 <= evaluation.score <= 1.0
    assert trace.trace.to_dict()["messages"] == MESSAGES


async def test_an_unknown_trace_is_not_found_without_a_retry(
    reader: Driver, stored: MockServer
) -> None:
    unknown = uuid.uuid4()
    path = ("GET", "/api/v1/traces/{trace_id}")
    before = requests_to(stored, path, 404)

    with pytest.raises(NotFoundError) as caught:
        await reader.call(reader.client.traces.get, unknown)

    assert f"(GET {stored.base_url}/api/v1/traces/{unknown})" in str(caught.value)
    assert caught.value.detail == "Trace not found"
    assert requests_to(stored, path, 404) == before + 1


async def test_filter_pages_through_the_evaluations_matching_the_tags(
    reader: Driver, stored: MockServer
) -> None:
    evaluations = reader.client.evaluations
    before = requests_to(stored, FILTER)

    everything = await reader.drain(evaluations.filter(tags={"run": RUN}, page_size=50))
    assert requests_to(stored, FILTER) == before + 3
    first_half = await reader.drain(evaluations.filter(tags={"run": RUN, "half": "first"}))
    some = await reader.drain(evaluations.filter(tags={"run": RUN, "n": [3, 4, 5]}))
    pages = await reader.drain(evaluations.filter_pages(tags={"run": RUN}, page_size=100))

    assert len(everything) == STORED
    assert len({record.id for record in everything}) == STORED
    assert {record.tags["half"] for record in first_half} == {"first"}
    assert len(first_half) == 60
    assert sorted(record.tags["n"] for record in some) == ["3", "4", "5"]
    assert [(p.page, p.total_pages, p.total, len(p.evaluations)) for p in pages] == [
        (1, 2, STORED, 100),
        (2, 2, STORED, 20),
    ]


async def test_a_comment_and_a_rating_are_stored_on_the_trace(
    writer: Driver, fresh: MockServer
) -> None:
    client = writer.client
    await writer.call(client.evaluate, MESSAGES, CRITERION, tags={"run": RUN})
    [stored_trace] = await writer.drain(client.traces.list())
    trace_id = stored_trace.id

    first = await writer.call(client.traces.comment, trace_id, "Right refund window.")
    await writer.call(client.traces.comment, str(trace_id), "But no link to the form.")
    rated = await writer.call(client.traces.rate, trace_id, True)
    rerated = await writer.call(client.traces.rate, trace_id, good=False)
    trace = await writer.call(client.traces.get, trace_id)

    assert first.trace_id == str(trace_id)
    assert first.comment == "Right refund window."
    assert (rated.rating, rerated.rating) == (True, False)
    assert [c.comment for c in trace.comments] == [
        "Right refund window.",
        "But no link to the form.",
    ]
    assert trace.comments[0].id == first.id
    assert trace.rating is False


async def test_annotating_an_unknown_trace_is_not_found(writer: Driver, fresh: MockServer) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match="Trace not found"):
        await writer.call(writer.client.traces.comment, unknown, "Lost.")
    with pytest.raises(NotFoundError, match="Trace not found"):
        await writer.call(writer.client.traces.rate, unknown, True)
    assert requests_to(fresh, ("POST", "/api/v1/annotations/comment"), 404) == 1


async def test_criteria_and_endpoint_type_tell_reward_and_trace_evaluations_apart(
    writer: Driver,
) -> None:
    client = writer.client
    trace = {
        "root_agent_instance_id": "a-1",
        "agent_instance_by_id": {
            "a-1": {
                "id": "a-1",
                "name": "support",
                "interactions": [
                    {
                        "input_messages": [{"role": "user", "content": "Refund window?"}],
                        "output_messages": [{"type": "text", "content": "30 days."}],
                    }
                ],
            }
        },
    }
    await writer.call(client.evaluate, MESSAGES, CRITERION)
    response = await writer.call(client.evaluate_trace, trace, BINARY)

    assert await writer.call(client.evaluations.criteria) == sorted([CRITERION, BINARY])
    assert await writer.call(client.evaluations.criteria, "trace") == [BINARY]
    [record] = await writer.drain(client.evaluations.filter(endpoint_type="trace"))
    assert (record.endpoint_type, record.trace_id) == ("trace", response.request_id)
    assert await writer.drain(client.evaluations.filter(criteria=[CRITERION, BINARY])) != []
    assert await writer.drain(client.evaluations.filter(criteria="Reward nothing stored")) == []


async def test_usage_counts_the_evaluations_made(writer: Driver) -> None:
    before = await writer.call(writer.client.usage)
    await writer.call(writer.client.evaluate, MESSAGES, [CRITERION, BINARY])
    after = await writer.call(writer.client.usage)

    assert before.usage.total_current_request_count == 0
    assert after.usage.total_current_request_count == 2
    assert after.usage.total_current_token_count > 0
    datetime.fromisoformat(after.quota_reset_date)


async def test_rate_limits_is_the_servers_free_form_object(writer: Driver) -> None:
    limits = await writer.call(writer.client.rate_limits)

    assert limits["plan"] == "mock"
    assert limits["rate_limit"]["requests"] == 100
    assert limits.to_dict()["rate_limit"]["per_seconds"] == 60.0
