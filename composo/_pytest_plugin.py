"""The pytest plugin installed with composo: `composo_mock` and `composo_gate`.

Installing composo registers this module (the `pytest11` entry point), so no conftest.py is
needed. Nothing starts until a test asks for a fixture.

`composo_gate(dataset, thresholds, ...)` runs `composo.gate` and, besides failing the test
with the gate's message, records the results as JUnit XML properties and appends a Markdown
summary to `$GITHUB_STEP_SUMMARY` when that is set.

Where the scores come from (`--composo-gate`, or the `composo_gate` ini option):
- `live`: the Composo service, with COMPOSO_API_KEY (and COMPOSO_BASE_URL if set); without
  a key the test errors.
- `mock`: the local mock server (synthetic scores, no key needed).
- `auto`, the default: `live` when COMPOSO_API_KEY or COMPOSO_BASE_URL is set, else `mock`.
  So a CI job with a key always hits the service, and one without a key still runs the
  gates; the backend is named in every report and in pytest's terminal summary. A job that
  must gate on real scores passes `--composo-gate=live`, so a missing secret fails it.

The live default client caches its results when asked (`--composo-gate-cache`, or the
`composo_gate_cache` ini option: `default` for the default cache, or a path; off unless set),
so an unchanged suite re-runs without a request when CI keeps the cache directory between
runs. The mock backend never caches: it is free, and on a new port each session.

A `client=` passed to a call wins over all of this; to change the default client for a
whole suite (a model core, more retries), override the session fixture `composo_gate_client`
in your conftest.py.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Final

import pytest

from composo._constants import API_KEY_ENV, BASE_URL_ENV
from composo._gate_report import DEFAULT_WORST
from composo._mock._pytest import composo_mock, composo_mock_session

if TYPE_CHECKING:
    from composo._gate_report import GateReport
    from composo._sync_client import Composo

BACKENDS: Final = ("auto", "live", "mock")

# The API key the default client sends to the local mock, which accepts any key.
_MOCK_KEY: Final = "composo-gate-mock"

STEP_SUMMARY_ENV: Final = "GITHUB_STEP_SUMMARY"

# Gates run this session: (test id, passed, backend), for the terminal summary.
_RESULTS = pytest.StashKey[list[tuple[str, bool, str]]]()
# The label of the default client's backend once it is made.
_DEFAULT_BACKEND = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("composo")
    group.addoption(
        "--composo-gate",
        choices=BACKENDS,
        default=None,
        dest="composo_gate",
        help="where composo_gate's default client scores: live (the service), mock (the "
        "local mock) or auto (live when COMPOSO_API_KEY or COMPOSO_BASE_URL is set, "
        "else mock; the default)",
    )
    parser.addini(
        "composo_gate", "default backend of composo_gate: auto, live or mock", default="auto"
    )
    group.addoption(
        "--composo-gate-cache",
        default=None,
        dest="composo_gate_cache",
        metavar="PATH",
        help="result cache of composo_gate's live default client: 'default' (the default "
        "cache), a path, or 'off' (the default)",
    )
    parser.addini(
        "composo_gate_cache",
        "result cache of composo_gate's live default client: off, default, or a path",
        default="off",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = []


def choose_backend(mode: str, environ: Mapping[str, str]) -> str:
    """ "live" or "mock": the rule `composo_gate`'s default client follows (module docstring).

    Raises:
        pytest.UsageError: An unknown mode.
    """
    if mode not in BACKENDS:
        raise pytest.UsageError(f"composo_gate must be one of {', '.join(BACKENDS)}, got {mode!r}")
    if mode != "auto":
        return mode
    configured = environ.get(API_KEY_ENV, "").strip() or environ.get(BASE_URL_ENV, "").strip()
    return "live" if configured else "mock"


def cache_setting(value: str) -> bool | str:
    """`cache=` for the live default client from the option's text: False for off (also
    "", "no", "false", "0"), True for the default cache ("default", "on", "yes", "true",
    "1"), else the path."""
    text = value.strip()
    if text.lower() in {"", "off", "no", "false", "0", "none"}:
        return False
    if text.lower() in {"default", "on", "yes", "true", "1"}:
        return True
    return text


def _cache_option(config: pytest.Config) -> str:
    option = config.getoption("composo_gate_cache")
    return str(option if option is not None else config.getini("composo_gate_cache"))


def _mode(config: pytest.Config) -> str:
    option = config.getoption("composo_gate")
    return str(option if option is not None else config.getini("composo_gate")).strip()


@pytest.fixture(scope="session")
def composo_gate_client(request: pytest.FixtureRequest) -> Iterator[Composo]:
    """The `Composo` client `composo_gate` uses when a call passes no `client=`.

    Override it in conftest.py to give every gate your own client (with a cache, say).
    """
    from composo._sync_client import Composo

    backend = choose_backend(_mode(request.config), os.environ)
    cache = None
    if backend == "mock":
        server = request.getfixturevalue("composo_mock_session")
        client = Composo(api_key=_MOCK_KEY, base_url=server.base_url)
        label = f"the local mock at {server.base_url} (synthetic scores, not a real evaluation)"
    else:
        from composo._cache import ResultCache
        from composo._exceptions import ComposoError

        setting = cache_setting(_cache_option(request.config))
        if setting is not False:
            try:
                cache = ResultCache(None if setting is True else setting)
            except ComposoError as exc:
                pytest.fail(f"composo_gate_cache: {exc}", pytrace=False)
        try:
            client = Composo(cache=cache)
        except ComposoError as exc:
            why = (
                "the composo_gate backend is live"
                if _mode(request.config) == "live"
                else f"{BASE_URL_ENV} is set"
            )
            pytest.fail(
                f"composo_gate scores with the Composo service ({why}), but: {exc}. Set "
                f"{API_KEY_ENV}, or pass --composo-gate=mock to gate on the local mock's "
                "synthetic scores.",
                pytrace=False,
            )
        label = f"the Composo service at {client.base_url}"
        if client.cache is not None:
            label += f" (results cached in {client.cache.path})"
    request.config.stash[_DEFAULT_BACKEND] = label
    with client:
        yield client
    if cache is not None:
        cache.close()


class Gate:
    """What the `composo_gate` fixture gives a test: call it like `composo.gate`."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._calls = 0

    def __call__(
        self,
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
        name: str | None = None,
    ) -> GateReport:
        """Run `composo.gate` with this suite's client and fail the test if it fails.

        Takes the arguments of `composo.gate`, plus `name`, which labels this gate's JUnit
        properties and summary when a test runs several. Returns the `GateReport`.

        Raises:
            GateFailure: The gate failed; the test fails with its message.
        """
        __tracebackhide__ = True
        from composo._gate import GateFailure, run_gate

        backend = None
        if client is None:
            client = self._request.getfixturevalue("composo_gate_client")
            backend = self._request.config.stash.get(_DEFAULT_BACKEND, None)
        self._calls += 1
        label = name or (f"gate {self._calls}" if self._calls > 1 else None)
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
            backend=backend,
        )
        self._publish(report, label)
        if not report.passed:
            raise GateFailure(report)
        return report

    def _publish(self, report: GateReport, label: str | None) -> None:
        node = self._request.node
        # What the record_property fixture does, without its warning under junit_family
        # xunit2 (which a suite with filterwarnings = error would turn into a failure).
        prefix = "composo_gate" if label is None else f"composo_gate[{label}]"
        node.user_properties.extend(report.properties(prefix))
        title = node.nodeid if label is None else f"{node.nodeid} ({label})"
        self._request.config.stash[_RESULTS].append((title, report.passed, report.backend))
        summary = os.environ.get(STEP_SUMMARY_ENV)
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as f:
                    f.write(report.markdown(title) + "\n")
            except OSError as exc:
                warnings.warn(
                    f"composo_gate: cannot append to ${STEP_SUMMARY_ENV} ({summary}): {exc}",
                    pytest.PytestWarning,
                    stacklevel=2,
                )


@pytest.fixture
def composo_gate(request: pytest.FixtureRequest) -> Gate:
    """Evaluate a dataset and assert per-criterion thresholds: `composo_gate(dataset,
    {"Reward ...": {"mean": 0.8}, "Passes if ...": {"pass_rate": 0.95}})`."""
    return Gate(request)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    results = config.stash.get(_RESULTS, [])
    if not results:
        return
    failed = [title for title, passed, _ in results if not passed]
    terminalreporter.section("composo gates")
    terminalreporter.line(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    for title in failed:
        terminalreporter.line(f"FAILED {title}")
    for backend in sorted({backend for _, _, backend in results}):
        terminalreporter.line(f"scored by {backend}")


__all__ = [
    "Gate",
    "cache_setting",
    "choose_backend",
    "composo_gate",
    "composo_gate_client",
    "composo_mock",
    "composo_mock_session",
    "pytest_addoption",
    "pytest_configure",
    "pytest_terminal_summary",
]
