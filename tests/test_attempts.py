"""Every decision of the retry loop, driven without I/O on a fake clock (composo/_attempts.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composo import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    RateLimiter,
    RateLimitError,
)
from composo._attempts import Done, Fail, RetryCore, Send, Sleep
from composo._ratelimit import RECHECK
from composo._requests import Call, RawResponse
from composo._retry import RetryPolicy

POLICY = RetryPolicy(initial_backoff=0.5, max_backoff=8.0, jitter=0.0, max_retry_after=60.0)
SCORE = json.dumps({"score": 0.5, "explanation": "ok"}).encode()


def core(
    *, num_retries: int = 1, timeout: float = 60.0, limiter: RateLimiter | None = None
) -> RetryCore:
    return RetryCore(
        num_retries=num_retries,
        timeout=timeout,
        limiter=limiter or RateLimiter(),
        policy=POLICY,
        rand=lambda: 0.0,
    )


def call(*, retry_sent: bool = True) -> Call:
    return Call("POST", "/api/v1/evals/reward", b"{}", lambda data: data, retry_sent)


def response(status: int, body: bytes = b"", **headers: str) -> RawResponse:
    names = {key.replace("_", "-"): value for key, value in headers.items()}
    return RawResponse(status, names, body, "https://platform.composo.ai/api/v1/evals/reward")


def error_json(detail: str = "no") -> bytes:
    return json.dumps({"detail": detail}).encode()


def test_a_success_on_the_first_try_is_done() -> None:
    attempts = core().begin(call(), 0.0)
    assert attempts.next(0.0) == Send(60.0)
    assert attempts.sending(0.0) == 60.0
    outcome = attempts.received(response(200, SCORE), 0.1)
    assert outcome == Done({"score": 0.5, "explanation": "ok"})


@pytest.mark.parametrize(
    ("statuses", "num_retries", "expected"),
    [
        ([503, 200], 1, ["sleep 0.5", "done"]),
        ([503, 503], 1, ["sleep 0.5", "fail APIError"]),
        ([503, 502, 200], 2, ["sleep 0.5", "sleep 1.0", "done"]),
        ([400], 3, ["fail BadRequestError"]),
        ([401], 3, ["fail AuthenticationError"]),
        ([422], 3, ["fail MalformedError"]),
        ([404], 3, ["fail NotFoundError"]),
        ([307], 3, ["fail APIStatusError"]),  # a redirect is never followed nor retried
        ([408, 409, 200], 2, ["sleep 0.5", "sleep 1.0", "done"]),
        # 429s never spend num_retries: five of them with num_retries=1, then a 503 retried.
        ([429, 429, 429, 429, 429, 503, 200], 1, [*["sleep"] * 5, "sleep 0.5", "done"]),
    ],
)
def test_which_statuses_are_retried_and_how_long_to_wait(
    statuses: list[int], num_retries: int, expected: list[str]
) -> None:
    attempts = core(num_retries=num_retries).begin(call(), 0.0)
    now = 0.0
    seen: list[str] = []
    for status in statuses:
        step = attempts.next(now)
        while isinstance(step, Sleep):  # a rate-limiter wait before the send
            now += step.seconds
            step = attempts.next(now)
        assert isinstance(step, Send)
        attempts.sending(now)
        body = SCORE if status == 200 else error_json()
        outcome = attempts.received(response(status, body), now)
        if isinstance(outcome, Done):
            seen.append("done")
        elif isinstance(outcome, Fail):
            seen.append(f"fail {type(outcome.error).__name__}")
        else:
            seen.append("sleep" if status == 429 else f"sleep {outcome.seconds}")
            now += outcome.seconds
    assert seen == expected


def test_retry_after_on_a_503_sets_the_wait() -> None:
    attempts = core().begin(call(), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(503, error_json(), retry_after="3"), 0.0)
    assert outcome == Sleep(3.0)


def test_a_retry_that_cannot_finish_before_the_deadline_is_not_made() -> None:
    attempts = core(num_retries=3, timeout=1.0).begin(call(), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(503, error_json(), retry_after="5"), 0.2)
    assert isinstance(outcome, Fail)
    assert isinstance(outcome.error, APIError)


def test_429s_go_again_until_the_deadline_then_fail_saying_what_to_change() -> None:
    attempts = core(num_retries=1, timeout=10.0).begin(call(), 0.0)
    now, sends = 0.0, 0
    while True:
        step = attempts.next(now)
        if isinstance(step, Fail):
            outcome: Any = step
            break
        if isinstance(step, Sleep):
            now += step.seconds
            continue
        attempts.sending(now)
        sends += 1
        outcome = attempts.received(response(429, error_json("slow"), retry_after="1"), now)
        if isinstance(outcome, Fail):
            break
        now += outcome.seconds
    assert sends > 3
    error = outcome.error
    assert isinstance(error, RateLimitError)
    assert error.status_code == 429
    assert error.retry_after == 1.0
    assert error.detail == "slow"
    message = str(error)
    assert "timeout=10 s" in message
    assert "raise timeout=" in message
    assert "requests_per_second=" in message
    assert now <= 10.0


def test_a_long_retry_after_pauses_every_call_a_short_one_only_this_one() -> None:
    shared = core()
    first = shared.begin(call(), 0.0)
    first.next(0.0)
    first.sending(0.0)
    assert first.received(response(429, error_json(), retry_after="1"), 0.0) == Sleep(1.0)
    assert shared.pause.until == 0.0  # "1" is the rounding of a sub-second wait
    other = shared.begin(call(), 0.0)
    assert isinstance(other.next(0.0), Send)

    first.next(1.0)
    first.sending(1.0)
    assert first.received(response(429, error_json(), retry_after="5"), 1.0) == Sleep(5.0)
    later = shared.begin(call(), 1.5)
    assert later.next(1.5) == Sleep(4.5)  # the whole client waits out a real pause


def test_a_pause_longer_than_the_time_left_fails_at_once() -> None:
    shared = core(timeout=2.0)
    shared.pause.until = 100.0
    step = shared.begin(call(), 0.0).next(0.0)
    assert isinstance(step, Fail)
    assert isinstance(step.error, RateLimitError)
    assert step.error.status_code is None  # this call was never answered 429 itself


def test_the_limiter_paces_sends_and_a_queue_past_the_deadline_fails() -> None:
    limiter = RateLimiter(requests_per_second=1)
    shared = core(timeout=2.5, limiter=limiter)
    waits = []
    for _ in range(3):
        step = shared.begin(call(), 0.0).next(0.0)
        waits.append(step)
    # Waiters look again every RECHECK seconds, in case the rate rises meanwhile.
    assert waits == [Send(2.5), Sleep(RECHECK), Sleep(RECHECK)]
    # A fourth waits too: its turn (3 s) is after its deadline (2.5 s) at today's rate, but the
    # rate may rise; it fails only once the deadline has really passed.
    fourth = shared.begin(call(), 0.0)
    now = 0.0
    while isinstance(step := fourth.next(now), Sleep):
        assert step.seconds <= RECHECK
        now += step.seconds
    assert isinstance(step, Fail)
    assert isinstance(step.error, RateLimitError)
    assert "did not come in time" in str(step.error)
    assert now == pytest.approx(2.5)


def test_a_batch_item_starts_its_clock_at_its_first_send() -> None:
    limiter = RateLimiter(requests_per_second=0.1)
    shared = core(timeout=5.0, limiter=limiter)
    shared.begin(call(), 0.0).next(0.0)  # takes the free token
    queued = shared.begin(call(), 0.0, queued=True)
    now = 0.0
    while isinstance(step := queued.next(now), Sleep):  # 10 s, longer than its timeout: yet
        now += step.seconds  # no failure, it waits in line
    assert step == Send(None)
    assert now == pytest.approx(10.0)
    assert queued.sending(10.0) == 5.0
    outcome = queued.received(response(200, SCORE), 14.0)
    assert isinstance(outcome, Done)


@pytest.mark.parametrize(
    ("error", "retry_sent", "retried"),
    [
        (APIConnectionError("refused", request_sent=False), False, True),
        (APIConnectionError("reset"), False, False),
        (APITimeoutError("slow read"), False, False),
        (APIConnectionError("reset"), True, True),
        (APITimeoutError("slow read"), True, True),
    ],
)
def test_calls_that_must_not_run_twice_retry_only_what_never_ran(
    error: APIConnectionError, retry_sent: bool, retried: bool
) -> None:
    attempts = core(num_retries=2).begin(call(retry_sent=retry_sent), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.failed(error, 0.1)
    assert isinstance(outcome, Sleep) is retried


def test_a_503_is_not_retried_for_a_call_that_must_not_run_twice_but_a_429_is() -> None:
    attempts = core(num_retries=2).begin(call(retry_sent=False), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    assert isinstance(attempts.received(response(503, error_json()), 0.0), Fail)
    other = core(num_retries=2).begin(call(retry_sent=False), 0.0)
    other.next(0.0)
    other.sending(0.0)
    assert isinstance(other.received(response(429, error_json()), 0.0), Sleep)


def test_a_failure_after_the_deadline_becomes_the_deadline_error() -> None:
    attempts = core(timeout=1.0).begin(call(), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.failed(APIConnectionError("reset"), 1.5)
    assert isinstance(outcome, Fail)
    assert isinstance(outcome.error, APITimeoutError)
    assert "timeout=1 s" in str(outcome.error)


def test_the_retry_budget_bounds_retries_across_calls() -> None:
    shared = core(num_retries=5)
    shared.budget._tokens = 5  # one retry's worth
    first = shared.begin(call(), 0.0)
    first.next(0.0)
    first.sending(0.0)
    assert isinstance(first.received(response(503, error_json()), 0.0), Sleep)
    second = shared.begin(call(), 0.0)
    second.next(0.0)
    second.sending(0.0)
    assert isinstance(second.received(response(503, error_json()), 0.0), Fail)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"score": 1.5, "explanation": "x"}, "body.score is 1.5, outside [0, 1]"),
        ({"score": -0.1, "explanation": "x"}, "outside [0, 1]"),
        ({"score": "0.8", "explanation": "x"}, "body.score should be a number"),
        ({"score": 0.8, "explanation": 3}, "body.explanation should be a string"),
        ({"score": 0.8}, "has no 'explanation'"),
        ([1, 2], "body should be an object"),
    ],
)
def test_a_success_body_that_breaks_the_spec_is_an_api_error_not_retried(
    body: Any, message: str
) -> None:
    from composo._requests import _parse_score

    parse_call = Call("POST", "/api/v1/evals/reward", b"{}", _parse_score)
    attempts = core(num_retries=3).begin(parse_call, 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(200, json.dumps(body).encode()), 0.0)
    assert isinstance(outcome, Fail)
    assert type(outcome.error) is APIError
    assert message in str(outcome.error)
    assert outcome.error.status_code == 200


@pytest.mark.parametrize("raw", [b'{"score": NaN, "explanation": "x"}'])
def test_a_nan_score_becomes_none_as_the_service_models_do(raw: bytes) -> None:
    from composo._requests import _parse_score

    parse_call = Call("POST", "/api/v1/evals/reward", b"{}", _parse_score)
    attempts = core().begin(parse_call, 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(200, raw), 0.0)
    assert isinstance(outcome, Done)
    assert outcome.value.score is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"score": Infinity, "explanation": "x"}',
        b'{"score": 1e400, "explanation": "x"}',
        b"[" * 100_000 + b"]" * 100_000,
        b"not json",
    ],
)
def test_unreadable_success_bodies_are_api_errors(raw: bytes) -> None:
    from composo._requests import _parse_score

    parse_call = Call("POST", "/api/v1/evals/reward", b"{}", _parse_score)
    attempts = core().begin(parse_call, 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(200, raw), 0.0)
    assert isinstance(outcome, Fail)
    assert isinstance(outcome.error, APIError)


def test_a_redirect_names_where_it_pointed_and_why_it_was_not_followed() -> None:
    attempts = core().begin(call(), 0.0)
    attempts.next(0.0)
    attempts.sending(0.0)
    outcome = attempts.received(response(307, b"", location="https://evil.example/steal"), 0.0)
    assert isinstance(outcome, Fail)
    assert isinstance(outcome.error, APIStatusError)
    message = str(outcome.error)
    assert "https://evil.example/steal" in message
    assert "never follows redirects" in message
    assert "base_url" in message
