"""pydantic-ai's GoogleModel on ``byok_client.genai.Client`` through ``GoogleProvider(client=...)``.

pydantic-ai-slim[google] pins google-genai<3; ``.ci/frameworks.sh`` runs this with that line and with 3.x."""

from __future__ import annotations

import pytest

pytest.importorskip("pydantic_ai")
pytest.importorskip("google.genai")
pytest.importorskip("pydantic_ai.models.google")

from pydantic_ai import Agent
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.providers.google import GoogleProvider

from byok_client import genai
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys


def google_provider(mock: MockProvider) -> GoogleProvider:
    options = genai.types.HttpOptions(base_url=mock.gemini_base_url)
    return GoogleProvider(client=genai.Client(api_keys=two_keys(mock), http_options=options))


def test_google_model_fails_over(mock: MockProvider) -> None:
    agent = Agent(GoogleModel("gemini-2.5-flash", provider=google_provider(mock)))
    assert agent.run_sync("hi").output == "served by k1"
    assert mock.labels() == ["k0", "k1"]


async def test_google_model_streams_and_fails_over(mock: MockProvider) -> None:
    agent = Agent(GoogleModel("gemini-2.5-flash", provider=google_provider(mock)))
    async with agent.run_stream("hi") as stream:
        text = "".join([delta async for delta in stream.stream_text(delta=True)])
    assert text == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_snippet("pydantic_ai_google", mock, monkeypatch) == "served by gemini-2\n"
    assert mock.labels() == ["gemini-1", "gemini-2"]
