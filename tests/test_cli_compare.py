"""`composo compare` from the command line: exit codes, the three outputs, the targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from composo._cli import main
from tests._runs_util import CONCISE, CORRECT, POLITE, record, synthetic_runs, write_run


def compare(*args: str | Path) -> int:
    return main(["compare", *map(str, args)])


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return synthetic_runs(tmp_path, seed=1, items=200)


# The targets: 500 items, a 5-point drop of one criterion's mean, 20 seeds (data and bootstrap).
@pytest.mark.parametrize("seed", range(20))
def test_a_five_point_drop_is_flagged_and_an_unchanged_rerun_is_not(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, rerun, dropped = synthetic_runs(tmp_path, seed=seed, items=500, drop=0.05)
    flags = ("--fail-on-regression", "0.02", "--seed", str(seed))

    assert compare(base, dropped, *flags) == 1
    assert f"1 criterion regressed by more than 0.02: {CORRECT!r}" in capsys.readouterr().err
    assert compare(base, rerun, *flags) == 0
    assert "regressed" not in capsys.readouterr().err


def test_the_table_shows_each_criterion_and_its_verdict(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs

    assert compare(base, dropped, "--fail-on-regression", "0.02") == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"composo compare: {base} (600 records) -> {dropped} (600 records)"
    header = out[3].split()
    assert header[:6] == ["criterion", "pairs", "base", "new", "change", "95%"]
    rows = {
        c: next(line for line in out[5:8] if line.startswith(c)) for c in (CORRECT, CONCISE, POLITE)
    }
    assert rows[CORRECT].endswith("REGRESSION")
    assert rows[CONCISE].endswith("no clear change")
    assert " -> " in rows[POLITE]  # its pass rates
    assert "  most regressed:" in out


def test_without_fail_on_regression_a_drop_is_reported_but_exits_0(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs

    assert compare(base, dropped) == 0

    out = capsys.readouterr().out
    assert "lower" in out
    assert "REGRESSION" not in out


def test_an_improvement_is_not_a_regression(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs

    assert compare(dropped, base, "--fail-on-regression", "0") == 0

    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith(CORRECT))
    assert line.endswith("higher")


def test_missing_pairs_and_errors_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(
        tmp_path / "b.jsonl",
        [record(f"i{n}", CORRECT, 0.5) for n in range(6)] + [record("gone", CORRECT, 0.5)],
    )
    new = write_run(
        tmp_path / "n.jsonl",
        [record(f"i{n}", CORRECT, 0.5) for n in range(5)]
        + [record("i5", CORRECT, error="503 from the service"), record("fresh", CORRECT, 0.5)],
    )

    assert compare(base, new, "--fail-on-regression", "0.02") == 0

    out = capsys.readouterr().out
    assert "  only in base: 1 ('gone')" in out
    assert "  only in new: 1 ('fresh')" in out
    assert "  error in new: 'i5': APIError: 503 from the service" in out


def test_markdown_is_a_table_with_details(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs

    assert compare(base, dropped, "--format", "markdown", "--fail-on-regression", "0.02") == 1

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "### composo compare"
    assert "**1 regression**" in lines[2]
    assert lines[4].startswith("| criterion | pairs | base | new | change | 95% interval |")
    assert lines[5] == "|---|--:|--:|--:|--:|---|---|--:|--:|---|"
    assert any(
        line.startswith(f"| {CORRECT} | 200 |") and "**regression**" in line for line in lines
    )
    assert f"<details><summary>{CORRECT}: regression</summary>" in out
    assert "| most regressed | base | new | change | explanation (new run) |" in out


def test_markdown_escapes_what_would_break_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    criterion = "Reward answers | that <b>cite</b> sources"
    base = write_run(tmp_path / "b.jsonl", [record("a|b", criterion, 0.9)])
    new = write_run(tmp_path / "n.jsonl", [record("a|b", criterion, 0.1, explanation="x | y")])

    assert compare(base, new, "--format", "markdown") == 0

    out = capsys.readouterr().out
    assert "| Reward answers \\| that &lt;b&gt;cite&lt;/b&gt; sources | 1 |" in out
    assert "| a\\|b | 0.900 | 0.100 | -0.800 | x \\| y |" in out


class _Page(HTMLParser):
    """What the tests look for in the HTML report."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.svg_text: list[str] = []
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_svg += tag == "svg"
        self.links += [value or "" for name, value in attrs if name in {"src", "href"}]

    def handle_endtag(self, tag: str) -> None:
        self._in_svg -= tag == "svg"

    def handle_data(self, data: str) -> None:
        (self.svg_text if self._in_svg else self.text).append(data)


def test_html_report_is_self_contained_with_a_plot_per_criterion(
    runs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs
    report = tmp_path / "report.html"

    assert compare(base, dropped, "--html", report, "--fail-on-regression", "0.02") == 1

    assert f"composo compare: wrote {report}" in capsys.readouterr().err
    page = _Page()
    page.feed(report.read_text(encoding="utf-8"))
    page.close()
    assert page.tags.count("svg") == 3
    assert page.tags.count("rect") > 3 * 2
    assert "script" not in page.tags
    assert "link" not in page.tags
    assert "img" not in page.tags
    assert all(link.startswith("#criterion-") for link in page.links)
    text = " ".join(page.text)
    assert CORRECT in text
    assert "regression" in text
    assert "Most regressed" in text
    svg = " ".join(page.svg_text)
    assert "fails (0)" in svg
    assert "passes (1)" in svg
    assert "base run" in svg
    assert "new run (pass rate " in svg
    assert "new 0.6" in svg  # the dropped criterion's new mean, labelling its line


def test_html_refuses_to_overwrite_an_input(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs
    before = dropped.read_bytes()

    assert compare(base, dropped, "--html", dropped) == 2
    assert (
        compare(base, dropped, "--html", dropped.parent / ".." / dropped.parent.name / dropped.name)
        == 2
    )

    err = capsys.readouterr().err
    assert f"--html {dropped} is the input file {dropped}; choose another path" in err
    assert dropped.read_bytes() == before


def test_html_refuses_a_hard_link_to_an_input(
    runs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs
    alias = tmp_path / "alias.html"
    os.link(base, alias)
    before = base.read_bytes()

    assert compare(base, dropped, "--html", alias) == 2

    assert "is the input file" in capsys.readouterr().err
    assert base.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on-regression", "-0.1"], "--fail-on-regression must be a number >= 0"),
        (["--fail-on-regression", "nan"], "--fail-on-regression must be a number >= 0"),
        (["--resamples", "0"], "--resamples must be at least 1"),
        (["--top", "-1"], "--top must be >= 0"),
        (["--format", "json"], "invalid choice: 'json'"),
        (["--fail-on"], "unrecognized arguments: --fail-on"),
    ],
)
def test_bad_arguments_exit_2(
    runs: tuple[Path, Path, Path],
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, rerun, _ = runs

    assert compare(base, rerun, *args) == 2

    assert message in capsys.readouterr().err


def test_malformed_lines_exit_2_naming_the_lines_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "b.jsonl", [record("a", CORRECT, 0.5), '{"id": "b", "crit'])
    new = write_run(tmp_path / "n.jsonl", [record("a", CORRECT, 0.5), '"just a string"'])

    assert compare(base, new, "--fail-on-regression", "0.02") == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{base}: line 2: not valid JSON" in captured.err
    assert f"{new}: line 2: expected a JSON object, got a string" in captured.err
    assert "Traceback" not in captured.err


def test_duplicates_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "b.jsonl", [record("a", CORRECT, 0.5), record("a", CORRECT, 0.6)])
    new = write_run(tmp_path / "n.jsonl", [record("a", CORRECT, 0.5)])

    assert compare(base, new) == 2

    assert "line 2 repeats line 1: item 'a'" in capsys.readouterr().err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = write_run(tmp_path / "n.jsonl", [record("a", CORRECT, 0.5)])

    assert compare(tmp_path / "nope.jsonl", new) == 2

    assert "nope.jsonl: cannot read it: No such file or directory" in capsys.readouterr().err


def test_runs_with_nothing_in_common_exit_2_after_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "b.jsonl", [record("a", CORRECT, 0.5)])
    new = write_run(tmp_path / "n.jsonl", [record("a", CORRECT, error="down")])

    assert compare(base, new, "--fail-on-regression", "0.02") == 2

    captured = capsys.readouterr()
    assert CORRECT in captured.out
    assert "no (item, criterion) pair was scored in both runs" in captured.err


def test_the_same_files_and_seed_give_the_same_report(
    runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, dropped = runs

    outputs = []
    for _ in range(2):
        compare(base, dropped, "--format", "markdown", "--seed", "9")
        outputs.append(capsys.readouterr().out)

    assert outputs[0] == outputs[1]


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert compare("-h") == 0
    assert "--fail-on-regression DELTA" in capsys.readouterr().out


def test_the_composo_command_lists_compare(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "compare    compare two runs of composo evaluate" in capsys.readouterr().out


_MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from composo._compare import compare_runs
    import composo._compare_render
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    comparison = compare_runs(Path(sys.argv[1]), Path(sys.argv[2]), delta=0.02)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew_kib": after - before, "pairs": comparison.pairs}))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_100000_pairs_per_file_compare_in_bounded_memory(tmp_path: Path) -> None:
    # Records with 300-character explanations, as a real run has: the two files hold some
    # 75 MB, so a reader that kept parsed records would grow by far more than the bound.
    explanation = "The response states the refund window and links the returns form. " * 4
    paths = []
    for name, shift in (("base", 0.0), ("new", 0.01)):
        path = tmp_path / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for n in range(100_000):
                score = round((n * 7919 % 1000) / 1000 * (1 - shift), 3)
                line = {"line": n + 1, "id": f"conversation-{n:06d}", "criterion": CORRECT}
                f.write(json.dumps({**line, "score": score, "explanation": explanation}) + "\n")
        paths.append(path)
    size = sum(path.stat().st_size for path in paths)

    completed = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )

    result = json.loads(completed.stdout)
    assert result["pairs"] == 100_000
    assert size > 70 * 2**20
    assert result["grew_kib"] < 40 * 2**10
