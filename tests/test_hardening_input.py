"""Issue 10, data loss in the library: whatever an item or a response holds, every (item,
criterion) pair of a batch ends as exactly one score or error record, and bad input is refused
before anything is sent. Written as a careless user and a hostile server would try it; every
test runs against both clients (`Flavor`) over respx.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
import respx

from composo import APIError, MalformedError
from composo._batch import BatchResult
from tests import _client_util
from tests._client_util import (
    MESSAGES,
    REWARD_BACKGROUND,
    TRACE,
    Flavor,
    body_of,
    criterion_of,
    reward_route,
    score_json,
)
from tests.test_clients_trace import TRACE_DICT, _trace_answer

flavor = _client_util.flavor
router = _client_util.router

CRITERIA = ["Reward answers that are correct", "Penalize answers that are rude"]
DEEP = 100_000


def _deep_list(depth: int = DEEP) -> list[Any]:
    """A list nested `depth` deep, built without recursion."""
    root: list[Any] = []
    current = root
    for _ in range(depth - 1):
        child: list[Any] = []
        current.append(child)
        current = child
    return root


def _circular() -> list[Any]:
    loop: list[Any] = ["text"]
    loop.append(loop)
    return loop


class _Exploding(Mapping[str, Any]):
    """A Mapping whose every read raises, as a lazy proxy over a closed database might."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("the row is gone")

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("the row is gone")

    def __iter__(self) -> Iterator[str]:
        return iter(["messages"])

    def __len__(self) -> int:
        return 1


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for this id")


def _user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}, MESSAGES[1]]


def _tool(**extra: Any) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "lookup", **extra}}]


# Items that cannot become a request body, each with the part of the message that says where.
BAD_ITEMS: dict[str, tuple[Callable[[], Any], str]] = {
    "surrogate in content": (lambda: {"messages": _user("bad \ud800 text")}, "content"),
    "surrogate in system": (lambda: {"messages": MESSAGES, "system": "\ud800"}, "system"),
    "surrogate in tag key": (lambda: {"messages": MESSAGES, "tags": {"\ud800": "x"}}, "tags"),
    "surrogate in tag value": (lambda: {"messages": MESSAGES, "tags": {"k": "\udfff"}}, "tags"),
    "surrogate in tool": (lambda: {"messages": MESSAGES, "tools": _tool(name="f\ud800")}, "tools"),
    "surrogate in result": (lambda: {"messages": MESSAGES[:1], "result": "\ud800"}, "content"),
    "bytes content": (lambda: {"messages": _user(b"raw bytes")}, "bytes"),
    "bytes system": (lambda: {"messages": MESSAGES, "system": b"raw"}, "system"),
    "nan in content": (lambda: {"messages": _user(math.nan)}, "nan"),
    "inf in content part": (
        lambda: {"messages": _user([{"type": "text", "text": "x", "weight": math.inf}])},
        "inf",
    ),
    "nan in tool": (lambda: {"messages": MESSAGES, "tools": _tool(weight=math.nan)}, "nan"),
    "nan tag": (lambda: {"messages": MESSAGES, "tags": {"k": math.nan}}, "nan"),
    "set in content": (lambda: {"messages": _user({"a", "b"})}, "set"),
    "circular content": (lambda: {"messages": _user(_circular())}, "circular"),
    "circular tool": (lambda: {"messages": MESSAGES, "tools": _tool(loop=_circular())}, "circular"),
    "100,000-deep content": (lambda: {"messages": _user(_deep_list())}, "nested too deeply"),
    "100,000-deep tool": (
        lambda: {"messages": MESSAGES, "tools": _tool(schema=_deep_list())},
        "nested too deeply",
    ),
    "mapping whose get raises": (_Exploding, "could not be read"),
    "tags whose reads raise": (lambda: {"messages": MESSAGES, "tags": _Exploding()}, "the row"),
    "id that cannot be printed": (
        lambda: {"id": _Unprintable(), "messages": MESSAGES},
        "could not be read",
    ),
    "not a dict": (lambda: ["role", "user"], "must be a dict"),
    "None": (lambda: None, "must be a dict"),
    "unknown key": (lambda: {"messages": MESSAGES, "mesages": []}, "mesages"),
}


async def _collect(flavor: Flavor, client: Any, items: Any, criteria: Any) -> list[BatchResult]:
    batch = client.evaluate_batch(items, criteria)
    if flavor.is_async:
        result: list[BatchResult] = await batch.collect()
        return result
    collected: list[BatchResult] = await flavor.call(batch.collect)
    return collected


