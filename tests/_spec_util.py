"""Helpers shared by the spec tests: load openapi.yaml and validate instances against it."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
SPEC_URI = "urn:composo:openapi"


@cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for `schema`, where `#/components/...` refs resolve inside openapi.yaml."""
    rebased = _rebase(schema)
    return Draft202012Validator(
        rebased, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (SPEC_URI + v if k == "$ref" and str(v).startswith("#") else _rebase(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one level at a time) to the object it names."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the spec."""
    found = []
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method, path, operation))
    return found


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON, where two spellings of one instant (`Z`, `+00:00`) count as equal: the
    generated models hold `datetime`s and write them back with `isoformat()`."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    if isinstance(left, str) and isinstance(right, str) and left != right:
        try:
            return datetime.fromisoformat(left) == datetime.fromisoformat(right)
        except ValueError:
            return False
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)
