"""Issue 10, responses we trusted too much: a 200 is believed only once it has the shape the API
description promises. Anything else is one `APIError` (status 200) naming the field, never an
`AttributeError`, `KeyError` or `RecursionError`, and never retried: a server that answered
200 will answer the same again.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest
import respx

from composo import APIError, AsyncComposo, Composo
from tests import _client_util
from tests._client_util import (
    MESSAGES,
    REWARD,
    REWARD_BACKGROUND,
    TRACE,
    TRACE_BACKGROUND,
    Flavor,
)
from tests._hostile import answering, serving
from tests.test_clients_trace import TRACE_DICT, _trace_answer

flavor = _client_util.flavor
router = _client_util.router

CRITERION = "Reward answers that state the refund window"

# Raw 200 bodies of /evals/reward, and what the error must say. Written as bytes: a hostile
# server sends what JSON allows and what it does not (Infinity, NaN, 1e400).
BAD_SCORES: dict[str, tuple[bytes, str]] = {
    "score 1.5": (b'{"score": 1.5, "explanation": "x"}', "body.score is 1.5, outside [0, 1]"),
    "score -0.1": (b'{"score": -0.1, "explanation": "x"}', "body.score is -0.1, outside"),
    "score Infinity": (b'{"score": Infinity, "explanation": "x"}', "body.score is inf"),
    "score -Infinity": (b'{"score": -Infinity, "explanation": "x"}', "body.score is -inf"),
    "score 1e400": (b'{"score": 1e400, "explanation": "x"}', "body.score is inf"),
    "score 2 (int)": (b'{"score": 2, "explanation": "x"}', "body.score is 2, outside"),
    "score as string": (b'{"score": "0.8", "explanation": "x"}', "body.score should be a number"),
    "score true": (b'{"score": true, "explanation": "x"}', "body.score should be a number"),
    "score false": (b'{"score": false, "explanation": "x"}', "body.score should be a number"),
    "score list": (b'{"score": [0.5], "explanation": "x"}', "body.score should be a number"),
    "score object": (b'{"score": {"v": 1}, "explanation": "x"}', "body.score should be a number"),
    "no score": (b'{"explanation": "x"}', "body has no 'score'"),
    "explanation number": (b'{"score": 0.5, "explanation": 3}', "body.explanation should be"),
    "explanation null": (b'{"score": 0.5, "explanation": null}', "body.explanation should be"),
    "explanation list": (b'{"score": 0.5, "explanation": ["a"]}', "body.explanation should be"),
    "explanation object": (b'{"score": 0.5, "explanation": {}}', "body.explanation should be"),
    "explanation lone surrogate": (
        b'{"score": 0.5, "explanation": "bad \\ud800 text"}',
        "body.explanation is not valid Unicode text",
    ),
    "no explanation": (b'{"score": 0.5}', "body has no 'explanation'"),
    "cleaned_explanation number": (
        b'{"score": 0.5, "explanation": "x", "cleaned_explanation": 5}',
        "body.cleaned_explanation should be a string",
    ),
    "sources string": (
        b'{"score": 0.5, "explanation": "x", "sources": "doc-1"}',
        "body.sources should be an array",
    ),
    "source number": (
        b'{"score": 0.5, "explanation": "x", "sources": [1]}',
        "body.sources[0] should be an object",
    ),
    "source id number": (
        b'{"score": 0.5, "explanation": "x", "sources": [{"id": 1, "type": "doc"}]}',
        "body.sources[0].id should be a string",
    ),
    "source without type": (
        b'{"score": 0.5, "explanation": "x", "sources": [{"id": "d1"}]}',
        "body.sources[0] has no 'type'",
    ),
    "second source broken": (
        b'{"score": 0.5, "explanation": "x", "sources": '
        b'[{"id": "d1", "type": "doc"}, {"id": "d2", "type": null}]}',
        "body.sources[1].type should be a string",
    ),
    "repeated key, last one bad": (
        b'{"score": 0.5, "score": 7, "explanation": "x"}',
        "body.score is 7, outside",
    ),
    "array": (b'[{"score": 0.5, "explanation": "x"}]', "body should be an object"),
    "string": (b'"0.5"', "body should be an object"),
    "number": (b"0.5", "body should be an object"),
    "null": (b"null", "body should be an object"),
    "empty body": (b"", "body should be an object"),
    "HTML": (b"<!doctype html><html><body>Maintenance</body></html>", "is not JSON"),
    "truncated JSON": (b'{"score": 0.5, "expla', "is not JSON"),
    "not UTF-8": (b'{"score": 0.5, "explanation": "\xff\xfe"}', "is not JSON"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(BAD_SCORES), ids=list(BAD_SCORES))
async def test_a_200_that_breaks_the_score_schema_is_a_clear_api_error_never_retried(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    body, message = BAD_SCORES[case]
    route = router.post(REWARD).mock(return_value=httpx.Response(200, content=body))
    client = flavor.client()
    with pytest.raises(APIError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"200 response to POST {REWARD}")
    assert caught.value.status_code == 200
    assert caught.value.body == body
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "score"),
    [
        (b'{"score": NaN, "explanation": "x"}', None),
        (b'{"score": null, "explanation": "x"}', None),
        (b'{"score": 1, "explanation": "x"}', 1.0),
        (b'{"score": 0, "explanation": "x"}', 0.0),
        (b'{"score": 1.0, "explanation": "x"}', 1.0),
        (b'{"score": 5e-324, "explanation": "x"}', 5e-324),
    ],
    ids=["NaN", "null", "int-1", "int-0", "one", "tiny"],
)
async def test_scores_the_service_can_send_are_returned_nan_as_none(
    flavor: Flavor, router: respx.MockRouter, body: bytes, score: float | None
) -> None:
    router.post(REWARD).mock(return_value=httpx.Response(200, content=body))
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == score
    assert result.score is None or isinstance(result.score, float)


async def test_extra_fields_of_a_200_are_kept(flavor: Flavor, router: respx.MockRouter) -> None:
    body = {
        "score": 0.5,
        "explanation": "x",
        "cleaned_explanation": None,
        "sources": None,
        "confidence": {"low": 0.4, "high": 0.6},
        "model": "align-next",
    }
    router.post(REWARD).respond(200, json=body)
    client = flavor.client()
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == 0.5
    assert result.cleaned_explanation is None
    assert result.sources is None
    assert result.additional_properties == {
        "confidence": {"low": 0.4, "high": 0.6},
        "model": "align-next",
    }


def _broken_trace(path: list[Any], value: Any) -> dict[str, Any]:
    """The trace answer with the value at `path` replaced (or removed when value is ...)."""
    answer = copy.deepcopy(_trace_answer())
    node: Any = answer
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return answer


_PLANNER = ["results_by_agent_name", "planner"]
_PLANNER_1 = [*_PLANNER, "results_by_agent_instance_id", "planner-1"]

BAD_TRACE_ANSWERS: dict[str, tuple[dict[str, Any] | list[Any], str]] = {
    "no request_id": (_broken_trace(["request_id"], ...), "body has no 'request_id'"),
    "request_id number": (_broken_trace(["request_id"], 7), "body.request_id should be"),
    "results a list": (
        _broken_trace(["results_by_agent_name"], []),
        "body.results_by_agent_name should be an object",
    ),
    "agent result a string": (
        _broken_trace(_PLANNER, "planner"),
        "body.results_by_agent_name.planner should be an object",
    ),
    "agent_name number": (
        _broken_trace([*_PLANNER, "agent_name"], 1),
        "planner.agent_name should be a string",
    ),
    "instances missing": (
        _broken_trace([*_PLANNER, "results_by_agent_instance_id"], ...),
        "planner has no 'results_by_agent_instance_id'",
    ),
    "instances a list": (
        _broken_trace([*_PLANNER, "results_by_agent_instance_id"], [0.9]),
        "results_by_agent_instance_id should be an object",
    ),
    "instance result a list": (
        _broken_trace(_PLANNER_1, [0.9]),
        "results_by_agent_instance_id.planner-1 should be an object",
    ),
    "instance score 2": (
        _broken_trace([*_PLANNER_1, "score"], 2),
        "planner-1.score is 2, outside [0, 1]",
    ),
    "instance score string": (
        _broken_trace([*_PLANNER_1, "score"], "0.9"),
        "planner-1.score should be a number",
    ),
    "instance explanation number": (
        _broken_trace([*_PLANNER_1, "explanation"], 9),
        "planner-1.explanation should be a string",
    ),
    "summary a string": (
        _broken_trace([*_PLANNER, "summary_statistics"], "n/a"),
        "summary_statistics should be an object",
    ),
    "summary median a string": (
        _broken_trace([*_PLANNER, "summary_statistics", "median"], "0.9"),
        "summary_statistics.median should be a finite number",
    ),
    "a list": ([_trace_answer()], "body should be an object"),
}


@pytest.mark.parametrize("case", list(BAD_TRACE_ANSWERS), ids=list(BAD_TRACE_ANSWERS))
async def test_a_trace_200_with_wrong_nested_types_is_a_clear_api_error(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    answer, message = BAD_TRACE_ANSWERS[case]
    route = router.post(TRACE).respond(200, json=answer)
    client = flavor.client()
    with pytest.raises(APIError) as caught:
        await flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION)
    assert message in str(caught.value)
    assert caught.value.status_code == 200
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{}", "body has no 'task_id'"),
        (b'{"id": "t-1"}', "body has no 'task_id'"),
        (b'{"task_id": 5}', "body.task_id should be a string"),
        (b'{"task_id": null}', "body.task_id should be a string"),
        (b"[]", "body should be an object"),
        (b"", "body should be an object"),
        (b"<html></html>", "is not JSON"),
    ],
    ids=["empty-object", "other-field", "number", "null", "array", "empty", "html"],
)
@pytest.mark.parametrize("path", [REWARD_BACKGROUND, TRACE_BACKGROUND], ids=["reward", "trace"])
async def test_a_background_answer_without_a_task_id_is_a_clear_api_error(
    flavor: Flavor, router: respx.MockRouter, path: str, body: bytes, message: str
) -> None:
    route = router.post(path).mock(return_value=httpx.Response(200, content=body))
    client = flavor.client()
    if path == REWARD_BACKGROUND:
        call = flavor.call(client.evaluate, MESSAGES, CRITERION, block=False)
    else:
        call = flavor.call(client.evaluate_trace, TRACE_DICT, CRITERION, block=False)
    with pytest.raises(APIError) as caught:
        await call
    assert message in str(caught.value)
    assert route.call_count == 1


async def test_a_bad_200_is_one_error_record_in_a_batch_and_the_rest_are_scored(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    answers = iter([b'{"score": 1.5, "explanation": "x"}'])

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(answers, b'{"score": 0.5, "explanation": "ok"}'))

    route = router.post(REWARD).mock(side_effect=respond)
    client = flavor.client(max_concurrent_requests=1)
    items = [{"messages": MESSAGES} for _ in range(4)]
    batch = client.evaluate_batch(items, CRITERION)
    results = await batch.collect() if flavor.is_async else await flavor.call(batch.collect)
    assert [r.score for r in results] == [None, 0.5, 0.5, 0.5]
    assert isinstance(results[0].error, APIError)
    assert "outside [0, 1]" in str(results[0].error)
    assert route.call_count == 4


# The same over real sockets, through each client's own transport.


@pytest.mark.parametrize(
    "case", ["score 1.5", "HTML", "empty body", "explanation lone surrogate", "nested 100,000 deep"]
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_own_transports_refuse_a_bad_200_without_retrying(kind: str, case: str) -> None:
    body, message = BAD_SCORES[case]
    with serving(answering(200, body)) as server:
        if kind == "sync":
            with (
                Composo(api_key="k", base_url=server.url) as client,
                pytest.raises(APIError) as caught,
            ):
                client.evaluate(MESSAGES, CRITERION)
        else:

            async def run() -> None:
                async with AsyncComposo(api_key="k", base_url=server.url) as client:
                    await client.evaluate(MESSAGES, CRITERION)

            with pytest.raises(APIError) as caught:
                asyncio.run(run())
    assert message in str(caught.value)
    assert caught.value.status_code == 200
    assert len(server.requests) == 1
