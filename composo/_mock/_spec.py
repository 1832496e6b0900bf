"""Finds openapi.yaml and compiles it into per-operation validators for the mock server.

Every rule the spec states (required fields, lengths, patterns, enums, the exactly-one-of
criteria rule, query parameter ranges) is enforced by validators built here from the spec
itself, so the mock follows the spec as it changes. Schemas are JSON Schema 2020-12 (OpenAPI
3.1); local `$ref`s are inlined once at load time so the hot path never resolves a reference.
"""

from __future__ import annotations

import importlib.resources
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import composo

SPEC_FILE = "openapi.yaml"

# Where the spec document sits in the referencing registry, for `$ref`s kept (recursive ones).
_DOC_URI = "urn:composo:openapi"

_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# Data, not subschemas: never inline inside these.
_DATA_KEYWORDS = frozenset({"examples", "example", "default", "enum", "const"})

# Annotations that cost validation time without asserting anything.
_ANNOTATIONS = frozenset(
    {"title", "description", "examples", "example", "deprecated", "readOnly", "writeOnly"}
)

# Keywords whose value maps names to subschemas: the names there are data (a property may be
# called `description` or `default`), only the values are schemas.
_NAMED_SUBSCHEMAS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})


def spec_path() -> Path:
    """The openapi.yaml the mock serves: packaged inside `composo`, else at the repo root.

    Returns:
        The path of the spec file.

    Raises:
        FileNotFoundError: when neither location holds the file.
    """
    packaged = importlib.resources.files("composo") / SPEC_FILE
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    candidates = [packaged] if isinstance(packaged, Path) else []
    if composo.__file__ is not None:
        beside_package = Path(composo.__file__).resolve().parent.parent / SPEC_FILE
        if beside_package.is_file():
            return beside_package
        candidates.append(beside_package)
    raise FileNotFoundError(f"{SPEC_FILE} not found (looked at {', '.join(map(str, candidates))})")


def _format_checker() -> FormatChecker:
    """Checks for the formats the spec uses, with the standard library only."""
    checker = FormatChecker(formats=())

    @checker.checks("uuid", raises=ValueError)
    def _is_uuid(instance: object) -> bool:
        if isinstance(instance, str):
            uuid.UUID(instance)
        return True

    @checker.checks("date-time", raises=ValueError)
    def _is_date_time(instance: object) -> bool:
        if isinstance(instance, str):
            datetime.fromisoformat(instance)
        return True

    return checker


FORMAT_CHECKER = _format_checker()


def _pointer(doc: Any, ref: str) -> Any:
    """The node a local reference (`#/a/b`) points at."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    node = doc
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _deref(doc: Mapping[str, Any], node: Any) -> Any:
    """Follows OpenAPI-level `$ref`s (request bodies, parameters, responses) to the object."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"reference cycle at {ref!r}")
        seen.add(ref)
        node = _pointer(doc, ref)
    return node


