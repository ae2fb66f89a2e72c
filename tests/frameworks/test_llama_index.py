"""LlamaIndex (llama-index-llms-openai): ``http_client=`` / ``async_http_client=`` pooled HTTP clients, and
``openai_client=`` / ``async_openai_client=`` byok clients.

llama-index-llms-openai pins openai<3: ``.ci/frameworks.sh`` runs this in a venv of its own."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.llms.openai")

from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI

import byok_client
from byok_client import KeyPool
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys

HI = [ChatMessage(role="user", content="hi")]


def on_http_clients(mock: MockProvider) -> OpenAI:
    pool = KeyPool(two_keys(mock))
    return OpenAI(
        model="gpt-4o-mini",
        api_key="managed-by-byok",
        api_base=mock.openai_base_url,
        http_client=byok_client.http_client("openai", key_pool=pool, base_url=mock.openai_base_url),
        async_http_client=byok_client.async_http_client("openai", key_pool=pool, base_url=mock.openai_base_url),
        max_retries=0,
    )


def on_byok_clients(mock: MockProvider) -> OpenAI:
    pool = KeyPool(two_keys(mock))
    return OpenAI(
        model="gpt-4o-mini",
        openai_client=byok_client.OpenAI(key_pool=pool, base_url=mock.openai_base_url, max_retries=0),
        async_openai_client=byok_client.AsyncOpenAI(key_pool=pool, base_url=mock.openai_base_url, max_retries=0),
    )


def test_http_clients_complete_and_chat_fail_over(mock: MockProvider) -> None:
    llm = on_http_clients(mock)
    assert llm.complete("hi").text == "served by k1"
    assert llm.chat(HI).message.content == "served by k1"
    assert mock.labels() == ["k0", "k1", "k1"]  # k0 cools down in the shared pool
    assert all("managed-by-byok" not in str(r.headers) for r in mock.requests)


async def test_http_clients_async_stream_fails_over(mock: MockProvider) -> None:
    llm = on_http_clients(mock)
    text = "".join([chunk.delta or "" async for chunk in await llm.astream_chat(HI)])
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_byok_clients_fail_over(mock: MockProvider) -> None:
    llm = on_byok_clients(mock)
    assert llm.complete("hi").text == "served by k1"
    assert "".join(chunk.delta or "" for chunk in llm.stream_chat(HI)) == "served by k1"
    assert mock.labels() == ["k0", "k1", "k1"]


async def test_byok_async_client_fails_over(mock: MockProvider) -> None:
    llm = on_byok_clients(mock)
    reply = await llm.achat(HI)
    assert reply.message.content == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_snippet("llama_index", mock, monkeypatch) == "served by openai-2\n"
    assert mock.labels() == ["openai-1", "openai-2"]
