"""Issue 10, bad settings: each refused at construction (or at the call, for per-call options)
with a `MalformedError` that says what to change, before anything is sent; never a retried
connection error or an exception of the HTTP library. Both clients, and the command.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from composo import AsyncComposo, Composo, MalformedError, RateLimiter
from composo._cli import main
from composo._constants import BASE_URL_ENV
from tests._client_util import MESSAGES
from tests._hostile import SCORE_BODY, RawServer, answering, serving

CRITERION = "Reward answers that state the refund window"
CLIENTS = {"sync": Composo, "async": AsyncComposo}

BAD_BASE_URLS: dict[str, tuple[Any, str]] = {
    "query": ("https://h.test/api?x=1", "must not have a query string or fragment"),
    "empty query": ("https://h.test/?", "must not have a query string or fragment"),
    "fragment": ("https://h.test#top", "must not have a query string or fragment"),
    "http:// alone": ("http://", "has no host"),
    "https:// alone": ("https://", "has no host"),
    "port 0": ("http://h.test:0", "bad port"),
    "port 99999": ("http://h.test:99999", "bad port"),
    "port 65536": ("http://h.test:65536", "bad port"),
    "port abc": ("http://h.test:abc", "bad port"),
    "port -1": ("http://h.test:-1", "bad port"),
    "empty port": ("http://h.test:", "bad port"),
    "port +80": ("http://h.test:+80", "bad port"),
    "IPv6 port 0": ("http://[::1]:0", "bad port"),
    "user:pass@": ("https://user:hunter2@h.test", "must not hold credentials"),
    "user@": ("https://user@h.test", "must not hold credentials"),
    "leading space": (" https://h.test", "whitespace"),
    "trailing space": ("https://h.test ", "whitespace"),
    "trailing newline": ("https://h.test\n", "whitespace"),
    "space in host": ("https://h .test", "whitespace"),
    "tab": ("https://h.test\t", "whitespace"),
    "non-ASCII host": ("https://bücher.test", "non-ASCII"),
    "backslash": ("https://h.test\\api", "backslash"),
    "no scheme": ("h.test", "must be an http(s) URL"),
    "ftp": ("ftp://h.test", "must be an http(s) URL"),
    "empty": ("", "must be an http(s) URL"),
    "bytes": (b"https://h.test", "must be a string"),
    "unclosed IPv6 bracket": ("http://[::1", "is not a valid URL"),
    "not an IPv6 address": ("http://[zz::1]", "is not a valid URL"),
    "text after IPv6": ("http://[::1]x", "text after its IPv6 address"),
    "empty label": ("http://h..test", "bad host name"),
    "only a dot": ("http://.", "bad host name"),
    "label of 64": ("http://" + "a" * 64 + ".test", "bad host name"),
}


@pytest.fixture
def service() -> Iterator[RawServer]:
    """A service that would answer; each test asserts nothing reached it."""
    with serving(answering(200, SCORE_BODY)) as server:
        yield server


@pytest.mark.parametrize("case", list(BAD_BASE_URLS))
@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_base_url_is_refused_at_construction(kind: str, case: str) -> None:
    url, message = BAD_BASE_URLS[case]
    with pytest.raises(MalformedError) as caught:
        CLIENTS[kind](api_key="k", base_url=url)
    assert message in str(caught.value)
    assert str(caught.value).startswith("base_url ")
    assert caught.value.status_code is None


@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_base_url_never_shows_its_credentials(kind: str) -> None:
    for url in (
        "https://user:hunter2@h.test",
        "https://user:hunter2@h.test/?q=1",
        "https://user:hunter2@h.test:0",
        "https://user:hunter2@h.test /x",
        "ftp://user:hunter2@h.test",
    ):
        with pytest.raises(MalformedError) as caught:
            CLIENTS[kind](api_key="k", base_url=url)
        assert "hunter2" not in str(caught.value)
        assert "credentials" in str(caught.value)


@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_base_url_from_the_environment_names_the_variable(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "https://h.test/v1?region=eu")
    with pytest.raises(MalformedError) as caught:
        CLIENTS[kind](api_key="k")
    assert str(caught.value).startswith(f"{BASE_URL_ENV} must not have a query string")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "https://h.test/", "https://h.test/base/", "http://[::1]:8000"],
)
def test_good_base_urls_are_kept_without_a_trailing_slash(url: str) -> None:
    assert Composo(api_key="k", base_url=url).base_url == url.rstrip("/")


BAD_SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "num_retries -1": ({"num_retries": -1}, "num_retries must be 0 or more"),
    "num_retries 1.5": ({"num_retries": 1.5}, "num_retries must be an int"),
    "num_retries True": ({"num_retries": True}, "num_retries must be an int"),
    "num_retries '3'": ({"num_retries": "3"}, "num_retries must be an int"),
    "num_retries None": ({"num_retries": None}, "num_retries must be an int"),
    "timeout 0": ({"timeout": 0}, "timeout must be a positive, finite number"),
    "timeout -1": ({"timeout": -1.0}, "timeout must be a positive, finite number"),
    "timeout NaN": ({"timeout": math.nan}, "timeout must be a positive, finite number"),
    "timeout inf": ({"timeout": math.inf}, "timeout must be a positive, finite number"),
    "timeout '5'": ({"timeout": "5"}, "timeout must be a positive, finite number"),
    "timeout True": ({"timeout": True}, "timeout must be a positive, finite number"),
    "timeout None": ({"timeout": None}, "timeout must be a positive, finite number"),
    "max_concurrent_requests 0": ({"max_concurrent_requests": 0}, "must be a positive int"),
    "max_concurrent_requests -2": ({"max_concurrent_requests": -2}, "must be a positive int"),
    "max_concurrent_requests True": (
        {"max_concurrent_requests": True},
        "must be a positive int",
    ),
    "max_concurrent_requests 2.0": ({"max_concurrent_requests": 2.0}, "must be a positive int"),
    "requests_per_second 0": ({"requests_per_second": 0}, "requests_per_second must be"),
    "requests_per_second -1": ({"requests_per_second": -1}, "requests_per_second must be"),
    "requests_per_second NaN": ({"requests_per_second": math.nan}, "requests_per_second must"),
    "requests_per_second inf": ({"requests_per_second": math.inf}, "requests_per_second must"),
    "requests_per_second '5'": ({"requests_per_second": "5"}, "requests_per_second must be"),
    "requests_per_second True": ({"requests_per_second": True}, "requests_per_second must be"),
    "rate_limiter object": ({"rate_limiter": object()}, "must be a composo.RateLimiter"),
    "rate_limiter dict": ({"rate_limiter": {"rate": 5}}, "must be a composo.RateLimiter"),
    "rate_limiter class": ({"rate_limiter": RateLimiter}, "must be a composo.RateLimiter"),
    "rate_limiter and rps": (
        {"rate_limiter": RateLimiter(), "requests_per_second": 2.0},
        "not both",
    ),
    "model_core int": ({"model_core": 5}, "model_core must be a string"),
    "model_core blank": ({"model_core": "  "}, "model_core is blank"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_setting_is_refused_at_construction(service: RawServer, kind: str, case: str) -> None:
    kwargs, message = BAD_SETTINGS[case]
    with pytest.raises(MalformedError, match=message):
        CLIENTS[kind](api_key="k", base_url=service.url, **kwargs)
    assert service.connections == 0


def test_an_http_client_of_the_other_kind_is_refused_and_left_to_its_owner() -> None:
    async_http = httpx.AsyncClient()
    with pytest.raises(MalformedError, match=r"http_client must be an httpx\.Client"):
        Composo(api_key="k", http_client=async_http)  # type: ignore[arg-type]
    sync_http = httpx.Client()
    with pytest.raises(MalformedError, match=r"http_client must be an httpx\.AsyncClient"):
        AsyncComposo(api_key="k", http_client=sync_http)  # type: ignore[arg-type]
    assert not sync_http.is_closed
    sync_http.close()
    asyncio.run(async_http.aclose())


BAD_CALL_OPTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "block 'no'": ({"block": "no"}, "block must be True"),
    "block 0": ({"block": 0}, "block must be True"),
    "block None": ({"block": None}, "block must be True"),
    "evaluate_latest 'yes'": ({"evaluate_latest": "yes"}, "evaluate_latest must be True"),
    "explanation_cleaning": ({"explanation_cleaning": "pretty"}, "explanation_cleaning is"),
    "data_retention blank": ({"data_retention": ""}, "data_retention must be"),
    "tag value object": ({"tags": {"run": object()}}, "tags"),
    "tags list": ({"tags": ["run"]}, "tags must be a mapping"),
    "system number": ({"system": 5}, "system must be a string"),
    "tools dict": ({"tools": {"name": "f"}}, "tools must be a list"),
}


def _call(kind: str, url: str, **kwargs: Any) -> Any:
    if kind == "sync":
        with Composo(api_key="k", base_url=url) as client:
            return client.evaluate(MESSAGES, CRITERION, **kwargs)

    async def run() -> Any:
        async with AsyncComposo(api_key="k", base_url=url) as client:
            return await client.evaluate(MESSAGES, CRITERION, **kwargs)

    return asyncio.run(run())


@pytest.mark.parametrize("case", list(BAD_CALL_OPTIONS))
@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_call_option_is_refused_before_sending(
    service: RawServer, kind: str, case: str
) -> None:
    kwargs, message = BAD_CALL_OPTIONS[case]
    with pytest.raises(MalformedError, match=message):
        _call(kind, service.url, **kwargs)
    assert service.connections == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency must be a positive int"),
        ({"concurrency": -1}, "concurrency must be a positive int"),
        ({"concurrency": True}, "concurrency must be a positive int"),
        ({"concurrency": 2.5}, "concurrency must be a positive int"),
        ({"on_progress": "print"}, "on_progress must be callable"),
        ({"evaluate_latest": "no"}, "evaluate_latest must be True"),
        ({"explanation_cleaning": "x"}, "explanation_cleaning is"),
    ],
    ids=["concurrency-0", "concurrency-neg", "concurrency-True", "concurrency-float",
         "on_progress-str", "evaluate_latest-str", "explanation_cleaning"],
)  # fmt: skip
@pytest.mark.parametrize("kind", list(CLIENTS))
def test_a_bad_batch_option_is_refused_at_the_call(
    service: RawServer, kind: str, kwargs: dict[str, Any], message: str
) -> None:
    client = CLIENTS[kind](api_key="k", base_url=service.url)
    with pytest.raises(MalformedError, match=message):
        client.evaluate_batch([{"messages": MESSAGES}], CRITERION, **kwargs)
    assert service.connections == 0
    if kind == "sync":
        client.close()


# The command: one clear line and exit 2, nothing sent, no output written.

BAD_COMMAND_SETTINGS: dict[str, tuple[list[str], str]] = {
    "concurrency 0": (["--concurrency", "0"], "--concurrency must be at least 1"),
    "retries -1": (["--retries", "-1"], "--retries must be 0 or more"),
    "timeout 0": (["--timeout", "0"], "--timeout must be a positive number"),
    "timeout nan": (["--timeout", "nan"], "--timeout must be a positive number"),
    "timeout inf": (["--timeout", "inf"], "--timeout must be a positive number"),
    "rps 0": (["--requests-per-second", "0"], "--requests-per-second must be a positive"),
    "rps nan": (["--requests-per-second", "nan"], "--requests-per-second must be a positive"),
    "base-url query": (["--base-url", "https://h.test/?x=1"], "query string"),
    "base-url port": (["--base-url", "http://127.0.0.1:99999"], "bad port"),
    "base-url no host": (["--base-url", "http://"], "has no host"),
    "base-url credentials": (["--base-url", "https://u:hunter2@h.test"], "credentials"),
    "model-core blank": (["--model-core", " "], "model_core is blank"),
    "resume and overwrite": (["--resume", "--overwrite"], "not both"),
}


@pytest.mark.parametrize("case", list(BAD_COMMAND_SETTINGS))
def test_a_bad_command_setting_exits_two_with_one_clear_line(
    service: RawServer,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    monkeypatch.setenv("COMPOSO_API_KEY", "k")
    monkeypatch.setenv(BASE_URL_ENV, service.url)
    source = tmp_path / "in.jsonl"
    source.write_text('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", '
                      '"content": "b"}]}\n')  # fmt: skip
    args, message = BAD_COMMAND_SETTINGS[case]
    assert main(["evaluate", str(source), "--criteria", CRITERION, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "hunter2" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    assert service.connections == 0