def _good(number: int) -> dict[str, Any]:
    return {"id": f"good-{number}", "messages": MESSAGES}


@pytest.mark.parametrize("case", list(BAD_ITEMS), ids=list(BAD_ITEMS))
async def test_one_unencodable_item_costs_only_its_own_pairs(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    make, where = BAD_ITEMS[case]
    route = reward_route(router)
    # Bad items at the start, the middle and the end, among good ones.
    items = [make(), _good(0), _good(1), make(), _good(2), _good(3), make()]
    client = flavor.client()
    results = await _collect(flavor, client, items, CRITERIA)
    assert [(r.index, r.criterion_index) for r in results] == [
        (index, c) for index in range(len(items)) for c in range(len(CRITERIA))
    ]
    bad = {0, 3, 6}
    for result in results:
        if result.index in bad:
            assert isinstance(result.error, MalformedError), result.error
            assert result.error.status_code is None
            assert where in str(result.error)
            assert result.response is None
        else:
            assert result.error is None
            assert result.score == 0.8
    # Only the good items were sent, once per criterion; nothing for the bad ones.
    assert route.call_count == 4 * len(CRITERIA)


# The same input given straight to evaluate: refused before sending, saying where.
BAD_EVALUATE: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "surrogate in content": (lambda: {"messages": _user("a\ud800")}, "messages[0].content"),
    "surrogate in system": (lambda: {"messages": MESSAGES, "system": "\ud800"}, "system"),
    "surrogate in criterion": (
        lambda: {"messages": MESSAGES, "criteria": "Reward \ud800"},
        "evaluation_criteria",
    ),
    "surrogate in tag key": (lambda: {"messages": MESSAGES, "tags": {"\ud800": "v"}}, "tags"),
    "surrogate in tag value": (lambda: {"messages": MESSAGES, "tags": {"k": "\ud800"}}, "tags"),
    "surrogate in tool": (
        lambda: {"messages": MESSAGES, "tools": _tool(name="\ud800")},
        "tools[0].function.name",
    ),
    "bytes": (lambda: {"messages": _user(b"x")}, "messages[0].content is bytes"),
    "nan": (lambda: {"messages": _user(math.nan)}, "messages[0].content is nan"),
    "inf": (lambda: {"messages": MESSAGES, "tools": _tool(x=-math.inf)}, "function.x is -inf"),
    "set": (lambda: {"messages": _user({1})}, "is a set"),
    "circular": (lambda: {"messages": _user(_circular())}, "circular reference"),
    "100,000 deep": (lambda: {"messages": _user(_deep_list())}, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(BAD_EVALUATE), ids=list(BAD_EVALUATE))
async def test_unencodable_input_to_evaluate_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    make, where = BAD_EVALUATE[case]
    route = reward_route(router)
    kwargs = {"criteria": CRITERIA[0], **make()}
    client = flavor.client()
    with pytest.raises(MalformedError) as caught:
        await flavor.call(client.evaluate, **kwargs)
    assert where in str(caught.value)
    assert caught.value.status_code is None
    assert route.call_count == 0


def _deep_json(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_a_200_nested_100000_deep_is_one_error_record_and_the_batch_goes_on(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if criterion_of(request) == CRITERIA[1]:
            return httpx.Response(200, content=_deep_json())
        return httpx.Response(200, json=score_json(0.6))

    route = reward_route(router, side_effect=respond)
    client = flavor.client()
    results = await _collect(flavor, client, [_good(n) for n in range(5)], CRITERIA)
    assert len(results) == 10
    for result in results:
        if result.criterion == CRITERIA[1]:
            assert isinstance(result.error, APIError)
            assert result.error.status_code == 200
            assert "nested too deeply" in str(result.error)
        else:
            assert result.score == 0.6
    # A bad 200 is never retried: one request per pair.
    assert route.call_count == 10


async def test_a_200_nested_100000_deep_is_an_api_error_from_evaluate(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router, return_value=httpx.Response(200, content=_deep_json()))
    client = flavor.client()
    with pytest.raises(APIError, match="nested too deeply") as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERIA[0])
    assert caught.value.status_code == 200
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, _deep_json()),
        (503, b'{"detail": ' + _deep_json() + b"}"),
        (400, _deep_json()),
        (422, b'{"detail": ' + _deep_json() + b"}"),
        (429, _deep_json()),
    ],
    ids=["500", "503-detail", "400", "422-detail", "429"],
)
async def test_an_error_body_nested_100000_deep_is_the_status_error_not_a_recursion_error(
    flavor: Flavor, router: respx.MockRouter, status: int, body: bytes
) -> None:
    reward_route(router, return_value=httpx.Response(status, content=body))
    client = flavor.client(timeout=2.0)
    results = await _collect(flavor, client, [_good(0), _good(1)], CRITERIA[0])
    assert len(results) == 2
    for result in results:
        error = result.error
        assert error is not None
        if status == 429:  # waited out until the deadline, then reported as rate limited
            assert error.status_code == 429
        else:
            assert error.status_code == status
            assert str(error).startswith(str(status))


