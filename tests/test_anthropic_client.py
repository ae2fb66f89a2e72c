"""byok_client.Anthropic / AsyncAnthropic: the real anthropic SDK against MockProvider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import pickle
from typing import TYPE_CHECKING, Any

import anthropic
import pytest
from anthropic._response import APIResponse, AsyncAPIResponse
from anthropic.types import Message, RawContentBlockDeltaEvent, TextBlock, TextDelta

from byok_client import Anthropic, AsyncAnthropic, ByokConfigError, FailoverPolicy, Key, KeyPool, NoUsableKeyError
from byok_client.testing import (
    Behaviour,
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

if TYPE_CHECKING:  # the middleware API exists from late 0.x on
    from anthropic._middleware import CallNext
    from anthropic._request import APIRequest

http: Any = http_library("anthropic")  # httpx or httpx2, whichever this SDK line uses

MODEL = "claude-haiku-4-5"  # not on the SDK's deprecation list, so no DeprecationWarning
MESSAGES: Any = [{"role": "user", "content": "hi"}]
FAST = FailoverPolicy(retry_after_cap=0.01)  # keep the SDK's honoured retry-after short in tests
CREDENTIALS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


def _api_key_header() -> tuple[str, str]:
    """How the installed anthropic release sends an API key: ``x-api-key: KEY`` (0.x, early 1.x) or
    ``authorization: Bearer KEY``, as (header, format)."""
    probe = anthropic.Anthropic(api_key="PROBE", base_url="http://127.0.0.1:9")
    ((name, value),) = probe._api_key_auth.items()
    return name.lower(), value.replace("PROBE", "{}")


KEY_HEADER, KEY_FORMAT = _api_key_header()

_runs = itertools.count()


def keys(mock: MockProvider, *behaviours: Behaviour) -> list[Key]:
    """Register one key per behaviour on the mock, labelled k0, k1, ...

    Values are unique per call: pools the clients build from ``api_keys=`` share key health per provider and origin
    (the mock's origin is the same for the whole session), so reusing values would leak cooldowns between tests.
    """
    run = next(_runs)
    result = []
    for i, behaviour in enumerate(behaviours):
        value = f"sk-ant-{run}-{i}-secretvalue"
        mock.add_key(value, behaviour, label=f"k{i}")
        result.append(Key(value, f"k{i}"))
    return result


def sync_client(mock: MockProvider, ks: list[Key], **kwargs: Any) -> Anthropic:
    kwargs.setdefault("key_pool", KeyPool(ks, policy=FAST))
    return Anthropic(base_url=mock.anthropic_base_url, **kwargs)


def async_client(mock: MockProvider, ks: list[Key], **kwargs: Any) -> AsyncAnthropic:
    kwargs.setdefault("key_pool", KeyPool(ks, policy=FAST))
    return AsyncAnthropic(base_url=mock.anthropic_base_url, **kwargs)


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if isinstance(block, TextBlock))


def delta_text(event: object) -> str:
    if isinstance(event, RawContentBlockDeltaEvent) and isinstance(event.delta, TextDelta):
        return event.delta.text
    return ""


def ask(client: Anthropic) -> str:
    return text_of(client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES))


def ask_stream(client: Anthropic) -> str:
    stream = client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES, stream=True)
    return "".join(delta_text(event) for event in stream)


def ask_helper(client: Anthropic) -> str:
    with client.messages.stream(model=MODEL, max_tokens=16, messages=MESSAGES) as stream:
        return stream.get_final_text()


async def aask(client: AsyncAnthropic) -> str:
    return text_of(await client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES))


async def aask_stream(client: AsyncAnthropic) -> str:
    stream = await client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES, stream=True)
    return "".join([delta_text(event) async for event in stream])


async def aask_helper(client: AsyncAnthropic) -> str:
    async with client.messages.stream(model=MODEL, max_tokens=16, messages=MESSAGES) as stream:
        return await stream.get_final_text()


FAILING: dict[str, Behaviour] = {
    "rate_limited": rate_limited(retry_after=30),
    "quota_exhausted": quota_exhausted(),  # Anthropic: 400 "credit balance is too low"
    "invalid_key": invalid_key(),  # 401
    "server_error": server_error(),  # 500
    "overloaded": server_error(529),
}
MODES = ["sync", "sync-stream", "async", "async-stream"]
HELPER_MODES = ["sync-helper", "async-helper"]  # client.messages.stream(...)


def call(mode: str, mock: MockProvider, ks: list[Key], **kwargs: Any) -> str:
    if mode.startswith("sync"):
        with sync_client(mock, ks, **kwargs) as client:
            if mode == "sync-helper":
                return ask_helper(client)
            return ask_stream(client) if mode == "sync-stream" else ask(client)

    async def run() -> str:
        async with async_client(mock, ks, **kwargs) as client:
            if mode == "async-helper":
                return await aask_helper(client)
            return await (aask_stream(client) if mode == "async-stream" else aask(client))

    return asyncio.run(run())


def credential_headers(headers: dict[str, str]) -> list[str]:
    return [name for name in headers if name in CREDENTIALS]


# -- the behaviour matrix ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES + HELPER_MODES)
@pytest.mark.parametrize("failure", list(FAILING))
def test_key_failure_fails_over_to_next_key(mock: MockProvider, mode: str, failure: str) -> None:
    ks = keys(mock, FAILING[failure], ok())
    assert call(mode, mock, ks, max_retries=0) == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    first, second = mock.requests
    assert first.body == second.body  # the same request, re-sent byte for byte
    assert first.headers[KEY_HEADER] == KEY_FORMAT.format(ks[0].get_secret_value())
    assert second.headers[KEY_HEADER] == KEY_FORMAT.format(ks[1].get_secret_value())


@pytest.mark.parametrize("mode", MODES)
def test_bad_request_is_one_request_and_the_sdk_error(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, bad_request(), ok())
    with pytest.raises(anthropic.BadRequestError) as info:
        call(mode, mock, ks)
    assert info.value.status_code == 400
    assert "roles must alternate" in str(info.value)
    assert mock.labels() == ["k0"]


def test_not_found_is_one_request(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok())
    with pytest.raises(anthropic.NotFoundError):
        sync_client(mock, ks).get("/v1/no-such-endpoint", cast_to=http.Response)
    assert mock.labels() == ["k0"]


@pytest.mark.parametrize("mode", MODES)
def test_connection_error_is_left_to_the_sdk(mode: str) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    pool = KeyPool(["sk-a", "sk-b"], policy=FAST)
    with pytest.raises(anthropic.APIConnectionError):
        if mode.startswith("sync"):
            Anthropic(base_url=dead, key_pool=pool, max_retries=0).messages.create(
                model=MODEL, max_tokens=16, messages=MESSAGES
            )
        else:

            async def run() -> None:
                await AsyncAnthropic(base_url=dead, key_pool=pool, max_retries=0).messages.create(
                    model=MODEL, max_tokens=16, messages=MESSAGES
                )

            asyncio.run(run())
    assert [s.state for s in pool.status()] == ["ready", "ready"]
    assert [s.failures for s in pool.status()] == [{}, {}]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_rate_limited_raises_sdk_error_in_bounded_requests(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), rate_limited(retry_after=20), rate_limited(retry_after=40))
    with pytest.raises(anthropic.RateLimitError) as info:
        call(mode, mock, ks, max_retries=2)
    # attempt 1 walks all three keys; the SDK's 2 retries find every key cooling for longer than max_wait (the
    # provider said 20-40 s): answered client-side, with no round trip (on_exhausted="send" sent them to k1)
    assert mock.labels() == ["k0", "k1", "k2"]
    assert info.value.response.headers["retry-after-ms"] == "10"  # min(20 s, retry_after_cap=0.01 s)
    assert info.value.response.headers["x-should-retry"] == "true"


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_out_of_credit_or_invalid_stops_sdk_retries(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, quota_exhausted(), invalid_key())
    with pytest.raises(anthropic.AuthenticationError) as info:
        call(mode, mock, ks, max_retries=5)
    assert mock.labels() == ["k0", "k1"]
    assert info.value.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("mode", MODES)
def test_retryable_429_is_not_retried_when_no_key_can_serve(mock: MockProvider, mode: str) -> None:
    # The last answer is a 429 the mock marks x-should-retry: true, but k0 is disabled and k1's reset is two hours
    # away (a quota): the SDK must not spend its 5 retries.
    ks = keys(mock, invalid_key(), rate_limited(retry_after=7200))
    with pytest.raises(anthropic.RateLimitError) as info:
        call(mode, mock, ks, max_retries=5)
    assert mock.labels() == ["k0", "k1"]
    assert info.value.response.headers["x-should-retry"] == "false"


def test_server_errors_on_every_key_leave_the_sdk_backoff(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), server_error(529))
    with pytest.raises(anthropic._exceptions.OverloadedError):  # (early 0.x exports it only there)
        call("sync", mock, ks, max_retries=1)
    assert mock.labels() == ["k0", "k1", "k0", "k1"]


def test_all_keys_disabled_is_a_typed_error_without_a_request(mock: MockProvider) -> None:
    # The pool state behind NoUsableKeyError: after both keys are disabled nothing more reaches the provider.
    ks = keys(mock, invalid_key(), invalid_key())
    client = sync_client(mock, ks, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        ask(client)
    with pytest.raises(Exception) as info:
        ask(client)
    error: BaseException | None = info.value
    while error is not None and not isinstance(error, NoUsableKeyError):
        error = error.__cause__
    assert isinstance(error, NoUsableKeyError)
    assert "k0" in str(error) and "k1" in str(error)
    assert "secretvalue" not in str(error)
    assert mock.labels() == ["k0", "k1"]
    assert [s.state for s in client.key_pool.status()] == ["disabled", "disabled"]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
def test_all_keys_disabled_raises_no_usable_key_error(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, invalid_key(), invalid_key())
    pool = KeyPool(ks, policy=FAST)
    with pytest.raises(anthropic.AuthenticationError):
        call(mode, mock, ks, key_pool=pool, max_retries=0)
    with pytest.raises(NoUsableKeyError, match="k0"):
        call(mode, mock, ks, key_pool=pool, max_retries=0)
    assert mock.labels() == ["k0", "k1"]


# -- order, cooldown, disabling --------------------------------------------------------------------------------
def test_keys_used_in_order_and_first_good_key_keeps_serving(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok(), ok())
    client = sync_client(mock, ks)
    assert [ask(client) for _ in range(3)] == ["served by k0"] * 3


def test_cooled_key_gets_no_request_until_its_time(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    pool = KeyPool(ks, clock=clock, policy=FAST, cooldown_scope="key")
    client = sync_client(mock, ks, key_pool=pool, max_retries=0)
    assert ask(client) == "served by k1"
    assert pool.status_of("k0").cooling_for == pytest.approx(30)
    mock.set(ks[0].get_secret_value(), ok())  # k0 would answer now, but it must not be asked yet
    clock.advance(29)
    assert [ask(client) for _ in range(3)] == ["served by k1"] * 3
    clock.advance(1.5)
    assert ask(client) == "served by k0"
    assert mock.labels() == ["k0", "k1", "k1", "k1", "k1", "k0"]


def test_out_of_credit_key_cools_for_the_quota_cooldown(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, quota_exhausted(), ok())
    pool = KeyPool(ks, clock=clock, policy=FAST.replace(quota_cooldown=600))
    assert ask(sync_client(mock, ks, key_pool=pool, max_retries=0)) == "served by k1"
    status = pool.status_of("k0")
    assert status.state == "cooling"
    assert status.cooldown_reason == "quota_exhausted"
    assert status.cooling_for == pytest.approx(600)


def test_disabled_key_never_used_again(mock: MockProvider) -> None:
    ks = keys(mock, invalid_key(), ok())
    client = sync_client(mock, ks)
    for _ in range(5):
        assert ask(client) == "served by k1"
    assert mock.labels().count("k0") == 1
    assert client.key_pool.status_of("k0").state == "disabled"  # type: ignore[union-attr]


def test_failover_reuses_the_connection(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    before = mock.connections
    with sync_client(mock, ks, max_retries=0) as client:
        ask(client)
        ask(client)
    assert mock.connections - before == 1


# -- passthrough and environment --------------------------------------------------------------------------------
def test_passthrough_sends_the_sdks_own_key_untouched(mock: MockProvider) -> None:
    mock.add_key("sk-ant-own", label="own")
    client = Anthropic(api_key="sk-ant-own", base_url=mock.anthropic_base_url)
    assert client.key_pool is None
    assert ask(client) == "served by own"
    (request,) = mock.requests
    assert request.headers[KEY_HEADER] == KEY_FORMAT.format("sk-ant-own")
    assert credential_headers(request.headers) == [KEY_HEADER]


def test_passthrough_sends_the_auth_token_untouched(mock: MockProvider) -> None:
    mock.add_key("tok-own", label="token")
    client = Anthropic(auth_token="tok-own", base_url=mock.anthropic_base_url)
    assert client.key_pool is None
    assert ask(client) == "served by token"
    (request,) = mock.requests
    assert request.headers["authorization"] == "Bearer tok-own"
    assert credential_headers(request.headers) == ["authorization"]


async def test_async_passthrough_sends_the_sdks_own_key_untouched(mock: MockProvider) -> None:
    mock.add_key("sk-ant-own", label="own")
    async with AsyncAnthropic(api_key="sk-ant-own", base_url=mock.anthropic_base_url) as client:
        assert client.key_pool is None
        assert await aask_stream(client) == "served by own"
    assert mock.requests[0].headers[KEY_HEADER] == KEY_FORMAT.format("sk-ant-own")


@pytest.mark.parametrize(("variable", "label"), [("ANTHROPIC_API_KEY", "own"), ("ANTHROPIC_AUTH_TOKEN", "token")])
def test_passthrough_reads_the_sdks_own_env_variables(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch, variable: str, label: str
) -> None:
    mock.add_key("sk-env-own", label=label)
    monkeypatch.setenv(variable, "sk-env-own")
    client = Anthropic(base_url=mock.anthropic_base_url)
    assert client.key_pool is None
    assert ask(client) == f"served by {label}"
    if variable == "ANTHROPIC_API_KEY":
        assert mock.requests[0].headers[KEY_HEADER] == KEY_FORMAT.format("sk-env-own")
    else:
        assert mock.requests[0].headers["authorization"] == "Bearer sk-env-own"


def test_managed_keys_override_the_sdks_own_key_and_env(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = keys(mock, ok())
    mock.add_key("sk-should-not-be-sent", label="env")
    mock.add_key("sk-also-not", label="explicit")
    mock.add_key("tok-not-either", label="token")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-should-not-be-sent")
    assert ask(sync_client(mock, ks)) == "served by k0"
    assert ask(sync_client(mock, ks, api_key="sk-also-not")) == "served by k0"
    assert ask(sync_client(mock, ks, auth_token="tok-not-either")) == "served by k0"
    assert ask(sync_client(mock, ks, default_headers={"X-Api-Key": "sk-also-not"})) == "served by k0"
    assert mock.labels() == ["k0"] * 4
    for request in mock.requests:  # never two credential headers on the wire
        (header,) = credential_headers(request.headers)
        # the managed key goes where the SDK put its credential: the api-key header, or the bearer auth_token took
        expected = KEY_FORMAT if header == KEY_HEADER else "Bearer {}"
        assert request.headers[header] == expected.format(ks[0].get_secret_value())


def test_managed_keys_need_no_sdk_credential() -> None:
    client = Anthropic(api_keys=["sk-ant-managed-only"])
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == ["key-" + Key("sk-ant-managed-only").fingerprint]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ANTHROPIC_API_KEYS": "{0}, ,{1}"}, ["ANTHROPIC_API_KEYS[0]", "ANTHROPIC_API_KEYS[1]"]),
        ({"ANTHROPIC_API_KEYS": "{0}\n{1}\n"}, ["ANTHROPIC_API_KEYS[0]", "ANTHROPIC_API_KEYS[1]"]),
        (
            {"ANTHROPIC_API_KEY_10": "{1}", "ANTHROPIC_API_KEY_2": "{0}"},
            ["ANTHROPIC_API_KEY_2", "ANTHROPIC_API_KEY_10"],
        ),
        (  # one pool: the plain variable, then the numbered ones, then the list
            {"ANTHROPIC_API_KEYS": "{1}", "ANTHROPIC_API_KEY": "{0}"},
            ["ANTHROPIC_API_KEY", "ANTHROPIC_API_KEYS[0]"],
        ),
        (
            {"ANTHROPIC_API_KEYS": "{1}", "ANTHROPIC_API_KEY_1": "{0}"},
            ["ANTHROPIC_API_KEY_1", "ANTHROPIC_API_KEYS[0]"],
        ),
    ],
)
def test_keys_from_environment(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    values = [k.get_secret_value() for k in ks]
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(*values))
    client = Anthropic(base_url=mock.anthropic_base_url, max_retries=0)
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == expected
    assert ask(client) == "served by k1"
    assert mock.labels() == ["k0", "k1"]


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
        Anthropic(**kwargs)


# -- drop-in fidelity ---------------------------------------------------------------------------------------------
def test_is_a_real_sdk_subclass_and_keeps_the_sdk_signature() -> None:
    for ours, theirs in ((Anthropic, anthropic.Anthropic), (AsyncAnthropic, anthropic.AsyncAnthropic)):
        assert issubclass(ours, theirs)
        ours_init = inspect.signature(ours.__init__).parameters
        theirs_init = inspect.signature(theirs.__init__).parameters
        for name, param in theirs_init.items():
            assert name in ours_init, name
            assert ours_init[name].default == param.default, name
            assert ours_init[name].kind == param.kind, name
        for name in ("api_keys", "key_pool"):
            assert ours_init[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert ours_init[name].default is None
        ours_copy = inspect.signature(ours.copy).parameters
        theirs_copy = inspect.signature(theirs.copy).parameters
        # The SDK's own rule: everything __init__ takes, copy takes too. The SDK itself exempts _token_cache (its
        # copy shares the parent's TokenCache through _extra_kwargs), so it is exempt here as well.
        assert "_token_cache" not in theirs_copy
        for name in ours_init:
            if name not in ("self", "_strict_response_validation", "_token_cache"):
                assert name in ours_copy, name
        for name, param in theirs_copy.items():
            assert name in ours_copy, name
            assert ours_copy[name].default == param.default, name
            assert ours_copy[name].kind == param.kind, name
        assert vars(ours)["with_options"] is vars(ours)["copy"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_with_options_and_copy_keep_the_pool_and_still_fail_over(mock: MockProvider, mode: str) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    other: Anthropic | AsyncAnthropic
    if mode == "sync":
        client = sync_client(mock, ks)
        derived = client.with_options(timeout=5, max_retries=0)
        assert isinstance(derived, Anthropic)
        assert derived.timeout == 5
        assert derived.key_pool is client.key_pool
        assert ask(derived) == "served by k1"
        other = client.copy(api_keys=[ks[1]])
    else:
        aclient = async_client(mock, ks)
        aderived = aclient.with_options(timeout=5, max_retries=0)
        assert isinstance(aderived, AsyncAnthropic)
        assert aderived.key_pool is aclient.key_pool

        async def run() -> str:
            async with aderived:
                return await aask(aderived)

        assert asyncio.run(run()) == "served by k1"
        other = aclient.copy(api_keys=[ks[1]])
    assert mock.labels() == ["k0", "k1"]
    assert other.key_pool is not None
    assert [k.label for k in other.key_pool.keys] == ["k1"]


needs_middleware = pytest.mark.skipif(
    not hasattr(anthropic.Anthropic, "with_middleware"), reason="this anthropic release has no middleware API"
)


@needs_middleware
def test_with_middleware_keeps_the_pool_and_sees_only_the_served_response(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    client = sync_client(mock, ks, max_retries=0)
    seen: list[int] = []

    def record(request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
        # a middleware that also sets its own credential header: still only one goes out
        response = call_next(request.copy(headers={**request.headers, "x-api-key": "sk-from-middleware"}))
        seen.append(response.status_code)
        return response

    derived = client.with_middleware(record)
    assert isinstance(derived, Anthropic)
    assert derived.key_pool is client.key_pool
    assert ask(derived) == "served by k1"
    assert seen == [200]  # failover happened below the middleware chain
    assert mock.labels() == ["k0", "k1"]
    assert all(credential_headers(r.headers) == [KEY_HEADER] for r in mock.requests)


@needs_middleware
async def test_async_with_middleware_still_fails_over(mock: MockProvider) -> None:
    ks = keys(mock, server_error(529), ok())
    seen: list[int] = []

    async def record(request: APIRequest, call_next: Any) -> AsyncAPIResponse[Any]:
        response: AsyncAPIResponse[Any] = await call_next(request)
        seen.append(response.status_code)
        return response

    async with async_client(mock, ks, max_retries=0).with_middleware(record) as client:
        assert isinstance(client, AsyncAnthropic)
        assert await aask_stream(client) == "served by k1"
    assert seen == [200]
    assert mock.labels() == ["k0", "k1"]


def test_copy_of_passthrough_client_stays_passthrough(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.add_key("sk-ant-own", label="own")
    client = Anthropic(api_key="sk-ant-own", base_url=mock.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEYS", "sk-late-a,sk-late-b")
    derived = client.with_options(timeout=3)
    assert derived.key_pool is None
    assert ask(derived) == "served by own"


def test_default_client_wraps_every_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    client = Anthropic(api_keys=["sk-ant-a"])
    raw = anthropic.Anthropic(api_key="sk-ant-a")
    http = client._client
    assert type(http) is type(raw._client)  # the SDK's own wrapper class
    assert is_installed(http._transport)
    assert http._transport._pool._max_connections == raw._client._transport._pool._max_connections  # type: ignore[attr-defined]
    proxied = [t for t in http._mounts.values() if t is not None]
    assert proxied and all(is_installed(t) for t in proxied)


def test_users_http_client_keeps_its_settings(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    seen: list[str] = []
    own = http.Client(headers={"x-team": "blue"}, event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    client = sync_client(mock, ks, http_client=own, max_retries=0)
    assert client._client is own
    assert is_installed(own._transport)
    assert ask(client) == "served by k1"
    assert seen == ["/v1/messages"]  # the hook ran once: failover is below the client
    assert mock.requests[-1].headers["x-team"] == "blue"


async def test_async_users_http_client_is_wrapped(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), ok())
    own = http.AsyncClient()
    async with async_client(mock, ks, http_client=own, max_retries=0) as client:
        assert is_installed(own._transport)
        assert await aask(client) == "served by k1"


def test_managed_key_only_goes_to_the_base_url_origin(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = sync_client(mock, ks)
    other_origin = mock.url.replace("127.0.0.1", "localhost") + "/v1/models"
    with pytest.raises(anthropic.AuthenticationError):  # the other origin saw no key at all
        client.get(other_origin, cast_to=http.Response)
    assert mock.requests[-1].label == "<none>"
    assert credential_headers(mock.requests[-1].headers) == []
    client.get("/v1/models", cast_to=http.Response)
    assert mock.requests[-1].label == "k0"


def test_clients_of_the_same_key_and_base_url_share_health(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    first = Anthropic(api_keys=ks, base_url=mock.anthropic_base_url, max_retries=0)
    second = AsyncAnthropic(api_keys=ks, base_url=mock.anthropic_base_url, max_retries=0)
    ask(first)
    mock.clear()

    async def run() -> str:
        async with second:
            return await aask(second)

    assert asyncio.run(run()) == "served by k1"
    assert mock.labels() == ["k1"]  # second client knew k0 was cooling


# -- other endpoints ------------------------------------------------------------------------------------------------
def test_models_and_count_tokens_fail_over(mock: MockProvider) -> None:
    ks = keys(mock, server_error(), ok())
    client = sync_client(mock, ks, max_retries=0)
    assert [m.id for m in client.models.list()] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert client.messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens >= 1
    assert mock.labels() == ["k0", "k1", "k0", "k1"]


def test_raw_response_comes_from_the_serving_key(mock: MockProvider) -> None:
    ks = keys(mock, quota_exhausted(), ok())
    raw = sync_client(mock, ks).messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=MESSAGES)
    assert raw.status_code == 200
    assert text_of(raw.parse()) == "served by k1"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "3999"


# -- concurrency --------------------------------------------------------------------------------------------------
async def test_100_concurrent_async_requests_over_3_keys_one_rate_limited(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=60), ok(), ok())
    async with async_client(mock, ks, max_retries=0) as client:
        replies = await asyncio.gather(*(aask(client) for _ in range(100)))
        assert set(replies) == {"served by k1", "served by k2"}  # while k0 cools, the burst spreads
        labels = mock.labels()
        # every request may meet k0 once (they all start before its first 429 returns), then k1 or k2 serves it
        assert labels.count("k1") + labels.count("k2") == 100
        assert labels.count("k0") <= 100
        mock.clear()
        await asyncio.gather(*(aask_stream(client) for _ in range(20)))
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
    with pytest.raises(anthropic.APIStatusError) as info:
        ask(client)
    with pytest.raises(anthropic.APIStatusError) as info_stream:
        ask_stream(client)
    pool = client.key_pool
    assert pool is not None
    for exc in (info.value, info_stream.value):
        texts += [str(exc), repr(exc), repr(exc.body), repr(exc.response.headers), repr(exc.response.request.headers)]
    texts += [repr(pool), repr(pool.status()), repr(client), *(repr(k) for k in ks), *(str(k) for k in ks)]
    texts += [f"{k}" for k in ks]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    for obj in (ks[0], pool):
        with pytest.raises(TypeError) as pickled:
            pickle.dumps(obj)
        texts.append(str(pickled.value))
    assert any("k0" in t for t in texts)  # the labels do show
    assert any(r.name == "byok_client" for r in caplog.records)  # and the library did log
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[-12:] not in text
