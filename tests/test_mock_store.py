"""Stored data: traces, pagination, filters, annotations and bounded memory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo._mock import MockServer
from composo._mock._store import MAX_PER_TRACE, Result, Store

MESSAGES = [
    {"role": "user", "content": "Where is my parcel?"},
    {"role": "assistant", "content": "It is out for delivery today."},
]


def reward(criterion: str | None = "Reward precise answers.", **fields: Any) -> dict[str, Any]:
    criteria = {} if criterion is None else {"evaluation_criteria": criterion}
    return {"messages": MESSAGES, **criteria, **fields}


@pytest.fixture(scope="module")
def running() -> Iterator[MockServer]:
    with MockServer(check_responses=True) as server:
        yield server


@pytest.fixture
def client(running: MockServer) -> Iterator[httpx.Client]:
    running.reset()
    with httpx.Client(base_url=running.base_url, headers={"API-Key": "k"}) as client:
        yield client


def evaluate(client: httpx.Client, **fields: Any) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(**fields))
    assert response.status_code == 200, response.text


def all_traces(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/traces", params=params)
    assert response.status_code == 200, response.text
    traces: list[dict[str, Any]] = response.json()["traces"]
    return traces


@pytest.mark.e2e
def test_traces_page_newest_first_with_an_opaque_token(client: httpx.Client) -> None:
    for number in range(5):
        evaluate(client, tags={"n": str(number)})

    seen = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"page_size": 2}
        if token:
            params["page_token"] = token
        page = client.get("/api/v1/traces", params=params).json()
        pages += 1
        assert len(page["traces"]) <= 2
        seen += [trace["tags"]["n"] for trace in page["traces"]]
        token = page["next_page_token"]
        if token is None:
            break
        assert not token.isdigit()

    assert pages == 3
    assert seen == ["4", "3", "2", "1", "0"]


@pytest.mark.e2e
def test_full_last_page_has_no_next_token(client: httpx.Client) -> None:
    evaluate(client)
    evaluate(client)

    page = client.get("/api/v1/traces", params={"page_size": 2}).json()

    assert len(page["traces"]) == 2
    assert page["next_page_token"] is None


@pytest.mark.e2e
def test_foreign_page_token_is_400(client: httpx.Client) -> None:
    response = client.get("/api/v1/traces", params={"page_token": "not-ours"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid page_token"}


@pytest.mark.e2e
def test_date_filters_bound_created_at_inclusively(client: httpx.Client) -> None:
    for _ in range(3):
        evaluate(client)
        time.sleep(0.01)
    oldest, middle, newest = reversed(all_traces(client))

    after = all_traces(client, start_date=middle["created_at"])
    before = all_traces(client, end_date=middle["created_at"])
    between = all_traces(client, start_date=middle["created_at"], end_date=middle["created_at"])

    assert [t["id"] for t in after] == [newest["id"], middle["id"]]
    assert [t["id"] for t in before] == [middle["id"], oldest["id"]]
    assert [t["id"] for t in between] == [middle["id"]]


@pytest.mark.e2e
def test_evaluation_with_a_stored_trace_id_is_attached_to_it(client: httpx.Client) -> None:
    evaluate(client)
    [trace] = all_traces(client)

    evaluate(client, criterion="Penalize vague answers.", trace_id=trace["id"])

    [stored] = all_traces(client)
    assert stored["id"] == trace["id"]
    assert [e["criteria"] for e in stored["evaluations"]] == [
        "Reward precise answers.",
        "Penalize vague answers.",
    ]


@pytest.mark.e2e
def test_evaluation_with_a_new_trace_id_creates_that_trace(client: httpx.Client) -> None:
    trace_id = str(uuid.uuid4())

    evaluate(client, trace_id=trace_id)

    assert client.get(f"/api/v1/traces/{trace_id}").status_code == 200


@pytest.mark.e2e
def test_no_data_retention_stores_nothing_but_usage(client: httpx.Client) -> None:
    evaluate(client, data_retention="none")

    assert all_traces(client) == []
    assert client.post("/api/v1/metadata/criteria", json={}).json() == {"values": []}
    usage = client.get("/api/v1/usage").json()["usage"]
    assert usage["total_current_request_count"] == 1


@pytest.mark.e2e
def test_filter_requires_every_tag_filter_and_any_of_its_values(client: httpx.Client) -> None:
    evaluate(client, tags={"env": "prod", "team": "a"})
    evaluate(client, tags={"env": "dev", "team": "a"})
    evaluate(client, tags={"env": "prod", "team": "b"})
    evaluate(client, tags={"env": "staging", "team": "a"})

    body = client.post(
        "/api/v1/evaluations/filter",
        json={
            "filters": [{"key": "env", "values": ["prod", "dev"]}, {"key": "team", "values": ["a"]}]
        },
    ).json()

    assert body["total"] == 2
    assert [e["tags"] for e in body["evaluations"]] == [
        {"env": "dev", "team": "a"},
        {"env": "prod", "team": "a"},
    ]


@pytest.mark.e2e
def test_filter_by_criteria_and_endpoint_type_pages_the_matches(client: httpx.Client) -> None:
    for _ in range(3):
        evaluate(client, criterion="Reward speed.")
    evaluate(client, criterion="Reward accuracy.")

    body = client.post(
        "/api/v1/evaluations/filter",
        json={
            "criteria_filter": {"values": ["Reward speed."]},
            "endpoint_type": "reward",
            "page": 2,
            "page_size": 2,
        },
    ).json()
    traces_only = client.post("/api/v1/evaluations/filter", json={"endpoint_type": "trace"}).json()

    assert (body["total"], body["page"], body["page_size"], body["total_pages"]) == (3, 2, 2, 2)
    assert [e["criteria"] for e in body["evaluations"]] == ["Reward speed."]
    assert traces_only["total"] == 0


@pytest.mark.e2e
def test_metadata_criteria_are_distinct_and_filtered_by_endpoint(client: httpx.Client) -> None:
    evaluate(client, criterion="Reward speed.")
    evaluate(client, criterion="Reward speed.")
    evaluate(client, criterion="Passes if polite.")
    evaluate(client, evaluator_name="tone", criterion=None)

    all_criteria = client.post("/api/v1/metadata/criteria", json={}).json()
    traces_only = client.post("/api/v1/metadata/criteria", json={"endpoint_type": "trace"}).json()

    assert all_criteria == {"values": ["Passes if polite.", "Reward speed."]}
    assert traces_only == {"values": []}


def store_one(store: Store, criteria: str = "Reward x", trace_id: str | None = None) -> str:
    return store.add_evaluation(
        trace_id=trace_id,
        endpoint_type="reward",
        criteria=criteria,
        evaluator_name=None,
        tags=None,
        stored_input={},
        results=[Result(0.5, "synthetic")],
    )


def test_store_forgets_the_oldest_traces_beyond_its_limit() -> None:
    store = Store(max_traces=3, max_evaluations=100)
    ids = [store_one(store) for _ in range(5)]

    page, _ = store.list_traces(None, 10, None, None)

    assert [record.id for record in page] == ids[:1:-1]
    assert store.get(ids[0]) is None


def test_store_forgets_the_oldest_evaluations_and_their_criteria() -> None:
    store = Store(max_traces=100, max_evaluations=2)
    store_one(store, "Reward old.")
    store_one(store, "Reward new.")
    store_one(store, "Reward newest.")

    assert len(store.evaluations) == 2
    assert store.criteria(None) == ["Reward new.", "Reward newest."]


def test_one_trace_keeps_a_bounded_number_of_evaluations() -> None:
    store = Store()
    trace_id = store_one(store)
    for _ in range(MAX_PER_TRACE + 5):
        store_one(store, trace_id=trace_id)

    record = store.get(trace_id)

    assert record is not None
    assert len(record.evaluations) == MAX_PER_TRACE
