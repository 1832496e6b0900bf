"""Turns spec violations into FastAPI-shaped 422 items, as the real service reports them.

The real service is FastAPI + pydantic v2: a 422 body is `{"detail": [{"loc", "msg", "type"},
...]}` where `loc` starts with `body`, `query` or `path`, `type` is pydantic's error type and
`msg` its wording. jsonschema finds the violations (from openapi.yaml); this module only
translates them. Rules the schema cannot state are checked in `_rules.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator

from composo._mock._spec import Parameter

ErrorItem = dict[str, Any]
Loc = list[str | int]

# pydantic v2's type and message for a JSON Schema type a value failed to be.
_TYPE_ERRORS: Mapping[str, tuple[str, str]] = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
}

# What pydantic says when a model (an object schema with properties) gets a non-object.
_MODEL_TYPE_ERROR = (
    "model_attributes_type",
    "Input should be a valid dictionary or object to extract fields from",
)

# pydantic's type and wording for length limits: keyword -> (type, words, unit).
_LENGTHS: Mapping[str, tuple[str, str, str]] = {
    "minLength": ("string_too_short", "String should have at least", "character"),
    "maxLength": ("string_too_long", "String should have at most", "character"),
    "minItems": ("too_short", "List should have at least", "item"),
    "maxItems": ("too_long", "List should have at most", "item"),
}

_COMPARISONS: Mapping[str, tuple[str, str]] = {
    "minimum": ("greater_than_equal", "greater than or equal to"),
    "maximum": ("less_than_equal", "less than or equal to"),
    "exclusiveMinimum": ("greater_than", "greater than"),
    "exclusiveMaximum": ("less_than", "less than"),
}

_FORMATS: Mapping[str, tuple[str, str]] = {
    "uuid": ("uuid_parsing", "Input should be a valid UUID"),
    "date-time": ("datetime_parsing", "Input should be a valid datetime"),
}

_TYPE_ERROR_TYPES = frozenset({*(t for t, _ in _TYPE_ERRORS.values()), _MODEL_TYPE_ERROR[0]})

_BRANCH_KEYWORDS = frozenset({"then", "else", "dependentSchemas"})

# Query strings pydantic accepts as booleans.
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def item(loc: Sequence[str | int], msg: str, type_: str, value: Any = None) -> ErrorItem:
    """One FastAPI validation error item."""
    return {"type": type_, "loc": list(loc), "msg": msg, "input": value}


def value_error(loc: Sequence[str | int], text: str, value: Any = None) -> ErrorItem:
    """The item pydantic produces when a validator raises ValueError(text)."""
    return item(loc, f"Value error, {text}", "value_error", value)


def _literal(value: Any) -> str:
    """A value as pydantic quotes it in messages: strings in single quotes, else Python repr."""
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _either(values: Iterable[Any], word: str = "or") -> str:
    """`'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`."""
    quoted = [_literal(v) for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} {word} {quoted[-1]}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _schema_at(root: Any, path: Sequence[Any]) -> Any:
    """The subschema reached by following `path` (an error's schema path) from `root`."""
    node = root
    for key in path:
        found = (isinstance(node, list) and isinstance(key, int)) or (
            isinstance(node, dict) and key in node
        )
        if not found:
            return None
        node = node[key]
    return node


def _required_names(schema: Any) -> list[str]:
    """The names an `if` condition requires (`required: [...]`, possibly under `not`)."""
    if not isinstance(schema, dict):
        return []
    if "required" in schema:
        return list(schema["required"])
    return _required_names(schema.get("not"))


def _branch_item(error: ValidationError, root: Any, loc: Loc) -> ErrorItem | None:
    """A readable item for a conditional rule (if/then/else, dependentSchemas) that failed.

    These encode "exactly one of A or B": a bare `'B' is a required property` would mislead.
    """
    path = list(error.absolute_schema_path)
    index = max((i for i, key in enumerate(path) if key in _BRANCH_KEYWORDS), default=-1)
    if index < 0:
        return None
    if path[index] == "dependentSchemas":
        partners = [str(path[index + 1])] if index + 1 < len(path) else []
    else:
        # jsonschema leaves "if" out of the path: then/else sit right under their parent.
        parent = _schema_at(root, path[:index])
        partners = _required_names(parent.get("if") if isinstance(parent, dict) else None)
    value: Any = error.validator_value
    if error.validator == "not" and isinstance(value, dict) and "required" in value:
        names = [*partners, *value["required"]]
        return value_error(loc, f"{_either(names, 'and')} cannot both be given", error.instance)
    if error.validator == "required":
        names = [*partners, *value]
        return value_error(loc, f"one of {_either(names)} must be given", error.instance)
    return None


def _closest_branch(context: Sequence[ValidationError]) -> list[ValidationError]:
    """The errors of the union member the value was most likely meant to be.

    A member whose type the value does not even have is a poor guess; among the rest, the one
    with the fewest errors wins (jsonschema's best_match prefers shallow errors, which reports
    "not a string" for an object that is a broken LLMInteraction).
    """
    branches: dict[Any, list[ValidationError]] = {}
    for error in context:
        branches.setdefault(error.relative_schema_path[0], []).append(error)
    typed = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    return min(typed or list(branches.values()), key=len)


def _items(error: ValidationError, root: Any, prefix: str) -> Iterator[ErrorItem]:
    """The FastAPI items describing one jsonschema error."""
    if error.context and error.validator in ("anyOf", "oneOf"):
        for branch_error in _closest_branch(error.context):
            yield from _items(branch_error, root, prefix)
        return
    loc: Loc = [prefix, *error.absolute_path]
    # The stubs allow `Unset`; a reported error always has these set.
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key at the object; pydantic points at the key itself.
        loc = [*loc, instance, "[key]"]
    branch = _branch_item(error, root, loc)
    if branch is not None:
        yield branch
    elif keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield item([*loc, name], "Field required", "missing", instance)
    elif keyword in ("additionalProperties", "unevaluatedProperties") and value is False:
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in instance:
            if name not in declared:
                yield item(
                    [*loc, name],
                    "Extra inputs are not permitted",
                    "extra_forbidden",
                    instance[name],
                )
    elif keyword == "type":
        types = [value] if isinstance(value, str) else [t for t in value if t != "null"] or value
        type_, msg = _TYPE_ERRORS.get(types[0], ("type_error", error.message))
        if types[0] == "object" and isinstance(error.schema, dict) and "properties" in error.schema:
            type_, msg = _MODEL_TYPE_ERROR
        yield item(loc, msg, type_, instance)
    else:
        yield _keyword_item(error, loc)


def _keyword_item(error: ValidationError, loc: Loc) -> ErrorItem:
    """The item for a single failed keyword other than required/additional/type."""
    # The stubs allow `Unset`; a reported error always has these set.
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    got = len(instance) if isinstance(instance, list) else 0
    if keyword in _LENGTHS:
        type_, words, unit = _LENGTHS[keyword]
        msg = f"{words} {_plural(value, unit)}"
        if unit == "item":
            msg += f" after validation, not {got}"
        return item(loc, msg, type_, instance)
    if keyword in _COMPARISONS:
        type_, words = _COMPARISONS[keyword]
        return item(loc, f"Input should be {words} {value}", type_, instance)
    if keyword == "pattern":
        msg = f"String should match pattern '{value}'"
        return item(loc, msg, "string_pattern_mismatch", instance)
    if keyword == "enum":
        return item(loc, f"Input should be {_either(value)}", "enum", instance)
    if keyword == "const":
        return item(loc, f"Input should be {_literal(value)}", "literal_error", instance)
    if keyword == "format" and value in _FORMATS:
        type_, msg = _FORMATS[value]
        return item(loc, msg, type_, instance)
    return value_error(loc, error.message, instance)


def schema_errors(validator: Validator, instance: Any, prefix: str) -> list[ErrorItem]:
    """Every violation of `validator`'s schema by `instance`, as FastAPI items under `prefix`."""
    found: list[ErrorItem] = []
    seen: set[tuple[Any, ...]] = set()
    for error in validator.iter_errors(instance):
        for entry in _items(error, validator.schema, prefix):
            key = (*entry["loc"], entry["type"])
            if key not in seen:
                seen.add(key)
                found.append(entry)
    # A value of the wrong type gets only that error, as in pydantic.
    mistyped = {tuple(e["loc"]) for e in found if e["type"] in _TYPE_ERROR_TYPES}
    if not mistyped:
        return found
    return [e for e in found if e["type"] in _TYPE_ERROR_TYPES or tuple(e["loc"]) not in mistyped]


# Deepest JSON nesting a body may have: far beyond any conversation or trace, and shallow
# enough that decoding, validating and hashing it never come near Python's recursion limit.
MAX_JSON_DEPTH = 512


def parse_body(raw: bytes, required: bool) -> tuple[Any, list[ErrorItem]]:
    """The JSON body, or FastAPI's error for a missing, undecodable, too deeply nested one, or
    one holding text that is not valid Unicode (a lone surrogate escape such as "\\ud800")."""
    if not raw:
        if required:
            return None, [item(["body"], "Field required", "missing")]
        return None, []
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = item(["body", exc.pos], "JSON decode error", "json_invalid", {})
        error["ctx"] = {"error": exc.msg}
        return None, [error]
    except UnicodeDecodeError:
        return None, [item(["body", 0], "JSON decode error", "json_invalid", {})]
    except RecursionError:
        return None, [_too_deep(["body"])]
    problem = _unencodable(body)
    if problem is not None:
        return None, [problem]
    if body is None and required:
        # FastAPI reads a JSON `null` for a required body as no body at all.
        return None, [item(["body"], "Field required", "missing")]
    return body, []


def _too_deep(loc: Loc) -> ErrorItem:
    error = item(loc, "JSON decode error", "json_invalid", {})
    error["ctx"] = {"error": f"nested deeper than {MAX_JSON_DEPTH} levels"}
    return error


def _unencodable(body: Any) -> ErrorItem | None:
    """The first string that is not valid Unicode, or nesting past MAX_JSON_DEPTH (walked
    iteratively), as pydantic would report it; None when the body is fine."""
    stack: list[tuple[Any, Loc]] = [(body, ["body"])]
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_JSON_DEPTH:
            return _too_deep(loc[:1])
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                msg = "Input should be a valid string, unable to parse raw data as a unicode string"
                return item(loc, msg, "string_unicode", None)
        elif isinstance(value, dict):
            for key, child in value.items():
                stack.append((key, [*loc, "<key>"]))
                stack.append((child, [*loc, key]))
        elif isinstance(value, list):
            stack.extend((child, [*loc, index]) for index, child in enumerate(value))
    return None


def _coerce(param: Parameter, raw: str) -> tuple[Any, ErrorItem | None]:
    """A query/path string converted to the parameter's schema type, as FastAPI would."""
    types = param.schema.get("type", "string")
    kind = types if isinstance(types, str) else next((t for t in types if t != "null"), "string")
    loc = [param.location, param.name]
    if kind == "integer":
        try:
            return int(raw.strip()), None
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            return None, item(loc, msg, "int_parsing", raw)
    if kind == "number":
        try:
            return float(raw), None
        except ValueError:
            msg = "Input should be a valid number, unable to parse string as a number"
            return None, item(loc, msg, "float_parsing", raw)
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE, None
        msg = "Input should be a valid boolean, unable to interpret input"
        return None, item(loc, msg, "bool_parsing", raw)
    return raw, None


def parse_parameters(
    parameters: Sequence[Parameter],
    query: Mapping[str, str],
    path: Mapping[str, str],
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The operation's query and path parameters, typed, defaulted and checked against the spec."""
    values: dict[str, Any] = {}
    errors: list[ErrorItem] = []
    for param in parameters:
        source = query if param.location == "query" else path
        if param.location not in ("query", "path"):
            continue
        raw = source.get(param.name)
        if raw is None:
            if param.required:
                errors.append(item([param.location, param.name], "Field required", "missing"))
            else:
                values[param.name] = param.default
            continue
        value, error = _coerce(param, raw)
        if error is None:
            found = schema_errors(param.validator, value, param.location)
            # Parameter schemas describe the value itself: put the name into the location.
            for entry in found:
                entry["loc"] = [param.location, param.name, *entry["loc"][1:]]
            errors.extend(found)
            values[param.name] = value
        else:
            errors.append(error)
    return values, errors