# Unknown fields anywhere in a trace dict are refused, naming the field and where it is.


def _edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    trace = copy.deepcopy(TRACE_DICT)
    edit(trace)
    return trace


def _searcher(trace: dict[str, Any]) -> dict[str, Any]:
    interaction: dict[str, Any] = trace["agent_instance_by_id"]["searcher-1"]["interactions"][0]
    return interaction


UNKNOWN_TRACE_FIELDS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "top level": (lambda t: t.update(root_agent="planner-1"), "trace has", "root_agent"),
    "instance": (
        lambda t: t["agent_instance_by_id"]["planner-1"].update(role="boss"),
        "instance 'planner-1'",
        "role",
    ),
    "interaction (tool_available typo)": (
        lambda t: _searcher(t).update(
            tool_available=[{"name": "a", "description": "b", "parameters": "{}"}]
        ),
        "instance 'searcher-1' interaction 0",
        "tool_available",
    ),
    "input message": (
        lambda t: _searcher(t)["input_messages"][0].update(name="alice"),
        "input_messages[0]",
        "name",
    ),
    "output message": (
        lambda t: _searcher(t)["output_messages"][0].update(role="assistant"),
        "output_messages[0]",
        "role",
    ),
}


@pytest.mark.parametrize("case", list(UNKNOWN_TRACE_FIELDS), ids=list(UNKNOWN_TRACE_FIELDS))
async def test_unknown_trace_field_is_refused_naming_it(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    edit, where, name = UNKNOWN_TRACE_FIELDS[case]
    route = router.post(TRACE).respond(200, json=_trace_answer())
    client = flavor.client()
    with pytest.raises(MalformedError) as caught:
        await flavor.call(client.evaluate_trace, _edited(edit), CRITERIA[0])
    message = str(caught.value)
    assert where in message
    assert repr(name) in message
    assert "unknown field" in message
    assert route.call_count == 0


OPEN_TOOL_OBJECTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "tool call": lambda t: _searcher(t)["output_messages"][0].update(
        type="tool_call",
        content={"id": "c1", "name": "search", "parameters": "{}", "x_vendor": "kept"},
    ),
    "tool response": lambda t: _searcher(t)["input_messages"].append(
        {"role": "tool", "content": {"id": "c1", "response": "ok", "x_vendor": "kept"}}
    ),
    "tool definition": lambda t: _searcher(t).update(
        tools_available=[
            {"name": "search", "description": "d", "parameters": "{}", "x_vendor": "kept"}
        ]
    ),
}


@pytest.mark.parametrize("case", list(OPEN_TOOL_OBJECTS), ids=list(OPEN_TOOL_OBJECTS))
async def test_the_three_tool_objects_stay_open_and_their_extra_fields_are_sent(
    flavor: Flavor, router: respx.MockRouter, case: str
) -> None:
    trace = _edited(OPEN_TOOL_OBJECTS[case])
    route = router.post(TRACE).respond(200, json=_trace_answer())
    client = flavor.client()
    await flavor.call(client.evaluate_trace, trace, CRITERIA[0])
    assert body_of(route.calls.last)["trace"] == trace
    assert '"x_vendor":"kept"' in route.calls.last.request.content.decode()


@pytest.mark.parametrize(
    "tools",
    [
        [{"name": "search"}],
        [{"name": "a", "description": "b", "parameters": "{}"}, "search"],
        "search",
        {"name": "a", "description": "b", "parameters": "{}"},
    ],
    ids=["definition-without-fields", "string-in-list", "string", "one-dict"],
)
async def test_bad_tools_available_is_refused_not_an_attribute_error(
    flavor: Flavor, router: respx.MockRouter, tools: Any
) -> None:
    trace = _edited(lambda t: _searcher(t).update(tools_available=tools))
    route = router.post(TRACE).respond(200, json=_trace_answer())
    client = flavor.client()
    with pytest.raises(MalformedError, match="tools_available must be a list of tool"):
        await flavor.call(client.evaluate_trace, trace, CRITERIA[0])
    assert route.call_count == 0


