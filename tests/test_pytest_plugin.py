"""The `composo_gate` fixture of the installed pytest plugin, run through `pytester`.

Each test writes a small test suite, runs pytest on it in-process (the plugin loads from the
package's entry point, as it does for users) and checks what that run reports.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

import composo
from composo import Composo, MockServer
from composo._pytest_plugin import cache_setting, choose_backend

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

CORRECT = "Reward answers that state the refund window correctly"
POLITE = "Passes if the reply is polite"

HEADER = textwrap.dedent(
    f"""
    import pytest

    CORRECT = {CORRECT!r}
    POLITE = {POLITE!r}


    def suite(size):
        return [
            {{
                "id": f"refund-{{i}}",
                "messages": [
                    {{"role": "user", "content": f"Can I return order {{i}}?"}},
                    {{"role": "assistant", "content": f"Yes, within 30 days ({{i}})."}},
                ],
            }}
            for i in range(size)
        ]
    """
)


# A strict user suite: warnings are errors (pytest-asyncio, installed here, warns otherwise).
INI = "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    """A mock standing in for "the real service" of a user's CI, outside the inner run."""
    with MockServer() as running:
        yield running


@pytest.fixture
def suite_means(server: MockServer) -> dict[str, float]:
    """What the mock scores the inner suite of 10 items (its scores are the same anywhere)."""
    items = [
        {
            "id": f"refund-{i}",
            "messages": [
                {"role": "user", "content": f"Can I return order {i}?"},
                {"role": "assistant", "content": f"Yes, within 30 days ({i})."},
            ],
        }
        for i in range(10)
    ]
    with Composo(api_key="k", base_url=server.base_url) as client:
        report = composo.gate(
            items, {CORRECT: {"mean": 0}, POLITE: {"pass_rate": 0}}, client=client
        )
    server.reset()
    return {c.criterion: c.mean or 0.0 for c in report.criteria}


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose runs see no key, no base URL and no step summary of the outer run,
    and treat warnings as errors, as a strict user suite does."""
    for name in ("COMPOSO_API_KEY", "COMPOSO_BASE_URL", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(INI)
    return pytester


def write_tests(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(test_quality=HEADER + textwrap.dedent(body))


def test_a_gate_that_holds_passes_the_test(
    pytester: pytest.Pytester, suite_means: dict[str, float]
) -> None:
    write_tests(
        pytester,
        f"""
        def test_refunds(composo_gate):
            report = composo_gate(suite(10), {{
                CORRECT: {{"mean": {suite_means[CORRECT]}}},
                POLITE: {{"pass_rate": {suite_means[POLITE]}}},
            }})
            assert report.passed
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= composo gates =*",
            "1 passed, 0 failed",
            "scored by the local mock at http://127.0.0.1:* (synthetic scores, not a real*",
        ]
    )


def test_a_gate_that_misses_fails_the_test_with_its_message(
    pytester: pytest.Pytester, suite_means: dict[str, float]
) -> None:
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(10), {CORRECT: {"mean": 0.99}, POLITE: {"pass_rate": 0.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GateFailure: composo gate failed: 1 of 2 criteria missed their thresholds",
            "E*10 items, one evaluation per item, scored by the local mock at *",
            f"E*FAIL  {CORRECT}",
            f"E*mean {suite_means[CORRECT]:.3f}, needs >= 0.990  <- missed",
            "E*10 of 10 items scored",
            "E*worst items:",
            "E*refund-* Synthetic result from the local Composo mock server*",
            f"E*pass  {POLITE}",
            "*= composo gates =*",
            "0 passed, 1 failed",
            "FAILED test_quality.py::test_refunds",
        ]
    )
    # The plugin's own frames are hidden: the traceback ends at the test's call.
    assert "_pytest_plugin.py" not in result.stdout.str()


def test_repeat_rules_reach_the_gate(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_mean_of_repeats(composo_gate):
            report = composo_gate(suite(3), {CORRECT: {"mean": 0.0}}, repeat=3)
            assert report.criteria[0].pairs == 9
            assert report.spec.rule() == "an item scores the mean of its 3 repeats"

        def test_two_of_three(composo_gate):
            composo_gate(suite(3), {POLITE: {"pass_rate": 1.0}}, repeat=3, pass_k=2)
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["E*3 items, an item scores its 2nd best of 3 repeats, *"])