def inline_schema(doc: Mapping[str, Any], schema: Any, _stack: tuple[str, ...] = ()) -> Any:
    """A copy of `schema` with local `$ref`s replaced by their targets and annotations dropped.

    A recursive reference is kept, made absolute, and resolved through the registry.
    """
    if isinstance(schema, list):
        return [inline_schema(doc, item, _stack) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref" and isinstance(value, str):
            continue
        if key in _NAMED_SUBSCHEMAS and isinstance(value, dict):
            out[key] = {name: inline_schema(doc, sub, _stack) for name, sub in value.items()}
        else:
            out[key] = value if key in _DATA_KEYWORDS else inline_schema(doc, value, _stack)
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return out
    if ref in _stack:
        out["$ref"] = _DOC_URI + ref
        return out
    target = inline_schema(doc, _pointer(doc, ref), (*_stack, ref))
    if not out:
        return target
    return {"allOf": [target], **out}


@dataclass(frozen=True)
class Parameter:
    """One query or path parameter and its compiled schema."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    validator: Validator

    @property
    def default(self) -> Any:
        """The spec's default, or None."""
        return self.schema.get("default")


@dataclass(frozen=True)
class Operation:
    """What the mock needs to serve one operation of the spec."""

    operation_id: str
    method: str
    path: str
    body_required: bool
    body_validator: Validator | None
    parameters: tuple[Parameter, ...]
    api_key_header: str | None
    response_schemas: Mapping[str, Any]

    def status_schema(self, status: int) -> Any:
        """The JSON schema of the response body for `status` (or `default`), if any."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self.response_schemas:
                return self.response_schemas[key]
        return None


def _json_schema(content: Any) -> Any:
    """The `application/json` schema of a request body or response content map."""
    if not isinstance(content, dict):
        return None
    media = content.get("application/json")
    return media.get("schema") if isinstance(media, dict) else None


def _api_key_header(doc: Mapping[str, Any], op: Mapping[str, Any]) -> str | None:
    """The header carrying the API key for this operation, from its security requirements."""
    requirements = op.get("security", doc.get("security", []))
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for requirement in requirements or ():
        for name in requirement:
            scheme = _deref(doc, schemes.get(name, {}))
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return str(scheme["name"])
    return None


class CompiledSpec:
    """openapi.yaml loaded once, with every operation's request validators compiled."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        """Compiles the request validators of every operation in `doc`."""
        self.doc = doc
        self._registry: Registry[Any] = Registry().with_resource(
            _DOC_URI, DRAFT202012.create_resource(doc)
        )
        self._lock = threading.Lock()
        self._response_validators: dict[tuple[str, int], Validator | None] = {}
        self.operations: dict[str, Operation] = {op.operation_id: op for op in self._operations()}

    def validator(self, schema: Any) -> Validator:
        """A 2020-12 validator for a schema of this document, with `$ref`s inlined."""
        inlined = inline_schema(self.doc, schema)
        Draft202012Validator.check_schema(inlined)
        return Draft202012Validator(inlined, registry=self._registry, format_checker=FORMAT_CHECKER)

    def _operations(self) -> Iterator[Operation]:
        for path, item in self.doc.get("paths", {}).items():
            item = _deref(self.doc, item)
            shared = item.get("parameters", [])
            for method in _HTTP_METHODS:
                op = item.get(method)
                if op is None:
                    continue
                yield self._operation(path, method, op, shared)

    def _operation(
        self, path: str, method: str, op: Mapping[str, Any], shared: list[Any]
    ) -> Operation:
        params: dict[tuple[str, str], Parameter] = {}
        for raw in [*shared, *op.get("parameters", [])]:
            param = _deref(self.doc, raw)
            schema = param.get("schema", {})
            params[(param["name"], param["in"])] = Parameter(
                name=param["name"],
                location=param["in"],
                required=bool(param.get("required", param["in"] == "path")),
                schema=inline_schema(self.doc, schema),
                validator=self.validator(schema),
            )
        body = _deref(self.doc, op.get("requestBody"))
        body_schema = _json_schema(body.get("content")) if body else None
        responses = {
            str(status): _json_schema(_deref(self.doc, response).get("content"))
            for status, response in op.get("responses", {}).items()
        }
        return Operation(
            operation_id=op["operationId"],
            method=method.upper(),
            path=path,
            body_required=bool(body and body.get("required", False)),
            body_validator=None if body_schema is None else self.validator(body_schema),
            parameters=tuple(params.values()),
            api_key_header=_api_key_header(self.doc, op),
            response_schemas=responses,
        )

    def response_validator(self, operation_id: str, status: int) -> Validator | None:
        """The validator for one operation's response body at `status`, compiled on first use.

        Returns:
            None when the spec gives no JSON schema for that status.
        """
        key = (operation_id, status)
        with self._lock:
            if key not in self._response_validators:
                schema = self.operations[operation_id].status_schema(status)
                compiled = None if schema is None else self.validator(schema)
                self._response_validators[key] = compiled
            return self._response_validators[key]


@dataclass
class _Cache:
    specs: dict[Path, tuple[float, CompiledSpec]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE = _Cache()


def load_spec(path: Path | None = None) -> CompiledSpec:
    """The compiled spec at `path` (default `spec_path()`), cached until the file changes.

    Raises:
        FileNotFoundError: when no spec can be found.
    """
    resolved = (path or spec_path()).resolve()
    mtime = resolved.stat().st_mtime
    with _CACHE.lock:
        cached = _CACHE.specs.get(resolved)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(resolved.read_text(encoding="utf-8"), Loader=loader)
        compiled = CompiledSpec(doc)
        _CACHE.specs[resolved] = (mtime, compiled)
        return compiled
