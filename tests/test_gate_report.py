"""Tests for composo._gate_report: threshold checks, the repeat rules, verdicts and renderings."""

from __future__ import annotations

from typing import Any

import pytest

from composo import MalformedError
from composo._gate_report import (
    GateReport,
    GateSpec,
    Observation,
    check_spec,
    item_value,
    judge,
)

GRADED = "Reward answers that cite the refund policy"
BINARY = "Passes if the reply is polite"


def spec(thresholds: dict[str, dict[str, float]] | None = None, **options: Any) -> GateSpec:
    return check_spec(thresholds or {GRADED: {"mean": 0.5}}, **options)


def test_check_spec_keeps_criteria_and_minimums_in_order() -> None:
    checked = spec({GRADED: {"mean": 0.8}, BINARY: {"pass_rate": 0.95, "mean": 0.9}})

    assert checked.criteria == (GRADED, BINARY)
    assert checked.thresholds == ((("mean", 0.8),), (("pass_rate", 0.95), ("mean", 0.9)))
    assert (checked.repeat, checked.pass_k, checked.max_error_rate) == (1, None, 0.0)


@pytest.mark.parametrize(
    ("thresholds", "options", "message"),
    [
        ({}, {}, "thresholds must be a non-empty dict"),
        ([GRADED], {}, "thresholds must be a non-empty dict"),
        ({"Be nice": {"mean": 0.5}}, {}, "must start with one of"),
        ({GRADED: 0.8}, {}, r"must be a dict of metric to minimum"),
        ({GRADED: {"median": 0.8}}, {}, "names 'median'; the metrics are 'mean', 'pass_rate'"),
        ({GRADED: {"pass_rate": 0.8}}, {}, "only 'Passes if' and 'Fails if' criteria have"),
        ({GRADED: {"mean": 1.5}}, {}, r"must be a number in \[0, 1\], got 1.5"),
        ({GRADED: {"mean": True}}, {}, r"must be a number in \[0, 1\], got True"),
        ({GRADED: {"mean": "0.8"}}, {}, r"must be a number in \[0, 1\], got '0.8'"),
        ({GRADED: {"mean": 0.8}}, {"repeat": 0}, "repeat must be an int >= 1"),
        ({GRADED: {"mean": 0.8}}, {"repeat": 3, "pass_k": 4}, r"pass_k must be an int from 1"),
        ({GRADED: {"mean": 0.8}}, {"pass_k": 0}, r"pass_k must be an int from 1 to repeat"),
        ({GRADED: {"mean": 0.8}}, {"max_error_rate": 2}, "max_error_rate must be a number"),
        ({GRADED: {"mean": 0.8}}, {"worst": -1}, "worst must be an int >= 0"),
    ],
)
def test_check_spec_refuses_bad_arguments(
    thresholds: object, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedError, match=message):
        check_spec(thresholds, **options)


@pytest.mark.parametrize(
    ("scores", "pass_k", "expected"),
    [
        ((0.4,), None, 0.4),
        ((0.2, 0.4, 0.9), None, 0.5),  # the mean of the repeats
        ((1.0, 0.0, 1.0), None, 2 / 3),  # a binary item: the share of repeats that passed
        ((0.2, 0.4, 0.9), 1, 0.9),  # 1 of 3: the best repeat
        ((0.2, 0.4, 0.9), 2, 0.4),  # 2 of 3: reached in at least two repeats
        ((0.2, 0.4, 0.9), 3, 0.2),  # 3 of 3: the worst repeat
        ((1.0, 0.0, 1.0), 2, 1.0),  # passed in 2 of 3
        ((1.0, 0.0, 0.0), 2, 0.0),  # passed in 1 of 3
        ((), None, None),  # nothing scored
        ((1.0,), 2, None),  # fewer scored repeats than k
    ],
)
def test_item_value_applies_the_repeat_rule(
    scores: tuple[float, ...], pass_k: int | None, expected: float | None
) -> None:
    value = item_value(scores, pass_k)

    assert value == (None if expected is None else pytest.approx(expected))


def observations(*rows: tuple[str, tuple[float, ...]]) -> list[Observation]:
    return [Observation(item, scores, explanation=f"why {item}") for item, scores in rows]


def test_a_criterion_passes_when_its_mean_reaches_the_minimum() -> None:
    report = judge(GRADED, [("mean", 0.5)], observations(("a", (0.4,)), ("b", (0.6,))), spec())

    assert report.passed
    assert report.mean == pytest.approx(0.5)
    assert report.pass_rate is None
    assert [(c.metric, c.observed, c.passed) for c in report.checks] == [
        ("mean", pytest.approx(0.5), True),
        ("error_rate", 0.0, True),
    ]


def test_a_binary_criterion_reports_its_pass_rate() -> None:
    rows = observations(("a", (1.0,)), ("b", (0.0,)), ("c", (1.0,)), ("d", (1.0,)))

    report = judge(BINARY, [("pass_rate", 0.8)], rows, spec({BINARY: {"pass_rate": 0.8}}))

    assert not report.passed
    assert report.pass_rate == 0.75
    assert [item.item for item in report.worst] == ["b", "a", "c", "d"]


@pytest.mark.parametrize(
    ("pass_k", "expected_rate", "passed"),
    [(None, pytest.approx(4 / 6), False), (1, 1.0, True), (2, 0.5, False)],
)
def test_repeat_rules_decide_a_noisy_binary_criterion(
    pass_k: int | None, expected_rate: object, passed: bool
) -> None:
    rows = observations(("a", (1.0, 1.0, 1.0)), ("b", (0.0, 1.0, 0.0)))
    gate = spec({BINARY: {"pass_rate": 0.9}}, repeat=3, pass_k=pass_k)

    report = judge(BINARY, [("pass_rate", 0.9)], rows, gate)

    assert report.pass_rate == expected_rate
    assert report.passed is passed
    assert report.pairs == 6


