"""Quality gates: evaluate a dataset and hold each criterion to a threshold, for CI.

    composo.gate(dataset, {"Reward ...": {"mean": 0.8}, "Passes if ...": {"pass_rate": 0.95}})

The evaluations go through the client passed as `client=` (one `evaluate_batch` call), so
whatever that client does applies to the gate: its retries, its concurrency limit, and a
result cache if it has one, which makes an unchanged suite re-run for free. Without a client,
a `Composo(cache=cache)` is made from COMPOSO_API_KEY and COMPOSO_BASE_URL. The pytest fixture
`composo_gate` (composo/_pytest_plugin.py) wraps `gate` for tests.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from composo._exceptions import bad_input
from composo._gate_report import (
    DEFAULT_WORST,
    GateReport,
    GateSpec,
    Observation,
    check_spec,
    judge,
)

if TYPE_CHECKING:
    from composo._cache import ResultCache
    from composo._sync_client import Composo

# The tag that tells the repeats of one item apart. The first evaluation carries none, so it
# is the very request a plain `evaluate` would send; repeat r > 0 adds this tag with value r.
# A cache keyed on the request therefore keeps one entry per repeat: an unchanged suite
# re-runs from the cache, and the repeats stay separate judgements instead of one replayed.
REPEAT_TAG: Final = "composo_gate_repeat"


class GateFailure(AssertionError):
    """A gate missed a threshold or its error budget; `report` holds what was found."""

    def __init__(self, report: GateReport) -> None:
        super().__init__(report.message())
        self.report = report


def load_dataset(dataset: object) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The dataset's items and a label for each (its id, else where it was found).

    Args:
        dataset: An iterable of `evaluate_batch` items (`{"messages", "id"?, "system"?,
            "tools"?, "result"?, "tags"?}`), or the path of a JSONL file of them (the input
            format of `composo evaluate`).

    Raises:
        MalformedError: An item that is not a dict, a line that is not JSON, no items.
    """
    items: list[Mapping[str, Any]] = []
    labels: list[str] = []
    if isinstance(dataset, str | os.PathLike):
        path = Path(dataset)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise bad_input(f"cannot read the dataset {path}: {exc}") from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise bad_input(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            _check_item(item, f"{path} line {number}")
            items.append(item)
            labels.append(_label(item, f"line {number}"))
    elif isinstance(dataset, Iterable) and not isinstance(dataset, bytes | Mapping):
        for index, item in enumerate(dataset):
            _check_item(item, f"dataset item {index}")
            items.append(item)
            labels.append(_label(item, f"item {index}"))
    else:
        raise bad_input(
            "dataset must be a list (or other iterable) of dicts with 'messages', or the path "
            f"of a JSONL file of them; got {type(dataset).__name__}"
        )
    if not items:
        raise bad_input("the dataset has no items; a gate over nothing would pass vacuously")
    return items, labels


def _check_item(item: object, where: str) -> None:
    if not isinstance(item, Mapping) or "messages" not in item:
        raise bad_input(f"{where} must be a dict with 'messages', got {type(item).__name__}")


def _label(item: Mapping[str, Any], fallback: str) -> str:
    item_id = item.get("id")
    return fallback if item_id is None else str(item_id)


def _repeats(items: list[Mapping[str, Any]], repeat: int) -> Iterator[Mapping[str, Any]]:
    """Each item `repeat` times in a row: evaluation number i * repeat + r is item i's r-th."""
    for item in items:
        yield item
        tags = item.get("tags")
        for r in range(1, repeat):
            if tags is None or isinstance(tags, Mapping):
                yield {**item, "tags": {**(tags or {}), REPEAT_TAG: r}}
            else:
                yield item  # bad tags: the batch reports the item's error as usual


class _Item:
    """One item against one criterion, filled in as results arrive."""

    __slots__ = ("errors", "explanation", "lowest", "not_applicable", "scores")

    def __init__(self) -> None:
        self.scores: list[float] = []
        self.errors: list[tuple[int, str]] = []
        self.not_applicable = 0
        self.explanation: str | None = None
        self.lowest = float("inf")


def evaluate_gate(
    client: Composo,
    items: list[Mapping[str, Any]],
    labels: list[str],
    spec: GateSpec,
    *,
    backend: str,
    concurrency: int | None = None,
    model_core: str | None = None,
) -> GateReport:
    """Evaluate every item against every criterion `spec.repeat` times and judge the results.

    Returns the report whether or not the gate passed.
    """
    table = [[_Item() for _ in items] for _ in spec.criteria]
    batch = client.evaluate_batch(
        _repeats(items, spec.repeat),
        list(spec.criteria),
        concurrency=concurrency,
        model_core=model_core,
    )
    with batch:
        for result in batch:
            index, repeat = divmod(result.index, spec.repeat)
            entry = table[result.criterion_index][index]
            if result.error is not None:
                entry.errors.append((repeat, f"{type(result.error).__name__}: {result.error}"))
            elif result.score is None:
                entry.not_applicable += 1
            else:
                entry.scores.append(result.score)
                if result.score < entry.lowest:
                    entry.lowest = result.score
                    entry.explanation = result.response.explanation if result.response else None
    criteria = []
    for criterion, minimums, row in zip(spec.criteria, spec.thresholds, table, strict=True):
        observations = [
            Observation(
                item=label,
                scores=tuple(entry.scores),
                errors=tuple(sorted(entry.errors)),
                not_applicable=entry.not_applicable,
                explanation=entry.explanation,
            )
            for label, entry in zip(labels, row, strict=True)
        ]
        criteria.append(judge(criterion, minimums, observations, spec))
    return GateReport(criteria=tuple(criteria), items=len(items), spec=spec, backend=backend)


def run_gate(
    dataset: object,
    thresholds: Mapping[str, Mapping[str, float]],
    *,
    client: Composo | None = None,
    repeat: int = 1,
    pass_k: int | None = None,
    max_error_rate: float = 0.0,
    worst: int = DEFAULT_WORST,
    concurrency: int | None = None,
    model_core: str | None = None,
    backend: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> GateReport:
    """`gate` without the raise: the report, passed or not. `backend` names where the scores
    came from in the report (default: the client's base URL)."""
    spec = check_spec(
        thresholds, repeat=repeat, pass_k=pass_k, max_error_rate=max_error_rate, worst=worst
    )
    items, labels = load_dataset(dataset)
    from composo._sync_client import Composo

    if client is not None and not isinstance(client, Composo):
        raise bad_input(
            f"client must be a composo.Composo, got {type(client).__name__} (a gate runs "
            "synchronously; an AsyncComposo cannot be used here)"
        )
    if client is not None and cache is not None:
        raise bad_input(
            "pass cache= or client=, not both: the cache belongs to the client (Composo(cache=...))"
        )
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(Composo(cache=cache))
        return evaluate_gate(
            client,
            items,
            labels,
            spec,
            backend=backend or client.base_url,
            concurrency=concurrency,
            model_core=model_core,
        )


def gate(
    dataset: object,
    thresholds: Mapping[str, Mapping[str, float]],
    *,
    client: Composo | None = None,
    repeat: int = 1,
    pass_k: int | None = None,
    max_error_rate: float = 0.0,
    worst: int = DEFAULT_WORST,
    concurrency: int | None = None,
    model_core: str | None = None,
    cache: ResultCache | bool | str | os.PathLike[str] | None = None,
) -> GateReport:
    """Evaluate a dataset against criteria and fail unless each meets its thresholds.

    For example `gate(dataset, {"Reward ...": {"mean": 0.8}, "Passes if ...":
    {"pass_rate": 0.95}})`. A criterion passes when every metric it names reaches its
    minimum and at most `max_error_rate` of its evaluations failed. Failed evaluations
    never count as passes: they are left out of the metrics and held to that budget, which
    is 0 by default, so one error fails the gate. A criterion with no scored item fails.

    Args:
        dataset: A list (or iterable) of `evaluate_batch` items, or the path of a JSONL file
            of them.
        thresholds: Criterion to {metric: minimum}; the metrics are "mean" (the mean item
            score) and, for "Passes if" / "Fails if" criteria, "pass_rate" (the share of
            items that pass).
        client: The `Composo` client to evaluate with: its retries, limits and cache apply.
            Default: a `Composo()` from the environment, closed afterwards.
        repeat: Evaluate each item this many times, to tame judge noise.
        pass_k: With `repeat`, an item's score is its k-th best repeat (a binary item passes
            when it passed in at least k of `repeat`); default: the mean of its repeats.
        max_error_rate: The share of a criterion's evaluations allowed to fail.
        worst: How many of the lowest-scoring items a report keeps per criterion.
        concurrency: Evaluations in flight; default: the client's limit.
        model_core: The evaluation model core, overriding the client's.
        cache: Without `client`, the result cache of the client made here (True for the
            default cache, a path, or a `ResultCache`): an unchanged suite then re-runs
            without a request. Each repeat is its own entry (it carries its own tag).

    Returns:
        The `GateReport`, when the gate passed.

    Raises:
        GateFailure: A criterion missed a threshold or the error budget (an
            `AssertionError`; its message lists the criterion, threshold, observed value,
            worst items and errors; `.report` holds the report).
        MalformedError: Bad thresholds, options or dataset, found before anything is sent.
    """
    __tracebackhide__ = True
    report = run_gate(
        dataset,
        thresholds,
        client=client,
        repeat=repeat,
        pass_k=pass_k,
        max_error_rate=max_error_rate,
        worst=worst,
        concurrency=concurrency,
        model_core=model_core,
        cache=cache,
    )
    if not report.passed:
        raise GateFailure(report)
    return report
