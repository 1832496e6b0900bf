from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.background_task_response import BackgroundTaskResponse
from ...models.error_response import ErrorResponse
from ...models.trace_request import TraceRequest
from ...models.validation_error_response import ValidationErrorResponse
from ...types import Response


def _get_kwargs(
    *,
    body: TraceRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/evals/trace/background",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse | None:
    if response.status_code == 200:
        response_200 = BackgroundTaskResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = ErrorResponse.from_dict(response.json())

        return response_413

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
) -> Response[BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: TraceRequest,
) -> Response[BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse]:
    """Start a trace evaluation in the background

     Takes the same body as `POST /api/v1/evals/trace`, validates it, and returns at once
    with the id of the background task. No endpoint returns a background task's result.

    Args:
        body (TraceRequest): A multi-agent trace and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Lightning cores are
            refused. Unknown fields are refused.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: TraceRequest,
) -> BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse | None:
    """Start a trace evaluation in the background

     Takes the same body as `POST /api/v1/evals/trace`, validates it, and returns at once
    with the id of the background task. No endpoint returns a background task's result.

    Args:
        body (TraceRequest): A multi-agent trace and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Lightning cores are
            refused. Unknown fields are refused.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: TraceRequest,
) -> Response[BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse]:
    """Start a trace evaluation in the background

     Takes the same body as `POST /api/v1/evals/trace`, validates it, and returns at once
    with the id of the background task. No endpoint returns a background task's result.

    Args:
        body (TraceRequest): A multi-agent trace and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Lightning cores are
            refused. Unknown fields are refused.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: TraceRequest,
) -> BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse | None:
    """Start a trace evaluation in the background

     Takes the same body as `POST /api/v1/evals/trace`, validates it, and returns at once
    with the id of the background task. No endpoint returns a background task's result.

    Args:
        body (TraceRequest): A multi-agent trace and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Lightning cores are
            refused. Unknown fields are refused.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BackgroundTaskResponse | ErrorResponse | ValidationErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
