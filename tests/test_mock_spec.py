"""The mock follows openapi.yaml: every operation served, every response shaped as specified."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from composo._mock import MockServer, spec_path
from composo._mock._handlers import HANDLERS
from composo._mock._spec import inline_schema, load_spec

ROOT = Path(__file__).resolve().parent.parent
DOC_URI = "urn:test:openapi"
MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
CRITERION = "Reward friendly greetings."
TRACE = {
    "root_agent_instance_id": "a",
    "agent_instance_by_id": {
        "a": {
            "id": "a",
            "name": "greeter",
            "interactions": [
                {
                    "input_messages": [{"role": "user", "content": "hi"}],
                    "output_messages": [{"content": "hello"}],
                },
                "b",
            ],
        },
        "b": {"id": "b", "name": "helper", "interactions": []},
    },
}


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return loaded


def response_validator(operation_id: str, status: int) -> Draft202012Validator | None:
    """A validator built here, independently of the mock, from the spec's response schema."""
    doc = document()
    for item in doc["paths"].values():
        for operation in item.values():
            if operation.get("operationId") == operation_id:
                response = operation["responses"].get(str(status))
                break
        else:
            continue
        break
    else:
        raise LookupError(operation_id)
    if response is None:
        return None
    while "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    return Draft202012Validator(rebase(schema), registry=registry)


