"""composo/_stored.py: argument checks, the calls of the stored-data operations, and how one
page leads to the next, without a network."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from composo import APIError, MalformedError
from composo._requests import Call, RawResponse, read_response
from composo._stored import (
    EvaluationCursor,
    TraceCursor,
    check_endpoint_type,
    check_instant,
    check_page_size,
    check_trace_id,
    comment_call,
    criteria_call,
    get_trace_call,
    rate_limits_call,
    rating_call,
    usage_call,
)
from composo_api.models import (
    AttachCommentResponse,
    EndpointType,
    EvaluationFilterResponse,
    RateLimitsResponse,
    TraceListResponse,
    TraceResponse,
    UsageResponse,
)

TRACE_ID = "3f2b8c1e-7d4a-4e9b-9c1a-5b6d7e8f9a01"
CREATED = "2026-11-26T09:14:58Z"


def trace_json(trace_id: str = TRACE_ID, **extra: Any) -> dict[str, Any]:
    return {"id": trace_id, "created_at": CREATED, "comments": [], "evaluations": [], **extra}


def query_of(call: Call) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(call.path).query)


def answer(call: Call, body: Any, status: int = 200) -> Any:
    """What the client makes of `body` as the answer to `call`."""
    return read_response(call, RawResponse(status, {}, json.dumps(body).encode(), "http://x"))


# --- argument checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given", [TRACE_ID, TRACE_ID.upper(), TRACE_ID.replace("-", ""), uuid.UUID(TRACE_ID)]
)
def test_trace_ids_are_accepted_as_str_or_uuid(given: object) -> None:
    assert check_trace_id(given) == uuid.UUID(TRACE_ID)


@pytest.mark.parametrize("given", ["abc", "", TRACE_ID + "0", 42, None, b"3f2b8c1e"])
def test_a_trace_id_that_is_not_a_uuid_is_refused_naming_the_argument(given: object) -> None:
    with pytest.raises(MalformedError, match=r"^trace_id must be a UUID") as caught:
        check_trace_id(given)
    assert caught.value.status_code is None
    assert repr(given) in str(caught.value)


def test_aware_datetimes_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 1, 9, 30, tzinfo=paris)
    assert check_instant(moment, "start_date") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert check_instant(None, "start_date") is None


def test_a_naive_datetime_is_refused_rather_than_guessed() -> None:
    with pytest.raises(MalformedError, match=r"^end_date is a naive datetime \(2026-11-01T00"):
        check_instant(datetime(2026, 11, 1), "end_date")


@pytest.mark.parametrize("given", [date(2026, 11, 1), "2026-11-01T00:00:00Z", 1_700_000_000])
def test_a_date_that_is_not_a_datetime_is_refused(given: object) -> None:
    with pytest.raises(MalformedError, match=r"^start_date must be a datetime with a time zone"):
        check_instant(given, "start_date")


@pytest.mark.parametrize(("given", "expected"), [(None, None), (1, 1), (50, 50), (500, 500)])
def test_page_sizes_from_1_to_500_are_accepted(given: int | None, expected: int | None) -> None:
    assert check_page_size(given) == expected


@pytest.mark.parametrize("given", [0, 501, -1, True, 2.0, "50"])
def test_page_sizes_outside_1_to_500_are_refused(given: object) -> None:
    with pytest.raises(MalformedError, match=r"^page_size must be"):
        check_page_size(given)


@pytest.mark.parametrize("given", ["reward", "trace", EndpointType.TRACE])
def test_endpoint_types_are_the_two_endpoints(given: str) -> None:
    assert check_endpoint_type(given) == EndpointType(given)


@pytest.mark.parametrize("given", ["rewards", "", 1])
def test_other_endpoint_types_are_refused(given: object) -> None:
    with pytest.raises(MalformedError, match=r"^endpoint_type must be 'reward' or 'trace'"):
        check_endpoint_type(given)


def test_start_after_end_is_refused() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(MalformedError, match=r"^start_date \(2026-11-02.*is after end_date"):
        TraceCursor(
            start_date=start, end_date=start - timedelta(days=1), page_size=None, page_token=None
        )


@pytest.mark.parametrize("given", ["", 42])
def test_an_empty_or_non_string_page_token_is_refused(given: object) -> None:
    with pytest.raises(MalformedError, match=r"^page_token must be a non-empty string"):
        TraceCursor(start_date=None, end_date=None, page_size=None, page_token=given)


def evaluation_cursor(**given: Any) -> EvaluationCursor:
    arguments: dict[str, Any] = {
        "tags": None,
        "criteria": None,
        "endpoint_type": None,
        "page_size": None,
        "page": None,
    }
    return EvaluationCursor(**{**arguments, **given})


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("run=a", r"^tags must be a mapping"),
        ({"run": []}, r"^tags\['run'\] is an empty list, which matches nothing"),
        ({"": "a"}, r"^tag keys must not be empty"),
        ({"run": None}, r"tags\['run'\]"),
        ({"run": ["a", {"b": 1}]}, r"tags\['run'\]"),
        ({"run": "x" * 65}, r"the limit is 64"),
    ],
)
def test_bad_tag_filters_are_refused(tags: object, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        evaluation_cursor(tags=tags)


@pytest.mark.parametrize("criteria", [[], "", ["Reward x", " "], 3])
def test_bad_criteria_filters_are_refused(criteria: object) -> None:
    with pytest.raises(MalformedError, match=r"^criteria"):
        evaluation_cursor(criteria=criteria)


@pytest.mark.parametrize("page", [0, -1, True, "2"])
def test_a_start_page_below_1_is_refused(page: object) -> None:
    with pytest.raises(MalformedError, match=r"^page must be an int from 1"):
        evaluation_cursor(page=page)


def test_comment_text_must_be_a_non_blank_string() -> None:
    for text in ("", "  ", None, 3):
        with pytest.raises(MalformedError, match=r"^the comment text must be a non-blank"):
            comment_call(TRACE_ID, text)


def test_a_rating_must_be_a_bool() -> None:
    for good in (1, "yes", None):
        with pytest.raises(MalformedError, match=r"^good must be True \(thumbs up\) or False"):
            rating_call(TRACE_ID, good)


# --- calls ----------------------------------------------------------------------------------


def test_each_operation_calls_its_path_and_only_a_comment_is_not_retried_once_sent() -> None:
    calls = {
        "get": get_trace_call(TRACE_ID.upper()),
        "comment": comment_call(TRACE_ID, "Good."),
        "rate": rating_call(TRACE_ID, False),
        "usage": usage_call(),
        "rate_limits": rate_limits_call(),
        "criteria": criteria_call(None),
        "list": TraceCursor(start_date=None, end_date=None, page_size=None, page_token=None).call(),
        "filter": evaluation_cursor().call(),
    }
    assert {name: (call.method, call.path, call.retry_sent) for name, call in calls.items()} == {
        "get": ("GET", f"/api/v1/traces/{TRACE_ID}", True),
        "comment": ("POST", "/api/v1/annotations/comment", False),
        "rate": ("POST", "/api/v1/annotations/rating", True),
        "usage": ("GET", "/api/v1/usage", True),
        "rate_limits": ("GET", "/api/v1/rate-limits/me", True),
        "criteria": ("POST", "/api/v1/metadata/criteria", True),
        "list": ("GET", "/api/v1/traces", True),
        "filter": ("POST", "/api/v1/evaluations/filter", True),
    }
    assert json.loads(calls["comment"].content) == {"trace_id": TRACE_ID, "comment": "Good."}
    assert json.loads(calls["rate"].content) == {"trace_id": TRACE_ID, "rating": False}
    assert json.loads(calls["criteria"].content) == {}
    assert json.loads(criteria_call("trace").content) == {"endpoint_type": "trace"}
    assert calls["usage"].content == b""


def test_trace_listing_sends_only_what_was_given_with_dates_in_utc() -> None:
    start = datetime(2026, 11, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    cursor = TraceCursor(start_date=start, end_date=None, page_size=50, page_token="tok")
    assert query_of(cursor.call()) == {
        "page_token": ["tok"],
        "page_size": ["50"],
        "start_date": ["2026-10-31T23:00:00+00:00"],
    }


def test_evaluation_filter_body_has_tag_filters_converted_as_evaluate_stores_tags() -> None:
    cursor = evaluation_cursor(
        tags={"run": "nightly", "attempt": 3, "flagged": True, "env": ["prod", "staging"]},
        criteria="Reward brevity",
        endpoint_type="reward",
        page_size=20,
    )
    assert json.loads(cursor.call().content) == {
        "filters": [
            {"key": "run", "values": ["nightly"]},
            {"key": "attempt", "values": ["3"]},
            {"key": "flagged", "values": ["true"]},
            {"key": "env", "values": ["prod", "staging"]},
        ],
        "criteria_filter": {"values": ["Reward brevity"]},
        "endpoint_type": "reward",
        "page": 1,
        "page_size": 20,
    }
    assert json.loads(evaluation_cursor(page=3).call().content) == {"page": 3}


# --- pagination -----------------------------------------------------------------------------


def trace_page(token: str | None, count: int = 1) -> TraceListResponse:
    traces = [trace_json(str(uuid.uuid4())) for _ in range(count)]
    return TraceListResponse.from_dict({"traces": traces, "next_page_token": token})


def test_trace_cursor_follows_next_page_token_until_null() -> None:
    cursor = TraceCursor(start_date=None, end_date=None, page_size=2, page_token=None)
    sent = []
    for answer_page in (trace_page("a", 2), trace_page("b", 0), trace_page(None, 1)):
        assert not cursor.done
        sent.append(query_of(cursor.call()).get("page_token"))
        items = cursor.advance(answer_page)
        assert items == answer_page.traces
    assert cursor.done
    assert sent == [None, ["a"], ["b"]]


def test_trace_cursor_stops_with_an_error_when_a_token_comes_back() -> None:
    cursor = TraceCursor(start_date=None, end_date=None, page_size=None, page_token="a")
    cursor.advance(trace_page("b"))
    with pytest.raises(APIError, match=r"next_page_token it had already given \('a'\)"):
        cursor.advance(trace_page("a"))


@pytest.mark.parametrize(
    ("answers", "pages_sent"),
    [
        ([(3, 1)], [1]),  # one page in all
        ([(3, 3), (3, 3), (1, 3)], [1, 2, 3]),
        ([(0, 0)], [1]),  # nothing matches
        ([(3, 9), (0, 9)], [1, 2]),  # an empty page ends it whatever total_pages says
    ],
)
def test_evaluation_cursor_counts_pages_up_to_total_pages(
    answers: list[tuple[int, int]], pages_sent: list[int]
) -> None:
    cursor = evaluation_cursor(page_size=3)
    sent = []
    for count, total_pages in answers:
        assert not cursor.done
        page_number = json.loads(cursor.call().content)["page"]
        sent.append(page_number)
        page = EvaluationFilterResponse.from_dict(
            {
                "evaluations": [{"id": str(n)} for n in range(count)],
                "total": 3 * total_pages,
                "page": page_number,
                "page_size": 3,
                "total_pages": total_pages,
            }
        )
        assert cursor.advance(page) == page.evaluations
    assert cursor.done
    assert sent == pages_sent


# --- answers --------------------------------------------------------------------------------


def test_answers_become_the_generated_models() -> None:
    trace = answer(get_trace_call(TRACE_ID), trace_json(rating=True, tags={"run": "a"}))
    assert isinstance(trace, TraceResponse)
    assert trace.id == uuid.UUID(TRACE_ID)
    assert trace.rating is True
    comment = {"id": "c1", "trace_id": TRACE_ID, "comment": "Good.", "created_at": CREATED}
    assert isinstance(answer(comment_call(TRACE_ID, "Good."), comment), AttachCommentResponse)
    usage = {
        "usage": {"total_current_request_count": 3, "total_current_token_count": 90},
        "quota_reset_date": "2026-12-01",
    }
    assert answer(usage_call(), usage).usage.total_current_request_count == 3
    assert isinstance(answer(usage_call(), usage), UsageResponse)
    limits = answer(rate_limits_call(), {"plan": "free", "requests_per_hour": 500})
    assert isinstance(limits, RateLimitsResponse)
    assert limits["requests_per_hour"] == 500
    assert answer(criteria_call(None), {"values": ["Reward a", "Penalize b"]}) == [
        "Reward a",
        "Penalize b",
    ]


def test_a_stored_nan_score_reads_as_none() -> None:
    evaluation = {
        "id": "e",
        "evaluator_name": None,
        "score": float("nan"),
        "explanation": "x",
        "sub_trace": None,
    }
    body = json.dumps(trace_json(evaluations=[evaluation])).encode()  # NaN: what Python writes
    trace = read_response(get_trace_call(TRACE_ID), RawResponse(200, {}, body, "http://x"))
    assert trace.evaluations[0].score is None


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        (get_trace_call(TRACE_ID), trace_json(trace_id="nope"), "body.id should be a UUID"),
        (get_trace_call(TRACE_ID), trace_json(created_at="today"), "body.created_at should be"),
        (get_trace_call(TRACE_ID), trace_json(rating="yes"), "body.rating should be true or"),
        (get_trace_call(TRACE_ID), trace_json(tags={"n": 1}), "body.tags.n should be a string"),
        (
            get_trace_call(TRACE_ID),
            trace_json(comments=[{"id": "c"}]),
            "body.comments[0] has no 'trace_id'",
        ),
        (usage_call(), {"usage": {}, "quota_reset_date": "x"}, "body.usage has no 'total_curr"),
        (rate_limits_call(), ["free"], "body should be an object"),
        (criteria_call(None), {"values": [1]}, "body.values[0] should be a string"),
        (
            TraceCursor(start_date=None, end_date=None, page_size=None, page_token=None).call(),
            {"traces": []},
            "body has no 'next_page_token'",
        ),
        (
            evaluation_cursor().call(),
            {
                "evaluations": [{"score": "high"}],
                "total": 1,
                "page": 1,
                "page_size": 50,
                "total_pages": 1,
            },
            "body.evaluations[0].score should be a finite number",
        ),
    ],
)
def test_answers_that_break_the_spec_are_api_errors_naming_the_field(
    call: Call, body: Any, message: str
) -> None:
    with pytest.raises(APIError, match="does not match the API description") as caught:
        answer(call, body)
    assert message in str(caught.value)
