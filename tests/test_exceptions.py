"""Tests for composo._exceptions: the error tree and the response-to-exception mapping."""

from __future__ import annotations

import json

import pytest

from composo._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ComposoError,
    MalformedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    bad_input,
    error_from_response,
)


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (APIStatusError, (ComposoError,)),
        (BadRequestError, (APIStatusError,)),
        (AuthenticationError, (APIStatusError,)),
        (PermissionDeniedError, (APIStatusError,)),
        (NotFoundError, (APIStatusError,)),
        (MalformedError, (APIStatusError, ValueError)),
        (RateLimitError, (APIStatusError,)),
        (APIError, (APIStatusError,)),
        (APIConnectionError, (ComposoError,)),
        (APITimeoutError, (APIConnectionError, TimeoutError)),
        (ClientClosedError, (ComposoError, RuntimeError)),
    ],
)
def test_error_tree_has_the_documented_bases(
    cls: type[ComposoError], bases: tuple[type[BaseException], ...]
) -> None:
    assert all(issubclass(cls, base) for base in bases)
    assert cls.__doc__
    assert "\n" not in cls.__doc__.strip()


def test_malformed_error_is_a_value_error_callers_can_catch() -> None:
    with pytest.raises(ValueError, match="criteria is wrong"):
        raise bad_input("criteria is wrong")


def test_api_timeout_error_is_a_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        raise APITimeoutError("gave up after 60 s")


def test_bad_input_has_no_status_code() -> None:
    error = bad_input("tags must be a mapping")
    assert type(error) is MalformedError
    assert str(error) == "tags must be a mapping"
    assert (error.status_code, error.detail, error.body) == (None, None, None)


def test_root_error_keeps_its_keyword_attributes() -> None:
    error = ComposoError("boom", status_code=418, detail="teapot", body=b"x")
    assert (str(error), error.status_code, error.detail, error.body) == (
        "boom",
        418,
        "teapot",
        b"x",
    )


@pytest.mark.parametrize(
    ("status_code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, MalformedError),
        (429, RateLimitError),
        (500, APIError),
        (502, APIError),
        (503, APIError),
        (524, APIError),
        (405, APIStatusError),
        (408, APIStatusError),
        (409, APIStatusError),
        (418, APIStatusError),
    ],
)
def test_error_from_response_picks_the_class_for_the_status(
    status_code: int, cls: type[APIStatusError]
) -> None:
    error = error_from_response(status_code, _json({"detail": "nope"}), {})
    assert type(error) is cls
    assert error.status_code == status_code
    assert error.detail == "nope"
    assert str(error).startswith(f"{status_code} ")
    assert str(error).endswith(": nope")


@pytest.mark.parametrize(
    ("status_code", "body", "message"),
    [
        (401, _json({"detail": "Invalid API key"}), "401 Unauthorized: Invalid API key"),
        (400, _json({"detail": "Bad things"}), "400 Bad Request: Bad things"),
        (
            524,
            b"<html>\n  <body>timeout</body>\n</html>",
            "524 A Timeout Occurred: <html> <body>timeout</body> </html>",
        ),
        (502, b"", "502 Bad Gateway"),
        (500, _json({"error": "x"}), '500 Internal Server Error: {"error": "x"}'),
        (599, b"", "599 Server Error"),
        (499, b"", "499 Client Error"),
        (500, _json({"detail": {"code": 7}}), '500 Internal Server Error: {"code": 7}'),
    ],
)
def test_error_message_says_status_and_what_the_server_said(
    status_code: int, body: bytes, message: str
) -> None:
    assert str(error_from_response(status_code, body, {})) == message


def test_422_list_detail_is_rendered_as_dotted_locations() -> None:
    detail = [
        {
            "loc": ["body", "evaluation_criteria"],
            "msg": "String should have at most 4096 characters",
            "type": "string_too_long",
        },
        {"loc": ["body", "messages", 0, "role"], "msg": "Field required", "type": "missing"},
    ]
    error = error_from_response(422, _json({"detail": detail}), {})
    assert type(error) is MalformedError
    assert isinstance(error, ValueError)
    assert error.detail == detail
    assert str(error) == (
        "422 Unprocessable: body.evaluation_criteria: String should have at most 4096 "
        "characters; body.messages.0.role: Field required"
    )


def test_422_list_detail_tolerates_odd_items() -> None:
    detail = [{"msg": "no location"}, "plain text", {"loc": [], "msg": "empty loc"}]
    error = error_from_response(422, _json({"detail": detail}), {})
    assert str(error) == "422 Unprocessable: no location; plain text; empty loc"


def test_non_json_body_is_kept_raw_and_detail_is_none() -> None:
    body = b"\xff\xfe not json"
    error = error_from_response(503, body, {})
    assert type(error) is APIError
    assert error.detail is None
    assert error.body == body
    assert str(error).startswith("503 Service Unavailable: ")


def test_long_non_json_body_is_truncated_in_the_message() -> None:
    error = error_from_response(502, b"x" * 5000, {})
    assert len(str(error)) < 300
    assert str(error).endswith("...")
    assert error.body == b"x" * 5000


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"RETRY-AFTER": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_error_carries_retry_after_from_the_header(
    headers: dict[str, str], retry_after: float | None
) -> None:
    error = error_from_response(429, _json({"detail": "Rate limit exceeded"}), headers)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == retry_after
    assert str(error) == "429 Too Many Requests: Rate limit exceeded"


def test_message_never_includes_headers() -> None:
    headers = {"API-Key": "sk-secret", "Retry-After": "1"}
    error = error_from_response(429, b"{}", headers)
    assert "sk-secret" not in str(error)
    assert "sk-secret" not in repr(error)
