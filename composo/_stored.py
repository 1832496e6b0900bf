"""The stored-data operations: their argument checks, the calls they make, and how one page
leads to the next. No I/O here; `_resources.py` sends the calls for both clients.

Retries follow what each operation does to the server, through `Call.retry_sent`:
- reads (the GETs, and the read-only POSTs that filter evaluations and list criteria) retry
  every transient failure: running them twice changes nothing;
- a rating sets one value on a trace, so a second identical request leaves the same state: it
  retries like a read;
- a comment creates a new object each time it runs, so it retries only what provably never
  reached the server (a 429, a connection that could not be opened): a 5xx, a timeout or a
  dropped connection might have stored it already, and a retry would store it twice.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from composo import _responses
from composo._constants import MAX_PAGE_SIZE
from composo._exceptions import APIError, bad_input
from composo._requests import Call
from composo._validation import convert_tags
from composo_api.api.account import get_rate_limits, get_usage
from composo_api.api.analytics import filter_evaluations, list_criteria
from composo_api.api.annotations import attach_comment, attach_rating
from composo_api.api.traces import get_trace, list_traces
from composo_api.models import (
    AttachCommentRequest,
    AttachCommentResponse,
    AttachRatingRequest,
    AttachRatingResponse,
    CriteriaFilter,
    CriteriaMetadataRequest,
    CriteriaMetadataResponse,
    EndpointType,
    EvaluationFilterRequest,
    EvaluationFilterResponse,
    EvaluationRecord,
    RateLimitsResponse,
    TagFilter,
    TraceListResponse,
    TraceResponse,
    UsageResponse,
)
from composo_api.types import UNSET, Unset

_Model = TypeVar("_Model")
_Page = TypeVar("_Page")
_Item = TypeVar("_Item")

_TRACE_ID_EXAMPLE = "3f2b8c1e-7d4a-4e9b-9c1a-5b6d7e8f9a01"
_ENDPOINT_TYPES = tuple(member.value for member in EndpointType)


def _parser(
    model: Callable[[Mapping[str, Any]], _Model], checker: _responses.Checker
) -> Callable[[Any], _Model]:
    """Check a 2xx body's shape, then build the generated model from it."""

    def parse(data: Any) -> _Model:
        return model(_responses.check(data, checker))

    return parse


_parse_trace = _parser(TraceResponse.from_dict, _responses.TRACE)
_parse_trace_list = _parser(TraceListResponse.from_dict, _responses.TRACE_LIST)
_parse_comment = _parser(AttachCommentResponse.from_dict, _responses.COMMENT)
_parse_rating = _parser(AttachRatingResponse.from_dict, _responses.RATING)
_parse_usage = _parser(UsageResponse.from_dict, _responses.USAGE)
_parse_rate_limits = _parser(RateLimitsResponse.from_dict, _responses.RATE_LIMITS)
_parse_evaluation_page = _parser(EvaluationFilterResponse.from_dict, _responses.EVALUATION_PAGE)


def _parse_criteria(data: Any) -> list[str]:
    checked = _responses.check(data, _responses.CRITERIA_LIST)
    return CriteriaMetadataResponse.from_dict(checked).values


# --- argument checks ------------------------------------------------------------------------


def check_trace_id(trace_id: object) -> uuid.UUID:
    """A stored trace's id, as a str or a `uuid.UUID`.

    Raises:
        MalformedError: Anything that is not a UUID (the service would answer 422).
    """
    if isinstance(trace_id, uuid.UUID):
        return trace_id
    if isinstance(trace_id, str):
        try:
            return uuid.UUID(trace_id)
        except ValueError:
            pass
    raise bad_input(
        f"trace_id must be a UUID such as {_TRACE_ID_EXAMPLE!r} (a listed trace's id, or the "
        f"request_id of a trace evaluation), got {trace_id!r}"
    )


