"""pydantic-ai: OpenAIChatModel, OpenAIResponsesModel (sync, async, streaming) and AnthropicModel on byok_client's
clients or on a pooled HTTP client."""

from __future__ import annotations

import pytest

pytest.importorskip("pydantic_ai")
pytest.importorskip("pydantic_ai.models.openai")

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

import byok_client
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys


def openai_provider(mock: MockProvider) -> OpenAIProvider:
    client = byok_client.AsyncOpenAI(api_keys=two_keys(mock), base_url=mock.openai_base_url, max_retries=0)
    return OpenAIProvider(openai_client=client)


def test_chat_model_on_a_byok_client_fails_over(mock: MockProvider) -> None:
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=openai_provider(mock)))
    assert agent.run_sync("hi").output == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_chat_model_on_a_pooled_http_client_fails_over(mock: MockProvider) -> None:
    http = byok_client.async_http_client("openai", api_keys=two_keys(mock), base_url=mock.openai_base_url)
    provider = OpenAIProvider(base_url=mock.openai_base_url, api_key="managed-by-byok", http_client=http)
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider))
    assert agent.run_sync("hi").output == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    assert all("managed-by-byok" not in str(r.headers) for r in mock.requests)


async def test_responses_model_fails_over(mock: MockProvider) -> None:
    agent = Agent(OpenAIResponsesModel("gpt-4o-mini", provider=openai_provider(mock)))
    result = await agent.run("hi")
    assert result.output == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    assert mock.requests[-1].path == "/v1/responses"


@pytest.mark.parametrize("model_class", [OpenAIChatModel, OpenAIResponsesModel])
async def test_streaming_fails_over(mock: MockProvider, model_class: type[OpenAIChatModel]) -> None:
    agent = Agent(model_class("gpt-4o-mini", provider=openai_provider(mock)))
    async with agent.run_stream("hi") as stream:
        text = "".join([delta async for delta in stream.stream_text(delta=True)])
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_anthropic_model_fails_over(mock: MockProvider) -> None:
    pytest.importorskip("pydantic_ai.models.anthropic")
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    client = byok_client.AsyncAnthropic(api_keys=two_keys(mock), base_url=mock.anthropic_base_url, max_retries=0)
    agent = Agent(AnthropicModel("claude-sonnet-4-6", provider=AnthropicProvider(anthropic_client=client)))
    assert agent.run_sync("hi").output == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_anthropic_model_on_a_pooled_http_client_streams(mock: MockProvider) -> None:
    pytest.importorskip("pydantic_ai.models.anthropic")
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    http = byok_client.async_http_client("anthropic", api_keys=two_keys(mock), base_url=mock.anthropic_base_url)
    provider = AnthropicProvider(api_key="managed-by-byok", base_url=mock.anthropic_base_url, http_client=http)
    agent = Agent(AnthropicModel("claude-sonnet-4-6", provider=provider))
    async with agent.run_stream("hi") as stream:
        text = "".join([delta async for delta in stream.stream_text(delta=True)])
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pydantic_ai.models.anthropic")
    assert run_snippet("pydantic_ai", mock, monkeypatch) == "served by openai-2\nserved by anthropic-2\n"
    assert mock.labels() == ["openai-1", "openai-2", "anthropic-1", "anthropic-2"]