def rebase(node: Any) -> Any:
    """`node` with its local `$ref`s pointing into the registered spec document."""
    if isinstance(node, dict):
        return {
            key: DOC_URI + value if key == "$ref" and value.startswith("#") else rebase(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [rebase(item) for item in node]
    return node


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(api_keys=["k"]) as server:
        yield server


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    server.reset()
    with httpx.Client(base_url=server.base_url, headers={"API-Key": "k"}) as client:
        yield client


def stored_trace(client: httpx.Client) -> str:
    """The id of a freshly stored trace (any id when the server refuses to store one)."""
    response = client.post(
        "/api/v1/evals/trace", json={"trace": TRACE, "evaluation_criteria": CRITERION}
    )
    trace_id: str = response.json().get("request_id", str(uuid.uuid4()))
    return trace_id


Call = Callable[[httpx.Client], httpx.Response]

# One happy-path call per operation; a scenario sets up what the call needs first.
HAPPY: dict[str, Call] = {
    "evaluateReward": lambda c: c.post(
        "/api/v1/evals/reward",
        json={
            "messages": MESSAGES,
            "evaluation_criteria": CRITERION,
            "explanation_cleaning": "end_user",
        },
    ),
    "evaluateRewardBackground": lambda c: c.post(
        "/api/v1/evals/reward/background", json={"messages": MESSAGES, "evaluator_name": "tone"}
    ),
    "evaluateTrace": lambda c: c.post(
        "/api/v1/evals/trace", json={"trace": TRACE, "evaluation_criteria": CRITERION}
    ),
    "evaluateTraceBackground": lambda c: c.post(
        "/api/v1/evals/trace/background",
        json={"trace": TRACE, "evaluation_criteria": "Passes if kind"},
    ),
    "attachComment": lambda c: c.post(
        "/api/v1/annotations/comment", json={"trace_id": stored_trace(c), "comment": "ok"}
    ),
    "attachRating": lambda c: c.post(
        "/api/v1/annotations/rating", json={"trace_id": stored_trace(c), "rating": True}
    ),
    "listTraces": lambda c: (
        stored_trace(c),
        c.post("/api/v1/annotations/comment", json={"trace_id": stored_trace(c), "comment": "x"}),
        c.get("/api/v1/traces", params={"page_size": 1}),
    )[-1],
    "getTrace": lambda c: c.get(f"/api/v1/traces/{stored_trace(c)}"),
    "getUsage": lambda c: (stored_trace(c), c.get("/api/v1/usage"))[-1],
    "getRateLimits": lambda c: c.get("/api/v1/rate-limits/me"),
    "filterEvaluations": lambda c: (
        stored_trace(c),
        c.post("/api/v1/evaluations/filter", json={"page_size": 1}),
    )[-1],
    "listCriteria": lambda c: (stored_trace(c), c.post("/api/v1/metadata/criteria", json={}))[-1],
}

# A call per operation answered with each error status the spec lists for it.
ERRORS: dict[tuple[str, int], Call] = {
    ("evaluateReward", 422): lambda c: c.post("/api/v1/evals/reward", json={"messages": []}),
    ("evaluateTrace", 422): lambda c: c.post("/api/v1/evals/trace", json={"trace": {}}),
    ("listTraces", 400): lambda c: c.get("/api/v1/traces", params={"page_token": "x"}),
    ("listTraces", 422): lambda c: c.get("/api/v1/traces", params={"page_size": 0}),
    ("getTrace", 404): lambda c: c.get(f"/api/v1/traces/{uuid.uuid4()}"),
    ("getTrace", 422): lambda c: c.get("/api/v1/traces/nope"),
    ("attachComment", 404): lambda c: c.post(
        "/api/v1/annotations/comment", json={"trace_id": str(uuid.uuid4()), "comment": "x"}
    ),
    ("attachRating", 422): lambda c: c.post("/api/v1/annotations/rating", json={"rating": 1}),
    ("filterEvaluations", 422): lambda c: c.post("/api/v1/evaluations/filter", json={"page": 0}),
    ("listCriteria", 422): lambda c: c.post("/api/v1/metadata/criteria", json={"x": 1}),
}


def assert_conforms(operation_id: str, response: httpx.Response) -> None:
    validator = response_validator(operation_id, response.status_code)
    assert validator is not None, f"{operation_id} answered {response.status_code}, not in the spec"
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert errors == [], f"{operation_id} {response.status_code}: {errors}"


def test_spec_path_finds_the_repository_spec() -> None:
    assert spec_path().resolve() == (ROOT / "openapi.yaml").resolve()


def test_inlining_keeps_properties_whose_names_are_schema_keywords() -> None:
    doc = {"components": {"schemas": {"Text": {"type": "string", "description": "Some text."}}}}
    schema = {
        "type": "object",
        "description": "A tool.",
        "properties": {
            "description": {"$ref": "#/components/schemas/Text"},
            "title": {"type": "string", "title": "Title"},
            "default": {"type": "integer"},
        },
    }

    assert inline_schema(doc, schema) == {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "title": {"type": "string"},
            "default": {"type": "integer"},
        },
    }


def test_every_operation_of_the_spec_has_a_handler() -> None:
    assert set(load_spec().operations) == set(HANDLERS)


def test_every_operation_has_a_happy_path_scenario() -> None:
    assert set(HAPPY) == set(load_spec().operations)


@pytest.mark.e2e
@pytest.mark.parametrize("operation_id", sorted(HAPPY))
def test_success_response_conforms_to_the_spec(client: httpx.Client, operation_id: str) -> None:
    response = HAPPY[operation_id](client)

    assert response.status_code == 200, response.text
    assert_conforms(operation_id, response)


@pytest.mark.e2e
@pytest.mark.parametrize(("operation_id", "status"), sorted(ERRORS))
def test_error_response_conforms_to_the_spec(
    client: httpx.Client, operation_id: str, status: int
) -> None:
    response = ERRORS[operation_id, status](client)

    assert response.status_code == status, response.text
    assert_conforms(operation_id, response)


@pytest.mark.e2e
@pytest.mark.parametrize("operation_id", sorted(HAPPY))
def test_unauthorized_response_conforms_to_the_spec(server: MockServer, operation_id: str) -> None:
    with httpx.Client(base_url=server.base_url, headers={"API-Key": "wrong"}) as client:
        response = HAPPY[operation_id](client)

    assert response.status_code == 401
    assert_conforms(operation_id, response)


@pytest.mark.e2e
@pytest.mark.parametrize("status", [429, 500, 524])
@pytest.mark.parametrize("operation_id", sorted(HAPPY))
def test_injected_fault_conforms_to_the_spec(
    server: MockServer, client: httpx.Client, operation_id: str, status: int
) -> None:
    server.configure(**{f"p{status}": 1.0})

    response = HAPPY[operation_id](client)

    assert response.status_code == status
    assert_conforms(operation_id, response)
