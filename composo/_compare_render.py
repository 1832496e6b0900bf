"""`composo compare` as text: the terminal table and Markdown for pull-request comments."""

from __future__ import annotations

from collections.abc import Callable

from composo._compare import Comparison, CriterionComparison
from composo._markdown import cell
from composo._stats import excludes_zero

# Widest criterion shown in the terminal table before it is cut (the full text is below it).
_CRITERION_WIDTH = 44
# Explanation characters quoted per most-regressed item in the terminal and in Markdown.
_EXPLANATION_WIDTH = 120


def score(value: float | None) -> str:
    """A mean or score with three decimals; "-" for none."""
    return "-" if value is None else f"{value:.3f}"


def change(value: float | None) -> str:
    """A difference with its sign."""
    return "-" if value is None else f"{value:+.3f}"


def interval(bounds: tuple[float, float] | None) -> str:
    """A confidence interval as [low, high]."""
    return "-" if bounds is None else f"[{bounds[0]:+.3f}, {bounds[1]:+.3f}]"


def rate(value: float | None) -> str:
    """A pass rate as a percentage."""
    return "-" if value is None else f"{value:.1%}"


def pass_rates(c: CriterionComparison, arrow: str) -> str:
    """Both runs' pass rates of a binary criterion, e.g. 91.0% -> 87.5%."""
    if not c.binary or c.pairs == 0:
        return "-"
    return f"{rate(c.base_pass_rate)} {arrow} {rate(c.new_pass_rate)}"


def verdict(c: CriterionComparison) -> str:
    """One word or two on what happened to a criterion."""
    if c.regression:
        return "REGRESSION"
    if c.pairs == 0:
        return "no pairs"
    if excludes_zero(c.interval):
        assert c.difference is not None
        return "lower" if c.difference < 0 else "higher"
    return "no clear change"


def method(comparison: Comparison) -> str:
    """One sentence on how the numbers were computed."""
    level = f"{comparison.level:.0%}"
    text = (
        f"change = mean of new - base over the pairs scored in both runs, with a {level} "
        f"bootstrap interval ({comparison.resamples} resamples, seed {comparison.seed})"
    )
    if comparison.delta is not None:
        text += (
            f"; a regression is a drop of more than {comparison.delta:g} with the interval "
            "wholly below 0"
        )
    return text


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_text(comparison: Comparison, top: int) -> str:
    """The report for a terminal: a table, then the details of each criterion."""
    columns = (
        ("criterion", "<"),
        ("pairs", ">"),
        ("base", ">"),
        ("new", ">"),
        ("change", ">"),
        (f"{comparison.level:.0%} interval", "<"),
        ("pass rate", "<"),
        ("only b/n", ">"),
        ("errors b/n", ">"),
        ("verdict", "<"),
    )
    rows = [
        (
            _cut(c.criterion, _CRITERION_WIDTH),
            str(c.pairs),
            score(c.base_mean),
            score(c.new_mean),
            change(c.difference),
            interval(c.interval),
            pass_rates(c, "->"),
            f"{c.only_base}/{c.only_new}",
            f"{c.errored_base}/{c.errored_new}",
            verdict(c),
        )
        for c in comparison.criteria
    ]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, (name, _) in enumerate(columns)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, columns, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [
        f"composo compare: {comparison.base} ({comparison.base_records} records) -> "
        f"{comparison.new} ({comparison.new_records} records)",
        method(comparison),
        "",
        line(tuple(name for name, _ in columns)),
        line(tuple("-" * width for width in widths)),
        *(line(row) for row in rows),
    ]
    for c in comparison.criteria:
        details = _text_details(c, top)
        if details:
            out += ["", c.criterion, *details]
    return "\n".join(out)