# Identical criteria: scored once, returned at every position as equal but distinct objects.


async def test_identical_criteria_in_evaluate_are_sent_once_and_returned_at_each_position(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    scores = {CRITERIA[0]: 0.25, CRITERIA[1]: 0.75}

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=score_json(scores[criterion_of(request)]))

    route = reward_route(router, side_effect=respond)
    client = flavor.client()
    given = [CRITERIA[0], CRITERIA[1], CRITERIA[0], CRITERIA[0]]
    results = await flavor.call(client.evaluate, MESSAGES, given)
    assert route.call_count == 2
    assert sorted(criterion_of(call.request) for call in route.calls) == sorted(CRITERIA)
    assert [r.score for r in results] == [0.25, 0.75, 0.25, 0.25]
    assert results[0] == results[2] == results[3]
    assert len({id(r) for r in results}) == 4
    # Distinct all the way down: changing one position leaves the others as they were.
    results[2].explanation = "edited"
    results[2].additional_properties["mine"] = 1
    assert results[0].explanation == "Meets it."
    assert results[3].additional_properties == {}


async def test_identical_background_criteria_are_sent_once(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.post(REWARD_BACKGROUND).respond(200, json={"task_id": "t-1"})
    client = flavor.client()
    results = await flavor.call(client.evaluate, MESSAGES, [CRITERIA[0]] * 3, block=False)
    assert route.call_count == 1
    assert results == [{"task_id": "t-1"}] * 3
    assert len({id(r) for r in results}) == 3


async def test_identical_evaluator_names_are_sent_once(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    results = await flavor.call(client.evaluate, MESSAGES, evaluator_name=["tone", "tone"])
    assert route.call_count == 1
    assert body_of(route.calls.last)["evaluator_name"] == "tone"
    assert results[0] == results[1]
    assert results[0] is not results[1]


async def test_identical_criteria_in_evaluate_trace_are_sent_once(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = router.post(TRACE).respond(200, json=_trace_answer())
    client = flavor.client()
    results = await flavor.call(client.evaluate_trace, TRACE_DICT, [CRITERIA[0], CRITERIA[0]])
    assert route.call_count == 1
    assert results[0] == results[1]
    assert results[0] is not results[1]
    first = results[0].results_by_agent_name["planner"].results_by_agent_instance_id
    second = results[1].results_by_agent_name["planner"].results_by_agent_instance_id
    assert first["planner-1"] is not second["planner-1"]
    assert first["planner-1"].score == second["planner-1"].score == 0.9


@pytest.mark.parametrize(
    "criteria",
    [
        [CRITERIA[0], CRITERIA[0]],
        (CRITERIA[0], CRITERIA[1], CRITERIA[0]),
    ],
    ids=["list", "tuple"],
)
async def test_duplicate_criteria_in_a_batch_are_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter, criteria: Any
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match="repeats criteria"):
        client.evaluate_batch([_good(0)], criteria)
    assert route.call_count == 0


async def test_a_batch_criterion_that_is_not_valid_unicode_is_refused_before_sending(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=r"criteria\[1\] is not valid Unicode"):
        client.evaluate_batch([_good(0)], [CRITERIA[0], "Reward caf\udce9 answers"])
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"messages": MESSAGES}, "got a single dict"),
        (None, "got NoneType"),
        (5, "got int"),
        ("messages", "got str"),
        (b"messages", "got bytes"),
    ],
    ids=["one-dict", "None", "int", "str", "bytes"],
)
async def test_a_batch_input_that_is_not_a_list_of_items_is_refused_at_the_call(
    flavor: Flavor, router: respx.MockRouter, items: Any, message: str
) -> None:
    route = reward_route(router)
    client = flavor.client()
    with pytest.raises(MalformedError, match=message):
        client.evaluate_batch(items, CRITERIA[0])
    assert route.call_count == 0


async def test_evaluate_never_mutates_what_it_refuses(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    reward_route(router)
    messages = _user("a\ud800")
    before = json.dumps(messages, ensure_ascii=True)
    client = flavor.client()
    with pytest.raises(MalformedError):
        await flavor.call(client.evaluate, messages, CRITERIA[0], tags={"k": "v"})
    assert json.dumps(messages, ensure_ascii=True) == before
