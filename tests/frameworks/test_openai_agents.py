"""openai-agents: ``set_default_openai_client(byok_client.AsyncOpenAI(...))`` (Responses API, and chat completions),
``OpenAIChatCompletionsModel(openai_client=...)``, streamed runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("agents")

import agents
from agents import Agent, OpenAIChatCompletionsModel, Runner, set_default_openai_api, set_default_openai_client
from agents.models import _openai_shared

import byok_client
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys


@pytest.fixture(autouse=True)
def agents_defaults() -> Iterator[None]:
    """No trace upload (it would leave loopback); the SDK's global defaults put back after each test."""
    agents.set_tracing_disabled(True)
    client, responses = _openai_shared.get_default_openai_client(), _openai_shared.get_use_responses_by_default()
    yield
    _openai_shared._default_openai_client = client
    _openai_shared.set_use_responses_by_default(responses)
    agents.set_tracing_disabled(False)


def byok(mock: MockProvider) -> byok_client.AsyncOpenAI:
    return byok_client.AsyncOpenAI(api_keys=two_keys(mock), base_url=mock.openai_base_url, max_retries=0)


AGENT = Agent(name="assistant", instructions="Answer briefly.", model="gpt-4o-mini")


def test_default_client_responses_api_fails_over(mock: MockProvider) -> None:
    set_default_openai_client(byok(mock), use_for_tracing=False)
    assert Runner.run_sync(AGENT, "hi").final_output == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    assert mock.requests[-1].path == "/v1/responses"


async def test_default_client_chat_completions_fails_over(mock: MockProvider) -> None:
    set_default_openai_client(byok(mock), use_for_tracing=False)
    set_default_openai_api("chat_completions")
    result = await Runner.run(AGENT, "hi")
    assert result.final_output == "served by k1"
    assert mock.labels() == ["k0", "k1"]
    assert mock.requests[-1].path == "/v1/chat/completions"


async def test_streamed_run_fails_over(mock: MockProvider) -> None:
    set_default_openai_client(byok(mock), use_for_tracing=False)
    result = Runner.run_streamed(AGENT, "hi")
    events = [event async for event in result.stream_events()]
    assert events and result.final_output == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_chat_completions_model_with_its_own_client_fails_over(mock: MockProvider) -> None:
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=byok(mock))
    result = await Runner.run(Agent(name="assistant", model=model), "hi")
    assert result.final_output == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_snippet("openai_agents", mock, monkeypatch) == "served by openai-2\n"
    assert mock.labels() == ["openai-1", "openai-2"]
