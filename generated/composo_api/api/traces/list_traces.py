import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.trace_list_response import TraceListResponse
from ...models.validation_error_response import ValidationErrorResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    page_token: str | Unset = UNSET,
    page_size: int | Unset = UNSET,
    start_date: datetime.datetime | Unset = UNSET,
    end_date: datetime.datetime | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["page_token"] = page_token

    params["page_size"] = page_size

    json_start_date: str | Unset = UNSET
    if not isinstance(start_date, Unset):
        json_start_date = start_date.isoformat()
    params["start_date"] = json_start_date

    json_end_date: str | Unset = UNSET
    if not isinstance(end_date, Unset):
        json_end_date = end_date.isoformat()
    params["end_date"] = json_end_date

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/traces",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | TraceListResponse | ValidationErrorResponse | None:
    if response.status_code == 200:
        response_200 = TraceListResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = ValidationErrorResponse.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorResponse.from_dict(response.json())

        return response_500

    if response.status_code == 524:
        response_524 = ErrorResponse.from_dict(response.json())

        return response_524

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorResponse | TraceListResponse | ValidationErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    page_token: str | Unset = UNSET,
    page_size: int | Unset = UNSET,
    start_date: datetime.datetime | Unset = UNSET,
    end_date: datetime.datetime | Unset = UNSET,
) -> Response[ErrorResponse | TraceListResponse | ValidationErrorResponse]:
    """List stored traces

     Lists the caller's stored traces, newest first, one page at a time. Pass the
    `next_page_token` of a page as `page_token` to get the next one; it is `null` on the last
    page. `start_date` and `end_date` bound `created_at` (inclusive).

    Args:
        page_token (str | Unset):
        page_size (int | Unset):
        start_date (datetime.datetime | Unset):
        end_date (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TraceListResponse | ValidationErrorResponse]
    """

    kwargs = _get_kwargs(
        page_token=page_token,
        page_size=page_size,
        start_date=start_date,
        end_date=end_date,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    page_token: str | Unset = UNSET,
    page_size: int | Unset = UNSET,
    start_date: datetime.datetime | Unset = UNSET,
    end_date: datetime.datetime | Unset = UNSET,
) -> ErrorResponse | TraceListResponse | ValidationErrorResponse | None:
    """List stored traces

     Lists the caller's stored traces, newest first, one page at a time. Pass the
    `next_page_token` of a page as `page_token` to get the next one; it is `null` on the last
    page. `start_date` and `end_date` bound `created_at` (inclusive).

    Args:
        page_token (str | Unset):
        page_size (int | Unset):
        start_date (datetime.datetime | Unset):
        end_date (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TraceListResponse | ValidationErrorResponse
    """

    return sync_detailed(
        client=client,
        page_token=page_token,
        page_size=page_size,
        start_date=start_date,
        end_date=end_date,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    page_token: str | Unset = UNSET,
    page_size: int | Unset = UNSET,
    start_date: datetime.datetime | Unset = UNSET,
    end_date: datetime.datetime | Unset = UNSET,
) -> Response[ErrorResponse | TraceListResponse | ValidationErrorResponse]:
    """List stored traces

     Lists the caller's stored traces, newest first, one page at a time. Pass the
    `next_page_token` of a page as `page_token` to get the next one; it is `null` on the last
    page. `start_date` and `end_date` bound `created_at` (inclusive).

    Args:
        page_token (str | Unset):
        page_size (int | Unset):
        start_date (datetime.datetime | Unset):
        end_date (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TraceListResponse | ValidationErrorResponse]
    """

    kwargs = _get_kwargs(
        page_token=page_token,
        page_size=page_size,
        start_date=start_date,
        end_date=end_date,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    page_token: str | Unset = UNSET,
    page_size: int | Unset = UNSET,
    start_date: datetime.datetime | Unset = UNSET,
    end_date: datetime.datetime | Unset = UNSET,
) -> ErrorResponse | TraceListResponse | ValidationErrorResponse | None:
    """List stored traces

     Lists the caller's stored traces, newest first, one page at a time. Pass the
    `next_page_token` of a page as `page_token` to get the next one; it is `null` on the last
    page. `start_date` and `end_date` bound `created_at` (inclusive).

    Args:
        page_token (str | Unset):
        page_size (int | Unset):
        start_date (datetime.datetime | Unset):
        end_date (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TraceListResponse | ValidationErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            page_token=page_token,
            page_size=page_size,
            start_date=start_date,
            end_date=end_date,
        )
    ).parsed
