"""KeyPoolTransport / AsyncKeyPoolTransport and http_client / async_http_client: a pool's keys and failover for any
httpx or httpx2 code, against MockProvider on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import httpx
import httpx2
import pytest

import byok_client
from byok_client import (
    AsyncKeyPoolTransport,
    ByokConfigError,
    FailoverPolicy,
    Key,
    KeyPool,
    KeyPoolTransport,
    OpenAI,
    async_http_client,
    http_client,
)
from byok_client.testing import MockProvider, ok, rate_limited
from byok_client.transports import is_installed

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
FAST = FailoverPolicy(retry_after_cap=0.01)
LIBRARIES = pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])


def two_keys(mock: MockProvider) -> list[Key]:
    """k0 is rate-limited, k1 serves (fresh values per test: health is shared per provider and origin)."""
    run = uuid.uuid4().hex[:10]
    values = [f"sk-pt-{run}-0-secretvalue", f"sk-pt-{run}-1-secretvalue"]
    mock.add_key(values[0], rate_limited(retry_after=30), label="k0")
    mock.add_key(values[1], ok(), label="k1")
    return [Key(values[0], "k0"), Key(values[1], "k1")]


# -- the transports -------------------------------------------------------------------------------------------------
@LIBRARIES
def test_sync_transport_fails_over_and_is_a_transport_of_its_library(mock: MockProvider, module: Any) -> None:
    transport = KeyPoolTransport(
        "openai", api_keys=two_keys(mock), base_url=mock.openai_base_url, transport=module.HTTPTransport()
    )
    assert isinstance(transport, module.BaseTransport) and isinstance(transport, KeyPoolTransport)
    other = httpx2 if module is httpx else httpx
    assert not isinstance(transport, other.BaseTransport)
    with module.Client(transport=transport) as client:
        response = client.post(mock.openai_base_url + "/chat/completions", json=CHAT)  # no credential of its own
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "served by k1"
    assert response.headers["x-byok-key"] == "k1"
    assert mock.labels() == ["k0", "k1"]
    assert [r.headers["authorization"][:7] for r in mock.requests] == ["Bearer "] * 2


@LIBRARIES
async def test_async_transport_fails_over_and_streams(mock: MockProvider, module: Any) -> None:
    transport = AsyncKeyPoolTransport(
        "openai", api_keys=two_keys(mock), base_url=mock.openai_base_url, transport=module.AsyncHTTPTransport()
    )
    assert isinstance(transport, module.AsyncBaseTransport)
    async with (
        module.AsyncClient(transport=transport) as client,
        client.stream("POST", mock.openai_base_url + "/chat/completions", json={**CHAT, "stream": True}) as r,
    ):
        body = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert r.status_code == 200 and b"served" in body
    assert mock.labels() == ["k0", "k1"]
    assert transport.key_pool is not None
    assert [s.in_flight for s in transport.key_pool.status()] == [0, 0]  # the stream's lease ended with it


def test_requests_to_other_origins_pass_through_untouched(mock: MockProvider) -> None:
    mock.add_key("sk-callers-own", ok(), label="own")
    pool_elsewhere = KeyPoolTransport("openai", api_keys=["sk-never-sent"], base_url="https://api.openai.com/v1")
    with httpx2.Client(transport=pool_elsewhere) as client:
        response = client.post(
            mock.openai_base_url + "/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-callers-own"}
        )
    assert response.status_code == 200 and "x-byok-key" not in response.headers
    assert mock.labels() == ["own"]


@pytest.mark.parametrize(
    ("provider", "path", "header"),
    [
        ("anthropic", "/v1/messages", "authorization"),  # as anthropic 1.x+ sends API keys
        ("gemini", "/v1beta/models/gemini-2.5-flash:generateContent", "x-goog-api-key"),
        ("azure-openai", "/openai/deployments/d/chat/completions", "api-key"),
    ],
)
def test_each_provider_gets_its_own_auth_header(mock: MockProvider, provider: str, path: str, header: str) -> None:
    ks = two_keys(mock)
    body: dict[str, Any] = {"contents": [{"parts": [{"text": "hi"}]}]} if provider == "gemini" else CHAT
    if provider == "anthropic":
        body = {**CHAT, "max_tokens": 10}
    with http_client(provider, api_keys=ks, base_url=mock.url) as client:
        response = client.post(path, json=body)  # base_url is the client's too
    assert response.status_code == 200, response.text
    assert mock.labels() == ["k0", "k1"]
    assert all(set(r.headers) & {"authorization", "x-api-key", "x-goog-api-key", "api-key"} == {header}
               for r in mock.requests)  # fmt: skip


def test_default_library_is_the_one_the_providers_sdk_uses() -> None:
    # openai 3.x, anthropic 2.x and google-genai 3.x (installed here) depend on httpx2.
    for provider in ("openai", "anthropic", "gemini", "groq"):
        assert isinstance(KeyPoolTransport(provider, api_keys=["sk-a"]), httpx2.BaseTransport), provider
        assert isinstance(AsyncKeyPoolTransport(provider, api_keys=["sk-a"]), httpx2.AsyncBaseTransport)
    assert isinstance(http_client("openai", api_keys=["sk-a"]), httpx2.Client)
    assert isinstance(async_http_client("anthropic", api_keys=["sk-a"]), httpx2.AsyncClient)
    assert isinstance(http_client("openai", api_keys=["sk-a"], transport=httpx.HTTPTransport()), httpx.Client)


def test_an_unused_http_library_is_never_imported() -> None:
    code = (
        "import sys, byok_client\n"
        "byok_client.KeyPoolTransport('openai', api_keys=['sk-a'])\n"
        "byok_client.async_http_client('anthropic', api_keys=['sk-a'])\n"
        "assert 'httpx' not in sys.modules and 'httpx2' in sys.modules, sorted(sys.modules)\n"
        "assert 'openai' not in sys.modules and 'anthropic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_passthrough_without_keys_sends_the_callers_key(mock: MockProvider) -> None:
    mock.add_key("sk-callers-own", ok(), label="own")
    transport = KeyPoolTransport("openai", base_url=mock.openai_base_url)
    assert transport.key_pool is None and "passthrough" in repr(transport)
    with httpx2.Client(transport=transport) as client:
        client.post(
            mock.openai_base_url + "/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-callers-own"}
        )
    assert mock.labels() == ["own"]


def test_keys_from_the_environment_like_the_clients(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = two_keys(mock)
    monkeypatch.setenv("OPENAI_API_KEYS", ",".join(k.get_secret_value() for k in ks))
    with http_client("openai", base_url=mock.openai_base_url) as client:
        assert client.post("/chat/completions", json=CHAT).status_code == 200
    assert mock.labels() == ["k0", "k1"]


def test_events_and_a_shared_pool(mock: MockProvider) -> None:
    pool = KeyPool(two_keys(mock), policy=FAST)
    seen: list[Any] = []
    with http_client("openai", key_pool=pool, base_url=mock.openai_base_url, on_event=seen.append) as client:
        client.post("/chat/completions", json=CHAT)
        client.post("/chat/completions", json=CHAT)  # k0 cools down in the shared pool: straight to k1
    assert mock.labels() == ["k0", "k1", "k1"]
    assert [type(e).__name__ for e in seen].count("FailedOver") == 1


def test_proxy_and_user_mounts_are_wrapped_too(mock: MockProvider) -> None:
    ks = two_keys(mock)
    mounted = httpx2.HTTPTransport()
    with http_client("openai", api_keys=ks, base_url=mock.openai_base_url, mounts={mock.url: mounted}) as client:
        transport = client._transport_for_url(httpx2.URL(mock.openai_base_url))
        assert isinstance(transport, KeyPoolTransport) and transport.transport is mounted
        assert client.post("/chat/completions", json=CHAT).status_code == 200
    assert mock.labels() == ["k0", "k1"]


def test_a_byok_client_on_a_pooled_http_client_fails_over_once_with_its_own_pool(mock: MockProvider) -> None:
    ks = two_keys(mock)
    mock.add_key("sk-transport-only", ok(), label="transport")
    with http_client("openai", api_keys=["sk-transport-only"], base_url=mock.openai_base_url) as hc:
        client = OpenAI(base_url=mock.openai_base_url, key_pool=KeyPool(ks, policy=FAST), http_client=hc, max_retries=0)
        assert is_installed(hc._transport) and isinstance(hc._transport, KeyPoolTransport)  # not wrapped twice
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "served by k1"
        plain = hc.post("/chat/completions", json=CHAT)  # the http client's own requests use its pool
        assert plain.json()["choices"][0]["message"]["content"] == "served by transport"
    assert mock.labels() == ["k0", "k1", "transport"]


def test_bad_input_raises_typed_errors_that_never_show_a_key() -> None:
    secret = "sk-very-secret-value"
    with pytest.raises(ByokConfigError, match="unknown provider 'nope'"):
        KeyPoolTransport("nope", api_keys=[secret])
    with pytest.raises(ByokConfigError, match="base_url is required"):
        KeyPoolTransport("azure-openai", api_keys=[secret])
    with pytest.raises(ByokConfigError, match="absolute http"):
        http_client("openai", api_keys=[secret], base_url="api.openai.com/v1")
    with pytest.raises(ByokConfigError, match="httpx or httpx2 transport"):
        KeyPoolTransport("openai", api_keys=[secret], transport=object())
    with pytest.raises(ByokConfigError, match="use KeyPoolTransport"):
        AsyncKeyPoolTransport("openai", api_keys=[secret], transport=httpx2.HTTPTransport())
    with pytest.raises(ByokConfigError, match="not a single key"):
        http_client("openai", api_keys=secret)
    transport = KeyPoolTransport("openai", api_keys=[secret])
    assert secret not in repr(transport) and secret not in str(vars(transport).get("_binding"))
    assert "KeyPoolTransport" in byok_client.__all__ and "http_client" in dir(byok_client)


# -- the plain SDKs on a pooled HTTP client -------------------------------------------------------------------------
def test_plain_openai_sdk_on_a_pooled_http_client(mock: MockProvider) -> None:
    import openai

    hc = http_client("openai", api_keys=two_keys(mock), base_url=mock.openai_base_url)
    client = openai.OpenAI(api_key="managed-by-byok", base_url=mock.openai_base_url, http_client=hc, max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_plain_anthropic_sdk_on_a_pooled_http_client(mock: MockProvider) -> None:
    import anthropic

    hc = async_http_client("anthropic", api_keys=two_keys(mock), base_url=mock.anthropic_base_url)
    client = anthropic.AsyncAnthropic(
        api_key="managed-by-byok", base_url=mock.anthropic_base_url, http_client=hc, max_retries=0
    )
    reply = await client.messages.create(
        model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content[0].type == "text" and reply.content[0].text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_plain_genai_sdk_on_pooled_http_clients(mock: MockProvider) -> None:
    from google import genai

    ks = two_keys(mock)
    options = genai.types.HttpOptions(
        base_url=mock.gemini_base_url,
        httpx_client=http_client("gemini", api_keys=ks, base_url=mock.gemini_base_url),
        httpx_async_client=async_http_client("gemini", api_keys=ks, base_url=mock.gemini_base_url),
    )
    client = genai.Client(api_key="managed-by-byok", http_options=options)
    assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text == "served by k1"
    reply = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert reply.text == "served by k1"
    assert mock.labels() == ["k0", "k1", "k1"]  # the async pool shares the sync pool's health (same scope)
    assert all("managed-by-byok" not in str(r.headers) + r.query for r in mock.requests)


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    from .frameworks.conftest import run_snippet

    assert run_snippet("httpx_client", mock, monkeypatch) == "served by openai-2\n"
    assert mock.labels() == ["openai-1", "openai-2"]
