"""byok_client.OpenAI / AsyncOpenAI: the real openai SDK against MockProvider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import uuid
from typing import Any

import openai
import pytest

from byok_client import AsyncOpenAI, ByokConfigError, FailoverPolicy, Key, KeyPool, NoUsableKeyError, OpenAI
from byok_client.testing import (
    MockProvider,
    bad_request,
    invalid_key,
    ok,
    quota_exhausted,
    rate_limited,
    server_error,
)

from ._sdk import http_library, is_installed
from .conftest import FakeClock

http: Any = http_library("openai")  # httpx or httpx2, whichever this SDK line uses

MESSAGES: Any = [{"role": "user", "content": "hi"}]
FAST = FailoverPolicy(retry_after_cap=0.01)  # keep the SDK's honoured retry-after short in tests


def keys(mock: MockProvider, *behaviours: Any) -> list[Key]:
    """Register one key per behaviour on the mock, labelled k0, k1, ..."""
    # fresh values per call: clients of one provider and origin share key health, so reuse would leak cooldowns
    run = uuid.uuid4().hex[:10]
    result = []
    for i, behaviour in enumerate(behaviours):
        mock.add_key(f"sk-test-{run}-{i}-secretvalue", behaviour, label=f"k{i}")
        result.append(Key(f"sk-test-{run}-{i}-secretvalue", f"k{i}"))
    return result


def sync_client(mock: MockProvider, ks: list[Key], **kwargs: Any) -> OpenAI:
    kwargs.setdefault("key_pool", KeyPool(ks, policy=FAST))
    return OpenAI(base_url=mock.openai_base_url, **kwargs)


def async_client(mock: MockProvider, ks: list[Key], **kwargs: Any) -> AsyncOpenAI:
    kwargs.setdefault("key_pool", KeyPool(ks, policy=FAST))
    return AsyncOpenAI(base_url=mock.openai_base_url, **kwargs)


def chat(client: OpenAI) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    return reply.choices[0].message.content or ""


def chat_stream(client: OpenAI) -> str:
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


async def achat(client: AsyncOpenAI) -> str:
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    return reply.choices[0].message.content or ""


async def achat_stream(client: AsyncOpenAI) -> str:
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


FAILING = {
    "rate_limited": rate_limited(retry_after=30),
    "quota_exhausted": quota_exhausted(),
    "invalid_key": invalid_key(),
    "server_error": server_error(),
}
MODES = ["sync", "sync-stream", "async", "async-stream"]


def call(mode: str, mock: MockProvider, ks: list[Key], **kwargs: Any) -> str:
    if mode.startswith("sync"):
        with sync_client(mock, ks, **kwargs) as client:
            return chat_stream(client) if mode.endswith("stream") else chat(client)

    async def run() -> str:
        async with async_client(mock, ks, **kwargs) as client:
            return await (achat_stream(client) if mode.endswith("stream") else achat(client))

    return asyncio.run(run())


# -- the behaviour matrix ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", list(FAILING))
def test_key_failure_fails_over_to_next_key(mock: MockProvider, mode: str, failure: str) -> None:
    ks = keys(mock, FAILING[failure], ok())
    assert call(mode, mock, ks, max_retries=0) == "served by k1"
    assert mock.labels() == ["k0", "k1"]


@pytest.mark.parametrize("mode", MODES)
def test_bad_request_is_one_request_and_the_sdk_error(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, bad_request(), ok())
    with pytest.raises(openai.BadRequestError):
        call(mode, mock, ks)
    assert mock.labels() == ["k0"]


@pytest.mark.parametrize("mode", MODES)
def test_connection_error_is_left_to_the_sdk(mock: MockProvider, mode: str) -> None:
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    pool = KeyPool(["sk-a", "sk-b"], policy=FAST)
    with pytest.raises(openai.APIConnectionError):
        if mode.startswith("sync"):
            OpenAI(base_url=dead, key_pool=pool, max_retries=0).models.list()
        else:

            async def run() -> None:
                await AsyncOpenAI(base_url=dead, key_pool=pool, max_retries=0).models.list()

            asyncio.run(run())
    assert [s.state for s in pool.status()] == ["ready", "ready"]
    assert [s.failures for s in pool.status()] == [{}, {}]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_rate_limited_raises_sdk_error_in_bounded_requests(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), rate_limited(retry_after=20), rate_limited(retry_after=40))
    with pytest.raises(openai.RateLimitError):
        call(mode, mock, ks, max_retries=2)
    # attempt 1 walks all three keys; the SDK's 2 retries find every key cooling for longer than max_wait (the
    # provider said 20-40 s): answered client-side, with no round trip (on_exhausted="send" sent them to k1)
    assert mock.labels() == ["k0", "k1", "k2"]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_out_of_quota_or_invalid_stops_sdk_retries(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, quota_exhausted(), invalid_key())
    with pytest.raises((openai.RateLimitError, openai.AuthenticationError)):
        call(mode, mock, ks, max_retries=5)
    assert mock.labels() == ["k0", "k1"]  # x-should-retry: false stopped the SDK's 5 retries


def test_all_keys_disabled_is_a_typed_error(mock: MockProvider) -> None:
    ks = keys(mock, invalid_key(), invalid_key())
    client = sync_client(mock, ks)
    with pytest.raises(openai.AuthenticationError):
        chat(client)
    with pytest.raises(NoUsableKeyError, match="k0") as info:
        chat(client)
    assert "secretvalue" not in str(info.value)
    assert mock.labels() == ["k0", "k1"]


def test_server_errors_on_every_key_leave_the_sdk_backoff(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), server_error())
    with pytest.raises(openai.InternalServerError):
        call("sync", mock, ks, max_retries=1)
    assert mock.labels() == ["k0", "k1", "k0", "k1"]


# -- order, cooldown, disabling --------------------------------------------------------------------------------
def test_keys_used_in_order_and_first_good_key_keeps_serving(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok(), ok())
    client = sync_client(mock, ks)
    assert [chat(client) for _ in range(3)] == ["served by k0"] * 3


def test_cooled_key_gets_no_request_until_its_time(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    client = sync_client(mock, ks, key_pool=KeyPool(ks, clock=clock, policy=FAST), max_retries=0)
    assert chat(client) == "served by k1"
    mock.set(ks[0].get_secret_value(), ok())  # k0 would answer now, but it must not be asked yet
    clock.advance(29)
    assert [chat(client) for _ in range(3)] == ["served by k1"] * 3
    clock.advance(1.5)
    assert chat(client) == "served by k0"
    assert mock.labels() == ["k0", "k1", "k1", "k1", "k1", "k0"]


def test_rate_limit_reset_header_sets_cooldown(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, rate_limited(reset_requests="6m0s"), ok())
    pool = KeyPool(ks, clock=clock, policy=FAST, cooldown_scope="key")
    chat(sync_client(mock, ks, key_pool=pool, max_retries=0))
    assert pool.status_of("k0").cooling_for == pytest.approx(360)


def test_disabled_key_never_used_again(mock: MockProvider) -> None:
    ks = keys(mock, invalid_key(), ok())
    client = sync_client(mock, ks)
    for _ in range(5):
        assert chat(client) == "served by k1"
    assert mock.labels().count("k0") == 1


def test_failover_reuses_the_connection(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    before = mock.connections
    with sync_client(mock, ks, max_retries=0) as client:
        chat(client)
        chat(client)
    assert mock.connections - before == 1


# -- passthrough and environment --------------------------------------------------------------------------------
def test_passthrough_sends_the_sdks_own_key_untouched(mock: MockProvider) -> None:
    mock.add_key("sk-own", label="own")
    client = OpenAI(api_key="sk-own", base_url=mock.openai_base_url)
    assert client.key_pool is None
    assert chat(client) == "served by own"
    assert mock.requests[0].headers["authorization"] == "Bearer sk-own"


def test_passthrough_reads_openai_api_key(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.add_key("sk-env-own", label="own")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-own")
    assert chat(OpenAI(base_url=mock.openai_base_url)) == "served by own"


def test_no_keys_anywhere_is_the_sdks_own_error() -> None:
    # the SDK's own words: 3.x and late 2.x say "Missing credentials", earlier releases name the api_key option
    with pytest.raises(openai.OpenAIError, match=r"Missing credentials|api_key client option must be set"):
        OpenAI()


def test_managed_keys_do_not_need_openai_api_key_and_override_it(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    ks = keys(mock, ok())
    assert chat(sync_client(mock, ks)) == "served by k0"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-be-sent")
    assert chat(sync_client(mock, ks, api_key="sk-also-not")) == "served by k0"
    assert {r.label for r in mock.requests} == {"k0"}
    assert all(list(r.headers).count("authorization") == 1 for r in mock.requests)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"OPENAI_API_KEYS": "{0}, ,{1}"},
            ["OPENAI_API_KEYS[0]", "OPENAI_API_KEYS[1]"],
        ),
        (
            {"OPENAI_API_KEYS": "{0}\n{1}\n"},
            ["OPENAI_API_KEYS[0]", "OPENAI_API_KEYS[1]"],
        ),
        (
            {"OPENAI_API_KEY_10": "{1}", "OPENAI_API_KEY_2": "{0}"},
            ["OPENAI_API_KEY_2", "OPENAI_API_KEY_10"],
        ),
        (  # one pool: the plain variable, then the numbered ones, then the list
            {"OPENAI_API_KEYS": "{1}", "OPENAI_API_KEY": "{0}"},
            ["OPENAI_API_KEY", "OPENAI_API_KEYS[0]"],
        ),
    ],
)
def test_keys_from_environment(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(*(k.get_secret_value() for k in ks)))
    client = OpenAI(base_url=mock.openai_base_url, max_retries=0)
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == expected
    assert chat(client) == "served by k1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_keys": []}, "api_keys is empty"),
        ({"api_keys": "sk-one"}, "not a single key"),
        ({"api_keys": ["sk-a", "sk-a"]}, "duplicates"),
        ({"api_keys": ["sk-a"], "key_pool": KeyPool(["sk-b"])}, "not both"),
        ({"key_pool": ["sk-a"]}, "must be a byok_client.KeyPool"),
    ],
)
def test_bad_client_arguments_are_typed_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ByokConfigError, match=message):
        OpenAI(**kwargs)


# -- drop-in fidelity ---------------------------------------------------------------------------------------------
def test_is_a_real_sdk_subclass_and_keeps_the_sdk_signature() -> None:
    for ours, theirs in ((OpenAI, openai.OpenAI), (AsyncOpenAI, openai.AsyncOpenAI)):
        assert issubclass(ours, theirs)
        ours_init = inspect.signature(ours.__init__).parameters
        theirs_init = inspect.signature(theirs.__init__).parameters
        for name, param in theirs_init.items():
            assert ours_init[name].default == param.default, name
            assert ours_init[name].kind == param.kind, name
        copy_params = inspect.signature(ours.copy).parameters
        for name in ours_init:  # the SDK's own test: everything __init__ takes, copy takes too
            if name not in ("self", "_strict_response_validation"):
                assert name in copy_params, name
        for name in inspect.signature(theirs.copy).parameters:
            assert name in copy_params, name


def test_with_options_and_copy_keep_the_pool_and_still_fail_over(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    client = sync_client(mock, ks)
    derived = client.with_options(timeout=5, max_retries=0)
    assert isinstance(derived, OpenAI)
    assert derived.key_pool is client.key_pool
    assert derived.timeout == 5
    assert chat(derived) == "served by k1"
    other = client.copy(api_keys=[ks[1]])
    assert other.key_pool is not client.key_pool
    assert [k.label for k in other.key_pool.keys] == ["k1"]  # type: ignore[union-attr]


def test_copy_of_passthrough_client_stays_passthrough(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.add_key("sk-own", label="own")
    client = OpenAI(api_key="sk-own", base_url=mock.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEYS", "sk-late-a,sk-late-b")
    assert client.with_options(timeout=3).key_pool is None


def test_default_client_keeps_sdk_settings_and_wraps_every_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    client = OpenAI(api_keys=["sk-a"])
    raw = openai.OpenAI(api_key="sk-a")
    http = client._client
    assert type(http) is type(raw._client)  # the SDK's own wrapper class
    assert http.follow_redirects is True
    assert http._transport._pool._max_connections == raw._client._transport._pool._max_connections == 1000  # type: ignore[attr-defined]
    assert is_installed(http._transport)
    proxied = [t for t in http._mounts.values() if t is not None]
    assert proxied and all(is_installed(t) for t in proxied)


def test_users_http_client_keeps_its_settings(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    seen: list[str] = []
    own = http.Client(headers={"x-team": "blue"}, event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    client = sync_client(mock, ks, http_client=own, max_retries=0)
    assert client._client is own
    assert is_installed(own._transport)
    assert chat(client) == "served by k1"
    assert seen == ["/v1/chat/completions"]
    assert mock.requests[-1].headers["x-team"] == "blue"


async def test_async_users_http_client_is_wrapped(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), ok())
    own = http.AsyncClient()
    client = async_client(mock, ks, http_client=own, max_retries=0)
    assert is_installed(own._transport)
    assert await achat(client) == "served by k1"


def test_managed_key_only_goes_to_the_base_url_origin(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = sync_client(mock, ks)
    other_origin = mock.url.replace("127.0.0.1", "localhost") + "/v1/models"
    with pytest.raises(openai.AuthenticationError):  # the other origin saw no key at all
        client.get(other_origin, cast_to=http.Response)
    assert mock.requests[-1].label == "<none>"
    assert "authorization" not in mock.requests[-1].headers
    client.get("/models", cast_to=http.Response)
    assert mock.requests[-1].label == "k0"


def test_clients_of_the_same_key_and_base_url_share_health(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    first = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    second = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    chat(first)
    mock.clear()
    assert chat(second) == "served by k1"
    assert mock.labels() == ["k1"]  # second client knew k0 was cooling


# -- other endpoints ------------------------------------------------------------------------------------------------
def test_multipart_upload_fails_over_with_identical_body(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    content = bytes(range(256)) * 40
    client = sync_client(mock, ks, max_retries=0)
    uploaded = client.files.create(file=("data.jsonl", content), purpose="batch")
    assert uploaded.bytes == len(content)
    first, second = mock.requests
    assert (first.label, second.label) == ("k0", "k1")
    assert first.body == second.body
    assert content in second.body


def test_embeddings_and_models_fail_over(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), ok())
    client = sync_client(mock, ks, max_retries=0)
    assert len(client.embeddings.create(model="text-embedding-3-small", input=["a", "b"]).data) == 2
    assert len(client.models.list().data) >= 1
    assert mock.labels() == ["k0", "k1", "k0", "k1"]


def test_raw_response_comes_from_the_serving_key(mock: MockProvider) -> None:
    ks = keys(mock, quota_exhausted(), ok())
    raw = sync_client(mock, ks).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.status_code == 200
    assert raw.parse().choices[0].message.content == "served by k1"


# -- concurrency --------------------------------------------------------------------------------------------------
async def test_200_concurrent_async_requests_over_3_keys_one_rate_limited(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=60), ok(), ok())
    async with async_client(mock, ks, max_retries=0) as client:
        replies = await asyncio.gather(*(achat(client) for _ in range(200)))
        assert len(replies) == 200
        assert set(replies) == {"served by k1", "served by k2"}  # while k0 cools, the burst spreads over k1, k2
        labels = mock.labels()
        # every request may meet k0 once (they all start before its first 429 returns), then k1 or k2 serves it
        assert labels.count("k1") + labels.count("k2") == 200
        assert labels.count("k0") <= 200
        mock.clear()
        await asyncio.gather(*(achat(client) for _ in range(20)))
    after = mock.labels()
    assert "k0" not in after  # k0 now cools: nobody asks it
    assert after.count("k1") == after.count("k2") == 10


# -- secrets never leak ----------------------------------------------------------------------------------------------
def test_no_key_value_in_logs_reprs_exceptions_or_pickles(mock: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    ks = keys(mock, rate_limited(retry_after=30), invalid_key(), quota_exhausted())
    secrets = [k.get_secret_value() for k in ks]
    caplog.set_level(logging.DEBUG)
    client = sync_client(mock, ks, max_retries=1)
    texts: list[str] = []
    with pytest.raises(openai.APIStatusError) as info:
        chat(client)
    texts += [str(info.value), repr(info.value), repr(client.key_pool), repr(client.key_pool.status())]  # type: ignore[union-attr]
    texts += [repr(k) for k in ks]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    for obj in (ks[0], client.key_pool):
        with pytest.raises(TypeError) as pickled:
            pickle.dumps(obj)
        texts.append(str(pickled.value))
    assert any("k0" in t for t in texts)  # the labels do show
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[-12:] not in text
