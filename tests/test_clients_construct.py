"""Constructing `Composo` / `AsyncComposo`: settings, environment fallbacks, validation, and
that the API key never shows up where users or logs can see it."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
import respx

import composo
from composo import AsyncComposo, AuthenticationError, Composo, ComposoError, MalformedError
from composo._constants import DEFAULT_BASE_URL
from tests import _client_util
from tests._client_util import (
    BASE_URL,
    CRITERION,
    MESSAGES,
    REWARD,
    Flavor,
    body_of,
    reward_route,
    score_json,
    status,
)

# Fixtures shared by the client tests (see tests/_client_util.py).
flavor = _client_util.flavor
router = _client_util.router

SECRET = "sk-SECRET-123"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No COMPOSO_* variables from the machine running the tests."""
    monkeypatch.delenv("COMPOSO_API_KEY", raising=False)
    monkeypatch.delenv("COMPOSO_BASE_URL", raising=False)
    return monkeypatch


async def test_api_key_falls_back_to_environment(
    flavor: Flavor, router: respx.MockRouter, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COMPOSO_API_KEY", "sk-from-env")
    route = reward_route(router)
    client = flavor.client(api_key=None)
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.calls.last.request.headers["API-Key"] == "sk-from-env"


async def test_explicit_api_key_wins_over_environment(
    flavor: Flavor, router: respx.MockRouter, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COMPOSO_API_KEY", "sk-from-env")
    route = reward_route(router)
    client = flavor.client(api_key="sk-explicit")
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.calls.last.request.headers["API-Key"] == "sk-explicit"


def test_missing_api_key_names_the_environment_variable(clean_env: pytest.MonkeyPatch) -> None:
    for cls in (Composo, AsyncComposo):
        with pytest.raises(ComposoError, match="COMPOSO_API_KEY"):
            cls()


@pytest.mark.parametrize("key", ["", "   ", 123])
def test_blank_or_non_string_api_key_is_refused(clean_env: pytest.MonkeyPatch, key: object) -> None:
    for cls in (Composo, AsyncComposo):
        with pytest.raises(MalformedError, match="API key"):
            cls(api_key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base_url", "expected_url"),
    [
        ("https://eu.example.test/", "https://eu.example.test/api/v1/evals/reward"),
        ("https://eu.example.test", "https://eu.example.test/api/v1/evals/reward"),
        ("https://proxy.test/composo//", "https://proxy.test/composo/api/v1/evals/reward"),
    ],
)
async def test_base_url_with_or_without_trailing_slash_reaches_the_endpoint(
    flavor: Flavor, base_url: str, expected_url: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(expected_url).respond(200, json=score_json())
        client = flavor.client(base_url=base_url)
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 1
    assert str(route.calls.last.request.url) == expected_url


async def test_composo_base_url_environment_overrides_the_default(
    flavor: Flavor, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("COMPOSO_BASE_URL", "https://staging.example.test/")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("https://staging.example.test" + REWARD).respond(200, json=score_json())
        client = flavor.client(api_key="sk-test", base_url=None)
        assert client.base_url == "https://staging.example.test"
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 1


def test_default_base_url_is_production(clean_env: pytest.MonkeyPatch) -> None:
    with Composo(api_key="sk-test") as client:
        assert client.base_url == DEFAULT_BASE_URL == "https://platform.composo.ai"


def test_explicit_base_url_wins_over_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("COMPOSO_BASE_URL", "https://staging.example.test")
    with Composo(api_key="sk-test", base_url="https://other.example.test") as client:
        assert client.base_url == "https://other.example.test"


@pytest.mark.parametrize("base_url", ["platform.composo.ai", "ftp://example.test", ""])
def test_base_url_must_be_http(base_url: str) -> None:
    with pytest.raises(MalformedError, match="base_url"):
        Composo(api_key="sk-test", base_url=base_url)


@pytest.mark.parametrize("num_retries", [0])
async def test_num_retries_below_one_still_retries_once(
    flavor: Flavor, router: respx.MockRouter, num_retries: int
) -> None:
    route = reward_route(router, side_effect=status(503, "down"))
    client = flavor.client(num_retries=num_retries)
    assert client.num_retries == 1
    with pytest.raises(composo.APIError):
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert route.call_count == 2


@pytest.mark.parametrize("num_retries", ["2", 1.5, True, None])
def test_num_retries_must_be_an_int(num_retries: object) -> None:
    for cls in (Composo, AsyncComposo):
        with pytest.raises(MalformedError, match="num_retries"):
            cls(api_key="sk-test", num_retries=num_retries)  # type: ignore[arg-type]


async def test_model_core_is_not_sent_unless_set(flavor: Flavor, router: respx.MockRouter) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert "model_core" not in body_of(route.calls.last)


async def test_client_model_core_accepts_unknown_names_and_is_sent(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client(model_core="align-29991231-future")
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert body_of(route.calls.last)["model_core"] == "align-29991231-future"


async def test_per_call_model_core_overrides_the_client_one(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client(model_core="align-20250529")
    await flavor.call(client.evaluate, MESSAGES, CRITERION, model_core="align-20260109")
    assert body_of(route.calls.last)["model_core"] == "align-20260109"
    assert client.model_core == "align-20250529"


@pytest.mark.parametrize("model_core", ["", "  ", 7])
def test_blank_or_non_string_model_core_is_refused(model_core: object) -> None:
    for cls in (Composo, AsyncComposo):
        with pytest.raises(MalformedError, match="model_core"):
            cls(api_key="sk-test", model_core=model_core)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "timeout",
    [
        0,
        -1,
        "10",
        True,
        None,
        float("nan"),
        float("inf"),
    ],
)
def test_timeout_must_be_a_positive_number(timeout: object) -> None:
    for cls in (Composo, AsyncComposo):
        with pytest.raises(MalformedError, match="timeout"):
            cls(api_key="sk-test", timeout=timeout)  # type: ignore[arg-type]


def test_integer_timeout_is_accepted_as_seconds() -> None:
    with Composo(api_key="sk-test", timeout=5) as client:
        assert client.timeout == 5.0


async def test_http_client_of_the_wrong_kind_is_refused() -> None:
    async with httpx.AsyncClient() as async_http:
        with pytest.raises(MalformedError, match=r"httpx\.Client"):
            Composo(api_key="sk-test", http_client=async_http)  # type: ignore[arg-type]
    with httpx.Client() as sync_http, pytest.raises(MalformedError, match=r"httpx\.AsyncClient"):
        AsyncComposo(api_key="sk-test", http_client=sync_http)  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match="http_client"):
        Composo(api_key="sk-test", http_client="https://proxy")  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "3", None])
async def test_max_concurrent_requests_must_be_a_positive_int(limit: object) -> None:
    with pytest.raises(MalformedError, match="max_concurrent_requests"):
        AsyncComposo(api_key="sk-test", max_concurrent_requests=limit)  # type: ignore[arg-type]


async def test_max_concurrent_requests_of_one_is_accepted() -> None:
    async with AsyncComposo(api_key="sk-test", max_concurrent_requests=1) as client:
        assert client.max_concurrent_requests == 1
        assert "max_concurrent_requests=1" in repr(client)


async def test_client_repr_and_str_hide_the_api_key(flavor: Flavor) -> None:
    client = flavor.client(api_key=SECRET, model_core="align-20251111")
    for text in (repr(client), str(client), repr(vars(client))):
        assert SECRET not in text
    assert repr(client).startswith(f"{flavor.cls.__name__}(base_url='{BASE_URL}'")
    assert "model_core='align-20251111'" in repr(client)


async def test_authentication_error_never_shows_the_api_key(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    reward_route(router, side_effect=status(401, "Invalid API key"))
    client = flavor.client(api_key=SECRET)
    with pytest.raises(AuthenticationError) as caught:
        await flavor.call(client.evaluate, MESSAGES, CRITERION)
    error = caught.value
    assert error.status_code == 401
    assert str(error) == "401 Unauthorized: Invalid API key"
    shown = [str(error), repr(error), repr(vars(error)), "".join(traceback.format_exception(error))]
    for text in shown:
        assert SECRET not in text


async def test_debug_logs_of_a_retried_call_never_show_the_api_key(
    flavor: Flavor, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    reward_route(
        router,
        side_effect=[
            httpx.ConnectError("connection refused"),
            httpx.Response(503, json={"detail": "busy"}),
            httpx.Response(200, json=score_json()),
        ],
    )
    client = flavor.client(api_key=SECRET, num_retries=2)
    caplog.set_level(logging.DEBUG)
    result = await flavor.call(client.evaluate, MESSAGES, CRITERION)
    assert result.score == 0.8
    composo_records = [record for record in caplog.records if record.name == "composo"]
    assert len(composo_records) == 2  # one line per retry: the test would see a leak
    assert "retrying POST /api/v1/evals/reward" in composo_records[0].getMessage()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.args)
    assert SECRET not in caplog.text


async def test_user_agent_names_the_sdk_and_its_version(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client()
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    headers = route.calls.last.request.headers
    assert headers["User-Agent"] == f"composo-python/{composo.__version__}"


async def test_api_key_is_sent_in_the_api_key_header(
    flavor: Flavor, router: respx.MockRouter
) -> None:
    route = reward_route(router)
    client = flavor.client(api_key="sk-header-check")
    await flavor.call(client.evaluate, MESSAGES, CRITERION)
    headers = route.calls.last.request.headers
    assert headers["API-Key"] == "sk-header-check"
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers
