"""`composo compare --html`: one self-contained page (no script, no network) with a plot of
each criterion's score distributions in both runs, drawn as inline SVG."""

from __future__ import annotations

from html import escape

from composo._compare import Comparison, CriterionComparison
from composo._compare_render import (
    change,
    interval,
    method,
    notes,
    pass_rates,
    score,
    verdict,
)

_BASE_COLOUR = "#9aa5b1"
_NEW_COLOUR = "#2f6fdf"
# The base run's mean line: darker than its bars, so it shows where it crosses them.
_BASE_LINE = "#52606d"

# The plot's size in SVG units (it scales to the page) and its margins: the left one leaves
# room for the percentage labels, the top one for the legend.
_WIDTH, _HEIGHT = 960, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 52, 44

# (top, step) tried for the y axis, as shares of the pairs: the first top at or above the
# tallest bar is used, so bars fill the plot and the gridlines fall on round percentages.
_Y_AXES = (
    (0.05, 0.01),
    (0.1, 0.02),
    (0.15, 0.05),
    (0.2, 0.05),
    (0.25, 0.05),
    (0.3, 0.1),
    (0.4, 0.1),
    (0.5, 0.1),
    (0.6, 0.2),
    (0.8, 0.2),
    (1.0, 0.25),
)

_STYLE = """
:root { color-scheme: light; }
body { margin: 0; background: #f4f6f8; color: #1f2933;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 6px; line-height: 1.35; overflow-wrap: anywhere; }
h3 { font-size: 13px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em;
  color: #52606d; }
p { margin: 4px 0; }
.files code { font-size: 13px; }
.method { color: #52606d; font-size: 13px; max-width: 860px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #e9edf1; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { padding: 7px 8px; border-bottom: 1px solid #e4e7eb; text-align: left;
  vertical-align: top; }
th { font-size: 12px; line-height: 1.3; color: #52606d; font-weight: 600;
  background: #f9fafb; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.criterion { overflow-wrap: anywhere; min-width: 180px; }
td.criterion a { color: inherit; text-decoration: none; }
td.criterion a:hover { text-decoration: underline; }
.summary { border: 1px solid #e4e7eb; border-radius: 8px; overflow: hidden; margin-top: 18px; }
.summary-wrap { overflow-x: auto; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.regression { background: #fde2e1; color: #9b1c1c; }
.lower { background: #fdf0d5; color: #8a4b08; }
.higher { background: #dcf5e8; color: #0b5c36; }
.same { background: #e9edf1; color: #3e4c59; }
section.criterion { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px;
  padding: 18px 20px; margin: 20px 0; }
.stats { color: #3e4c59; font-variant-numeric: tabular-nums; }
.stats b { color: #1f2933; }
figure { margin: 12px 0 0; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  fill: #3e4c59; }
.items td.explanation { color: #3e4c59; font-size: 13px; overflow-wrap: anywhere;
  width: 60%; }
ul.notes { margin: 12px 0 0; padding-left: 18px; color: #3e4c59; }
footer { color: #7b8794; font-size: 12px; margin-top: 28px; }
"""


def _badge(c: CriterionComparison) -> str:
    word = verdict(c)
    kind = {"REGRESSION": "regression", "lower": "lower", "higher": "higher"}.get(word, "same")
    return f'<span class="badge {kind}">{escape(word.lower())}</span>'


def format_html(comparison: Comparison, top: int) -> str:
    """The whole page."""
    base, new = escape(str(comparison.base)), escape(str(comparison.new))
    rows = "\n".join(_summary_row(number, c) for number, c in enumerate(comparison.criteria))
    sections = "\n".join(_section(number, c, top) for number, c in enumerate(comparison.criteria))
    level = f"{comparison.level:.0%}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>composo compare: {base} → {new}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>composo compare</h1>
