"""instructor: ``instructor.from_openai(byok_client.OpenAI(...))``.

instructor's jiter pin holds openai below 3.51: ``.ci/frameworks.sh`` runs this in a venv of its own. MockProvider
answers in plain text, so these tests ask for no response model (instructor's raw mode); structured output needs
scripted JSON replies."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("instructor")

import instructor

import byok_client
from byok_client.testing import MockProvider

from .conftest import run_snippet, two_keys

HI = [{"role": "user", "content": "hi"}]


def test_from_openai_fails_over(mock: MockProvider) -> None:
    client = instructor.from_openai(
        byok_client.OpenAI(api_keys=two_keys(mock), base_url=mock.openai_base_url, max_retries=0)
    )
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=HI, response_model=None)
    assert reply.choices[0].message.content == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_from_openai_async_fails_over(mock: MockProvider) -> None:
    client = instructor.from_openai(
        byok_client.AsyncOpenAI(api_keys=two_keys(mock), base_url=mock.openai_base_url, max_retries=0)
    )

    async def run() -> str:
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=HI, response_model=None)
        return str(reply.choices[0].message.content)

    assert asyncio.run(run()) == "served by k1"
    assert mock.labels() == ["k0", "k1"]


def test_readme_snippet(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_snippet("instructor", mock, monkeypatch) == "served by openai-2\n"
    assert mock.labels() == ["openai-1", "openai-2"]
