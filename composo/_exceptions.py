"""The one error tree of the SDK; every failure a caller can see is a `ComposoError`.

| class                   | raised when                                                       |
|-------------------------|-------------------------------------------------------------------|
| `ComposoError`          | root; catch it to handle every failure of this library            |
| `APIStatusError`        | an error status with no dedicated class (405, 409, a redirect...) |
| `BadRequestError`       | 400                                                               |
| `AuthenticationError`   | 401: missing or wrong API key                                     |
| `PermissionDeniedError` | 403                                                               |
| `NotFoundError`         | 404                                                               |
| `MalformedError`        | 422, or bad input found before sending (then `status_code` None); |
|                         | also a `ValueError`                                               |
| `RateLimitError`        | 429, or rate limited past the call's timeout; see `retry_after`   |
| `APIError`              | any 5xx (500, 502, 503, 524 edge timeout...)                      |
| `APIConnectionError`    | no response at all: connect, read, write or protocol failure      |
| `APITimeoutError`       | the total deadline ran out (or a socket timed out); a TimeoutError|
| `ClientClosedError`     | a call on a closed client; also a `RuntimeError`                  |

`BadRequestError` to `APIError` derive from `APIStatusError`, whose `retry_after` holds the
seconds a Retry-After header asked for (any status may carry one). `APIConnectionError` has
`request_sent`: False when the connection could not even be opened, so the server cannot have
acted on the request (operations that must not run twice retry only then). Messages are built
from the status, the URL and the response body only, never from request headers, so the API
key cannot leak into logs or tracebacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from composo._retry import parse_retry_after

# Longest piece of a non-JSON body (a proxy's HTML page, say) quoted in a message.
_BODY_SNIPPET_LENGTH = 200


class ComposoError(Exception):
    """Root of every error raised by this library."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: str | list[Any] | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail
        self.body = body


class APIStatusError(ComposoError):
    """The server answered with an error status; `retry_after` is its Retry-After, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: str | list[Any] | None = None,
        body: bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail, body=body)
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """The server refused the request as invalid (400)."""


class AuthenticationError(APIStatusError):
    """The API key is missing or wrong (401)."""


class PermissionDeniedError(APIStatusError):
    """The API key may not do this (403)."""


class NotFoundError(APIStatusError):
    """The path or the object does not exist (404)."""


class MalformedError(APIStatusError, ValueError):
    """The input is invalid: refused by the server (422) or caught before sending."""


class RateLimitError(APIStatusError):
    """Too many requests (429), or rate limited past the call's timeout; see `retry_after`."""


class APIError(APIStatusError):
    """The server or a proxy in front of it failed (any 5xx)."""


class APIConnectionError(ComposoError):
    """No response arrived; `request_sent` is False when the connection never opened."""

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError, TimeoutError):
    """The total time allowed for the call ran out, or one attempt's socket timed out."""


class ClientClosedError(ComposoError, RuntimeError):
    """The client was used after it was closed."""


class Cancelled(Exception):
    """Internal: a sibling request failed or the batch stopped, so this one sends nothing more.

    Never reaches users: the sync client's multi-criteria calls and batches catch it.
    """


_CLASS_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: MalformedError,
    429: RateLimitError,
}

# Short, Python-version-independent wording where HTTPStatus's phrase is long or has changed.
_REASON_OVERRIDES = {422: "Unprocessable", 524: "A Timeout Occurred"}


def bad_input(message: str) -> MalformedError:
    """Build the error for invalid input found before any request is sent.

    Args:
        message: What is wrong and what to change.

    Returns:
        A `MalformedError` with `status_code` None, ready to raise.
    """
    return MalformedError(message)


# Statuses whose message names the URL called: they mean the request went to the wrong place,
# most often because of a wrong base_url.
_NAMES_URL = frozenset({404, 405})
_ROUTE_MISSING = frozenset({"Not Found", "Method Not Allowed"})


def error_from_response(
    status_code: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    url: str | None = None,
) -> APIStatusError:
    """Translate an HTTP error response into the matching exception.

    Args:
        status_code: The response status (3xx, 4xx or 5xx).
        body: The raw response body; JSON `{"detail": ...}` is parsed, anything else tolerated.
        headers: The response headers; Retry-After and, for a redirect, Location are read.
        method: The request's method, named in the message of a 404, 405 or redirect.
        url: The URL called, named in the message of a 404, 405 or redirect.

    Returns:
        An instance of the class for this status (`APIStatusError` itself when none fits),
        carrying `status_code`, the parsed `detail`, the raw `body` and `retry_after`.
    """
    detail = _parse_detail(body)
    message = f"{status_code} {_reason(status_code)}"
    explanation = _render_detail(detail) if detail is not None else _body_snippet(body)
    if explanation:
        message = f"{message}: {explanation}"
    called = f"{method} {url}" if method and url else url
    if 300 <= status_code <= 399:
        target = _header(headers, "location")
        message = (
            f"{status_code} {_reason(status_code)}"
            + (f" to {target}" if target else "")
            + (f" from {called}" if called else "")
            + ": this SDK never follows redirects, so that the API key is sent to base_url "
            "only; set base_url to the address that answers the API directly"
        )
    elif status_code in _NAMES_URL and called:
        message = f"{message} ({called})"
        # A route that does not exist answers the framework's bare reason; a missing object
        # (an unknown trace id) says what is missing, and base_url is fine.
        if detail is None or detail in _ROUTE_MISSING:
            message += "; check base_url"
    cls = _CLASS_BY_STATUS.get(status_code)
    if cls is None:
        cls = APIError if 500 <= status_code <= 599 else APIStatusError
    return cls(
        message,
        status_code=status_code,
        detail=detail,
        body=body,
        retry_after=parse_retry_after(_header(headers, "retry-after")),
    )


def _reason(status_code: int) -> str:
    """Short reason phrase for a status, with a generic fallback for unregistered codes."""
    if status_code in _REASON_OVERRIDES:
        return _REASON_OVERRIDES[status_code]
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Server Error" if status_code >= 500 else "Client Error"


def _parse_detail(body: bytes) -> str | list[Any] | None:
    """FastAPI's `detail` from a JSON body, or None when the body carries none."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        # RecursionError: a body nested too deeply to decode is not FastAPI's either.
        return None
    if not isinstance(data, dict) or data.get("detail") is None:
        return None
    detail = data["detail"]
    if isinstance(detail, (str, list)):
        return detail
    # Some handlers put an object or a number in `detail`; keep it readable as text.
    return json.dumps(detail, ensure_ascii=False)


def _render_detail(detail: str | list[Any]) -> str:
    """One line for a message: the string itself, or `loc.path: msg` items joined by "; "."""
    if isinstance(detail, str):
        return detail
    return "; ".join(_render_validation_item(item) for item in detail)


def _render_validation_item(item: object) -> str:
    """One FastAPI validation error as `body.field.0: msg`."""
    if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
        return str(item)
    loc = item.get("loc")
    if isinstance(loc, (list, tuple)) and loc:
        return f"{'.'.join(str(part) for part in loc)}: {item['msg']}"
    return str(item["msg"])


def _body_snippet(body: bytes) -> str:
    """The start of a body that is not FastAPI JSON, whitespace collapsed, for context."""
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if len(text) > _BODY_SNIPPET_LENGTH:
        return text[:_BODY_SNIPPET_LENGTH] + "..."
    return text


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as httpx.Headers."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
