"""What a quality gate found: its checked thresholds, per-criterion aggregates and verdicts,
and their renderings (the failure message, a Markdown summary, JUnit properties).

Everything here is pure: a report is built from plain per-item scores, so tests feed it
tables instead of a server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeGuard

from composo._exceptions import bad_input
from composo._markdown import cell
from composo._validation import is_binary_criterion, normalize_criteria

# The metrics a threshold may name: the mean item score, and for "Passes if" / "Fails if"
# criteria the share of items that pass.
METRICS: Final = ("mean", "pass_rate")

# Worst items a report keeps per criterion, and errored pairs it quotes per criterion.
DEFAULT_WORST: Final = 5
_ERRORS_QUOTED: Final = 5

# Characters of an explanation quoted in a failure message or summary.
_EXPLANATION_WIDTH: Final = 160


@dataclass(frozen=True, slots=True)
class GateSpec:
    """A gate's thresholds and repeat rule, checked once.

    `thresholds[i]` holds criterion i's (metric, minimum) pairs.
    """

    criteria: tuple[str, ...]
    thresholds: tuple[tuple[tuple[str, float], ...], ...]
    repeat: int
    pass_k: int | None
    max_error_rate: float
    worst: int

    def rule(self) -> str:
        """How an item's repeats make its score, in words."""
        if self.repeat == 1:
            return "one evaluation per item"
        if self.pass_k is None:
            return f"an item scores the mean of its {self.repeat} repeats"
        return f"an item scores its {_ordinal(self.pass_k)} best of {self.repeat} repeats"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_spec(
    thresholds: object,
    *,
    repeat: object = 1,
    pass_k: object = None,
    max_error_rate: object = 0.0,
    worst: object = DEFAULT_WORST,
) -> GateSpec:
    """Check a gate's arguments before anything is sent.

    Raises:
        MalformedError: thresholds not a mapping of criteria to {metric: minimum}; an
            unknown metric, `pass_rate` on a graded criterion, a minimum outside [0, 1];
            repeat below 1; pass_k outside 1..repeat; max_error_rate outside [0, 1]; worst
            below 0.
    """
    if not isinstance(thresholds, Mapping) or not thresholds:
        raise bad_input(
            "thresholds must be a non-empty dict of criteria to {metric: minimum}, e.g. "
            "{'Reward ...': {'mean': 0.8}}"
        )
    criteria, _ = normalize_criteria(list(thresholds))
    checked = []
    for criterion in criteria:
        wanted = thresholds[criterion]
        if not isinstance(wanted, Mapping):
            raise bad_input(
                f"thresholds[{criterion!r}] must be a dict of metric to minimum, e.g. "
                f"{{'mean': 0.8}}; got {type(wanted).__name__}"
            )
        pairs = []
        for metric, minimum in wanted.items():
            if metric not in METRICS:
                raise bad_input(
                    f"thresholds[{criterion!r}] names {metric!r}; the metrics are "
                    f"{', '.join(map(repr, METRICS))}"
                )
            if metric == "pass_rate" and not is_binary_criterion(criterion):
                raise bad_input(
                    f"thresholds[{criterion!r}] sets a pass_rate, which only 'Passes if' and "
                    "'Fails if' criteria have; use 'mean' for a graded criterion"
                )
            if not _is_number(minimum) or not 0.0 <= minimum <= 1.0:
                raise bad_input(
                    f"thresholds[{criterion!r}][{metric!r}] must be a number in [0, 1], "
                    f"got {minimum!r}"
                )
            pairs.append((str(metric), float(minimum)))
        checked.append(tuple(pairs))
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise bad_input(f"repeat must be an int >= 1, got {repeat!r}")
    if pass_k is not None and (
        isinstance(pass_k, bool) or not isinstance(pass_k, int) or not 1 <= pass_k <= repeat
    ):
        raise bad_input(f"pass_k must be an int from 1 to repeat ({repeat}), got {pass_k!r}")
    if not _is_number(max_error_rate) or not 0.0 <= max_error_rate <= 1.0:
        raise bad_input(f"max_error_rate must be a number in [0, 1], got {max_error_rate!r}")
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise bad_input(f"worst must be an int >= 0, got {worst!r}")
    return GateSpec(
        criteria=tuple(criteria),
        thresholds=tuple(checked),
        repeat=repeat,
        pass_k=pass_k,
        max_error_rate=float(max_error_rate),
        worst=worst,
    )


def item_value(scores: Sequence[float], pass_k: int | None) -> float | None:
    """One item's score from its scored repeats: their mean, or with `pass_k` the k-th best.

    The k-th best is the highest score the item reached in at least k repeats, so a binary
    item scores 1 exactly when it passed in at least k of them. An item with no scored repeat,
    or fewer than k, has no score.
    """
    if pass_k is None:
        return math.fsum(scores) / len(scores) if scores else None
    if len(scores) < pass_k:
        return None
    return sorted(scores, reverse=True)[pass_k - 1]


