"""`composo.gate` end to end against the local mock server over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import composo
from composo import AsyncComposo, Composo, GateFailure, MalformedError, MockServer
from composo._gate import REPEAT_TAG
from tests._gate_util import CORRECT, POLITE, regressed, suite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture
def client(server: MockServer) -> Iterator[Composo]:
    server.reset()
    with Composo(api_key="k", base_url=server.base_url) as made:
        yield made


def observed(client: Composo, dataset: object) -> dict[str, float | None]:
    """The means the mock gives a dataset: a gate with thresholds of 0 always passes."""
    report = composo.gate(
        dataset, {CORRECT: {"mean": 0.0}, POLITE: {"pass_rate": 0.0}}, client=client
    )
    return {c.criterion: c.mean for c in report.criteria}


def test_a_gate_that_holds_returns_its_report(client: Composo, server: MockServer) -> None:
    dataset = suite(12)
    means = observed(client, dataset)
    server.reset_counters()

    report = composo.gate(
        dataset,
        {CORRECT: {"mean": means[CORRECT]}, POLITE: {"pass_rate": means[POLITE]}},
        client=client,
    )

    assert report.passed
    assert [c.criterion for c in report.criteria] == [CORRECT, POLITE]
    assert report.backend == server.base_url
    assert server.counters.total == 12 * 2


def test_a_gate_that_misses_raises_an_assertion_error_saying_why(client: Composo) -> None:
    dataset = suite(12)
    means = observed(client, dataset)

    with pytest.raises(GateFailure) as caught:
        composo.gate(dataset, {CORRECT: {"mean": 0.99}, POLITE: {"pass_rate": 0.0}}, client=client)

    assert isinstance(caught.value, AssertionError)
    message = str(caught.value)
    assert message.startswith("composo gate failed: 1 of 2 criteria missed their thresholds")
    assert f"FAIL  {CORRECT}" in message
    assert f"mean {means[CORRECT]:.3f}, needs >= 0.990  <- missed" in message
    assert f"pass  {POLITE}" in message
    worst = caught.value.report.criteria[0].worst
    assert len(worst) == 5
    assert f"        {worst[0].item:<9}  {worst[0].score:.3f}  Synthetic result" in message


def test_repeats_are_separate_requests_told_apart_by_a_tag(
    client: Composo, server: MockServer
) -> None:
    report = composo.gate(suite(4), {CORRECT: {"mean": 0.0}}, client=client, repeat=3, pass_k=2)

    assert server.counters.total == 4 * 3
    tagged = {}
    for repeat in ("1", "2"):
        response = httpx.post(
            f"{server.base_url}/api/v1/evaluations/filter",
            json={"filters": [{"key": REPEAT_TAG, "values": [repeat]}]},
            headers={"API-Key": "k"},
        )
        tagged[repeat] = response.json()["total"]
    assert tagged == {"1": 4, "2": 4}
    # The mock scores the conversation, not the tags: every repeat agrees with the first.
    assert all(len(set(item.repeats)) == 1 for item in report.criteria[0].worst)
    assert report.spec.rule() == "an item scores its 2nd best of 3 repeats"


def test_items_keep_their_own_tags_beside_the_repeat_tag(
    client: Composo, server: MockServer
) -> None:
    dataset = [{**item, "tags": {"suite": "refunds"}} for item in suite(2)]

    composo.gate(dataset, {CORRECT: {"mean": 0.0}}, client=client, repeat=2)

    response = httpx.post(
        f"{server.base_url}/api/v1/evaluations/filter",
        json={"filters": [{"key": "suite", "values": ["refunds"]}]},
        headers={"API-Key": "k"},
    )
    tags = sorted(json.dumps(row["tags"], sort_keys=True) for row in response.json()["evaluations"])
    assert tags == [
        '{"composo_gate_repeat": "1", "suite": "refunds"}',
        '{"composo_gate_repeat": "1", "suite": "refunds"}',
        '{"suite": "refunds"}',
        '{"suite": "refunds"}',
    ]
    assert dataset[0]["tags"] == {"suite": "refunds"}  # the caller's dict is untouched


def test_errored_evaluations_fail_the_gate_and_are_listed(
    client: Composo, server: MockServer
) -> None:
    server.configure(p500=1.0)

    with pytest.raises(GateFailure) as caught:
        composo.gate(suite(2), {CORRECT: {"mean": 0.0}}, client=client)

    message = str(caught.value)
    assert "errors: 2 of 2 evaluations failed (100.0%), allowed 0.0%  <- missed" in message
    assert "mean: no item was scored, needs >= 0.000" in message
    assert "refund-0: APIError:" in message


def test_a_dataset_can_be_a_jsonl_file(client: Composo, tmp_path: Path) -> None:
    path = tmp_path / "suite.jsonl"
    items = suite(3)
    del items[1]["id"]
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n\n", encoding="utf-8")

    report = composo.gate(path, {CORRECT: {"mean": 0.0}}, client=client, worst=3)

    assert sorted(item.item for item in report.criteria[0].worst) == [
        "line 2",
        "refund-0",
        "refund-2",
    ]


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ([], "the dataset has no items"),
        ([{"id": "a"}], "dataset item 0 must be a dict with 'messages'"),
        ("missing.jsonl", "cannot read the dataset missing.jsonl"),
        (42, "dataset must be a list"),
    ],
)
def test_a_bad_dataset_is_refused_before_anything_is_sent(
    client: Composo, server: MockServer, dataset: object, message: str
) -> None:
    with pytest.raises(MalformedError, match=message):
        composo.gate(dataset, {CORRECT: {"mean": 0.5}}, client=client)

    assert server.counters.total == 0


def test_an_async_client_is_refused(server: MockServer) -> None:
    async_client = AsyncComposo(api_key="k", base_url=server.base_url)

    with pytest.raises(MalformedError, match="an AsyncComposo cannot be used here"):
        composo.gate(suite(1), {CORRECT: {"mean": 0.5}}, client=async_client)  # type: ignore[arg-type]


def test_without_a_client_the_gate_reads_the_environment(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset()
    monkeypatch.setenv("COMPOSO_API_KEY", "from-the-environment")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)

    report = composo.gate(suite(2), {CORRECT: {"mean": 0.0}})

    assert report.backend == server.base_url
    assert server.counters.total == 2


# The targets. The mock's score is a hash of the criterion and the conversation, so it says
# nothing about quality; a regression against it is made of replies it scores lower. For each
# item, the better of the two assistant versions (by the mock's CORRECT score) goes into the
# good suite and the worse one into the bad suite.
SIZE = 40


@pytest.fixture(scope="module")
def calibrated(server: MockServer) -> dict[str, Any]:
    with Composo(api_key="k", base_url=server.base_url) as made:
        versions = [suite(SIZE, 0), suite(SIZE, 1)]
        scores = [
            {r.item_id: r.score for r in made.evaluate_batch(version, CORRECT)}
            for version in versions
        ]
        good, bad = [], []
        for index in range(SIZE):
            item = f"refund-{index}"
            better = 0 if (scores[0][item] or 0) >= (scores[1][item] or 0) else 1
            good.append(versions[better][index])
            bad.append(versions[1 - better][index])
        means = observed(made, good)
    # Thresholds just under what the good suite scores, as a team would set them.
    thresholds = {
        CORRECT: {"mean": round((means[CORRECT] or 0.0) - 0.02, 3)},
        POLITE: {"pass_rate": round((means[POLITE] or 0.0) - 0.05, 3)},
    }
    return {"good": good, "bad": bad, "thresholds": thresholds}


def test_the_gate_passes_on_an_unchanged_suite_20_times_in_a_row(
    client: Composo, calibrated: dict[str, Any]
) -> None:
    reports = [
        composo.gate(calibrated["good"], calibrated["thresholds"], client=client) for _ in range(20)
    ]

    assert all(report.passed for report in reports)
    assert len({report.criteria[0].mean for report in reports}) == 1


@pytest.mark.parametrize("seed", range(5))
def test_the_gate_fails_on_a_seeded_regression(
    client: Composo, calibrated: dict[str, Any], seed: int
) -> None:
    dataset = regressed(calibrated["good"], calibrated["bad"], seed)

    with pytest.raises(GateFailure) as caught:
        composo.gate(dataset, calibrated["thresholds"], client=client)

    failed = [c.criterion for c in caught.value.report.failed]
    assert CORRECT in failed


def test_with_a_cache_an_unchanged_suite_reruns_without_a_request_and_repeats_stay_apart(
    server: MockServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "k")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    server.reset()
    thresholds = {CORRECT: {"mean": 0.0}, POLITE: {"pass_rate": 0.0}}
    first = composo.gate(suite(4), thresholds, repeat=3, cache=tmp_path)
    assert server.counters.total == 4 * 2 * 3
    # One entry per repeat: the repeat tag makes each its own request.
    with composo.ResultCache(tmp_path) as cache:
        assert cache.stats().entries == 4 * 2 * 3
    again = composo.gate(suite(4), thresholds, repeat=3, cache=tmp_path)
    assert server.counters.total == 4 * 2 * 3
    assert [c.mean for c in again.criteria] == [c.mean for c in first.criteria]


def test_a_gate_takes_a_cache_or_a_client_not_both(client: Composo, tmp_path: Path) -> None:
    with pytest.raises(MalformedError, match="pass cache= or client=, not both"):
        composo.gate(suite(1), {CORRECT: {"mean": 0.0}}, client=client, cache=tmp_path)