def _text_details(c: CriterionComparison, top: int) -> list[str]:
    lines = []
    if c.regressed and top:
        lines.append("  most regressed:")
        width = max(len(change.item) for change in c.regressed)
        for item in c.regressed:
            explanation = _cut(item.explanation or "", _EXPLANATION_WIDTH)
            lines.append(
                f"    {item.item:<{width}}  {score(item.base)} -> {score(item.new)}  "
                f"{change(item.difference)}  {explanation}".rstrip()
            )
    return lines + [f"  {note}" for note in notes(c, item=repr, text=str)]


def notes(
    c: CriterionComparison, item: Callable[[str], str], text: Callable[[str], str]
) -> list[str]:
    """What else a criterion's report says: pairs in one run only, errors, null scores.

    `item` quotes an item id and `text` escapes free text for the output format.
    """
    lines = []
    for run, count, items in (
        ("base", c.only_base, c.only_base_items),
        ("new", c.only_new, c.only_new_items),
    ):
        if count:
            shown = ", ".join(item(name) for name in items)
            more = f" and {count - len(items)} more" if count > len(items) else ""
            lines.append(f"only in {run}: {count} ({shown}{more})")
    for record in c.errored:
        lines.append(
            f"error in {record.run}: {item(record.item)}: {text(_cut(record.message, 160))}"
        )
    if c.errored_base + c.errored_new > len(c.errored):
        lines.append(f"errors: {c.errored_base} in base, {c.errored_new} in new")
    if c.not_applicable_base or c.not_applicable_new:
        lines.append(
            f"scored null (the criterion did not apply): {c.not_applicable_base} in base, "
            f"{c.not_applicable_new} in new"
        )
    return lines


def _code(text: str) -> str:
    return f"<code>{cell(text)}</code>"


def format_markdown(comparison: Comparison, top: int) -> str:
    """The report as GitHub-flavoured Markdown, for a pull-request comment or a step summary."""
    regressions = comparison.regressions
    headline = (
        f"**{len(regressions)} regression{'s' if len(regressions) != 1 else ''}**"
        if comparison.delta is not None
        else f"{len(comparison.criteria)} criteria"
    )
    out = [
        "### composo compare",
        "",
        f"{_code(str(comparison.base))} → {_code(str(comparison.new))}: {headline}, "
        f"{comparison.pairs} pairs. {cell(method(comparison).capitalize())}.",
        "",
        f"| criterion | pairs | base | new | change | {comparison.level:.0%} interval "
        "| pass rate | only base / new | errors base / new | verdict |",
        "|---|--:|--:|--:|--:|---|---|--:|--:|---|",
    ]
    for c in comparison.criteria:
        word = verdict(c)
        out.append(
            "| "
            + " | ".join(
                (
                    cell(c.criterion),
                    str(c.pairs),
                    score(c.base_mean),
                    score(c.new_mean),
                    change(c.difference),
                    interval(c.interval),
                    pass_rates(c, "→"),
                    f"{c.only_base} / {c.only_new}",
                    f"{c.errored_base} / {c.errored_new}",
                    f"**{word.lower()}**" if c.regression else word,
                )
            )
            + " |"
        )
    for c in comparison.criteria:
        details = _markdown_details(c, top)
        if details:
            summary = f"{cell(c.criterion)}: {verdict(c).lower()}"
            out += ["", f"<details><summary>{summary}</summary>", "", *details, "", "</details>"]
    return "\n".join(out) + "\n"


def _markdown_details(c: CriterionComparison, top: int) -> list[str]:
    lines = []
    if c.regressed and top:
        lines += [
            "| most regressed | base | new | change | explanation (new run) |",
            "|---|--:|--:|--:|---|",
        ]
        for item in c.regressed:
            lines.append(
                f"| {cell(item.item)} | {score(item.base)} | {score(item.new)} | "
                f"{change(item.difference)} | "
                f"{cell(_cut(item.explanation or '', _EXPLANATION_WIDTH))} |"
            )
        lines.append("")
    return lines + [f"- {note}" for note in notes(c, item=_code, text=cell)]
