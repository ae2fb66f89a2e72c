"""The transport shells on their own: legacy httpx and httpx2, sync and async, without an SDK on top."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
import pytest

from byok_client import Key, KeyPool
from byok_client._binding import EXTENSION, Binding, origin_of
from byok_client.providers.openai import OpenAIProvider
from byok_client.testing import MockProvider, ok, rate_limited, server_error
from byok_client.transports import install, is_installed

BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


def binding_for(mock: MockProvider, pool: KeyPool) -> Binding:
    return Binding(pool, OpenAIProvider(), origin_of("http", "127.0.0.1", int(mock.url.rsplit(":", 1)[1])))


def setup_keys(mock: MockProvider) -> KeyPool:
    mock.add_key("sk-shell-0", rate_limited(retry_after=30), label="k0")
    mock.add_key("sk-shell-1", ok(), label="k1")
    return KeyPool([Key("sk-shell-0", "k0"), Key("sk-shell-1", "k1")])


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_sync_shell_fails_over_and_passes_unmarked_requests_through(mock: MockProvider, module: Any) -> None:
    pool = setup_keys(mock)
    with module.Client() as client:
        transport = client._transport
        install(client)
        install(client)  # idempotent
        assert client._transport is transport and type(transport) is module.HTTPTransport
        assert is_installed(transport)
        request = client.build_request(
            "POST",
            mock.openai_base_url + "/chat/completions",
            content=BODY,
            headers={"authorization": "Bearer byok-managed-key", "content-type": "application/json"},
            extensions={EXTENSION: binding_for(mock, pool)},
        )
        response = client.send(request)
        assert response.status_code == 200
        assert "served by k1" in response.text
        plain = client.post(
            mock.openai_base_url + "/chat/completions", content=BODY, headers={"authorization": "Bearer sk-shell-1"}
        )
        assert plain.status_code == 200
    assert mock.labels() == ["k0", "k1", "k1"]
    assert mock.requests[0].body == mock.requests[1].body == BODY


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_async_shell_fails_over(mock: MockProvider, module: Any) -> None:
    pool = setup_keys(mock)
    mock.script("sk-shell-1", server_error(), ok())
    mock.add_key("sk-shell-2", ok(), label="k2")
    pool = KeyPool([*pool.keys, Key("sk-shell-2", "k2")])
    async with module.AsyncClient() as client:
        install(client)
        request = client.build_request(
            "POST",
            mock.openai_base_url + "/chat/completions",
            content=BODY,
            extensions={EXTENSION: binding_for(mock, pool)},
        )
        response = await client.send(request)
        assert response.status_code == 200
        assert "served by k2" in response.text
    assert mock.labels() == ["k0", "k1", "k2"]
    assert all(list(r.headers).count("authorization") == 1 for r in mock.requests)


def test_last_failed_response_reaches_caller_with_retry_hint_and_body(mock: MockProvider) -> None:
    mock.add_key("sk-only", rate_limited(retry_after=5), label="only")
    pool = KeyPool([Key("sk-only", "only")])
    with httpx2.Client() as client:
        install(client)
        request = client.build_request(
            "POST",
            mock.openai_base_url + "/chat/completions",
            content=BODY,
            extensions={EXTENSION: binding_for(mock, pool)},
        )
        response = client.send(request)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.headers["x-should-retry"] == "true"
    assert 4900 <= int(response.headers["retry-after-ms"]) <= 5000


def test_azure_key_goes_in_api_key_header_only(mock: MockProvider) -> None:
    from byok_client.providers.openai import AzureOpenAIProvider, openai_provider_for

    assert isinstance(openai_provider_for("my-resource.openai.azure.com"), AzureOpenAIProvider)
    mock.add_key("azure-key-0", rate_limited(retry_after=30), label="a0")
    mock.add_key("azure-key-1", ok(), label="a1")
    pool = KeyPool([Key("azure-key-0", "a0"), Key("azure-key-1", "a1")])
    binding = Binding(pool, AzureOpenAIProvider(), origin_of("http", "127.0.0.1", int(mock.url.rsplit(":", 1)[1])))
    with httpx2.Client() as client:
        install(client)
        request = client.build_request(
            "POST",
            mock.url + "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
            content=BODY,
            headers={"authorization": "Bearer byok-managed-key", "content-type": "application/json"},
            extensions={EXTENSION: binding},
        )
        response = client.send(request)
    assert response.status_code == 200
    assert "served by a1" in response.text
    assert mock.labels() == ["a0", "a1"]
    for recorded in mock.requests:
        assert "authorization" not in recorded.headers
        assert recorded.headers["api-key"].startswith("azure-key-")
    # the request object goes back to what the SDK set
    assert request.headers["authorization"] == "Bearer byok-managed-key"
    assert "api-key" not in request.headers


def test_a_response_dropped_unclosed_gives_its_in_flight_slot_back(mock: MockProvider) -> None:
    import gc

    mock.add_key("sk-drop-0", ok(), label="d0")
    pool = KeyPool([Key("sk-drop-0", "d0", max_in_flight=1)])
    with httpx2.Client() as client:
        install(client)

        def send() -> httpx2.Response:
            request = client.build_request(
                "POST",
                mock.openai_base_url + "/chat/completions",
                content=BODY,
                extensions={EXTENSION: binding_for(mock, pool)},
            )
            return client.send(request, stream=True)

        response = send()
        assert pool.status_of("d0").in_flight == 1
        del response  # never read, never closed: only the stream's finalizer can give the slot back
        gc.collect()
        assert pool.status_of("d0").in_flight == 1  # queued, not yet applied: no lock taken in a finalizer
        follow_up = send()
        assert pool.status_of("d0").in_flight == 1  # the queued release ran at this pick, which took the slot
        follow_up.close()
    assert pool.status_of("d0").in_flight == 0
