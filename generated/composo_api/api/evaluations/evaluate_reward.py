from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.reward_request import RewardRequest
from ...models.score_response import ScoreResponse
from ...models.validation_error_response import ValidationErrorResponse
from ...types import Response


def _get_kwargs(
    *,
    body: RewardRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/evals/reward",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | ScoreResponse | ValidationErrorResponse | None:
    if response.status_code == 200:
        response_200 = ScoreResponse.from_dict(response.json())

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
) -> Response[ErrorResponse | ScoreResponse | ValidationErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: RewardRequest,
) -> Response[ErrorResponse | ScoreResponse | ValidationErrorResponse]:
    """Score a conversation against one criterion

     Scores the conversation in `messages` against one criterion (`evaluation_criteria`) or
    a saved evaluator (`evaluator_name`); exactly one of the two must be given. By default
    only the last assistant turn is scored (`evaluate_latest: true`).

    Criteria that start with `Reward` or `Penalize` give a graded score in [0, 1]; criteria
    that start with `Passes if` or `Fails if` are binary and score 0 or 1. The score is
    `null` when the criterion does not apply to the conversation.

    Args:
        body (RewardRequest): A conversation and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Unknown fields are
            refused; leave optional fields out rather than sending `null`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ScoreResponse | ValidationErrorResponse]
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
    body: RewardRequest,
) -> ErrorResponse | ScoreResponse | ValidationErrorResponse | None:
    """Score a conversation against one criterion

     Scores the conversation in `messages` against one criterion (`evaluation_criteria`) or
    a saved evaluator (`evaluator_name`); exactly one of the two must be given. By default
    only the last assistant turn is scored (`evaluate_latest: true`).

    Criteria that start with `Reward` or `Penalize` give a graded score in [0, 1]; criteria
    that start with `Passes if` or `Fails if` are binary and score 0 or 1. The score is
    `null` when the criterion does not apply to the conversation.

    Args:
        body (RewardRequest): A conversation and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Unknown fields are
            refused; leave optional fields out rather than sending `null`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ScoreResponse | ValidationErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: RewardRequest,
) -> Response[ErrorResponse | ScoreResponse | ValidationErrorResponse]:
    """Score a conversation against one criterion

     Scores the conversation in `messages` against one criterion (`evaluation_criteria`) or
    a saved evaluator (`evaluator_name`); exactly one of the two must be given. By default
    only the last assistant turn is scored (`evaluate_latest: true`).

    Criteria that start with `Reward` or `Penalize` give a graded score in [0, 1]; criteria
    that start with `Passes if` or `Fails if` are binary and score 0 or 1. The score is
    `null` when the criterion does not apply to the conversation.

    Args:
        body (RewardRequest): A conversation and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Unknown fields are
            refused; leave optional fields out rather than sending `null`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ScoreResponse | ValidationErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: RewardRequest,
) -> ErrorResponse | ScoreResponse | ValidationErrorResponse | None:
    """Score a conversation against one criterion

     Scores the conversation in `messages` against one criterion (`evaluation_criteria`) or
    a saved evaluator (`evaluator_name`); exactly one of the two must be given. By default
    only the last assistant turn is scored (`evaluate_latest: true`).

    Criteria that start with `Reward` or `Penalize` give a graded score in [0, 1]; criteria
    that start with `Passes if` or `Fails if` are binary and score 0 or 1. The score is
    `null` when the criterion does not apply to the conversation.

    Args:
        body (RewardRequest): A conversation and the one criterion (`evaluation_criteria`) or
            saved evaluator
            (`evaluator_name`) to score it against: exactly one of the two. Unknown fields are
            refused; leave optional fields out rather than sending `null`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ScoreResponse | ValidationErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