def test_results_are_junit_xml_properties_without_warnings(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(4), {CORRECT: {"mean": 0.0}, POLITE: {"pass_rate": 0.0}})
        """,
    )

    # junit_family defaults to xunit2, where the record_property fixture would warn; the
    # strict ini turns any warning into an error.
    result = pytester.runpytest("--junitxml=report.xml")

    result.assert_outcomes(passed=1)
    testcase = ET.parse(pytester.path / "report.xml").getroot().find(".//testcase")
    assert testcase is not None
    properties = {p.get("name"): p.get("value") for p in testcase.iter("property")}
    assert properties["composo_gate.passed"] == "true"
    assert properties["composo_gate.items"] == "4"
    assert properties["composo_gate.repeat"] == "1"
    assert str(properties["composo_gate.backend"]).startswith("the local mock at http://")
    assert properties[f"composo_gate[{CORRECT}].passed"] == "true"
    assert properties[f"composo_gate[{CORRECT}].mean.threshold"] == "0"
    assert float(str(properties[f"composo_gate[{POLITE}].pass_rate"])) in {0, 0.25, 0.5, 0.75, 1}
    assert properties[f"composo_gate[{POLITE}].errors"] == "0"


def test_several_gates_in_one_test_are_told_apart(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(2), {CORRECT: {"mean": 0.0}}, name="short answers")
            composo_gate(suite(3), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest("--junitxml=report.xml")

    result.assert_outcomes(passed=1)
    names = [p.get("name") for p in ET.parse(pytester.path / "report.xml").iter("property")]
    assert "composo_gate[short answers].items" in names
    assert "composo_gate[gate 2].items" in names


def test_a_markdown_summary_is_appended_to_the_github_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_tests(
        pytester,
        """
        def test_holds(composo_gate):
            composo_gate(suite(3), {CORRECT: {"mean": 0.0}})

        def test_misses(composo_gate):
            composo_gate(suite(3), {CORRECT: {"mean": 1.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1, failed=1)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(
        "earlier step\n### ✅ Composo gate passed: test_quality.py::test_holds\n"
    )
    assert "### ❌ Composo gate failed: test_quality.py::test_misses\n" in text
    assert f"| {CORRECT} | mean | ≥ 1.000 |" in text
    assert f"<details><summary>Why: {CORRECT}</summary>" in text


def test_without_a_step_summary_nothing_is_written(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    write_tests(
        pytester,
        """
        def test_holds(composo_gate):
            composo_gate(suite(1), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    assert sorted(p.name for p in pytester.path.iterdir() if p.suffix == ".md") == []


@pytest.mark.parametrize(
    ("mode", "environ", "expected"),
    [
        ("auto", {}, "mock"),
        ("auto", {"COMPOSO_API_KEY": "key"}, "live"),
        ("auto", {"COMPOSO_BASE_URL": "https://composo.internal"}, "live"),
        ("auto", {"COMPOSO_API_KEY": "  "}, "mock"),
        ("live", {}, "live"),
        ("mock", {"COMPOSO_API_KEY": "key"}, "mock"),
    ],
)
def test_the_backend_rule(mode: str, environ: dict[str, str], expected: str) -> None:
    assert choose_backend(mode, environ) == expected


def test_an_unknown_backend_is_a_usage_error() -> None:
    with pytest.raises(pytest.UsageError, match="composo_gate must be one of auto, live, mock"):
        choose_backend("staging", {})


def test_with_a_key_in_the_environment_gates_hit_the_configured_service(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: MockServer
) -> None:
    server.reset()
    monkeypatch.setenv("COMPOSO_API_KEY", "a-real-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(5), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    assert server.counters.total == 5
    result.stdout.fnmatch_lines([f"scored by the Composo service at {server.base_url}"])


def test_mock_mode_never_sends_to_the_service(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: MockServer
) -> None:
    server.reset()
    monkeypatch.setenv("COMPOSO_API_KEY", "a-real-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(5), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest("--composo-gate=mock")

    result.assert_outcomes(passed=1)
    assert server.counters.total == 0


def test_the_ini_option_sets_the_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "composo_gate = live\n")
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(1), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest()

    # live without a key: the test errors loudly instead of gating on synthetic scores.
    result.assert_outcomes(errors=0, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*composo_gate scores with the Composo service (the composo_gate backend is live), "
            "but: no API key: *. Set COMPOSO_API_KEY, or pass --composo-gate=mock *"
        ]
    )


def test_a_client_passed_to_the_call_is_used_as_is(
    pytester: pytest.Pytester, server: MockServer
) -> None:
    server.reset()
    write_tests(
        pytester,
        f"""
        from composo import Composo

        def test_refunds(composo_gate):
            with Composo(api_key="k", base_url={server.base_url!r}) as client:
                report = composo_gate(suite(3), {{CORRECT: {{"mean": 0.0}}}}, client=client)
            assert report.backend == {server.base_url!r}
        """,
    )

    # live without a key would fail, but the call's own client wins.
    result = pytester.runpytest("--composo-gate=live")

    result.assert_outcomes(passed=1)
    assert server.counters.total == 3


def test_a_conftest_can_replace_the_default_client(
    pytester: pytest.Pytester, server: MockServer
) -> None:
    server.reset()
    pytester.makeconftest(
        f"""
        import pytest
        from composo import Composo

        @pytest.fixture(scope="session")
        def composo_gate_client():
            # Here a team would add its cache, model core or retries.
            with Composo(api_key="team-key", base_url={server.base_url!r}) as client:
                yield client
        """
    )
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(4), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    assert server.counters.total == 4


def test_the_gate_passes_an_unchanged_suite_20_times_in_a_row(
    pytester: pytest.Pytester, suite_means: dict[str, float]
) -> None:
    write_tests(
        pytester,
        f"""
        @pytest.mark.parametrize("run", range(20))
        def test_refunds(composo_gate, run):
            composo_gate(suite(10), {{
                CORRECT: {{"mean": {suite_means[CORRECT] - 0.02}}},
                POLITE: {{"pass_rate": {suite_means[POLITE] - 0.05}}},
            }})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(["20 passed, 0 failed"])


def test_a_base_url_without_a_key_fails_saying_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSO_BASE_URL", "https://composo.internal")
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(1), {CORRECT: {"mean": 0.0}})
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*composo_gate scores with the Composo service (COMPOSO_BASE_URL is set), but: *"]
    )


def test_an_unwritable_step_summary_is_a_warning_not_a_verdict(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    write_tests(
        pytester,
        """
        def test_holds(composo_gate):
            composo_gate(suite(1), {CORRECT: {"mean": 0.0}})
        """,
    )

    # In a subprocess: in this process the outer suite's filterwarnings = error still holds.
    result = pytester.runpytest_subprocess()

    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*composo_gate: cannot append to $GITHUB_STEP_SUMMARY*"])


@pytest.mark.parametrize("where", ["option", "ini"])
def test_the_live_default_client_caches_when_asked(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: MockServer,
    tmp_path: Path,
    where: str,
) -> None:
    server.reset()
    monkeypatch.setenv("COMPOSO_API_KEY", "a-real-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    cache = tmp_path / "gate-cache"
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(5), {CORRECT: {"mean": 0.0}}, repeat=2)
        """,
    )
    args = [f"--composo-gate-cache={cache}"] if where == "option" else []
    if where == "ini":
        pytester.makeini(INI + f"composo_gate_cache = {cache}\n")

    for _ in range(2):
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"scored by *(results cached in {cache}*)"])
    # The second session re-ran the suite from the cache.
    assert server.counters.total == 5 * 2


def test_the_default_client_does_not_cache_unless_asked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: MockServer
) -> None:
    server.reset()
    monkeypatch.setenv("COMPOSO_API_KEY", "a-real-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(3), {CORRECT: {"mean": 0.0}})
        """,
    )
    for _ in range(2):
        pytester.runpytest().assert_outcomes(passed=1)
    assert server.counters.total == 3 * 2


def test_a_cache_option_naming_another_file_fails_the_gate_clearly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: MockServer
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "a-real-key")
    monkeypatch.setenv("COMPOSO_BASE_URL", server.base_url)
    notes = pytester.path / "notes.txt"
    notes.write_text("not a cache\n")
    write_tests(
        pytester,
        """
        def test_refunds(composo_gate):
            composo_gate(suite(1), {CORRECT: {"mean": 0.0}})
        """,
    )
    result = pytester.runpytest(f"--composo-gate-cache={notes}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*composo_gate_cache: *notes.txt is not a composo result cache*"])
    assert notes.read_text() == "not a cache\n"


@pytest.mark.parametrize(
    ("text", "setting"),
    [("off", False), ("", False), ("default", True), ("TRUE", True), ("/tmp/c", "/tmp/c")],
)
def test_cache_setting_reads_the_option(text: str, setting: object) -> None:
    assert cache_setting(text) == setting