<p class="files">base <code>{base}</code> ({comparison.base_records} records) →
new <code>{new}</code> ({comparison.new_records} records)</p>
<p class="method">{escape(method(comparison).capitalize())}.</p>
<div class="summary-wrap">
<table class="summary">
<thead><tr><th>criterion</th><th class="num">pairs</th><th class="num">base</th>
<th class="num">new</th><th class="num">change</th><th class="num">{level} interval</th>
<th class="num">pass rate</th><th class="num">only in<br>base / new</th>
<th class="num">errors<br>base / new</th><th>verdict</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>
{sections}
<footer>Written by composo compare. Scores are compared pair by pair: an item counts only when
both runs scored it against the criterion.</footer>
</main>
</body>
</html>
"""


def _summary_row(number: int, c: CriterionComparison) -> str:
    cells = (
        f'<td class="criterion"><a href="#criterion-{number}">{escape(c.criterion)}</a></td>',
        f'<td class="num">{c.pairs}</td>',
        f'<td class="num">{score(c.base_mean)}</td>',
        f'<td class="num">{score(c.new_mean)}</td>',
        f'<td class="num">{change(c.difference)}</td>',
        f'<td class="num">{interval(c.interval)}</td>',
        f'<td class="num">{escape(pass_rates(c, "→"))}</td>',
        f'<td class="num">{c.only_base} / {c.only_new}</td>',
        f'<td class="num">{c.errored_base} / {c.errored_new}</td>',
        f"<td>{_badge(c)}</td>",
    )
    return "<tr>" + "".join(cells) + "</tr>"


def _section(number: int, c: CriterionComparison, top: int) -> str:
    stats = [f"<b>{c.pairs}</b> pairs"]
    if c.pairs:
        stats.append(f"base <b>{score(c.base_mean)}</b> → new <b>{score(c.new_mean)}</b>")
        stats.append(f"change <b>{change(c.difference)}</b> {interval(c.interval)}")
        if c.binary:
            stats.append(f"pass rate {escape(pass_rates(c, '→'))}")
    parts = [
        f'<section class="criterion" id="criterion-{number}">',
        f"<h2>{escape(c.criterion)} {_badge(c)}</h2>",
        f'<p class="stats">{" · ".join(stats)}</p>',
        f"<figure>{histogram_svg(c)}</figure>",
    ]
    if c.regressed and top:
        parts.append("<h3>Most regressed</h3>")
        parts.append(
            '<table class="items"><thead><tr><th>item</th><th class="num">base</th>'
            '<th class="num">new</th><th class="num">change</th>'
            "<th>explanation (new run)</th></tr></thead><tbody>"
        )
        for item in c.regressed:
            parts.append(
                f"<tr><td><code>{escape(item.item)}</code></td>"
                f'<td class="num">{score(item.base)}</td><td class="num">{score(item.new)}</td>'
                f'<td class="num">{change(item.difference)}</td>'
                f'<td class="explanation">{escape(item.explanation or "")}</td></tr>'
            )
        parts.append("</tbody></table>")
    extra = notes(c, item=lambda name: f"<code>{escape(name)}</code>", text=escape)
    if extra:
        parts.append('<ul class="notes">' + "".join(f"<li>{n}</li>" for n in extra) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def y_axis(largest: float) -> tuple[float, float]:
    """The y axis's top and gridline step for a tallest bar of `largest` (a share)."""
    return next((axis for axis in _Y_AXES if largest <= axis[0] + 1e-12), _Y_AXES[-1])


