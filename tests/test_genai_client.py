"""byok_client.genai.Client: the real google-genai SDK (sync and ``client.aio``) against MockProvider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import inspect
import io
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from google import genai as google_genai

from byok_client import ByokConfigError, FailoverPolicy, Key, KeyPool, NoUsableKeyError, genai
from byok_client.providers.gemini import GeminiProvider, seconds_until_pacific_midnight
from byok_client.testing import (
    Behaviour,
    MockProvider,
    bad_request,
    delay,
    invalid_key,
    ok,
    quota_exhausted,
    rate_limited,
    server_error,
)
from byok_client.testing._behaviours import invalid_key_error

from ._sdk import http_library, inner_of, is_installed
from .conftest import FakeClock

http: Any = http_library("google-genai")  # httpx or httpx2, whichever this SDK line uses
try:
    import aiohttp  # google-genai's optional async transport, which would bypass byok_client's
except ImportError:
    aiohttp = None  # type: ignore[assignment]
needs_aiohttp = pytest.mark.skipif(aiohttp is None, reason="aiohttp is not installed (google-genai's optional extra)")

MODEL = "gemini-2.5-flash"
FAST = FailoverPolicy(retry_after_cap=0.01)
CREDENTIALS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
NO_WAIT_RETRIES = genai.types.HttpRetryOptions(attempts=3, initial_delay=0, max_delay=0, jitter=0)

_runs = itertools.count()


def keys(mock: MockProvider, *behaviours: Behaviour) -> list[Key]:
    """Register one key per behaviour on the mock, labelled k0, k1, ...

    Values are unique per call: pools built from ``api_keys=`` share key health per provider and origin, and the
    mock's origin is the same for the whole session.
    """
    run = next(_runs)
    result = []
    for i, behaviour in enumerate(behaviours):
        value = f"AIza-gem-{run}-{i}-secretvalue"
        mock.add_key(value, behaviour, label=f"k{i}")
        result.append(Key(value, f"k{i}"))
    return result


def options(mock: MockProvider, **kwargs: Any) -> genai.types.HttpOptions:
    return genai.types.HttpOptions(base_url=mock.gemini_base_url, **kwargs)


def make_client(mock: MockProvider, ks: list[Key], http: dict[str, Any] | None = None, **kwargs: Any) -> genai.Client:
    kwargs.setdefault("key_pool", KeyPool(ks, policy=FAST))
    return genai.Client(http_options=options(mock, **(http or {})), **kwargs)


def generate(client: google_genai.Client) -> str:
    return client.models.generate_content(model=MODEL, contents="hi").text or ""


def generate_stream(client: google_genai.Client) -> str:
    return "".join(chunk.text or "" for chunk in client.models.generate_content_stream(model=MODEL, contents="hi"))


async def agenerate(client: google_genai.Client) -> str:
    return (await client.aio.models.generate_content(model=MODEL, contents="hi")).text or ""


async def agenerate_stream(client: google_genai.Client) -> str:
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
    return "".join([chunk.text or "" async for chunk in stream])


FAILING: dict[str, Behaviour] = {
    "rate_limited": rate_limited(retry_after=30),  # 429 RESOURCE_EXHAUSTED per minute, RetryInfo 30s
    "quota_per_day": quota_exhausted(per_day=True),  # 429 RESOURCE_EXHAUSTED, per-day violation
    "quota_zero_limit": quota_exhausted(per_day=False),  # 429, "limit: 0"
    "invalid_key": invalid_key(),  # 400 API_KEY_INVALID
    "server_error": server_error(),  # 500 INTERNAL
    "unavailable": server_error(503),  # 503 UNAVAILABLE
}
MODES = ["sync", "sync-stream", "async", "async-stream"]


def call_client(mode: str, client: google_genai.Client) -> str:
    if mode.startswith("sync"):
        with client:
            return generate_stream(client) if mode.endswith("stream") else generate(client)

    async def run() -> str:
        async with client.aio:
            return await (agenerate_stream(client) if mode.endswith("stream") else agenerate(client))

    return asyncio.run(run())


def run_async(client: google_genai.Client, fn: Callable[[google_genai.Client], Awaitable[str]]) -> str:
    """Run ``fn(client)`` on a fresh event loop and close ``client.aio`` (its connections) before the loop ends."""

    async def run() -> str:
        async with client.aio:
            return await fn(client)

    return asyncio.run(run())


def call(mode: str, mock: MockProvider, ks: list[Key], http: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return call_client(mode, make_client(mock, ks, http, **kwargs))


def credential_headers(headers: dict[str, str]) -> list[str]:
    return [name for name in headers if name in CREDENTIALS]


# -- the behaviour matrix ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", list(FAILING))
def test_key_failure_fails_over_to_next_key(mock: MockProvider, mode: str, failure: str) -> None:
    ks = keys(mock, FAILING[failure], ok())
    assert call(mode, mock, ks) == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    first, second = mock.requests
    assert first.body == second.body
    assert (first.headers["x-goog-api-key"], second.headers["x-goog-api-key"]) == tuple(
        k.get_secret_value() for k in ks
    )
    assert credential_headers(first.headers) == credential_headers(second.headers) == ["x-goog-api-key"]
    if mode.endswith("stream"):
        assert second.path.endswith(":streamGenerateContent") and second.query == "alt=sse"


@pytest.mark.parametrize("mode", MODES)
def test_bad_request_is_one_request_and_the_sdk_error(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, bad_request(), ok())
    with pytest.raises(genai.errors.ClientError) as info:
        call(mode, mock, ks)
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"
    assert mock.labels() == ["k0"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_connection_error_is_left_to_the_sdk(mode: str) -> None:
    pool = KeyPool(["AIza-a", "AIza-b"], policy=FAST)
    client = genai.Client(key_pool=pool, http_options={"base_url": "http://127.0.0.1:9"})  # nothing listens
    with pytest.raises(http.ConnectError):
        call_client(mode, client)
    assert [s.state for s in pool.status()] == ["ready", "ready"]
    assert [s.failures for s in pool.status()] == [{}, {}]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_rate_limited_is_the_sdk_error_without_sdk_retries(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), rate_limited(retry_after=20), rate_limited(retry_after=40))
    with pytest.raises(genai.errors.ClientError) as info:
        call(mode, mock, ks)
    assert info.value.code == 429
    assert info.value.status == "RESOURCE_EXHAUSTED"
    assert mock.labels() == ["k0", "k1", "k2"]  # google-genai does not retry by default: one walk over the keys


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_rate_limited_with_sdk_retries_is_bounded(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), rate_limited(retry_after=20), rate_limited(retry_after=40))
    with pytest.raises(genai.errors.ClientError) as info:
        call(mode, mock, ks, http={"retry_options": NO_WAIT_RETRIES})
    assert info.value.code == 429
    # attempt 1 walks all three keys; the SDK's 2 retries find every key cooling for longer than max_wait (the
    # provider said 20-40 s): answered client-side, with no round trip (on_exhausted="send" sent them to k1)
    assert mock.labels() == ["k0", "k1", "k2"]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_out_of_quota_or_invalid(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, quota_exhausted(), invalid_key())
    with pytest.raises(genai.errors.ClientError) as info:
        call(mode, mock, ks)
    assert info.value.code == 400  # the last real answer: k1's API_KEY_INVALID
    assert mock.labels() == ["k0", "k1"]
    assert info.value.response is not None
    assert info.value.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_disabled_raises_no_usable_key_error(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, invalid_key(), invalid_key())
    pool = KeyPool(ks, policy=FAST)
    with pytest.raises(genai.errors.ClientError):
        call(mode, mock, ks, key_pool=pool)
    with pytest.raises(NoUsableKeyError, match="k0") as info:
        call(mode, mock, ks, key_pool=pool)
    assert "k1" in str(info.value)
    assert "secretvalue" not in str(info.value)
    assert mock.labels() == ["k0", "k1"]


def test_server_errors_on_every_key_are_the_sdks_server_error(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), server_error(503))
    with pytest.raises(genai.errors.ServerError) as info:
        call("sync", mock, ks)
    assert info.value.code == 503
    assert mock.labels() == ["k0", "k1"]


# -- order, cooldown, disabling --------------------------------------------------------------------------------
def test_keys_used_in_order_and_first_good_key_keeps_serving(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok(), ok())
    client = make_client(mock, ks)
    assert [generate(client) for _ in range(3)] == ["served by k0"] * 3


def test_cooled_key_gets_no_request_until_its_time(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    pool = KeyPool(ks, clock=clock, policy=FAST, cooldown_scope="key")
    client = make_client(mock, ks, key_pool=pool)
    assert generate(client) == "served by k1"
    assert pool.status_of("k0").cooling_for == pytest.approx(30)  # from the RetryInfo detail
    mock.set(ks[0].get_secret_value(), ok())  # k0 would answer now, but it must not be asked yet
    clock.advance(29)
    assert [generate(client) for _ in range(3)] == ["served by k1"] * 3
    clock.advance(1.5)
    assert generate(client) == "served by k0"
    assert mock.labels() == ["k0", "k1", "k1", "k1", "k1", "k0"]


def test_quota_cooldowns(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, quota_exhausted(per_day=True), quota_exhausted(per_day=False), ok())
    pool = KeyPool(ks, clock=clock, policy=FAST.replace(quota_cooldown=600), cooldown_scope="key")
    assert generate(make_client(mock, ks, key_pool=pool)) == "served by k2"
    per_day, zero = pool.status_of("k0"), pool.status_of("k1")
    assert per_day.cooldown_reason == zero.cooldown_reason == "quota_exhausted"
    # a per-day quota resets at midnight Pacific time, not after the misleading RetryInfo of 47 s
    assert per_day.cooling_for == pytest.approx(seconds_until_pacific_midnight(), abs=5)
    assert zero.cooling_for == pytest.approx(600)


def test_disabled_key_never_used_again(mock: MockProvider) -> None:
    ks = keys(mock, invalid_key(), ok())
    client = make_client(mock, ks)
    for _ in range(5):
        assert generate(client) == "served by k1"
    assert mock.labels().count("k0") == 1
    assert client.key_pool is not None
    assert client.key_pool.status_of("k0").state == "disabled"


def test_failover_reuses_the_connection(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    before = mock.connections
    with make_client(mock, ks) as client:
        generate(client)
        generate(client)
    assert mock.connections - before == 1


# -- passthrough, Vertex AI and environment ---------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
def test_passthrough_sends_the_sdks_own_key_untouched(mock: MockProvider) -> None:
    mock.add_key("AIza-own", label="own")
    client = genai.Client(api_key="AIza-own", http_options=options(mock))
    assert client.key_pool is None
    assert generate(client) == "served by own"

    # exactly google-genai: with aiohttp installed, async uses it
    assert client._api_client._use_aiohttp() is (aiohttp is not None)

    async def run() -> str:
        async with client.aio:
            return await agenerate(client)

    assert asyncio.run(run()) == "served by own"
    for request in mock.requests:
        assert request.headers["x-goog-api-key"] == "AIza-own"
        assert credential_headers(request.headers) == ["x-goog-api-key"]


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
def test_passthrough_reads_the_sdks_own_env_variable(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    mock.add_key("AIza-env-own", label="own")
    monkeypatch.setenv(variable, "AIza-env-own")
    client = genai.Client(http_options=options(mock))
    assert client.key_pool is None
    assert generate(client) == "served by own"


def test_no_keys_anywhere_is_the_sdks_own_error() -> None:
    with pytest.raises(ValueError, match="No API key was provided") as ours:
        genai.Client()
    with pytest.raises(ValueError, match="No API key was provided") as theirs:
        google_genai.Client()
    assert str(ours.value) == str(theirs.value)


def test_managed_keys_override_the_sdks_own_key_and_env(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = keys(mock, ok())
    mock.add_key("AIza-should-not-be-sent", label="env")
    mock.add_key("AIza-also-not", label="explicit")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-should-not-be-sent")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-should-not-be-sent")
    assert generate(make_client(mock, ks)) == "served by k0"
    assert generate(make_client(mock, ks, api_key="AIza-also-not")) == "served by k0"
    assert mock.labels() == ["k0", "k0"]
    for request in mock.requests:
        assert credential_headers(request.headers) == ["x-goog-api-key"]
        assert "key=" not in request.query


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GEMINI_API_KEYS": "{0}, ,{1}"}, ["GEMINI_API_KEYS[0]", "GEMINI_API_KEYS[1]"]),
        ({"GOOGLE_API_KEYS": "{0}\n{1}\n"}, ["GOOGLE_API_KEYS[0]", "GOOGLE_API_KEYS[1]"]),
        ({"GEMINI_API_KEYS": "{0}", "GOOGLE_API_KEYS": "{1}"}, ["GEMINI_API_KEYS[0]", "GOOGLE_API_KEYS[0]"]),
        ({"GEMINI_API_KEY_10": "{1}", "GEMINI_API_KEY_2": "{0}"}, ["GEMINI_API_KEY_2", "GEMINI_API_KEY_10"]),
        ({"GOOGLE_API_KEY_1": "{0}", "GOOGLE_API_KEY_3": "{1}"}, ["GOOGLE_API_KEY_1", "GOOGLE_API_KEY_3"]),
        (  # one pool: the plain variables, then the numbered ones, then the lists
            {"GOOGLE_API_KEYS": "{1}", "GEMINI_API_KEY": "{0}"},
            ["GEMINI_API_KEY", "GOOGLE_API_KEYS[0]"],
        ),
        ({"GEMINI_API_KEYS": "{1}", "GOOGLE_API_KEY_1": "{0}"}, ["GOOGLE_API_KEY_1", "GEMINI_API_KEYS[0]"]),
    ],
)
def test_keys_from_environment(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    values = [k.get_secret_value() for k in ks]
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(*values))
    client = genai.Client(http_options=options(mock))
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == expected
    assert generate(client) == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_vertex_ai_mode_is_passthrough(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.add_key("AIza-vertex-own", label="own")
    monkeypatch.setenv("GEMINI_API_KEYS", "AIza-managed-a,AIza-managed-b")
    clients = [genai.Client(vertexai=True, api_key="AIza-vertex-own", http_options=options(mock))]
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    clients.append(genai.Client(api_key="AIza-vertex-own", http_options=options(mock)))
    for client in clients:
        assert client.key_pool is None
        assert client.vertexai
        with pytest.raises(genai.errors.ClientError) as info:  # the mock does not serve Vertex AI paths
            generate(client)
        assert info.value.code == 404
    assert mock.labels() == ["own", "own"]
    for request in mock.requests:
        assert "/publishers/google/models/" in request.path
        assert request.headers["x-goog-api-key"] == "AIza-vertex-own"
        assert credential_headers(request.headers) == ["x-goog-api-key"]


def test_vertex_ai_mode_with_explicit_api_keys_is_managed(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    client = genai.Client(vertexai=True, api_keys=ks, http_options=options(mock))
    assert client.key_pool is not None
    with pytest.raises(genai.errors.ClientError) as info:
        generate(client)
    assert info.value.code == 404  # k1's answer: the mock does not serve Vertex AI paths
    assert mock.labels() == ["k0", "k1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_keys": []}, "api_keys is empty"),
        ({"api_keys": "AIza-one"}, "not a single key"),
        ({"api_keys": ["AIza-a", "AIza-a"]}, "duplicates"),
        ({"api_keys": ["AIza-a"], "key_pool": KeyPool(["AIza-b"])}, "not both"),
        ({"key_pool": ["AIza-a"]}, "must be a byok_client.KeyPool"),
    ],
)
def test_bad_client_arguments_are_typed_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ByokConfigError, match=message):
        genai.Client(**kwargs)


# -- drop-in fidelity ---------------------------------------------------------------------------------------------
def test_is_a_real_sdk_subclass_and_keeps_the_sdk_signature() -> None:
    assert issubclass(genai.Client, google_genai.Client)
    assert genai.types is google_genai.types
    assert genai.errors is google_genai.errors
    ours = inspect.signature(genai.Client.__init__).parameters
    theirs = inspect.signature(google_genai.Client.__init__).parameters
    for name, param in theirs.items():
        assert name in ours, name
        assert ours[name].default == param.default, name
        assert ours[name].kind == param.kind, name
    assert list(ours)[: len(theirs)] == list(theirs)
    for name in ("api_keys", "key_pool"):
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert ours[name].default is None


@pytest.mark.parametrize("as_dict", [False, True])
def test_users_http_options_are_kept(mock: MockProvider, as_dict: bool) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    hooked: list[str] = []

    async def async_hook(request: http.Request) -> None:
        hooked.append("async " + request.url.path)

    user_options = genai.types.HttpOptions(
        base_url=mock.gemini_base_url,
        headers={"x-team": "blue"},
        timeout=5000,
        client_args={"event_hooks": {"request": [lambda r: hooked.append("sync " + r.url.path)]}},
        async_client_args={"event_hooks": {"request": [async_hook]}},
    )
    http_options: Any = user_options.model_dump(exclude_none=True) if as_dict else user_options
    client = genai.Client(key_pool=KeyPool(ks, policy=FAST), http_options=http_options)
    kept = client._api_client._http_options
    assert kept.base_url is not None and kept.base_url.rstrip("/") == mock.gemini_base_url
    assert kept.timeout == 5000
    assert kept.headers is not None and kept.headers["x-team"] == "blue"
    assert user_options.client_args is not None and "transport" not in user_options.client_args  # not mutated
    assert generate(client) == "served by k1"
    assert run_async(client, agenerate_stream) == "served by k1"
    path = f"/{kept.api_version}/models/{MODEL}"  # v1 on 3.x, v1beta on 2.x
    assert hooked == [f"sync {path}:generateContent", f"async {path}:streamGenerateContent"]  # once per call
    assert [r.headers["x-team"] for r in mock.requests] == ["blue"] * 3


def test_timeout_is_kept_and_not_failed_over(mock: MockProvider) -> None:
    ks = keys(mock, delay(2.0), ok())
    client = make_client(mock, ks, http={"timeout": 200})  # milliseconds
    assert client._api_client._http_options.timeout == 200
    with pytest.raises(http.ReadTimeout):
        generate(client)
    assert mock.labels() == ["k0"]
    assert client.key_pool is not None
    assert client.key_pool.status_of("k0").state == "ready"


def test_users_httpx_clients_are_kept_and_wrapped(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), ok())
    seen: list[str] = []
    own = http.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    own_async = http.AsyncClient()
    client = make_client(mock, ks, http={"httpx_client": own, "httpx_async_client": own_async})
    api_client: Any = client._api_client  # (Any: the SDK types it for one HTTP library, the test runs on both)
    assert api_client._httpx_client is own
    assert api_client._async_httpx_client is own_async
    assert is_installed(own._transport)
    assert is_installed(own_async._transport)
    assert generate(client) == "served by k1"

    async def run() -> str:
        async with own_async:  # google-genai leaves a user's client open
            return await agenerate(client)

    assert asyncio.run(run()) == "served by k1"
    own.close()  # likewise
    assert seen == [f"/{client._api_client._http_options.api_version}/models/{MODEL}:generateContent"]
    assert mock.labels() == ["k0", "k1", "k0", "k1"]


@needs_aiohttp
async def test_async_path_fails_over_on_httpx_and_never_uses_aiohttp(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("aiohttp must not be used: it would bypass the key-injecting transport")

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", refuse)
    ks = keys(mock, quota_exhausted(), ok())
    client = make_client(mock, ks)
    api_client = client._api_client
    assert api_client._async_httpx_client is not None
    assert is_installed(api_client._async_httpx_client._transport)
    assert is_installed(api_client._httpx_client._transport)
    assert not api_client._use_aiohttp()
    async with client.aio:
        assert await agenerate(client) == "served by k1"
        assert await agenerate_stream(client) == "served by k1"
    assert getattr(api_client, "_aiohttp_sessions", {}) == {}  # releases before 2.x's late ones keep no such map
    assert getattr(api_client, "_aiohttp_session", None) is None
    assert mock.labels() == ["k0", "k1", "k1"]


def test_users_transport_in_client_args_is_the_inner_transport(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    inner = http.HTTPTransport()
    client = make_client(mock, ks, http={"client_args": {"transport": inner}})
    transport = client._api_client._httpx_client._transport
    assert is_installed(transport)
    assert inner_of(transport) is inner  # the same object, the shell on it or around it
    assert generate(client) == "served by k1"


def test_managed_key_only_goes_to_the_base_url_origin(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = make_client(mock, ks)
    placeholder = client._api_client.api_key
    assert placeholder is not None and placeholder not in [k.get_secret_value() for k in ks]
    http = client._api_client._httpx_client
    other_origin = mock.url.replace("127.0.0.1", "localhost") + "/v1beta/models"
    assert http.get(other_origin, headers={"x-goog-api-key": placeholder}).status_code == 403
    assert mock.requests[-1].label == "<none>"
    assert credential_headers(mock.requests[-1].headers) == []  # the placeholder was stripped, no key added
    assert http.get(mock.url + "/v1beta/models", headers={"x-goog-api-key": placeholder}).status_code == 200
    assert mock.requests[-1].label == "k0"


def test_clients_of_the_same_key_and_base_url_share_health(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    first = genai.Client(api_keys=ks, http_options=options(mock))
    second = genai.Client(api_keys=ks, http_options=options(mock))
    generate(first)
    mock.clear()
    assert run_async(second, agenerate) == "served by k1"
    assert mock.labels() == ["k1"]


async def test_aio_outliving_its_client_still_uses_managed_keys(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    aio = genai.Client(key_pool=KeyPool(ks, policy=FAST), http_options=options(mock)).aio  # a common idiom
    gc.collect()
    response = await aio.models.generate_content(model=MODEL, contents="hi")
    assert response.text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_user_credential_header_does_not_bypass_the_pool(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    mock.add_key("AIza-user-header", label="user")
    client = make_client(mock, ks, http={"headers": {"x-goog-api-key": "AIza-user-header"}})
    assert client.key_pool is not None
    assert generate(client) == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_gemini_key_stays_in_x_goog_api_key_next_to_a_user_authorization_header(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = make_client(mock, ks, http={"headers": {"Authorization": "Bearer gateway-token"}})
    assert generate(client) == "served by k0"  # the mock accepts a Bearer key; Gemini itself would answer 401
    (request,) = mock.requests
    assert request.headers.get("x-goog-api-key") == ks[0].get_secret_value()
    assert credential_headers(request.headers) == ["x-goog-api-key"]


# -- resumable uploads ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_upload_start_fails_over_and_the_session_keeps_its_key(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    content = b"hello resumable world\n" * 50
    client = make_client(mock, ks)
    if mode == "sync":
        uploaded = client.files.upload(file=io.BytesIO(content), config={"mime_type": "text/plain"})
    else:

        async def run() -> genai.types.File:
            async with client.aio:
                return await client.aio.files.upload(file=io.BytesIO(content), config={"mime_type": "text/plain"})

        uploaded = asyncio.run(run())
    assert uploaded.display_name == "uploaded by k1"  # the mock names the key that started the session
    assert uploaded.size_bytes == len(content)
    start0, start1, *chunks = mock.requests
    assert (start0.label, start1.label) == ("k0", "k1")
    assert start0.path == start1.path and start0.path.startswith("/upload/")
    assert start0.body == start1.body
    assert chunks and all("upload_id=" in c.query for c in chunks)
    # google-genai 3.3 sends the chunks without a key header: the upload URL carries the session; no key swap
    assert {c.label for c in chunks} == {"<none>"}
    assert all(credential_headers(c.headers) == [] for c in chunks)


def test_request_to_a_known_upload_url_goes_out_with_the_sessions_key_without_failover(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok())
    client = make_client(mock, ks)
    client.files.upload(file=io.BytesIO(b"first part"), config={"mime_type": "text/plain"})
    last = mock.requests[-1]
    upload_url = f"{mock.url}{last.path}?{last.query}"
    mock.set(ks[0].get_secret_value(), rate_limited(retry_after=30))  # the session's key is now rate-limited
    mock.clear()
    placeholder = client._api_client.api_key
    assert placeholder is not None
    response = client._api_client._httpx_client.post(
        upload_url,
        content=b"more",
        headers={"x-goog-api-key": placeholder, "x-goog-upload-command": "upload", "x-goog-upload-offset": "10"},
    )
    # one request, with the session's key (k0), never k1; the mock does not apply scripts to chunk URLs, so the
    # chunk is accepted (a 429 from a real server would be handed back just the same, see the next test)
    assert mock.labels() == ["k0"]
    assert mock.requests[0].headers["x-goog-api-key"] == ks[0].get_secret_value()
    assert response.status_code == 200


def test_pinned_session_url_gets_no_failover_even_when_its_key_is_rate_limited(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    client = make_client(mock, ks)
    provider = client._byok_provider
    assert isinstance(provider, GeminiProvider)
    # a session URL the mock answers with the key's script (its real chunk endpoint ignores scripts)
    pinned = f"{mock.url}/v1/models/{MODEL}:generateContent?upload_id=pinned-{ks[0].fingerprint}"
    provider.remember_session(pinned, ks[0])
    placeholder = client._api_client.api_key
    assert placeholder is not None
    response = client._api_client._httpx_client.post(pinned, json={}, headers={"x-goog-api-key": placeholder})
    assert response.status_code == 429
    assert mock.labels() == ["k0"]
    assert client.key_pool is not None
    assert client.key_pool.status_of("k0").failures == {}  # not even blamed: the session's answer is the session's


# -- concurrency --------------------------------------------------------------------------------------------------
async def test_100_concurrent_async_requests_over_3_keys_one_rate_limited(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=60), ok(), ok())
    client = make_client(mock, ks)
    async with client.aio:
        replies = await asyncio.gather(*(agenerate(client) for _ in range(100)))
        assert set(replies) == {"served by k1", "served by k2"}  # while k0 cools, the burst spreads
        labels = mock.labels()
        assert labels.count("k1") + labels.count("k2") == 100
        assert labels.count("k0") <= 100
        mock.clear()
        await asyncio.gather(*(agenerate_stream(client) for _ in range(20)))
    after = mock.labels()
    assert "k0" not in after
    assert after.count("k1") == after.count("k2") == 10


# -- secrets never leak ----------------------------------------------------------------------------------------------
def test_the_mocks_gemini_invalid_key_body_does_not_echo_the_key() -> None:
    # So the mock cannot show the scrubbing on its own; the echoing transport below does.
    status, _, body = invalid_key_error("gemini", "AIza-echo-me-secretvalue")
    assert status == 400
    assert b"API_KEY_INVALID" in body
    assert b"secretvalue" not in body


def test_no_key_value_in_logs_reprs_or_exceptions(mock: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    ks = keys(mock, rate_limited(retry_after=30), invalid_key(), quota_exhausted())
    secrets = [k.get_secret_value() for k in ks]
    caplog.set_level(logging.DEBUG)
    client = make_client(mock, ks)
    texts: list[str] = []
    errors: list[genai.errors.APIError] = []
    with pytest.raises(genai.errors.ClientError) as info:
        generate(client)
    errors.append(info.value)
    with pytest.raises(genai.errors.ClientError) as info:
        run_async(client, agenerate_stream)
    errors.append(info.value)
    for error in errors:
        texts += [str(error), repr(error), str(error.message), repr(error.details)]
    pool = client.key_pool
    assert pool is not None
    texts += [repr(pool), repr(pool.status()), repr(client), repr(client._api_client._http_options)]
    texts += [repr(k) for k in ks] + [str(k) for k in ks]
    texts += [repr(r) for r in mock.requests]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("k0" in t for t in texts)
    assert any(r.name == "byok_client" for r in caplog.records)
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[-12:] not in text


def _echoing(status: int, reason: str | None) -> Any:
    """An inner transport answering like Gemini does when it echoes the key it got (streamed, as a real transport)."""

    def handle(request: http.Request) -> http.Response:
        key = request.headers.get("x-goog-api-key", "")
        error: dict[str, Any] = {"code": status, "message": f"API key {key} is not valid", "status": "INVALID_ARGUMENT"}
        if reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
        raw = json.dumps({"error": error}).encode()
        headers = {"content-type": "application/json", "content-length": str(len(raw))}
        return http.Response(status, headers=headers, stream=http.ByteStream(raw))

    return handle


@pytest.mark.parametrize("reason", ["API_KEY_INVALID", None])  # every key invalid / a plain 400 returned at once
def test_key_echoed_in_an_error_body_is_replaced_by_its_label(reason: str | None) -> None:
    ks = [Key("AIza-echo-0-secretvalue", "k0"), Key("AIza-echo-1-secretvalue", "k1")]
    transport = http.MockTransport(_echoing(400, reason))
    client = genai.Client(
        key_pool=KeyPool(ks, policy=FAST),
        http_options={"base_url": "http://gemini.test", "client_args": {"transport": transport}},
    )
    with pytest.raises(genai.errors.ClientError) as info:
        generate(client)
    error = info.value
    assert f"API key {'k1' if reason else 'k0'} is not valid" in str(error)
    for text in (str(error), repr(error), str(error.message), repr(error.details)):
        assert "secretvalue" not in text


def test_key_echoed_in_an_already_read_error_body_is_scrubbed_too() -> None:
    def handle(request: http.Request) -> http.Response:
        key = request.headers.get("x-goog-api-key", "")
        error = {"code": 400, "message": f"API key {key} is not valid", "status": "INVALID_ARGUMENT"}
        return http.Response(400, json={"error": error})  # content given up front: already read

    client = genai.Client(
        api_keys=[Key("AIza-echo-read-secretvalue", "k0")],
        http_options={
            "base_url": "http://gemini-read.test",
            "client_args": {"transport": http.MockTransport(handle)},
        },
    )
    with pytest.raises(genai.errors.ClientError) as info:
        generate(client)
    assert "secretvalue" not in str(info.value)