def check_instant(value: object, name: str) -> datetime | None:
    """A timezone-aware datetime, converted to UTC; None stays None.

    A naive datetime is refused rather than guessed: `datetime.now()` is local time, and
    reading it as UTC would shift the window by the machine's offset without a word.

    Raises:
        MalformedError: Not a datetime, or a naive one.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise bad_input(
            f"{name} must be a datetime with a time zone, such as "
            f"datetime(2026, 11, 1, tzinfo=timezone.utc), got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise bad_input(
            f"{name} is a naive datetime ({value.isoformat()}), which could be local time or "
            "UTC; give it a time zone: value.replace(tzinfo=timezone.utc) for UTC, or "
            "value.astimezone() for this machine's local time"
        )
    return value.astimezone(UTC)


def check_page_size(page_size: object) -> int | None:
    """Items per page, 1 to 500; None leaves the service's default (50).

    Raises:
        MalformedError: Not an int in that range.
    """
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise bad_input(f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_input(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def _check_page_token(page_token: object) -> str | None:
    if page_token is None:
        return None
    if not isinstance(page_token, str) or not page_token:
        raise bad_input(
            f"page_token must be a non-empty string (a page's next_page_token), got {page_token!r}"
        )
    return page_token


def _check_page_number(page: object) -> int:
    if page is None:
        return 1
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise bad_input(f"page must be an int from 1 (the first page), got {page!r}")
    return page


def check_endpoint_type(endpoint_type: object) -> EndpointType | None:
    """ "reward" or "trace"; None for both.

    Raises:
        MalformedError: Any other value.
    """
    if endpoint_type is None:
        return None
    if isinstance(endpoint_type, str) and endpoint_type in _ENDPOINT_TYPES:
        return EndpointType(endpoint_type)
    allowed = " or ".join(map(repr, _ENDPOINT_TYPES))
    raise bad_input(f"endpoint_type must be {allowed} (or None for both), got {endpoint_type!r}")


def _tag_filters(tags: object) -> list[TagFilter]:
    """One filter per tag: its value, or any of a list of values, converted as `evaluate`
    converts tags (so `{"attempt": 3}` finds what `tags={"attempt": 3}` stored)."""
    if tags is None:
        return []
    if not isinstance(tags, Mapping):
        raise bad_input(
            f"tags must be a mapping of tag name to a value or a list of values, got "
            f"{type(tags).__name__}"
        )
    filters = []
    for key, value in tags.items():
        options = list(value) if isinstance(value, list | tuple) else [value]
        if not options:
            raise bad_input(f"tags[{key!r}] is an empty list, which matches nothing")
        filters.append(TagFilter(key=key, values=[_tag_value({key: v}) for v in options]))
    return filters


def _tag_value(tag: Mapping[str, object]) -> str:
    """The one value of a one-tag mapping, checked and converted by `convert_tags`."""
    converted = convert_tags(tag) or {}
    return next(iter(converted.values()))


def _criteria_filter(criteria: object) -> CriteriaFilter | Unset:
    if criteria is None:
        return UNSET
    values = [criteria] if isinstance(criteria, str) else criteria
    if not isinstance(values, list | tuple) or not values:
        raise bad_input(
            f"criteria must be a criterion string or a non-empty list of them, got {criteria!r}"
        )
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise bad_input(f"criteria[{index}] must be a non-blank string, got {value!r}")
    return CriteriaFilter(values=list(values))


# --- calls ----------------------------------------------------------------------------------


def get_trace_call(trace_id: object) -> Call:
    """GET one stored trace; retried like every read."""
    kwargs = get_trace._get_kwargs(check_trace_id(trace_id))
    return Call.from_kwargs(kwargs, _parse_trace)


def comment_call(trace_id: object, text: object) -> Call:
    """POST a comment; each run stores a new one, so only never-sent attempts are retried.

    Raises:
        MalformedError: A trace id that is not a UUID, or text that is not a non-blank str.
    """
    checked_id = check_trace_id(trace_id)
    if not isinstance(text, str) or not text.strip():
        raise bad_input(f"the comment text must be a non-blank string, got {text!r}")
    body = AttachCommentRequest(trace_id=checked_id, comment=text)
    return Call.from_kwargs(attach_comment._get_kwargs(body=body), _parse_comment, retry_sent=False)


def rating_call(trace_id: object, good: object) -> Call:
    """POST a rating; it sets one value, so a repeat is harmless and it is retried.

    Raises:
        MalformedError: A trace id that is not a UUID, or `good` that is not a bool.
    """
    checked_id = check_trace_id(trace_id)
    if not isinstance(good, bool):
        raise bad_input(f"good must be True (thumbs up) or False (thumbs down), got {good!r}")
    body = AttachRatingRequest(trace_id=checked_id, rating=good)
    return Call.from_kwargs(attach_rating._get_kwargs(body=body), _parse_rating)


def usage_call() -> Call:
    """GET usage against the monthly quota."""
    return Call.from_kwargs(get_usage._get_kwargs(), _parse_usage)


def rate_limits_call() -> Call:
    """GET the caller's rate limits (a free-form object)."""
    return Call.from_kwargs(get_rate_limits._get_kwargs(), _parse_rate_limits)


