"""openapi.yaml is valid, lint-clean, and every example in it matches its own schema."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from tests._spec_util import SPEC_PATH, component, operations, resolve, spec, validator

ROOT = SPEC_PATH.parent


def test_spec_validates_as_openapi_3_1() -> None:
    document, _ = read_from_filename(str(SPEC_PATH))
    validate(document)
    assert spec()["openapi"].startswith("3.1")


def test_spec_lints_clean_with_redocly() -> None:
    redocly = ROOT / "node_modules" / ".bin" / "redocly"
    if not redocly.exists() or shutil.which("node") is None:
        pytest.skip("Redocly CLI is not installed here (npm ci installs it; CI always lints)")
    done = subprocess.run(
        [str(redocly), "lint", "openapi.yaml", "--format", "stylish"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower().replace("deprecation warning", ""), output


def _schema_examples() -> list[tuple[str, Any]]:
    cases = []
    for name, schema in spec()["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            cases.append((f"{name}[{index}]", (component(name), example)))
    return cases


def _media_examples() -> list[tuple[str, Any]]:
    cases = []

    def collect(where: str, content: dict[str, Any]) -> None:
        for media_type, media in content.items():
            schema = media.get("schema")
            if schema is None:
                continue
            if "example" in media:
                cases.append((f"{where} {media_type}", (schema, media["example"])))
            for key, example in media.get("examples", {}).items():
                cases.append((f"{where} {media_type} {key}", (schema, resolve(example)["value"])))

    for method, path, operation in operations():
        where = f"{method.upper()} {path}"
        if "requestBody" in operation:
            collect(where + " request", resolve(operation["requestBody"])["content"])
        for status, response in operation["responses"].items():
            collect(f"{where} {status}", resolve(response).get("content", {}))
        for parameter in operation.get("parameters", []):
            parameter = resolve(parameter)
            if "example" in parameter:
                name = f"{where} parameter {parameter['name']}"
                cases.append((name, (parameter["schema"], parameter["example"])))
    return cases


def test_every_component_schema_has_a_description_and_an_example() -> None:
    missing = [
        name
        for name, schema in spec()["components"]["schemas"].items()
        if not schema.get("description") or not schema.get("examples")
    ]
    assert missing == []


def test_every_operation_has_a_summary_description_tag_and_security() -> None:
    for method, path, operation in operations():
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        assert operation.get("tags"), where
        assert operation.get("security") == [{"ApiKeyAuth": []}], where


@pytest.mark.parametrize(
    ("schema", "example"),
    [case for _, case in _schema_examples() + _media_examples()],
    ids=[name for name, _ in _schema_examples() + _media_examples()],
)
def test_example_validates_against_its_schema(schema: dict[str, Any], example: Any) -> None:
    errors = [error.message for error in validator(schema).iter_errors(example)]
    assert errors == []


def test_examples_are_collected() -> None:
    # Guards the parametrised test above against silently collecting nothing.
    assert len(_schema_examples()) >= len(spec()["components"]["schemas"])
    assert len(_media_examples()) >= 10


LIGHT = {"messages": [{}, {}], "evaluation_criteria": "Reward x"}


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x"}, True),
        ({"messages": [{}, {}], "evaluation_criteria": "passes if x"}, True),
        ({"messages": [{}, {}], "evaluation_criteria": "Passes If x"}, False),
        ({"messages": [{}, {}], "evaluation_criteria": " Reward x"}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward " + "x" * 4090}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward " + "x" * 4089}, True),
        ({"messages": [{}, {}], "evaluator_name": "tone"}, True),
        ({"messages": [{}, {}]}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "evaluator_name": "t"}, False),
        ({"messages": [{}], "evaluation_criteria": "Reward x"}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "extra": 1}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "tags": {"k": "v" * 65}}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "tags": {"k" * 65: "v"}}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "tags": {"k": 1}}, False),
        ({"messages": [{}, {}], "evaluation_criteria": "Reward x", "model_core": "align-9"}, True),
        ({**LIGHT, "model_core": "align-lightning-20250731", "evaluate_latest": False}, False),
        ({**LIGHT, "model_core": "align-lightning-20250731", "evaluate_latest": True}, True),
        ({**LIGHT, "model_core": "align-20251111", "evaluate_latest": False}, True),
        ({**LIGHT, "model_core": "align-lightning-20251127"}, False),
        (
            {
                **LIGHT,
                "model_core": "align-lightning-20251127",
                "evaluation_criteria": "Fails if x",
            },
            True,
        ),
        ({**LIGHT, "model_core": "align-lightning-20250731"}, True),
    ],
)
def test_reward_request_schema_states_the_server_rules(body: dict[str, Any], valid: bool) -> None:
    assert validator(component("RewardRequest")).is_valid(body) is valid


@pytest.mark.parametrize(
    ("score", "valid"),
    [(0, True), (1, True), (0.5, True), (None, True), (1.01, False), (-0.1, False)],
)
def test_score_is_in_unit_interval_or_null(score: Any, valid: bool) -> None:
    body = {"score": score, "explanation": "e"}
    assert validator(component("ScoreResponse")).is_valid(body) is valid


def test_trace_request_refuses_lightning_cores_and_traces_without_an_llm_interaction() -> None:
    body = spec()["components"]["schemas"]["TraceRequest"]["examples"][0]
    check = validator(component("TraceRequest"))
    assert check.is_valid({**body, "model_core": "align-20251111"})
    assert not check.is_valid({**body, "model_core": "align-lightning-20250731"})
    only_children = {
        "root_agent_instance_id": "a",
        "agent_instance_by_id": {"a": {"id": "a", "name": "router", "interactions": ["b"]}},
    }
    assert not check.is_valid({**body, "trace": only_children})
    assert not check.is_valid(
        {**body, "trace": {"root_agent_instance_id": "a", "agent_instance_by_id": {}}}
    )


def test_trace_request_refuses_evaluate_latest_true() -> None:
    body = spec()["components"]["schemas"]["TraceRequest"]["examples"][0]
    assert validator(component("TraceRequest")).is_valid({**body, "evaluate_latest": False})
    assert not validator(component("TraceRequest")).is_valid({**body, "evaluate_latest": True})


_SUBSCHEMA = {"items", "additionalProperties", "propertyNames", "contains", "not", "if", "then"}
_SUBSCHEMA |= {"else", "unevaluatedProperties", "unevaluatedItems"}
_SUBSCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SUBSCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas", "$defs"}


def _schemas_within(where: str, schema: Any) -> list[tuple[str, dict[str, Any]]]:
    """`schema` and every schema nested in it (not examples), each with where it is."""
    if not isinstance(schema, dict):
        return []
    found = [(where, schema)]
    for key, value in schema.items():
        if key in _SUBSCHEMA:
            found += _schemas_within(f"{where}/{key}", value)
        elif key in _SUBSCHEMA_LISTS:
            for index, member in enumerate(value):
                found += _schemas_within(f"{where}/{key}/{index}", member)
        elif key in _SUBSCHEMA_MAPS:
            for name, member in value.items():
                found += _schemas_within(f"{where}/{key}/{name}", member)
    return found


def _every_schema() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, schema in spec()["components"]["schemas"].items():
        found += _schemas_within(f"#/components/schemas/{name}", schema)
    for method, path, operation in operations():
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            parameter = resolve(parameter)
            found += _schemas_within(f"{where} {parameter['name']}", parameter["schema"])
        bodies = [("request", operation["requestBody"])] if "requestBody" in operation else []
        for label, holder in bodies + list(operation["responses"].items()):
            for media_type, media in resolve(holder).get("content", {}).items():
                found += _schemas_within(f"{where} {label} {media_type}", media["schema"])
    for name, header in spec()["components"].get("headers", {}).items():
        found += _schemas_within(f"#/components/headers/{name}", header["schema"])
    return found


def test_every_schema_is_walked() -> None:
    # Guards the test below against walking nothing: nested properties and parameters count.
    walked = {where for where, _ in _every_schema()}
    assert "#/components/schemas/RewardRequest/properties/evaluate_latest" in walked
    assert "#/components/schemas/EvaluationFilterRequest/properties/page_size" in walked
    assert "GET /api/v1/traces page_size" in walked


def test_no_schema_states_a_default() -> None:
    # A `default` makes openapi-typescript (as it comes) type the field as required, so the
    # first request a TypeScript user writes without it does not compile, and it makes
    # openapi-python-client and openapi-generator's Go client send the value on every request.
    # Say what the service assumes in the description ("Left out, the service uses `true`.")
    # and, for a response, list what is always there in `required`.
    defaults = [where for where, schema in _every_schema() if "default" in schema]
    assert defaults == []


@pytest.mark.parametrize(
    ("schema", "field", "said"),
    [
        ("RewardRequest", "evaluate_latest", "Left out, the service uses `true`."),
        ("TraceRequest", "evaluate_latest", "leaving the field out means the same"),
        ("EvaluationFilterRequest", "page", "1 when left out"),
        ("EvaluationFilterRequest", "page_size", "50 when left out"),
    ],
)
def test_what_the_service_assumes_for_a_field_left_out_is_in_its_description(
    schema: str, field: str, said: str
) -> None:
    description = spec()["components"]["schemas"][schema]["properties"][field]["description"]
    assert said in " ".join(description.split())


def test_list_traces_page_size_says_what_the_service_assumes() -> None:
    operation = spec()["paths"]["/api/v1/traces"]["get"]
    (page_size,) = [p for p in operation["parameters"] if p["name"] == "page_size"]
    assert page_size["required"] is False
    assert "50 when left out" in page_size["description"]


def test_data_retention_is_open_and_says_why() -> None:
    # Open on purpose (see DataRetention in openapi.yaml): more modes are planned, and a client
    # generated today must be able to send one added later.
    retention = component("DataRetention")
    assert validator(retention).is_valid("none")
    assert validator(retention).is_valid("archive-30d")
    assert not validator(retention).is_valid("")
    description = " ".join(spec()["components"]["schemas"]["DataRetention"]["description"].split())
    assert "More modes are planned" in description
    assert "422" in description


def test_spec_ships_with_the_documented_endpoints_only() -> None:
    found = {(m.upper(), p) for m, p, _ in operations()}
    assert found == {
        ("POST", "/api/v1/evals/reward"),
        ("POST", "/api/v1/evals/reward/background"),
        ("POST", "/api/v1/evals/trace"),
        ("POST", "/api/v1/evals/trace/background"),
        ("POST", "/api/v1/annotations/comment"),
        ("POST", "/api/v1/annotations/rating"),
        ("GET", "/api/v1/traces"),
        ("GET", "/api/v1/traces/{trace_id}"),
        ("GET", "/api/v1/usage"),
        ("GET", "/api/v1/rate-limits/me"),
        ("POST", "/api/v1/evaluations/filter"),
        ("POST", "/api/v1/metadata/criteria"),
    }


def test_every_operation_documents_the_error_statuses() -> None:
    for method, path, operation in operations():
        statuses = set(operation["responses"])
        assert {"400", "401", "422", "429", "500", "524"} <= statuses, f"{method} {path}"


def test_spec_file_is_the_one_in_the_repository_root() -> None:
    assert Path(SPEC_PATH).name == "openapi.yaml"
