"""LangChain: ChatOpenAI through ``http_client=`` / ``http_async_client=``; ChatAnthropic (which takes no client)
through byok_client's Anthropic clients."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import pytest

pytest.importorskip("langchain_openai")

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

import byok_client
from byok_client import KeyPool
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys


def chat_openai(mock: MockProvider, pool: KeyPool, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini",
        api_key=SecretStr("managed-by-byok"),
        base_url=mock.openai_base_url,
        http_client=byok_client.http_client("openai", key_pool=pool, base_url=mock.openai_base_url),
        http_async_client=byok_client.async_http_client("openai", key_pool=pool, base_url=mock.openai_base_url),
        max_retries=0,
        **kwargs,
    )


def test_chat_openai_invoke_fails_over(mock: MockProvider) -> None:
    llm = chat_openai(mock, KeyPool(two_keys(mock)))
    assert llm.invoke("hi").content == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    assert all("managed-by-byok" not in str(r.headers) for r in mock.requests)


async def test_chat_openai_ainvoke_fails_over(mock: MockProvider) -> None:
    llm = chat_openai(mock, KeyPool(two_keys(mock)))
    reply = await llm.ainvoke("hi")
    assert reply.content == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_chat_openai_stream_fails_over(mock: MockProvider) -> None:
    llm = chat_openai(mock, KeyPool(two_keys(mock)))
    text = "".join(str(chunk.content) for chunk in llm.stream("hi"))
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_chat_openai_astream_fails_over(mock: MockProvider) -> None:
    llm = chat_openai(mock, KeyPool(two_keys(mock)))
    text = "".join([str(chunk.content) async for chunk in llm.astream("hi")])
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_chat_openai_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_snippet("langchain_openai", mock, monkeypatch) == "served by openai-2\n"
    assert mock.labels() == ["openai-1", "openai-2"]


def test_chat_anthropic_through_byok_clients(mock: MockProvider) -> None:
    pytest.importorskip("langchain_anthropic")
    from langchain_anthropic import ChatAnthropic

    pool = KeyPool(two_keys(mock))

    class PooledChatAnthropic(ChatAnthropic):
        @cached_property
        def _client(self) -> byok_client.Anthropic:
            return byok_client.Anthropic(**self._client_params, key_pool=pool)

        @cached_property
        def _async_client(self) -> byok_client.AsyncAnthropic:
            return byok_client.AsyncAnthropic(**self._client_params, key_pool=pool)

    # ChatAnthropic's optional fields read as required to mypy without the pydantic plugin
    llm = PooledChatAnthropic(  # type: ignore[call-arg]
        model_name="claude-sonnet-4-6", api_key=SecretStr("managed-by-byok"), base_url=mock.anthropic_base_url
    )
    assert llm.invoke("hi").content == "served by k1"
    assert "".join(str(c.content) for c in llm.stream("hi")) == "served by k1"
    assert mock.labels() == ["k0", "k1", "k1"]  # k0 is cooling down: the stream went straight to k1
    assert all("managed-by-byok" not in str(r.headers) for r in mock.requests)


def test_chat_anthropic_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_anthropic")
    assert run_snippet("langchain_anthropic", mock, monkeypatch) == "served by anthropic-2\n"
    assert mock.labels() == ["anthropic-1", "anthropic-2"]