@dataclass(frozen=True, slots=True)
class Observation:
    """One dataset item against one criterion, over all its repeats."""

    item: str
    scores: tuple[float, ...]  # the repeats that were scored
    errors: tuple[tuple[int, str], ...] = ()  # (repeat, "Type: message") of those that failed
    not_applicable: int = 0  # repeats that scored null: the criterion did not apply
    explanation: str | None = None  # of the lowest-scoring repeat


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold held against what was observed; `bound` is ">=" or "<="."""

    metric: str
    bound: str
    threshold: float
    observed: float | None
    passed: bool


@dataclass(frozen=True, slots=True)
class ItemScore:
    """One item's score for a criterion (from its repeats) and the lowest repeat's explanation."""

    item: str
    score: float
    repeats: tuple[float, ...]
    explanation: str | None


@dataclass(frozen=True, slots=True)
class ItemError:
    """One evaluation of an item that failed."""

    item: str
    repeat: int
    message: str


@dataclass(frozen=True, slots=True)
class CriterionReport:
    """One criterion of a gate: its aggregates, the checks on them and the worst items.

    Errored evaluations never count as passes: they are left out of `mean` and `pass_rate`,
    counted in `errors`, and held to the gate's error budget by a check of their own.
    """

    criterion: str
    binary: bool
    items: int
    scored: int
    not_applicable: int
    pairs: int
    errors: int
    mean: float | None
    pass_rate: float | None
    checks: tuple[Check, ...]
    worst: tuple[ItemScore, ...]
    errored: tuple[ItemError, ...]

    @property
    def passed(self) -> bool:
        """Whether every check held."""
        return all(check.passed for check in self.checks)

    @property
    def error_rate(self) -> float:
        """The share of this criterion's evaluations that failed."""
        return self.errors / self.pairs if self.pairs else 0.0


def judge(
    criterion: str,
    minimums: Sequence[tuple[str, float]],
    observations: Sequence[Observation],
    spec: GateSpec,
) -> CriterionReport:
    """Aggregate one criterion's observations and hold them to its thresholds."""
    binary = is_binary_criterion(criterion)
    scored: list[tuple[float, int, Observation]] = []
    errors = 0
    errored: list[ItemError] = []
    not_applicable = 0
    for position, observation in enumerate(observations):
        errors += len(observation.errors)
        for repeat, message in observation.errors:
            if len(errored) < _ERRORS_QUOTED:
                errored.append(ItemError(observation.item, repeat, message))
        value = item_value(observation.scores, spec.pass_k)
        if value is not None:
            scored.append((value, position, observation))
        elif not observation.errors and observation.not_applicable:
            not_applicable += 1
    values = [value for value, _, _ in scored]
    mean = math.fsum(values) / len(values) if values else None
    # A binary item scores 0 or 1 with one evaluation or pass_k, and the share of its repeats
    # that passed under the mean rule; either way the mean is the pass rate.
    rate = mean if binary else None
    observed = {"mean": mean, "pass_rate": rate}
    checks = [
        Check(metric, ">=", minimum, observed[metric], _holds(observed[metric], minimum))
        for metric, minimum in minimums
    ]
    pairs = len(observations) * spec.repeat
    error_rate = errors / pairs if pairs else 0.0
    checks.append(
        Check(
            "error_rate", "<=", spec.max_error_rate, error_rate, error_rate <= spec.max_error_rate
        )
    )
    worst = [
        ItemScore(observation.item, value, observation.scores, observation.explanation)
        for value, _, observation in sorted(scored, key=lambda s: (s[0], s[1]))[: spec.worst]
    ]
    return CriterionReport(
        criterion=criterion,
        binary=binary,
        items=len(observations),
        scored=len(values),
        not_applicable=not_applicable,
        pairs=pairs,
        errors=errors,
        mean=mean,
        pass_rate=rate,
        checks=tuple(checks),
        worst=tuple(worst),
        errored=tuple(errored),
    )


