"""Checks on what the service answers, before a body becomes a result.

A 2xx body is trusted only once it has the shape openapi.yaml promises: a score in [0, 1] or
null, strings (valid Unicode text) where strings belong. The generated models' `from_dict` does
not check types, so without this a score of 1.5, a score sent as a string or an explanation
sent as a number would reach the user as is. A NaN score becomes None, as the service's own
models do. Anything else is one clear `APIError` naming the field, never an `AttributeError` or
`KeyError` later.

Each checker takes the value and its path in the body, and returns the value to use (NaN
mapped to None); extra fields are kept, since a newer service may add some.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

Checker = Callable[[Any, str], Any]

# Longest piece of an offending value quoted in a message.
_PREVIEW = 60


class ShapeError(ValueError):
    """A response body breaks the API description; the message names the field."""


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def _fail(path: str, expected: str, value: object) -> ShapeError:
    return ShapeError(f"{path} should be {expected}, got {_preview(value)}")


def _check_text(text: str, path: str) -> None:
    """Refuse a string that is not valid Unicode: JSON's "\\ud800" escape decodes to a lone
    surrogate, which no UTF-8 file, terminal or database can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ShapeError(
            f"{path} is not valid Unicode text (it holds {text[exc.start : exc.end]!r} at "
            f"index {exc.start})"
        ) from None


def string(value: Any, path: str) -> Any:
    """A JSON string that is valid Unicode text."""
    if not isinstance(value, str):
        raise _fail(path, "a string", value)
    _check_text(value, path)
    return value


def boolean(value: Any, path: str) -> Any:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise _fail(path, "true or false", value)
    return value


def integer(value: Any, path: str) -> Any:
    """A JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, "an integer", value)
    return value


def number(value: Any, path: str) -> Any:
    """A finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, "a finite number", value)
    return value


def score(value: Any, path: str) -> Any:
    """A score: a number in [0, 1], or null; NaN (which the service's models map to null)
    becomes None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, "a number in [0, 1] or null", value)
    if not 0.0 <= value <= 1.0:
        raise ShapeError(f"{path} is {_preview(value)}, outside [0, 1]")
    return value


def stored_score(value: Any, path: str) -> Any:
    """A stored score: a finite number or null (NaN becomes None). Not range-checked: a row
    the service stored long ago should not make a whole listing unreadable."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return None if value is None else number(value, path)


def date_time(value: Any, path: str) -> Any:
    """An RFC 3339 date-time string (what the generated models parse with `fromisoformat`)."""
    string(value, path)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _fail(path, "an RFC 3339 date-time", value) from None
    return value


def uuid_text(value: Any, path: str) -> Any:
    """A UUID written as a string."""
    string(value, path)
    try:
        uuid.UUID(value)
    except ValueError:
        raise _fail(path, "a UUID", value) from None
    return value


def anything(value: Any, path: str) -> Any:
    """Any JSON value (a free-form field)."""
    return value


def nullable(check: Checker) -> Checker:
    """`check`, or null."""

    def checked(value: Any, path: str) -> Any:
        return None if value is None else check(value, path)

    return checked


def array(check: Checker) -> Checker:
    """A JSON array whose items pass `check`."""

    def checked(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        return [check(item, f"{path}[{index}]") for index, item in enumerate(value)]

    return checked


def mapping(check: Checker) -> Checker:
    """A JSON object of any keys whose values pass `check`."""

    def checked(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        for key in value:
            _check_text(key, f"a key of {path}")
        return {key: check(item, f"{path}.{key}") for key, item in value.items()}

    return checked


def obj(required: Mapping[str, Checker], optional: Mapping[str, Checker] | None = None) -> Checker:
    """A JSON object with these fields; fields it does not name are kept unchecked."""
    optional = optional or {}

    def checked(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        result = dict(value)
        for name, check in required.items():
            if name not in value:
                raise ShapeError(f"{path} has no {name!r}")
            result[name] = check(value[name], f"{path}.{name}")
        for name, check in optional.items():
            if name in value:
                result[name] = check(value[name], f"{path}.{name}")
        return result

    return checked


def check(body: Any, checker: Checker) -> Any:
    """Run `checker` on a whole body (its path is `body`)."""
    return checker(body, "body")


SOURCE = obj({"id": string, "type": string})
SCORE = obj(
    {"score": score, "explanation": string},
    {"cleaned_explanation": nullable(string), "sources": nullable(array(SOURCE))},
)
BACKGROUND_TASK = obj({"task_id": string})
SUMMARY_STATISTICS = obj({}, {name: nullable(number) for name in ("median", "min", "max", "std")})
AGENT_TRACE_RESULT = obj(
    {"agent_name": string, "results_by_agent_instance_id": mapping(nullable(SCORE))},
    {"summary_statistics": nullable(SUMMARY_STATISTICS)},
)
TRACE_RESULT = obj({"request_id": string, "results_by_agent_name": mapping(AGENT_TRACE_RESULT)})

# The stored-data operations (traces, annotations, analytics, account).
COMMENT = obj({"id": string, "trace_id": string, "comment": string, "created_at": date_time})
RATING = obj({"trace_id": string, "rating": boolean})
TRACE_EVALUATION = obj(
    {
        "id": nullable(string),
        "evaluator_name": nullable(string),
        "score": stored_score,
        "explanation": nullable(string),
        "sub_trace": nullable(mapping(anything)),
    },
    {
        "criteria": nullable(string),
        "sources": nullable(array(SOURCE)),
        "cached": nullable(boolean),
        "c_cached_tokens": nullable(integer),
    },
)
TRACE = obj(
    {
        "id": uuid_text,
        "created_at": date_time,
        "comments": array(COMMENT),
        "evaluations": array(TRACE_EVALUATION),
    },
    {
        "tags": nullable(mapping(string)),
        "rating": nullable(boolean),
        "trace": nullable(mapping(anything)),
    },
)
TRACE_LIST = obj({"traces": array(TRACE), "next_page_token": nullable(string)})
USAGE = obj(
    {
        "usage": obj(
            {"total_current_request_count": integer, "total_current_token_count": integer},
            {"monthly_token_quota": nullable(integer), "models": mapping(anything)},
        ),
        "quota_reset_date": string,
    }
)
# Free-form: the service does not document its shape, so any JSON object is accepted.
RATE_LIMITS = mapping(anything)
EVALUATION_RECORD = obj(
    {},
    {
        "id": string,
        "trace_id": string,
        "created_at": date_time,
        "endpoint_type": string,
        "criteria": nullable(string),
        "evaluator_name": nullable(string),
        "score": stored_score,
        "explanation": nullable(string),
        "tags": nullable(mapping(string)),
    },
)
EVALUATION_PAGE = obj(
    {
        "evaluations": array(EVALUATION_RECORD),
        "total": integer,
        "page": integer,
        "page_size": integer,
        "total_pages": integer,
    }
)
CRITERIA_LIST = obj({"values": array(string)})
