"""Tests for composo._compare: reading run files, pairing records, and what is compared."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from composo._compare import (
    ERRORED,
    NOT_APPLICABLE,
    SCORED,
    MalformedRecord,
    ParsedRecord,
    RunFileError,
    compare_runs,
    parse_record,
)
from tests._runs_util import CORRECT, POLITE, record, write_run


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"line": 3, "id": "a", "criterion": "Reward x", "score": 0.25, "explanation": "e"}',
            ParsedRecord("Reward x", "a", False, SCORED, 0.25),
        ),
        ('{"line": 3, "id": 7, "criterion": "Reward x", "score": 1}', (7, SCORED)),
        ('{"line": 3, "id": null, "criterion": "Reward x", "score": 0}', ("line 3", SCORED)),
        ('{"line": 4, "criterion": "Reward x", "score": 0.5}', ("line 4", SCORED)),
        ('{"line": 3, "id": "a", "criterion": "Reward x", "score": null}', ("a", NOT_APPLICABLE)),
        (
            '{"line": 3, "id": "a", "criterion": "Reward x", '
            '"error": {"type": "APIError", "status_code": 503, "message": "down"}}',
            ("a", ERRORED),
        ),
    ],
)
def test_parse_record_reads_what_composo_evaluate_writes(
    line: str, expected: ParsedRecord | tuple[object, int]
) -> None:
    parsed = parse_record(line)

    if isinstance(expected, ParsedRecord):
        assert parsed == expected
    else:
        assert (parsed.item, parsed.status) == (str(expected[0]), expected[1])
        assert parsed.by_line is str(expected[0]).startswith("line ")
        assert math.isnan(parsed.score) is (parsed.status != SCORED)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "criterion": "Reward x", "score": 0.5', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ('{"id": "a", "score": 0.5}', "no criterion"),
        ('{"id": "a", "criterion": "", "score": 0.5}', "no criterion"),
        ('{"id": null, "criterion": "Reward x", "score": 0.5}', "neither an id nor a line"),
        ('{"id": ["a"], "criterion": "Reward x", "score": 0.5}', "id must be a string"),
        ('{"id": "a", "criterion": "Reward x"}', "neither a score nor an error"),
        ('{"id": "a", "criterion": "Reward x", "score": 1.5}', "score must be a number in"),
        ('{"id": "a", "criterion": "Reward x", "score": "0.5"}', "score must be a number in"),
        ('{"id": "a", "criterion": "Reward x", "score": true}', "score must be a number in"),
        (b'{"id": "\xff", "criterion": "Reward x", "score": 0.5}', "not UTF-8"),
    ],
)
def test_parse_record_says_what_is_wrong_with_a_line(line: str | bytes, message: str) -> None:
    with pytest.raises(MalformedRecord, match=message):
        parse_record(line)


def test_pairs_by_id_and_criterion_whatever_the_line_order(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "base.jsonl",
        [record("a", CORRECT, 0.9), record("b", CORRECT, 0.5), record("a", POLITE, 1.0)],
    )
    new = write_run(
        tmp_path / "new.jsonl",
        [record("a", POLITE, 0.0), record("b", CORRECT, 0.7), record("a", CORRECT, 0.4)],
    )

    comparison = compare_runs(base, new)

    correct, polite = comparison.criteria
    assert (correct.criterion, correct.pairs) == (CORRECT, 2)
    assert correct.base_mean == pytest.approx(0.7)
    assert correct.new_mean == pytest.approx(0.55)
    assert correct.difference == pytest.approx(-0.15)
    assert [(c.item, c.base, c.new) for c in correct.regressed] == [("a", 0.9, 0.4)]
    assert correct.base_pass_rate is None
    assert (polite.binary, polite.base_pass_rate, polite.new_pass_rate) == (True, 1.0, 0.0)
    assert polite.base_histogram == (0, 1)
    assert polite.new_histogram == (1, 0)


def test_records_without_an_id_pair_by_line(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b.jsonl", [record(None, CORRECT, 0.2, line=5)])
    new = write_run(tmp_path / "n.jsonl", [record(None, CORRECT, 0.6, line=5)])

    (correct,) = compare_runs(base, new).criteria

    assert correct.pairs == 1
    assert correct.difference == pytest.approx(0.4)


def test_an_id_that_reads_like_a_line_does_not_pair_with_that_line(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b.jsonl", [record("line 5", CORRECT, 0.2, line=1)])
    new = write_run(tmp_path / "n.jsonl", [record(None, CORRECT, 0.6, line=5)])

    (correct,) = compare_runs(base, new).criteria

    assert (correct.pairs, correct.only_base, correct.only_new) == (0, 1, 1)


def test_pairs_in_one_run_only_are_counted_and_named(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "b.jsonl",
        [record(f"i{n}", CORRECT, 0.5) for n in range(8)],
    )
    new = write_run(
        tmp_path / "n.jsonl",
        [record("i0", CORRECT, 0.5), record("x1", CORRECT, 0.5), record("x2", CORRECT, 0.5)],
    )

    (correct,) = compare_runs(base, new).criteria

    assert (correct.pairs, correct.only_base, correct.only_new) == (1, 7, 2)
    assert correct.only_base_items == ("i1", "i2", "i3", "i4", "i5")
    assert correct.only_new_items == ("x1", "x2")


def test_errored_and_null_records_are_counted_not_compared(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "b.jsonl",
        [
            record("a", CORRECT, 0.5),
            record("b", CORRECT, error="service unavailable"),
            record("c", CORRECT, None),
            record("d", CORRECT, 0.9),
        ],
    )
    new = write_run(
        tmp_path / "n.jsonl",
        [
            record("a", CORRECT, 0.6),
            record("b", CORRECT, 0.1),
            record("c", CORRECT, 0.1),
            record("d", CORRECT, error="timed out"),
        ],
    )

    (correct,) = compare_runs(base, new).criteria

    assert correct.pairs == 1
    assert correct.difference == pytest.approx(0.1)
    assert (correct.errored_base, correct.errored_new) == (1, 1)
    assert [(e.item, e.run, e.message) for e in correct.errored] == [
        ("b", "base", "APIError: service unavailable"),
        ("d", "new", "APIError: timed out"),
    ]
    assert (correct.not_applicable_base, correct.not_applicable_new) == (1, 0)
    assert correct.regressed == ()


def test_most_regressed_items_come_worst_first_with_the_new_explanation(tmp_path: Path) -> None:
    scores = {"a": (0.9, 0.1), "b": (0.5, 0.45), "c": (0.2, 0.9), "d": (0.8, 0.3), "e": (1, 0.5)}
    base = write_run(tmp_path / "b.jsonl", [record(k, CORRECT, v[0]) for k, v in scores.items()])
    new = write_run(
        tmp_path / "n.jsonl",
        [record(k, CORRECT, v[1], explanation=f"why {k}") for k, v in scores.items()],
    )

    (correct,) = compare_runs(base, new, top=3).criteria

    assert [(c.item, c.difference, c.explanation) for c in correct.regressed] == [
        ("a", pytest.approx(-0.8), "why a"),
        ("d", pytest.approx(-0.5), "why d"),
        ("e", pytest.approx(-0.5), "why e"),
    ]


def test_duplicate_keys_are_reported_with_their_lines_not_merged(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "b.jsonl",
        [record("a", CORRECT, 0.1), record("b", CORRECT, 0.2), record("a", CORRECT, 0.9)],
    )
    new = write_run(tmp_path / "n.jsonl", [record("a", CORRECT, 0.5)])

    with pytest.raises(RunFileError) as caught:
        compare_runs(base, new)

    assert caught.value.lines == [
        f"{base}: 1 record repeats an (item, criterion) pair; none was merged:",
        f"{base}: line 3 repeats line 1: item 'a', criterion '{CORRECT}'",
    ]


def test_malformed_lines_of_both_files_are_all_reported(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "b.jsonl",
        [record("a", CORRECT, 0.1), "{not json", "", record("b", CORRECT, 7)],
    )
    new = write_run(tmp_path / "n.jsonl", ["[]"] * 25)

    with pytest.raises(RunFileError) as caught:
        compare_runs(base, new)

    lines = caught.value.lines
    assert lines[0].startswith(f"{base}: line 2: not valid JSON (Expecting property name")
    assert lines[1] == f"{base}: line 4: score must be a number in [0, 1] or null, got 7"
    assert lines[2] == f"{new}: line 1: expected a JSON object, got an array"
    assert lines[-1] == f"{new}: ... and 5 more"
    assert len(lines) == 2 + 20 + 1


def test_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    empty = write_run(tmp_path / "empty.jsonl", [])

    with pytest.raises(RunFileError) as caught:
        compare_runs(tmp_path / "missing.jsonl", empty)

    assert caught.value.lines == [
        f"{tmp_path / 'missing.jsonl'}: cannot read it: No such file or directory",
        f"{empty}: holds no records",
    ]


def test_intervals_are_seeded_per_criterion(tmp_path: Path) -> None:
    rows = [(f"i{n}", (n * 37 % 100) / 100, (n * 53 % 100) / 100) for n in range(60)]
    base = write_run(tmp_path / "b.jsonl", [record(i, CORRECT, b) for i, b, _ in rows])
    new = write_run(tmp_path / "n.jsonl", [record(i, CORRECT, n) for i, _, n in rows])
    both_base = write_run(
        tmp_path / "bb.jsonl",
        [
            record(i, c, b)
            for i, b, _ in rows
            for c in (POLITE.replace("Passes", "Reward"), CORRECT)
        ],
    )
    both_new = write_run(
        tmp_path / "bn.jsonl",
        [
            record(i, c, n)
            for i, _, n in rows
            for c in (POLITE.replace("Passes", "Reward"), CORRECT)
        ],
    )

    alone = compare_runs(base, new, seed=4).criteria[0]
    beside_another = compare_runs(both_base, both_new, seed=4).criteria[1]

    assert alone.criterion == beside_another.criterion == CORRECT
    assert alone.interval == beside_another.interval
    assert compare_runs(base, new, seed=5).criteria[0].interval != alone.interval
