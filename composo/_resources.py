"""`client.traces` and `client.evaluations`: the data the service stored, grouped into
resources as openai-python groups its operations.

A resource holds only its client's send function (one `Call` in, the parsed result out,
through the client's retries, deadline, rate limiter and error mapping), so it never imports
a client. The sync and async classes differ only in awaiting; the checks, the requests and
the paging rules are `_stored.py`'s.

Listings are lazy: `list()` and `filter()` check their arguments at once, but a page is
fetched only when iteration reaches it, and each page's request has the client's whole
`timeout` to itself. Breaking out of the loop fetches nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Literal, TypeAlias, TypeVar, cast
from uuid import UUID

from composo._requests import Call
from composo._stored import (
    Cursor,
    EvaluationCursor,
    TraceCursor,
    comment_call,
    criteria_call,
    get_trace_call,
    rating_call,
)
from composo_api.models import (
    AttachCommentResponse,
    AttachRatingResponse,
    EvaluationFilterResponse,
    EvaluationRecord,
    TraceListResponse,
    TraceResponse,
)

SyncSend: TypeAlias = Callable[[Call], object]
AsyncSend: TypeAlias = Callable[[Call], Awaitable[object]]

# A tag's value, as `evaluate` accepts it (numbers and bools are compared as the strings it
# stored them as); a filter may also give a list of values, any of which matches.
TagValue: TypeAlias = str | int | float | bool
TagFilters: TypeAlias = Mapping[str, TagValue | Sequence[TagValue]]
EndpointTypeName: TypeAlias = Literal["reward", "trace"]

_Page = TypeVar("_Page")
_Item = TypeVar("_Item")


def _pages(send: SyncSend, cursor: Cursor[_Page, _Item]) -> Iterator[_Page]:
    while not cursor.done:
        page = cast(_Page, send(cursor.call()))
        cursor.advance(page)
        yield page


def _items(send: SyncSend, cursor: Cursor[_Page, _Item]) -> Iterator[_Item]:
    while not cursor.done:
        yield from cursor.advance(cast(_Page, send(cursor.call())))


async def _async_pages(send: AsyncSend, cursor: Cursor[_Page, _Item]) -> AsyncIterator[_Page]:
    while not cursor.done:
        page = cast(_Page, await send(cursor.call()))
        cursor.advance(page)
        yield page


async def _async_items(send: AsyncSend, cursor: Cursor[_Page, _Item]) -> AsyncIterator[_Item]:
    while not cursor.done:
        for item in cursor.advance(cast(_Page, await send(cursor.call()))):
            yield item


def _trace_cursor(
    start_date: object, end_date: object, page_size: object, page_token: object
) -> TraceCursor:
    return TraceCursor(
        start_date=start_date, end_date=end_date, page_size=page_size, page_token=page_token
    )


def _evaluation_cursor(
    tags: object, criteria: object, endpoint_type: object, page_size: object, page: object
) -> EvaluationCursor:
    return EvaluationCursor(
        tags=tags, criteria=criteria, endpoint_type=endpoint_type, page_size=page_size, page=page
    )


class Traces:
    """`client.traces`: stored traces, with their evaluations, comments and rating.

    Every evaluation the service stores (any `evaluate` or `evaluate_trace` call without
    `data_retention="none"`) is kept on a trace; `evaluate_trace`'s `request_id` is its id.
    """

    def __init__(self, send: SyncSend) -> None:
        self._send = send

    def list(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Iterator[TraceResponse]:
        """Every stored trace, newest first, following `next_page_token` page by page.

        Lazy: a page is fetched only when iteration reaches it. Each page's GET is retried
        on every transient failure (reading twice changes nothing), within `timeout`.

        Args:
            start_date: Only traces created at or after this instant (timezone-aware).
            end_date: Only traces created at or before this instant (timezone-aware).
            page_size: Traces per request, 1 to 500 (the service's default is 50).
            page_token: Start from this page (a `next_page_token` from `list_pages`).

        Returns:
            An iterator of `TraceResponse`.

        Raises:
            MalformedError: An invalid argument, before anything is sent: a date that is not
                a datetime or is naive (no time zone: refused rather than guessed), a start
                after the end, a page_size outside 1-500, an empty page_token.
            ComposoError: While iterating, a page failed for good (see the subclasses).
        """
        return _items(self._send, _trace_cursor(start_date, end_date, page_size, page_token))

    def list_pages(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Iterator[TraceListResponse]:
        """The same listing as `list`, one page at a time: each has `.traces` and
        `.next_page_token` (None on the last page), to resume later with `page_token=`.

        Takes the arguments of `list`, raises what it raises, and retries the same way.
        """
        return _pages(self._send, _trace_cursor(start_date, end_date, page_size, page_token))

    def get(self, trace_id: str | UUID) -> TraceResponse:
        """One stored trace. A GET: retried on every transient failure.

        Args:
            trace_id: The trace's id: a listed trace's `id`, or `evaluate_trace`'s
                `request_id` (a UUID, as a str or a `uuid.UUID`).

        Raises:
            MalformedError: trace_id is not a UUID (nothing is sent).
            NotFoundError: No stored trace has this id (404; the message names the URL).
            ComposoError: Any other failure (see the subclasses).
        """
        return cast(TraceResponse, self._send(get_trace_call(trace_id)))

    def comment(self, trace_id: str | UUID, text: str) -> AttachCommentResponse:
        """Attach a comment to a stored trace.

        Each request that reaches the service stores a new comment, so this is retried only
        when the request provably did not arrive: a 429 (refused before it ran) or a
        connection that could not be opened. After a 5xx, a timeout or a dropped connection
        the comment may already be stored, and a retry could store it twice: the error is
        raised instead, and `get(trace_id).comments` tells whether it was stored.

        Args:
            trace_id: The trace's id (a UUID, as a str or a `uuid.UUID`).
            text: The comment, a non-blank string.

        Returns:
            The stored comment (`id`, `trace_id`, `comment`, `created_at`).

        Raises:
            MalformedError: trace_id is not a UUID, or text is not a non-blank str.
            NotFoundError: No stored trace has this id.
            ComposoError: Any other failure (see the subclasses).
        """
        return cast(AttachCommentResponse, self._send(comment_call(trace_id, text)))

    def rate(self, trace_id: str | UUID, good: bool) -> AttachRatingResponse:
        """Set a stored trace's rating: thumbs up (`good=True`) or down (`good=False`).

        A rating is one value that each request sets (a later one replaces it), so sending
        it twice leaves the same state: it is retried on every transient failure.

        Raises:
            MalformedError: trace_id is not a UUID, or good is not a bool.
            NotFoundError: No stored trace has this id.
            ComposoError: Any other failure (see the subclasses).
        """
        return cast(AttachRatingResponse, self._send(rating_call(trace_id, good)))


class Evaluations:
    """`client.evaluations`: stored evaluations, searched by tag, criterion and endpoint."""

    def __init__(self, send: SyncSend) -> None:
        self._send = send

    def filter(
        self,
        *,
        tags: TagFilters | None = None,
        criteria: str | list[str] | None = None,
        endpoint_type: EndpointTypeName | None = None,
        page_size: int | None = None,
        page: int | None = None,
    ) -> Iterator[EvaluationRecord]:
        """Every stored evaluation matching all the filters given, newest first, page by page.

        Lazy: a page is fetched only when iteration reaches it. The service pages by number,
        so evaluations stored while you iterate shift the later pages: a row may then be seen
        twice. The request is a POST that only reads, so it is retried on every transient
        failure.

        Args:
            tags: Tag name to the value it must have, or a list of values any of which
                matches, e.g. `{"run": "nightly", "env": ["prod", "staging"]}`; numbers and
                bools match as `evaluate` stored them.
            criteria: Only evaluations against this criterion (or any of a list).
            endpoint_type: "reward" (`evaluate`) or "trace" (`evaluate_trace`); both if None.
            page_size: Evaluations per request, 1 to 500 (the service's default is 50).
            page: Start from this page number (from 1).

        Returns:
            An iterator of `EvaluationRecord`.

        Raises:
            MalformedError: An invalid argument, before anything is sent.
            ComposoError: While iterating, a page failed for good (see the subclasses).
        """
        cursor = _evaluation_cursor(tags, criteria, endpoint_type, page_size, page)
        return _items(self._send, cursor)

    def filter_pages(
        self,
        *,
        tags: TagFilters | None = None,
        criteria: str | list[str] | None = None,
        endpoint_type: EndpointTypeName | None = None,
        page_size: int | None = None,
        page: int | None = None,
    ) -> Iterator[EvaluationFilterResponse]:
        """The same search as `filter`, one page at a time: each has `.evaluations`, `.page`,
        `.total_pages` and `.total`.

        Takes the arguments of `filter`, raises what it raises, and retries the same way.
        """
        cursor = _evaluation_cursor(tags, criteria, endpoint_type, page_size, page)
        return _pages(self._send, cursor)

    def criteria(self, endpoint_type: EndpointTypeName | None = None) -> list[str]:
        """The distinct criteria of your stored evaluations, sorted.

        A POST that only reads: retried on every transient failure.

        Args:
            endpoint_type: "reward" or "trace" for one endpoint's criteria; both if None.

        Raises:
            MalformedError: An endpoint_type other than those.
            ComposoError: The request failed for good (see the subclasses).
        """
        return cast(list[str], self._send(criteria_call(endpoint_type)))


class AsyncTraces:
    """`AsyncComposo.traces`: `Traces` with coroutines, and async iterators for listings."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    def list(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> AsyncIterator[TraceResponse]:
        """Every stored trace, newest first (`async for`); as `Traces.list`."""
        cursor = _trace_cursor(start_date, end_date, page_size, page_token)
        return _async_items(self._send, cursor)

    def list_pages(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> AsyncIterator[TraceListResponse]:
        """The listing one page at a time (`async for`); as `Traces.list_pages`."""
        cursor = _trace_cursor(start_date, end_date, page_size, page_token)
        return _async_pages(self._send, cursor)

    async def get(self, trace_id: str | UUID) -> TraceResponse:
        """One stored trace; as `Traces.get` (retried on every transient failure)."""
        return cast(TraceResponse, await self._send(get_trace_call(trace_id)))

    async def comment(self, trace_id: str | UUID, text: str) -> AttachCommentResponse:
        """Attach a comment; as `Traces.comment`: retried only when the request provably
        did not arrive (a 429, a connection that could not be opened), never after a 5xx,
        a timeout or a dropped connection, so that it cannot be stored twice."""
        return cast(AttachCommentResponse, await self._send(comment_call(trace_id, text)))

    async def rate(self, trace_id: str | UUID, good: bool) -> AttachRatingResponse:
        """Set the rating; as `Traces.rate` (it sets one value, so it is retried)."""
        return cast(AttachRatingResponse, await self._send(rating_call(trace_id, good)))


class AsyncEvaluations:
    """`AsyncComposo.evaluations`: `Evaluations` with coroutines and async iterators."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    def filter(
        self,
        *,
        tags: TagFilters | None = None,
        criteria: str | list[str] | None = None,
        endpoint_type: EndpointTypeName | None = None,
        page_size: int | None = None,
        page: int | None = None,
    ) -> AsyncIterator[EvaluationRecord]:
        """Every matching stored evaluation (`async for`); as `Evaluations.filter`."""
        cursor = _evaluation_cursor(tags, criteria, endpoint_type, page_size, page)
        return _async_items(self._send, cursor)

    def filter_pages(
        self,
        *,
        tags: TagFilters | None = None,
        criteria: str | list[str] | None = None,
        endpoint_type: EndpointTypeName | None = None,
        page_size: int | None = None,
        page: int | None = None,
    ) -> AsyncIterator[EvaluationFilterResponse]:
        """The search one page at a time (`async for`); as `Evaluations.filter_pages`."""
        cursor = _evaluation_cursor(tags, criteria, endpoint_type, page_size, page)
        return _async_pages(self._send, cursor)

    async def criteria(self, endpoint_type: EndpointTypeName | None = None) -> list[str]:
        """The distinct criteria of your stored evaluations; as `Evaluations.criteria`."""
        return cast(list[str], await self._send(criteria_call(endpoint_type)))
