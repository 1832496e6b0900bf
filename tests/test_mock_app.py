"""The mock server end to end: every operation, authentication and request validation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo._mock import MockServer

pytestmark = pytest.mark.e2e

MESSAGES = [
    {"role": "user", "content": "Can I return the jacket I bought three weeks ago?"},
    {"role": "assistant", "content": "Yes, returns are accepted within 30 days."},
]
CRITERION = "Reward responses that state the refund window."


def reward(**fields: Any) -> dict[str, Any]:
    return {"messages": MESSAGES, "evaluation_criteria": CRITERION, **fields}


def agent_trace() -> dict[str, Any]:
    interaction = {
        "input_messages": [{"role": "user", "content": "Find a flight to JFK."}],
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
def running() -> Iterator[MockServer]:
    with MockServer(check_responses=True) as server:
        yield server


@pytest.fixture
def server(running: MockServer) -> MockServer:
    running.reset()
    return running


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"API-Key": "test-key"}) as client:
        yield client


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert all({"loc", "msg", "type"} <= set(item) for item in detail)
    return detail


# --- every operation, happy path ---------------------------------------------------------


def test_reward_evaluation_returns_a_score_and_an_explanation(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json=reward())

    assert response.status_code == 200
    body = response.json()
    assert 0.0 <= body["score"] <= 1.0
    assert "synthetic" in body["explanation"].lower()
    assert "cleaned_explanation" not in body


def test_reward_background_answers_with_a_fresh_task_id(client: httpx.Client) -> None:
    first = client.post("/api/v1/evals/reward/background", json=reward())
    second = client.post("/api/v1/evals/reward/background", json=reward())

    assert first.status_code == second.status_code == 200
    ids = {uuid.UUID(first.json()["task_id"]), uuid.UUID(second.json()["task_id"])}
    assert len(ids) == 2


def test_trace_evaluation_scores_instances_grouped_by_agent_name(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/trace", json={"trace": agent_trace(), "evaluation_criteria": CRITERION}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body["results_by_agent_name"]) == {"planner", "flights"}
    flights = body["results_by_agent_name"]["flights"]
    assert flights["agent_name"] == "flights"
    assert 0.0 <= flights["results_by_agent_instance_id"]["flights-1"]["score"] <= 1.0
    # The planner only delegated: no LLM interaction of its own, so no result.
    assert body["results_by_agent_name"]["planner"]["results_by_agent_instance_id"] == {
        "planner-1": None
    }


def test_trace_background_answers_with_a_task_id(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/trace/background",
        json={"trace": agent_trace(), "evaluation_criteria": CRITERION},
    )

    assert response.status_code == 200
    uuid.UUID(response.json()["task_id"])


def test_trace_request_id_fetches_the_stored_trace(client: httpx.Client) -> None:
    request_id = client.post(
        "/api/v1/evals/trace", json={"trace": agent_trace(), "evaluation_criteria": CRITERION}
    ).json()["request_id"]

    stored = client.get(f"/api/v1/traces/{request_id}")

    assert stored.status_code == 200
    assert stored.json()["trace"] == agent_trace()
    [evaluation] = stored.json()["evaluations"]
    assert evaluation["sub_trace"] == {"agent_name": "flights", "agent_instance_id": "flights-1"}


def test_comment_is_attached_to_a_stored_trace(client: httpx.Client) -> None:
    trace_id = client.post("/api/v1/evals/trace", json={
        "trace": agent_trace(), "evaluation_criteria": CRITERION}).json()["request_id"]  # fmt: skip

    response = client.post(
        "/api/v1/annotations/comment", json={"trace_id": trace_id, "comment": "Seat not confirmed"}
    )

    assert response.status_code == 200
    comment = response.json()
    assert comment["trace_id"] == trace_id
    assert comment["comment"] == "Seat not confirmed"
    assert client.get(f"/api/v1/traces/{trace_id}").json()["comments"] == [comment]


def test_rating_is_set_on_a_stored_trace(client: httpx.Client) -> None:
    trace_id = client.post("/api/v1/evals/trace", json={
        "trace": agent_trace(), "evaluation_criteria": CRITERION}).json()["request_id"]  # fmt: skip

    response = client.post(
        "/api/v1/annotations/rating", json={"trace_id": trace_id, "rating": False}
    )

    assert response.status_code == 200
    assert response.json() == {"trace_id": trace_id, "rating": False}
    assert client.get(f"/api/v1/traces/{trace_id}").json()["rating"] is False


@pytest.mark.parametrize("path", ["/api/v1/annotations/comment", "/api/v1/annotations/rating"])
def test_annotating_an_unknown_trace_is_404(client: httpx.Client, path: str) -> None:
    body = {"trace_id": str(uuid.uuid4()), "comment": "x", "rating": True}
    del body["rating" if path.endswith("comment") else "comment"]

    response = client.post(path, json=body)

    assert response.status_code == 404
    assert response.json() == {"detail": "Trace not found"}


def test_unknown_trace_id_is_404(client: httpx.Client) -> None:
    response = client.get(f"/api/v1/traces/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Trace not found"}


def test_list_traces_shows_each_stored_evaluation(client: httpx.Client) -> None:
    client.post("/api/v1/evals/reward", json=reward(tags={"env": "test"}))

    page = client.get("/api/v1/traces").json()

    [trace] = page["traces"]
    assert page["next_page_token"] is None
    assert trace["tags"] == {"env": "test"}
    assert trace["trace"] == {"messages": MESSAGES}
    assert trace["evaluations"][0]["criteria"] == CRITERION


def test_usage_counts_evaluation_requests(client: httpx.Client) -> None:
    for _ in range(3):
        client.post("/api/v1/evals/reward", json=reward())
    client.post("/api/v1/evals/reward", json=reward(model_core="align-20260109"))

    usage = client.get("/api/v1/usage").json()

    assert usage["usage"]["total_current_request_count"] == 4
    assert usage["usage"]["total_current_token_count"] > 0
    assert usage["usage"]["models"]["align-20251111"]["requests"] == 3
    assert usage["usage"]["models"]["align-20260109"]["requests"] == 1
    assert usage["quota_reset_date"].endswith("-01")


def test_rate_limits_reports_the_configured_limit(server: MockServer, client: httpx.Client) -> None:
    assert client.get("/api/v1/rate-limits/me").json()["rate_limit"] is None

    server.configure(rate_limit=(100, 60.0))

    limits = client.get("/api/v1/rate-limits/me").json()["rate_limit"]
    assert limits["requests"] == 100
    assert limits["per_seconds"] == 60.0


def test_evaluations_filter_finds_evaluations_by_tag(client: httpx.Client) -> None:
    client.post("/api/v1/evals/reward", json=reward(tags={"env": "prod"}))
    client.post("/api/v1/evals/reward", json=reward(tags={"env": "dev"}))

    response = client.post(
        "/api/v1/evaluations/filter", json={"filters": [{"key": "env", "values": ["prod"]}]}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    assert body["evaluations"][0]["tags"] == {"env": "prod"}


def test_evaluations_filter_reads_integral_floats_as_integers(client: httpx.Client) -> None:
    # JSON Schema counts 2.0 as an integer and pydantic reads it as 2, so the service does too.
    for _ in range(3):
        client.post("/api/v1/evals/reward", json=reward())

    response = client.post("/api/v1/evaluations/filter", json={"page": 2.0, "page_size": 2.0})

    assert response.status_code == 200
    body = response.json()
    assert (body["page"], body["page_size"], body["total_pages"]) == (2, 2, 2)
    assert len(body["evaluations"]) == 1


def test_metadata_criteria_lists_the_criteria_used(client: httpx.Client) -> None:
    client.post("/api/v1/evals/reward", json=reward())
    client.post("/api/v1/evals/reward", json=reward())

    response = client.post("/api/v1/metadata/criteria", json={})

    assert response.status_code == 200
    assert response.json() == {"values": [CRITERION]}


# --- authentication ----------------------------------------------------------------------


def test_request_without_api_key_is_401(server: MockServer) -> None:
    response = httpx.post(f"{server.base_url}/api/v1/evals/reward", json=reward())

    assert response.status_code == 401
    assert "API-Key" in response.json()["detail"]


def test_api_key_is_checked_before_the_body(server: MockServer) -> None:
    response = httpx.post(f"{server.base_url}/api/v1/evals/reward", json={"bogus": 1})

    assert response.status_code == 401


def test_wrong_api_key_is_401_when_keys_are_configured(server: MockServer) -> None:
    server.configure(api_keys=["right"])
    url = f"{server.base_url}/api/v1/usage"

    wrong = httpx.get(url, headers={"API-Key": "wrong"})
    right = httpx.get(url, headers={"API-Key": "right"})

    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid API key"}
    assert right.status_code == 200


# --- request validation (422, FastAPI's shape) --------------------------------------------


def test_too_long_criterion_is_422_naming_the_field(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/reward", json=reward(evaluation_criteria="Reward " + "x" * 4096)
    )

    [error] = errors_of(response)
    assert error["loc"] == ["body", "evaluation_criteria"]
    assert error["type"] == "string_too_long"
    assert error["msg"] == "String should have at most 4096 characters"


@pytest.mark.parametrize("criterion", ["Passes If it works", " Reward x", "Score the reply"])
def test_criterion_with_a_bad_prefix_is_422(client: httpx.Client, criterion: str) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(evaluation_criteria=criterion))

    [error] = errors_of(response)
    assert error["loc"] == ["body", "evaluation_criteria"]
    assert error["type"] == "string_pattern_mismatch"


@pytest.mark.parametrize("criterion", ["passes if it works", "penalize rudeness", "Fails if x"])
def test_criterion_prefix_accepts_a_lower_case_first_letter(
    client: httpx.Client, criterion: str
) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(evaluation_criteria=criterion))

    assert response.status_code == 200


def test_criterion_and_evaluator_name_together_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(evaluator_name="tone-v2"))

    [error] = errors_of(response)
    assert error["loc"] == ["body"]
    assert error["type"] == "value_error"
    assert "'evaluation_criteria' and 'evaluator_name' cannot both be given" in error["msg"]


def test_neither_criterion_nor_evaluator_name_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json={"messages": MESSAGES})

    [error] = errors_of(response)
    assert error["loc"] == ["body"]
    assert "one of 'evaluation_criteria' or 'evaluator_name' must be given" in error["msg"]


def test_one_message_conversation_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(messages=MESSAGES[:1]))

    [error] = errors_of(response)
    assert error["loc"] == ["body", "messages"]
    assert error["type"] == "too_short"
    assert error["msg"] == "List should have at least 2 items after validation, not 1"


def test_unknown_field_is_422_extra_forbidden(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(temperature=0.2))

    [error] = errors_of(response)
    assert error["loc"] == ["body", "temperature"]
    assert error["type"] == "extra_forbidden"
    assert error["msg"] == "Extra inputs are not permitted"


def test_every_problem_is_reported_at_once(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/reward",
        json=reward(messages=[], tags={"env": 1}, explanation_cleaning="all", trace_id="nope"),
    )

    locs = {tuple(error["loc"]): error["type"] for error in errors_of(response)}
    assert locs == {
        ("body", "messages"): "too_short",
        ("body", "tags", "env"): "string_type",
        ("body", "explanation_cleaning"): "enum",
        ("body", "trace_id"): "uuid_parsing",
    }


def test_invalid_json_is_422_json_invalid(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/reward",
        content=b'{"messages": [',
        headers={"Content-Type": "application/json"},
    )

    [error] = errors_of(response)
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"


def test_missing_body_is_422(client: httpx.Client) -> None:
    [error] = errors_of(client.post("/api/v1/evals/reward"))

    assert error == {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}


@pytest.mark.parametrize("path", ["/api/v1/evals/reward", "/api/v1/evals/trace"])
@pytest.mark.parametrize("body", [[1, 2], "AAA", 3])
def test_non_object_body_is_422_with_one_error(client: httpx.Client, path: str, body: Any) -> None:
    [error] = errors_of(client.post(path, json=body))

    assert error["loc"] == ["body"]
    assert error["type"] == "model_attributes_type"


@pytest.mark.parametrize(
    "path", ["/api/v1/evals/reward", "/api/v1/annotations/rating", "/api/v1/metadata/criteria"]
)
def test_json_null_body_is_422_missing_like_no_body(client: httpx.Client, path: str) -> None:
    response = client.post(path, content=b"null", headers={"Content-Type": "application/json"})

    [error] = errors_of(response)
    assert error == {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}


def test_property_named_like_an_annotation_is_still_validated(client: httpx.Client) -> None:
    # LLMToolDefinition has a property called `description`, a word that is also a schema
    # annotation: it must be checked as a property, not dropped as an annotation.
    trace = agent_trace()
    interaction = trace["agent_instance_by_id"]["flights-1"]["interactions"][0]
    interaction["tools_available"] = [{"name": "search", "description": {}, "parameters": "{}"}]

    response = client.post(
        "/api/v1/evals/trace", json={"trace": trace, "evaluation_criteria": CRITERION}
    )

    [error] = errors_of(response)
    loc = ["body", "trace", "agent_instance_by_id", "flights-1", "interactions", 0]
    assert error["loc"] == [*loc, "tools_available", 0, "description"]
    assert error["type"] == "string_type"


def test_broken_trace_interaction_points_at_the_bad_field(client: httpx.Client) -> None:
    trace = agent_trace()
    interaction = trace["agent_instance_by_id"]["flights-1"]["interactions"][0]
    interaction["input_messages"][0]["content"] = 42

    response = client.post(
        "/api/v1/evals/trace", json={"trace": trace, "evaluation_criteria": CRITERION}
    )

    [error] = errors_of(response)
    loc = ["body", "trace", "agent_instance_by_id", "flights-1", "interactions", 0]
    assert error["loc"] == [*loc, "input_messages", 0, "content"]
    assert error["type"] == "string_type"


# --- rules the schema cannot state --------------------------------------------------------


def test_lightning_core_is_refused_for_traces(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/trace",
        json={
            "trace": agent_trace(),
            "evaluation_criteria": "Passes if the flight is booked",
            "model_core": "align-lightning-20250731",
        },
    )

    [error] = errors_of(response)
    assert error["loc"] == ["body", "model_core"]
    assert "lightning" in error["msg"]


def test_lightning_core_is_refused_with_evaluate_latest_false(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/reward",
        json=reward(model_core="align-lightning-20250731", evaluate_latest=False),
    )

    [error] = errors_of(response)
    assert error["loc"] == ["body", "evaluate_latest"]


def test_binary_only_lightning_core_refuses_graded_criteria(client: httpx.Client) -> None:
    graded = client.post("/api/v1/evals/reward", json=reward(model_core="align-lightning-20251127"))
    binary = client.post(
        "/api/v1/evals/reward",
        json=reward(model_core="align-lightning-20251127", evaluation_criteria="Passes if polite"),
    )

    [error] = errors_of(graded)
    assert error["loc"] == ["body", "evaluation_criteria"]
    assert binary.status_code == 200


def test_unknown_model_core_is_accepted(client: httpx.Client) -> None:
    response = client.post("/api/v1/evals/reward", json=reward(model_core="align-20990101"))

    assert response.status_code == 200


def test_trace_without_an_llm_interaction_is_422(client: httpx.Client) -> None:
    trace = {
        "root_agent_instance_id": "a",
        "agent_instance_by_id": {"a": {"id": "a", "name": "router", "interactions": []}},
    }

    response = client.post(
        "/api/v1/evals/trace", json={"trace": trace, "evaluation_criteria": CRITERION}
    )

    [error] = errors_of(response)
    assert error["loc"] == ["body", "trace"]
    assert "LLM interaction" in error["msg"]


def test_trace_with_evaluate_latest_true_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/evals/trace",
        json={"trace": agent_trace(), "evaluation_criteria": CRITERION, "evaluate_latest": True},
    )

    [error] = errors_of(response)
    assert error["loc"] == ["body", "evaluate_latest"]


# --- parameters and routing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_size", "error_type"),
    [("0", "greater_than_equal"), ("501", "less_than_equal"), ("ten", "int_parsing")],
)
def test_page_size_outside_the_spec_is_422(
    client: httpx.Client, page_size: str, error_type: str
) -> None:
    response = client.get("/api/v1/traces", params={"page_size": page_size})

    [error] = errors_of(response)
    assert error["loc"] == ["query", "page_size"]
    assert error["type"] == error_type


def test_malformed_date_filter_is_422(client: httpx.Client) -> None:
    [error] = errors_of(client.get("/api/v1/traces", params={"start_date": "yesterday"}))

    assert error["loc"] == ["query", "start_date"]


def test_malformed_trace_id_is_422(client: httpx.Client) -> None:
    [error] = errors_of(client.get("/api/v1/traces/not-a-uuid"))

    assert error["loc"] == ["path", "trace_id"]
    assert error["type"] == "uuid_parsing"


def test_unknown_path_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    missing = client.get("/api/v1/nothing")
    wrong_method = client.get("/api/v1/evals/reward")

    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert wrong_method.status_code == 405


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/v1/evals/reward", "POST"),
        ("DELETE", "/api/v1/usage", "GET"),
        ("TRACE", "/api/v1/traces/3f2b8c1e-7d4a-4e9b-9c1a-5b6d7e8f9a01", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow_naming_the_served_methods(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}


def test_a_two_megabyte_conversation_is_scored(client: httpx.Client) -> None:
    long = [{"role": "user", "content": "x" * 1_000_000}, MESSAGES[1]]
    long.insert(1, {"role": "assistant", "content": "y" * 1_000_000})
    response = client.post("/api/v1/evals/reward", json=reward(messages=long))
    assert response.status_code == 200, response.text


def test_a_body_over_the_limit_is_413_not_500(client: httpx.Client, server: MockServer) -> None:
    from composo._mock._app import MAX_BODY_BYTES

    body = b'{"messages": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = client.post(
        "/api/v1/evals/reward", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "32 MiB" in response.json()["detail"]
    assert server.counters.by_status == {413: 1}


def test_the_sdk_does_not_resend_a_body_the_mock_refused_as_too_large(
    server: MockServer,
) -> None:
    from composo import APIStatusError, Composo
    from composo._mock._app import MAX_BODY_BYTES

    huge = [{"role": "user", "content": "x" * MAX_BODY_BYTES}, MESSAGES[1]]
    with (
        Composo(api_key="k", base_url=server.base_url, num_retries=3) as sdk,
        pytest.raises(APIStatusError) as caught,
    ):
        sdk.evaluate(huge, CRITERION)
    assert caught.value.status_code == 413
    assert server.counters.count(status=413) == 1


@pytest.mark.parametrize(
    ("depth", "status"),
    [(100, 200), (500, 200), (600, 422), (100_000, 422)],
)
def test_deep_nesting_is_accepted_up_to_the_limit_then_422(
    client: httpx.Client, depth: int, status: int
) -> None:
    nested = "[" * depth + "]" * depth
    body = json_body(reward(), tools_raw=f'[{{"type": "function", "deep": {nested}}}]')
    response = client.post(
        "/api/v1/evals/reward", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text[:300]
    if status == 422:
        [problem] = errors_of(response)
        assert problem["type"] == "json_invalid"
        assert "nested deeper" in problem["ctx"]["error"]


def json_body(fields: dict[str, Any], *, tools_raw: str) -> bytes:
    """A request body with `tools` spliced in as raw JSON text (deeper than json.dumps goes)."""
    import json

    text = json.dumps(fields)
    return (text[:-1] + f', "tools": {tools_raw}}}').encode()


@pytest.mark.parametrize(
    ("escaped", "loc"),
    [
        ('{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", '
         '"content": "a"}], "evaluation_criteria": "Reward x"}',
         ["body", "messages", 0, "content"]),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
         '"content": "a"}], "evaluation_criteria": "Reward \\udfff"}',
         ["body", "evaluation_criteria"]),
    ],
)  # fmt: skip
def test_lone_surrogate_escapes_are_422_not_500(
    client: httpx.Client, escaped: str, loc: list[Any]
) -> None:
    response = client.post(
        "/api/v1/evals/reward",
        content=escaped.encode(),
        headers={"Content-Type": "application/json"},
    )
    [problem] = errors_of(response)
    assert problem["type"] == "string_unicode"
    assert problem["loc"] == loc
