"""scripts/spec-diff: which spec changes break existing clients, judged per side of the wire."""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _load_spec_diff() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spec_diff", ROOT / "scripts" / "spec_diff.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["spec_diff"] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


spec_diff = _load_spec_diff()

_NO_NODE_TOOLS = "the pinned Node tools are not installed: run `npm ci`"


def needs_redocly(test: Callable[..., None]) -> Callable[..., None]:
    """Mark a test that runs `redocly diff`: slow, and skipped until `npm ci` has run."""
    marked: Callable[..., None] = pytest.mark.slow(
        pytest.mark.skipif(not spec_diff.REDOCLY.exists(), reason=_NO_NODE_TOOLS)(test)
    )
    return marked


Spec = dict[str, Any]


def _base() -> Spec:
    """A small API with a request and a response schema, a query parameter and one operation."""
    body = {"schema": {"$ref": "#/components/schemas/ThingRequest"}}
    answer = {"schema": {"$ref": "#/components/schemas/Thing"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Things", "version": "1.0.0"},
        "paths": {
            "/things": {
                "post": {
                    "operationId": "makeThing",
                    "parameters": [
                        {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "requestBody": {"required": True, "content": {"application/json": body}},
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": answer}}
                    },
                },
                "get": {
                    "operationId": "listThings",
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
        "components": {
            "schemas": {
                "ThingRequest": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 64},
                        "weight": {"type": "number", "minimum": 0, "maximum": 100},
                        "note": {"type": ["string", "null"]},
                        "kind": {"type": "string", "enum": ["small", "large"]},
                        "meta": {"type": "object", "additionalProperties": True},
                    },
                    "required": ["name"],
                    "additionalProperties": False,
                },
                "Thing": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": ["ready", "failed"]},
                        "label": {"type": ["string", "null"]},
                        "count": {"type": "integer"},
                    },
                    "required": ["id", "status"],
                },
            }
        },
    }


def _request(spec: Spec) -> Spec:
    schema: Spec = spec["components"]["schemas"]["ThingRequest"]
    return schema


def _response(spec: Spec) -> Spec:
    schema: Spec = spec["components"]["schemas"]["Thing"]
    return schema


def _param(spec: Spec, index: int) -> Spec:
    parameter: Spec = spec["paths"]["/things"]["post"]["parameters"][index]
    return parameter


def _set(node: Spec, **values: Any) -> None:
    node.update(values)


ok = {"description": "ok"}

