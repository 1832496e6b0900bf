"""Synthetic scores: deterministic, binary where the criterion is, honest about being fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo._mock import MockServer
from composo._mock._scoring import (
    canonical_json,
    criterion_seed,
    summary_statistics,
    synthetic_score,
    trace_results,
)

MESSAGES = [
    {"role": "user", "content": "Is the museum open on Mondays?"},
    {"role": "assistant", "content": "No, it is closed on Mondays."},
]


def reward(criterion: str, **fields: Any) -> dict[str, Any]:
    return {"messages": MESSAGES, "evaluation_criteria": criterion, **fields}


def instance(name: str, *contents: str) -> dict[str, Any]:
    interactions = [
        {"input_messages": [{"role": "user", "content": "q"}], "output_messages": [{"content": c}]}
        for c in contents
    ]
    return {"id": f"{name}-{len(contents)}", "name": name, "interactions": interactions}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(check_responses=True) as server:
        yield server


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"API-Key": "k"}) as client:
        yield client


def score(client: httpx.Client, body: dict[str, Any]) -> Any:
    response = client.post("/api/v1/evals/reward", json=body)
    assert response.status_code == 200, response.text
    return response.json()["score"]


def test_score_is_pinned_so_it_is_the_same_on_every_machine() -> None:
    # SHA-256 of fixed bytes: a change here changes every user's recorded mock scores.
    assert synthetic_score("Reward brevity", b'{"messages":[]}', binary=False) == 0.56


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json({"b": 1, "a": [{"y": 2, "x": 1}]}) == canonical_json(
        {"a": [{"x": 1, "y": 2}], "b": 1}
    )


@pytest.mark.e2e
def test_same_input_scores_the_same_twice(client: httpx.Client) -> None:
    body = reward("Reward answers that give opening hours.")

    assert score(client, body) == score(client, body)


@pytest.mark.e2e
def test_same_input_scores_the_same_on_another_server(client: httpx.Client) -> None:
    body = reward("Reward answers that give opening hours.")

    with MockServer() as other, httpx.Client(base_url=other.base_url) as other_client:
        other_client.headers["API-Key"] = "k"
        assert score(other_client, body) == score(client, body)


@pytest.mark.e2e
def test_different_criteria_usually_score_differently(client: httpx.Client) -> None:
    scores = [score(client, reward(f"Reward answers that mention fact {i}.")) for i in range(10)]

    assert len(set(scores)) >= 8
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.e2e
def test_binary_criteria_score_zero_or_one(client: httpx.Client) -> None:
    prefixes = ["Passes if", "Fails if", "passes if"]
    scores = {score(client, reward(f"{p} the answer mentions case {i}.")) for p in prefixes
              for i in range(12)}  # fmt: skip

    assert scores == {0.0, 1.0}


def test_criterion_is_read_with_its_first_letter_upper_cased() -> None:
    assert criterion_seed("passes if x", None) == criterion_seed("Passes if x", None)


@pytest.mark.e2e
def test_evaluator_name_scores_deterministically(client: httpx.Client) -> None:
    body = {"messages": MESSAGES, "evaluator_name": "support-tone-v2"}

    first = score(client, body)

    assert first == score(client, body)
    assert 0.0 <= first <= 1.0


@pytest.mark.e2e
def test_explanation_says_the_score_is_synthetic(client: httpx.Client) -> None:
    body = client.post("/api/v1/evals/reward", json=reward("Reward brevity.")).json()

    assert "Synthetic result from the local Composo mock server" in body["explanation"]
    assert "not a real evaluation" in body["explanation"]


@pytest.mark.e2e
def test_end_user_cleaning_adds_a_cleaned_explanation(client: httpx.Client) -> None:
    body = client.post(
        "/api/v1/evals/reward", json=reward("Reward brevity.", explanation_cleaning="end_user")
    ).json()

    assert "not a real evaluation" in body["cleaned_explanation"]


def test_summary_statistics_are_median_min_max_and_population_std() -> None:
    assert summary_statistics([0.2, 0.4, 0.9]) == {
        "median": 0.4,
        "min": 0.2,
        "max": 0.9,
        "std": pytest.approx(0.294392, abs=1e-6),
    }
    assert summary_statistics([]) == {"median": None, "min": None, "max": None, "std": None}


def test_trace_statistics_cover_every_instance_of_an_agent() -> None:
    trace = {
        "root_agent_instance_id": "a",
        "agent_instance_by_id": {
            "a": instance("worker", "one"),
            "b": instance("worker", "two", "three"),
            "c": instance("lead"),
        },
    }

    results = trace_results(trace, "Reward clear answers.", None)

    worker = results["worker"]
    scores = [r["score"] for r in worker["results_by_agent_instance_id"].values()]
    assert worker["summary_statistics"] == summary_statistics(scores)
    assert results["lead"]["results_by_agent_instance_id"] == {"c": None}
    assert results["lead"]["summary_statistics"]["median"] is None


def test_trace_statistics_are_null_for_binary_criteria() -> None:
    trace = {"root_agent_instance_id": "a", "agent_instance_by_id": {"a": instance("w", "x")}}

    results = trace_results(trace, "Passes if the answer is clear.", None)

    assert results["w"]["summary_statistics"] is None
    assert results["w"]["results_by_agent_instance_id"]["a"]["score"] in (0.0, 1.0)
