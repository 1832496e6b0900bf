"""Retries, Retry-After, the total deadline and error mapping, on both clients."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import httpx
import pytest
import respx

from composo import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ComposoError,
    MalformedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from tests import _client_util
from tests._client_util import (
    BASE_URL,
    CRITERION,
    MESSAGES,
    Flavor,
    InFlight,
    criterion_of,
    fast_policy,
    ok,
    reward_route,
    score_json,
    status,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router


def _stamped(stamps: list[float], respond: Any) -> Any:
    """Wrap a responder to record when each request arrived."""

    def effect(request: httpx.Request) -> httpx.Response:
        stamps.append(time.monotonic())
        return respond(request)

    return effect


def _sequence(*responders: Any) -> Any:
    """A side effect answering each request with the next responder (the last one repeats)."""
    remaining = list(responders)

    def effect(request: httpx.Request) -> httpx.Response:
        responder = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        result: httpx.Response = responder(request)
        return result

    return effect


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError],
)
async def test_transport_failures_are_retried(
    flavor: Flavor, router: respx.MockRouter, failure: type[Exception]
) -> None:
    route = reward_route(
        router, side_effect=[failure("boom"), httpx.Response(200, json=score_json(0.6))]
    )
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == 0.6
    assert route.call_count == 2


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504, 524])
async def test_transient_statuses_are_retried(
    flavor: Flavor, router: respx.MockRouter, code: int
) -> None:
    route = reward_route(router, side_effect=_sequence(status(code), ok(0.6)))
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == 0.6
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIStatusError),
        (418, APIStatusError),
        (422, MalformedError),
    ],
)
async def test_client_errors_are_never_retried(
    flavor: Flavor, router: respx.MockRouter, code: int, error_class: type[Exception]
) -> None:
    route = reward_route(router, side_effect=status(code, "nope"))
    client = flavor.client(num_retries=5)
    with pytest.raises(error_class):
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 1


async def test_num_retries_three_makes_four_attempts_then_raises_the_last_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, side_effect=status(503, "maintenance"))
    client = flavor.client(num_retries=3)
    with pytest.raises(APIError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 4
    assert caught.value.status_code == 503
    assert caught.value.detail == "maintenance"
    assert str(caught.value) == "503 Service Unavailable: maintenance"


async def test_connection_failure_after_retries_raises_api_connection_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, side_effect=httpx.ConnectError("connection refused"))
    client = flavor.client(num_retries=2)
    with pytest.raises(APIConnectionError, match="could not connect") as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.request_sent is False
    assert "ConnectError: connection refused" in str(caught.value)
    assert route.call_count == 3


async def test_retry_after_seconds_delays_the_next_attempt(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    stamps: list[float] = []
    reward_route(
        router,
        side_effect=_stamped(
            stamps, _sequence(status(429, "slow down", {"Retry-After": "0.2"}), ok())
        ),
    )
    client = flavor.client(policy=fast_policy(max_retry_after=5.0, jitter=0.0))
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert len(stamps) == 2
    assert 0.2 <= stamps[1] - stamps[0] < 0.35


async def test_retry_after_http_date_delays_the_next_attempt(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    # HTTP dates have a one-second resolution: two seconds ahead is at least one second away,
    # so with a 0.2 s cap the wait must be exactly the cap (a misread date would wait ~1 ms).
    stamps: list[float] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        return httpx.Response(503, json={"detail": "busy"}, headers={"Retry-After": when})

    reward_route(router, side_effect=_stamped(stamps, _sequence(unavailable, ok())))
    client = flavor.client(policy=fast_policy(max_retry_after=0.2, jitter=0.0))
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert 0.2 <= stamps[1] - stamps[0] < 0.35


async def test_retry_after_is_capped_at_max_retry_after(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    stamps: list[float] = []
    reward_route(
        router,
        side_effect=_stamped(
            stamps, _sequence(status(429, "later", {"Retry-After": "3600"}), ok())
        ),
    )
    client = flavor.client(policy=fast_policy(max_retry_after=0.05, jitter=0.0))
    start = time.monotonic()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == 0.8
    assert 0.05 <= stamps[1] - stamps[0] < 0.25
    assert time.monotonic() - start < 0.4


async def test_retry_after_longer_than_the_time_left_raises_rate_limit_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, side_effect=status(429, "later", {"Retry-After": "30"}))
    client = flavor.client(timeout=1.0, policy=fast_policy(max_retry_after=60.0))
    start = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert time.monotonic() - start < 0.3
    assert caught.value.retry_after == 30.0
    assert route.call_count == 1


async def test_total_deadline_bounds_retries_against_a_slow_failing_server(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    attempts = InFlight()
    reward_route(router, side_effect=flavor.delayed(0.1, status(503, "busy"), in_flight=attempts))
    client = flavor.client(timeout=0.3, num_retries=50)
    start = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    elapsed = time.monotonic() - start
    assert 0.28 <= elapsed < 0.45
    assert isinstance(caught.value, TimeoutError)
    # Attempts at 0, 0.1 and 0.2 s; the third one runs into the deadline and is abandoned.
    assert 3 <= attempts.total <= 4


async def test_response_slower_than_the_timeout_raises_api_timeout_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    attempts = InFlight()
    reward_route(router, side_effect=flavor.delayed(1.0, in_flight=attempts))
    client = flavor.client(timeout=0.2)
    start = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert time.monotonic() - start < 0.4
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, APIConnectionError)
    assert attempts.total == 1


async def test_each_attempt_gets_only_the_time_left(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, side_effect=_sequence(status(503), ok()))
    client = flavor.client(timeout=2.0)
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    budgets = [call.request.extensions["timeout"]["read"] for call in route.calls]
    assert 1.5 < budgets[0] <= 2.0
    assert budgets[1] < budgets[0]


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (500, APIError),
        (503, APIError),
        (524, APIError),
        (418, APIStatusError),
    ],
)
async def test_error_statuses_map_to_their_exception(
    flavor: Flavor, router: respx.MockRouter, code: int, error_class: type[ComposoError]
) -> None:
    reward_route(router, side_effect=status(code, "the detail"))
    client = flavor.client()
    with pytest.raises(ComposoError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert type(caught.value) is error_class
    assert caught.value.status_code == code
    assert caught.value.detail == "the detail"
    assert str(caught.value).startswith(f"{code} ")
    if code == 404:  # the message names the URL called
        assert str(caught.value).endswith(f": the detail (POST {BASE_URL}/api/v1/evals/reward)")
    else:
        assert str(caught.value).endswith(": the detail")


async def test_422_maps_to_malformed_error_with_fastapi_detail(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    detail = [
        {"loc": ["body", "messages"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "tags", "run"], "msg": "Input should be a string", "type": "str"},
    ]
    reward_route(router, side_effect=status(422, detail))
    client = flavor.client()
    with pytest.raises(MalformedError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.status_code == 422
    assert error.detail == detail
    assert "body.messages: Field required" in str(error)
    assert "body.tags.run: Input should be a string" in str(error)


@pytest.mark.parametrize("detail", ["Not Found", None])
async def test_a_404_from_a_missing_route_suggests_checking_base_url(
    flavor: Flavor, router: respx.MockRouter, detail: str | None
) -> None:
    answer = status(404, detail) if detail else (lambda request: httpx.Response(404, text=""))
    reward_route(router, side_effect=answer)
    client = flavor.client()
    with pytest.raises(NotFoundError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert str(caught.value).endswith(f"(POST {BASE_URL}/api/v1/evals/reward); check base_url")


async def test_429s_are_sent_again_until_the_deadline_then_raise_rate_limit_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, side_effect=status(429, "Too many", {"Retry-After": "0.01"}))
    client = flavor.client(num_retries=1, timeout=3.0)
    with pytest.raises(RateLimitError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 0.01
    assert caught.value.detail == "Too many"
    # num_retries=1 allows two attempts; 429s took more: they cost time, never a retry.
    assert route.call_count >= 3
    assert "timeout=3 s" in str(caught.value)
    assert "requests_per_second=" in str(caught.value)  # it says what to change


async def test_non_json_502_body_is_reported_readably(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>\n  nginx</body></html>"
    route = reward_route(
        router,
        return_value=httpx.Response(502, text=page, headers={"Content-Type": "text/html"}),
    )
    client = flavor.client()
    with pytest.raises(APIError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert caught.value.status_code == 502
    assert caught.value.detail is None
    assert caught.value.body == page.encode()
    assert "502 Bad Gateway" in str(caught.value)
    assert route.call_count == 2


async def test_success_missing_explanation_raises_composo_error_without_retry(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, return_value=httpx.Response(200, json={"score": 0.5}))
    client = flavor.client()
    with pytest.raises(ComposoError, match="does not match the API description") as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert type(caught.value) is APIError
    assert "'explanation'" in str(caught.value)
    assert caught.value.status_code == 200
    assert route.call_count == 1


async def test_success_with_a_non_json_body_raises_composo_error(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, return_value=httpx.Response(200, text="OK"))
    client = flavor.client()
    with pytest.raises(ComposoError, match="is not JSON") as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert caught.value.body == b"OK"
    assert route.call_count == 1


async def test_429_with_retry_after_pauses_other_calls_on_the_same_client(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    arrivals: dict[str, list[float]] = {"first": [], "second": []}
    limited = status(429, "slow down", {"Retry-After": "0.25"})
    first_answers = _sequence(limited, ok())

    def answer(request: httpx.Request) -> httpx.Response:
        which = "first" if criterion_of(request) == CRITERION else "second"
        arrivals[which].append(time.monotonic())
        return first_answers(request) if which == "first" else ok()(request)

    reward_route(router, side_effect=answer)
    policy = fast_policy(max_retry_after=5.0, jitter=0.0, pause_min_retry_after=0.1)
    client = flavor.client(policy=policy)

    async def second_call() -> Any:
        await asyncio.sleep(0.05)  # starts after the first call's 429
        return await flavor.call(client.evaluate, MESSAGES, "Reward polite replies")

    await asyncio.gather(flavor.call(client.evaluate, MESSAGES, CRITERION), second_call())
    rate_limited_at = arrivals["first"][0]
    assert len(arrivals["second"]) == 1
    assert arrivals["second"][0] - rate_limited_at >= 0.25
    assert arrivals["first"][1] - rate_limited_at >= 0.25