# (case, edit applied to a copy of the base spec, text of each expected BREAKING line: empty
# when the change is compatible)
CASES: list[tuple[str, Callable[[Spec], Any], list[str]]] = [
    ("nothing changed", lambda s: None, []),
    ("operation removed", lambda s: s["paths"]["/things"].pop("get"), ["GET /things: "]),
    ("path removed", lambda s: s["paths"].pop("/things"), ["Path `/things` was removed"]),
    (
        "response field removed",
        lambda s: _response(s)["properties"].pop("label"),
        ["response 200 `label`: Property `label` of `Thing` was removed"],
    ),
    (
        "request field removed",
        lambda s: _request(s)["properties"].pop("note"),
        ["request `note`: Property `note` of `ThingRequest` was removed"],
    ),
    (
        "new required request field",
        lambda s: (
            _request(s)["properties"].update(colour={"type": "string"}),
            _request(s)["required"].append("colour"),
        ),
        ["became required: `colour`"],
    ),
    (
        "optional request field made required",
        lambda s: _request(s)["required"].append("weight"),
        ["became required: `weight`"],
    ),
    (
        "request type narrowed: nullable to not",
        lambda s: _set(_request(s)["properties"]["note"], type="string"),
        ["Type of `note` narrowed from 'string | null' to 'string'"],
    ),
    (
        "request type narrowed: number to integer",
        lambda s: _set(_request(s)["properties"]["weight"], type="integer"),
        ["Type of `weight` narrowed from 'number' to 'integer'"],
    ),
    (
        "response type widened to nullable",
        lambda s: _set(_response(s)["properties"]["id"], type=["string", "null"]),
        ["Type of `id` widened"],
    ),
    (
        "response type widened: integer to number",
        lambda s: _set(_response(s)["properties"]["count"], type="number"),
        ["Type of `count` widened from 'integer' to 'number'"],
    ),
    (
        "response field no longer required",
        lambda s: _set(_response(s), required=["id"]),
        ["no longer required: `status`"],
    ),
    (
        "request enum value removed",
        lambda s: _set(_request(s)["properties"]["kind"], enum=["small"]),
        ["Enum of `kind` lost values: 'large'"],
    ),
    (
        "response enum value added (closed enums reject it)",
        lambda s: _set(_response(s)["properties"]["status"], enum=["ready", "failed", "queued"]),
        ["Enum of `status` gained values: 'queued'"],
    ),
    (
        "request maxLength decreased",
        lambda s: _set(_request(s)["properties"]["name"], maxLength=32),
        ["`maxLength` of `name` changed from '64' to '32'"],
    ),
    (
        "request minLength increased",
        lambda s: _set(_request(s)["properties"]["name"], minLength=3),
        ["`minLength` of `name` changed from '1' to '3'"],
    ),
    (
        "request maximum decreased",
        lambda s: _set(_request(s)["properties"]["weight"], maximum=50),
        ["Upper bound of `weight` changed"],
    ),
    (
        "request minimum increased",
        lambda s: _set(_request(s)["properties"]["weight"], minimum=1),
        ["Lower bound of `weight` changed"],
    ),
    (
        "request object closed to extra properties",
        lambda s: _set(_request(s)["properties"]["meta"], additionalProperties=False),
        ["`additionalProperties` of `meta` changed from 'true' to 'false'"],
    ),
    (
        "parameter became required",
        lambda s: _set(_param(s, 0), required=True),
        ["`dry_run` query parameter became required"],
    ),
    (
        "parameter removed",
        lambda s: s["paths"]["/things"]["post"]["parameters"].pop(1),
        ["`limit` query parameter was removed"],
    ),
    # Compatible changes: reported as info lines only.
    (
        "new optional request field",
        lambda s: _request(s)["properties"].update(colour={"type": "string"}),
        [],
    ),
    (
        "new response field",
        lambda s: _response(s)["properties"].update(score={"type": "number"}),
        [],
    ),
    (
        "request enum value added",
        lambda s: _set(_request(s)["properties"]["kind"], enum=["small", "large", "huge"]),
        [],
    ),
    (
        "response enum value removed",
        lambda s: _set(_response(s)["properties"]["status"], enum=["ready"]),
        [],
    ),
    (
        "request constraint loosened",
        lambda s: _set(_request(s)["properties"]["name"], maxLength=128),
        [],
    ),
    (
        "response type narrowed",
        lambda s: _set(_response(s)["properties"]["label"], type="string"),
        [],
    ),
    (
        "new operation",
        lambda s: s["paths"].update(
            {"/others": {"get": {"operationId": "listOthers", "responses": {"200": ok}}}}
        ),
        [],
    ),
    (
        "only prose changed",
        lambda s: _set(_response(s), description="A thing, described at last."),
        [],
    ),
]


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every case compared against the base spec, run in parallel (one Node process each)."""
    if not spec_diff.REDOCLY.exists():
        pytest.skip(_NO_NODE_TOOLS)
    folder = tmp_path_factory.mktemp("spec-diff")
    old = folder / "old.yaml"
    old.write_text(yaml.safe_dump(_base()))
    jobs = {}
    for number, (name, edit, _) in enumerate(CASES):
        new_spec = copy.deepcopy(_base())
        edit(new_spec)
        new = folder / f"new-{number}.yaml"
        new.write_text(yaml.safe_dump(new_spec))
        jobs[name] = new
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(spec_diff.compare, old, new) for name, new in jobs.items()}
        yield {name: future.result() for name, future in futures.items()}
    shutil.rmtree(folder)


@needs_redocly
@pytest.mark.parametrize(
    ("name", "expected"), [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_change_is_judged_breaking_or_compatible(
    comparisons: dict[str, Any], name: str, expected: list[str]
) -> None:
    breaking = [change.line() for change in comparisons[name].breaking]
    assert len(breaking) == len(expected), breaking
    for line, text in zip(sorted(breaking), sorted(expected), strict=True):
        assert line.startswith("BREAKING: ")
        assert text in line, (text, line)


@needs_redocly
def test_compatible_changes_are_listed_as_info(comparisons: dict[str, Any]) -> None:
    lines = [change.line() for change in comparisons["new optional request field"].changes]
    assert lines == ["info: POST /things request `colour`: added (minor)"]
    assert comparisons["only prose changed"].changes == []


@needs_redocly
def test_the_real_spec_against_itself_has_no_changes(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "openapi.yaml")
    version = spec_diff_version(spec)
    assert spec_diff.main([spec, spec]) == 0
    assert f"no breaking changes ({version} -> {version}, 0 compatible)" in capsys.readouterr().out


def spec_diff_version(path: str) -> str:
    import yaml

    with open(path, encoding="utf-8") as f:
        return str(yaml.safe_load(f)["info"]["version"])


@needs_redocly
def test_breaking_change_prints_one_line_each_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(_base()))
    changed = _base()
    _request(changed)["required"].append("weight")
    _response(changed)["properties"].pop("label")
    new.write_text(yaml.safe_dump(changed))

    assert spec_diff.main([str(old), str(new)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("BREAKING:")] == [
        "BREAKING: POST /things request: Properties of `ThingRequest` became required: "
        "`weight`. [required-properties-added]",
        "BREAKING: POST /things response 200 `label`: Property `label` of `Thing` was "
        "removed. [property-removed]",
    ]
    assert out[-1].startswith("spec-diff: 2 breaking change(s) (1.0.0 -> 1.0.0)")


@needs_redocly
@pytest.mark.parametrize(("version", "code"), [("1.1.0", 1), ("2.0.0", 0)])
def test_a_major_version_bump_allows_an_announced_break(
    tmp_path: Path, version: str, code: int
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(_base()))
    changed = _base()
    changed["paths"]["/things"].pop("get")
    changed["info"]["version"] = version
    new.write_text(yaml.safe_dump(changed))

    assert spec_diff.main([str(old), str(new), "--allow-major-bump"]) == code
    assert spec_diff.main([str(old), str(new)]) == 1


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "openapi.yaml")
    assert spec_diff.main([str(tmp_path / "gone.yaml"), spec]) == 2
    assert "gone.yaml does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("#/paths/~1things", "/things"),
        ("#/paths/~1things/get", "GET /things"),
        (
            "#/paths/~1api~1v1~1evals~1reward/post/requestBody/content/application~1json/schema",
            "POST /api/v1/evals/reward request",
        ),
        (
            "#/paths/~1a/post/requestBody/content/application~1json/schema/properties/messages"
            "/items/properties/role",
            "POST /a request `messages[].role`",
        ),
        (
            "#/paths/~1a/post/responses/200/content/application~1json/schema/properties/by_name"
            "/additionalProperties/properties/score/anyOf/0",
            "POST /a response 200 `by_name.*.score.anyOf[0]`",
        ),
        ("#/paths/~1a/post/responses/200/content/text~1plain", "POST /a response 200 text/plain"),
        ("#/paths/~1a/get/parameters/1/schema", "GET /a parameters[1]"),
        ("#/components/securitySchemes/ApiKeyAuth", "spec components/securitySchemes/ApiKeyAuth"),
        ("#/info", "spec info"),
    ],
)
def test_location_names_the_operation_side_and_field(pointer: str, expected: str) -> None:
    assert spec_diff.location(pointer) == expected


@pytest.mark.parametrize(
    ("old", "new", "major"),
    [
        ("1.4.2", "2.0.0", True),
        ("1.4.2", "1.5.0", False),
        ("1.4.2", "1.4.2", False),
        ("0.3.0", "0.4.0", True),
        ("0.3.0", "0.3.1", False),
        ("1.0.0", "not-a-version", False),
    ],
)
def test_major_bump_follows_semver(old: str, new: str, major: bool) -> None:
    assert spec_diff.is_major_bump(old, new) is major