def test_errors_fail_the_gate_and_are_left_out_of_the_mean() -> None:
    rows = [
        Observation("a", (0.9,)),
        Observation("b", (), errors=((0, "APITimeoutError: took too long"),)),
    ]

    report = judge(GRADED, [("mean", 0.5)], rows, spec())

    assert not report.passed
    assert report.mean == 0.9
    assert (report.scored, report.errors, report.error_rate) == (1, 1, 0.5)
    assert [(e.item, e.message) for e in report.errored] == [
        ("b", "APITimeoutError: took too long")
    ]
    assert report.checks[-1].passed is False


def test_an_error_budget_lets_a_few_errors_through() -> None:
    rows = [Observation(f"i{n}", (0.9,)) for n in range(9)]
    rows.append(Observation("i9", (), errors=((0, "APIError: 503"),)))

    report = judge(GRADED, [("mean", 0.5)], rows, spec(max_error_rate=0.1))

    assert report.passed
    assert report.errors == 1


def test_a_criterion_with_nothing_scored_fails_however_low_its_threshold() -> None:
    rows = [Observation("a", (), errors=((0, "APIError: 500"),))]

    report = judge(GRADED, [("mean", 0.0)], rows, spec(max_error_rate=1.0))

    assert not report.passed
    assert report.mean is None
    assert report.checks[0].observed is None


def test_not_applicable_items_are_counted_apart() -> None:
    rows = [Observation("a", (0.7,)), Observation("b", (), not_applicable=1)]

    report = judge(GRADED, [("mean", 0.5)], rows, spec())

    assert report.passed
    assert (report.scored, report.not_applicable, report.errors) == (1, 1, 0)


def test_worst_items_are_the_lowest_scores_first_then_input_order() -> None:
    rows = observations(("a", (0.5,)), ("b", (0.1,)), ("c", (0.5,)), ("d", (0.3,)))

    report = judge(GRADED, [("mean", 0.9)], rows, spec(worst=3))

    assert [(i.item, i.score, i.explanation) for i in report.worst] == [
        ("b", 0.1, "why b"),
        ("d", 0.3, "why d"),
        ("a", 0.5, "why a"),
    ]


def failing_report() -> GateReport:
    gate = spec({GRADED: {"mean": 0.8}, BINARY: {"pass_rate": 0.5}}, repeat=1)
    graded = judge(
        GRADED,
        [("mean", 0.8)],
        observations(("refund-1", (0.9,)), ("refund-2", (0.2,)), ("refund-3", (0.6,))),
        gate,
    )
    binary = judge(
        BINARY,
        [("pass_rate", 0.5)],
        [
            Observation("refund-1", (1.0,)),
            Observation("refund-2", (1.0,)),
            Observation("refund-3", (), errors=((0, "APIError: 503 from the service"),)),
        ],
        gate,
    )
    return GateReport(criteria=(graded, binary), items=3, spec=gate, backend="the mock")


def test_the_failure_message_names_criterion_threshold_observed_and_worst_items() -> None:
    message = failing_report().message()

    assert message.splitlines() == [
        "composo gate failed: 2 of 2 criteria missed their thresholds",
        "3 items, one evaluation per item, scored by the mock",
        "",
        f"FAIL  {GRADED}",
        "      mean 0.567, needs >= 0.800  <- missed",
        "      3 of 3 items scored",
        "      worst items:",
        "        refund-2  0.200  why refund-2",
        "        refund-3  0.600  why refund-3",
        "        refund-1  0.900  why refund-1",
        f"FAIL  {BINARY}",
        "      pass_rate 1.000, needs >= 0.500",
        "      errors: 1 of 3 evaluations failed (33.3%), allowed 0.0%  <- missed",
        "      2 of 3 items scored",
        "      worst items:",
        "        refund-1  1.000",
        "        refund-2  1.000",
        "      errors:",
        "        refund-3: APIError: 503 from the service",
    ]


def test_the_markdown_summary_has_a_row_per_check_and_the_reasons() -> None:
    markdown = failing_report().markdown("tests/test_bot.py::test_refunds")

    lines = markdown.splitlines()
    assert lines[0] == "### ❌ Composo gate failed: tests/test_bot.py::test_refunds"
    assert lines[4] == "| criterion | metric | needs | observed | items scored | errors | result |"
    assert f"| {GRADED} | mean | ≥ 0.800 | 0.567 | 3/3 | 0 | ❌ fail |" in lines
    assert f"| {BINARY} | pass_rate | ≥ 0.500 | 1.000 | 2/3 | 1 | ✅ pass |" in lines
    assert f"| {BINARY} | error_rate | ≤ 0.0% | 33.3% | 2/3 | 1 | ❌ fail |" in lines
    assert f"<details><summary>Why: {GRADED}</summary>" in lines
    assert "| refund-2 | 0.200 | why refund-2 |" in lines
    assert "- error, refund-3: APIError: 503 from the service" in lines


def test_junit_properties_carry_each_criterion_s_numbers() -> None:
    properties = dict(failing_report().properties())

    assert properties["composo_gate.passed"] == "false"
    assert properties["composo_gate.backend"] == "the mock"
    assert properties[f"composo_gate[{GRADED}].mean"] == "0.566667"
    assert properties[f"composo_gate[{GRADED}].mean.threshold"] == "0.8"
    assert properties[f"composo_gate[{GRADED}].passed"] == "false"
    assert properties[f"composo_gate[{BINARY}].pass_rate"] == "1"
    assert properties[f"composo_gate[{BINARY}].errors"] == "1"
    assert f"composo_gate[{GRADED}].pass_rate" not in properties