def _holds(observed: float | None, minimum: float) -> bool:
    # No scored item meets no threshold: an all-errored criterion must not pass.
    return observed is not None and observed >= minimum


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def _cut(text: str | None, width: int = _EXPLANATION_WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _describe(check: Check, report: CriterionReport) -> str:
    if check.metric == "error_rate":
        return (
            f"errors: {report.errors} of {report.pairs} evaluations failed "
            f"({check.observed:.1%}), allowed {check.threshold:.1%}"
        )
    if check.observed is None:
        return f"{check.metric}: no item was scored, needs >= {check.threshold:.3f}"
    return f"{check.metric} {check.observed:.3f}, needs >= {check.threshold:.3f}"


@dataclass(frozen=True, slots=True)
class GateReport:
    """Everything a gate found; `passed` when every criterion met every threshold."""

    criteria: tuple[CriterionReport, ...]
    items: int
    spec: GateSpec
    backend: str

    @property
    def passed(self) -> bool:
        """Whether every criterion passed."""
        return all(c.passed for c in self.criteria)

    @property
    def failed(self) -> list[CriterionReport]:
        """The criteria that missed a threshold or the error budget."""
        return [c for c in self.criteria if not c.passed]

    def context(self) -> str:
        """What was run, and where: items, repeats and the service or mock."""
        return f"{self.items} items, {self.spec.rule()}, scored by {self.backend}"

    def message(self) -> str:
        """The report as text: why the gate failed (or that it passed), item by item."""
        failed = self.failed
        head = (
            f"composo gate failed: {len(failed)} of {len(self.criteria)} criteria missed "
            "their thresholds"
            if failed
            else f"composo gate passed: {len(self.criteria)} criteria met their thresholds"
        )
        lines = [head, self.context(), ""]
        for c in self.criteria:
            lines.append(f"{'FAIL' if not c.passed else 'pass'}  {c.criterion}")
            for check in c.checks:
                if check.metric == "error_rate" and not c.errors:
                    continue
                mark = "" if check.passed else "  <- missed"
                lines.append(f"      {_describe(check, c)}{mark}")
            lines.append(
                f"      {c.scored} of {c.items} items scored"
                + (f", {c.not_applicable} not applicable" if c.not_applicable else "")
            )
            if c.passed:
                continue
            if c.worst:
                lines.append("      worst items:")
                width = max(len(item.item) for item in c.worst)
                for item in c.worst:
                    lines.append(
                        f"        {item.item:<{width}}  {item.score:.3f}  "
                        f"{_cut(item.explanation)}".rstrip()
                    )
            if c.errored:
                lines.append("      errors:")
                for error in c.errored:
                    where = f" (repeat {error.repeat + 1})" if self.spec.repeat > 1 else ""
                    lines.append(f"        {error.item}{where}: {_cut(error.message)}")
        return "\n".join(lines).rstrip()

    def markdown(self, title: str) -> str:
        """The report as Markdown for `$GITHUB_STEP_SUMMARY`: a table and the worst items."""
        verdict = "passed" if self.passed else "failed"
        lines = [
            f"### {'✅' if self.passed else '❌'} Composo gate {verdict}: {cell(title)}",
            "",
            cell(self.context()),
            "",
            "| criterion | metric | needs | observed | items scored | errors | result |",
            "|---|---|--:|--:|--:|--:|---|",
        ]
        for c in self.criteria:
            for check in c.checks:
                if check.metric == "error_rate" and not c.errors and check.passed:
                    continue
                if check.metric == "error_rate":
                    needs = f"≤ {check.threshold:.1%}"
                    observed = "-" if check.observed is None else f"{check.observed:.1%}"
                else:
                    needs, observed = f"≥ {check.threshold:.3f}", _number(check.observed)
                lines.append(
                    f"| {cell(c.criterion)} | {check.metric} | {needs} | {observed} | "
                    f"{c.scored}/{c.items} | {c.errors} | "
                    f"{'✅ pass' if check.passed else '❌ fail'} |"
                )
        for c in self.failed:
            lines += ["", f"<details><summary>Why: {cell(c.criterion)}</summary>", ""]
            if c.worst:
                lines += ["| worst item | score | explanation |", "|---|--:|---|"]
                lines += [
                    f"| {cell(i.item)} | {i.score:.3f} | {cell(_cut(i.explanation))} |"
                    for i in c.worst
                ]
            if c.worst and c.errored:
                lines.append("")
            for error in c.errored:
                lines.append(f"- error, {cell(error.item)}: {cell(_cut(error.message))}")
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def properties(self, prefix: str = "composo_gate") -> list[tuple[str, str]]:
        """(name, value) pairs for the JUnit XML report, one set per criterion."""
        props = [
            (f"{prefix}.passed", _flag(self.passed)),
            (f"{prefix}.backend", self.backend),
            (f"{prefix}.items", str(self.items)),
            (f"{prefix}.repeat", str(self.spec.repeat)),
        ]
        for c in self.criteria:
            name = f"{prefix}[{c.criterion}]"
            props.append((f"{name}.passed", _flag(c.passed)))
            props.append((f"{name}.mean", _value(c.mean)))
            if c.binary:
                props.append((f"{name}.pass_rate", _value(c.pass_rate)))
            for check in c.checks:
                if check.metric != "error_rate":
                    props.append((f"{name}.{check.metric}.threshold", _value(check.threshold)))
            props.append((f"{name}.errors", str(c.errors)))
        return props


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