def histogram_svg(c: CriterionComparison) -> str:
    """Both runs' score distributions over the paired items, as grouped bars.

    Graded criteria get 0.05-wide bins over [0, 1] and a dashed line at each run's mean;
    binary criteria get two groups, fails and passes, labelled with their shares.
    """
    label = f"Score distribution of {c.criterion}: base and new run"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
    )
    if c.pairs == 0:
        return (
            head + f'<text x="{_WIDTH / 2}" y="{_HEIGHT / 2}" text-anchor="middle">'
            "no pairs scored in both runs</text></svg>"
        )
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    base = [count / c.pairs for count in c.base_histogram]
    new = [count / c.pairs for count in c.new_histogram]
    top, step = y_axis(max(*base, *new))
    bottom = _TOP + plot_h

    def y(share: float) -> float:
        return bottom - share / top * plot_h

    parts = [head]
    for tick in range(round(top / step) + 1):
        share = tick * step
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(share):.1f}" y2="{y(share):.1f}" '
            f'stroke="{"#9aa5b1" if tick == 0 else "#e4e7eb"}" stroke-width="1"/>'
            f'<text x="{_LEFT - 8}" y="{y(share) + 4:.1f}" text-anchor="end">{share:.0%}</text>'
        )
    bins = len(base)
    group = plot_w / bins
    gap = group * (0.3 if c.binary else 0.12)
    bar = (group - gap) / 2
    for index, (b, n) in enumerate(zip(base, new, strict=True)):
        x = _LEFT + index * group + gap / 2
        for offset, share, colour in ((0.0, b, _BASE_COLOUR), (bar, n, _NEW_COLOUR)):
            height = bottom - y(share)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{y(share):.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{colour}"/>'
            )
            if c.binary:
                parts.append(
                    f'<text x="{x + offset + bar / 2:.1f}" y="{y(share) - 6:.1f}" '
                    f'text-anchor="middle">{share:.1%}</text>'
                )
    axis_y = bottom + 18
    if c.binary:
        for index, name in enumerate(("fails (0)", "passes (1)")):
            parts.append(
                f'<text x="{_LEFT + (index + 0.5) * group:.1f}" y="{axis_y}" '
                f'text-anchor="middle">{name}</text>'
            )
    else:
        for mark in (0.0, 0.25, 0.5, 0.75, 1.0):
            x = _LEFT + mark * plot_w
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 5}" '
                f'stroke="#9aa5b1"/><text x="{x:.1f}" y="{axis_y}" '
                f'text-anchor="middle">{mark:g}</text>'
            )
        parts += _mean_lines(c, plot_w, bottom)
        parts.append(
            f'<text x="{_LEFT + plot_w / 2}" y="{_HEIGHT - 6}" text-anchor="middle">score</text>'
        )
    parts.append(_legend(c))
    parts.append("</svg>")
    return "".join(parts)


def _mean_lines(c: CriterionComparison, plot_w: float, bottom: float) -> list[str]:
    """A dashed line at each run's mean, labelled above the plot; the labels lean apart (the
    lower mean's to the left, the higher one's to the right) so close means stay legible."""
    if c.base_mean is None or c.new_mean is None:
        return []
    lines = (("base", c.base_mean, _BASE_LINE), ("new", c.new_mean, _NEW_COLOUR))
    lower = min(lines, key=lambda line: (line[1], line[0] == "new"))
    parts = []
    for name, mean, colour in lines:
        x = _LEFT + mean * plot_w
        left = (name, mean, colour) == lower
        anchor, nudge = ("end", -4) if left else ("start", 4)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP - 4}" y2="{bottom}" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="5 4"/>'
            f'<text x="{x + nudge:.1f}" y="{_TOP - 6}" text-anchor="{anchor}" '
            f'style="fill: {colour}; font-weight: 600">{name} {mean:.3f}</text>'
        )
    return parts


def _legend(c: CriterionComparison) -> str:
    entries = (
        ("base run", c.base_pass_rate, _BASE_COLOUR),
        ("new run", c.new_pass_rate, _NEW_COLOUR),
    )
    parts = []
    x = _LEFT
    for name, passed, colour in entries:
        # A graded plot labels its mean lines itself; a binary one gets its pass rates here.
        text = f"{name} (pass rate {passed:.1%})" if passed is not None else name
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18}" y="18">{escape(text)}</text>'
        )
        x += 30 + 7 * len(text)
    parts.append(
        f'<text x="{_WIDTH - _RIGHT}" y="18" text-anchor="end">share of the {c.pairs} pairs</text>'
    )
    return "".join(parts)