def criteria_call(endpoint_type: object) -> Call:
    """POST (read-only) for the distinct criteria of the stored evaluations."""
    checked = check_endpoint_type(endpoint_type)
    body = CriteriaMetadataRequest(endpoint_type=UNSET if checked is None else checked)
    return Call.from_kwargs(list_criteria._get_kwargs(body=body), _parse_criteria)


# --- pagination -----------------------------------------------------------------------------


class Cursor(ABC, Generic[_Page, _Item]):
    """Where a paginated listing stands: the call for the next page, and what a page means.

    Both clients drive it the same way: while not `done`, send `call()` and pass the page to
    `advance`, which returns the page's items and moves on (or finishes).
    """

    done: bool = False

    @abstractmethod
    def call(self) -> Call:
        """The request for the next page."""

    @abstractmethod
    def advance(self, page: _Page) -> list[_Item]:
        """Take the page just received: its items; `done` is set after the last page."""


class TraceCursor(Cursor[TraceListResponse, TraceResponse]):
    """Stored traces, newest first, one token-linked page after another.

    Raises:
        MalformedError: On construction, for any invalid argument (see the checks above), or
            a start_date after the end_date.
    """

    def __init__(
        self, *, start_date: object, end_date: object, page_size: object, page_token: object
    ) -> None:
        self._start = check_instant(start_date, "start_date")
        self._end = check_instant(end_date, "end_date")
        if self._start is not None and self._end is not None and self._start > self._end:
            raise bad_input(
                f"start_date ({self._start.isoformat()}) is after end_date "
                f"({self._end.isoformat()}): no trace can match; swap them"
            )
        self._page_size = check_page_size(page_size)
        self._token = _check_page_token(page_token)
        self._seen: set[str] = set() if self._token is None else {self._token}

    def call(self) -> Call:
        kwargs = list_traces._get_kwargs(
            page_token=UNSET if self._token is None else self._token,
            page_size=UNSET if self._page_size is None else self._page_size,
            start_date=UNSET if self._start is None else self._start,
            end_date=UNSET if self._end is None else self._end,
        )
        return Call.from_kwargs(kwargs, _parse_trace_list)

    def advance(self, page: TraceListResponse) -> list[TraceResponse]:
        token = page.next_page_token
        if token is None:
            self.done = True
        elif token in self._seen:
            # Following it would fetch the same pages again, for ever.
            raise APIError(
                f"GET /api/v1/traces answered a next_page_token it had already given "
                f"({token!r}); stopped rather than loop over the same pages"
            )
        else:
            self._seen.add(token)
            self._token = token
        return page.traces


class EvaluationCursor(Cursor[EvaluationFilterResponse, EvaluationRecord]):
    """Stored evaluations matching a filter, one numbered page after another.

    Raises:
        MalformedError: On construction, for any invalid argument.
    """

    def __init__(
        self,
        *,
        tags: object,
        criteria: object,
        endpoint_type: object,
        page_size: object,
        page: object,
    ) -> None:
        self._filters = _tag_filters(tags)
        self._criteria = _criteria_filter(criteria)
        self._endpoint_type = check_endpoint_type(endpoint_type)
        self._page_size = check_page_size(page_size)
        self._page = _check_page_number(page)

    def call(self) -> Call:
        body = EvaluationFilterRequest(
            filters=self._filters or UNSET,
            criteria_filter=self._criteria,
            endpoint_type=UNSET if self._endpoint_type is None else self._endpoint_type,
            page=self._page,
            page_size=UNSET if self._page_size is None else self._page_size,
        )
        return Call.from_kwargs(filter_evaluations._get_kwargs(body=body), _parse_evaluation_page)

    def advance(self, page: EvaluationFilterResponse) -> list[EvaluationRecord]:
        # An empty page ends it too, so a total_pages that never stops growing cannot loop.
        if not page.evaluations or self._page >= page.total_pages:
            self.done = True
        else:
            self._page += 1
        return page.evaluations
