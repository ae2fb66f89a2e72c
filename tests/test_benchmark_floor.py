"""The benchmarks' floor arm does the work it stands for (else its figure would be a floor of nothing): each raw
SDK sends the floor's key, not its own, the slot is given back when the body closes, and the SDK's own header is
put back on the request."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from benchmarks.floor import install_floor
from byok_client.testing import MockProvider

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_floor_sends_its_key_counts_and_releases(mock: MockProvider, provider: str) -> None:
    mock.add_key("sk-floor-sdk", label="sdk")
    mock.add_key("sk-floor-key", label="floor")
    if provider == "openai":
        client: Any = openai.OpenAI(api_key="sk-floor-sdk", base_url=mock.openai_base_url, max_retries=0)

        def call() -> Any:
            return client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)

    elif provider == "anthropic":
        client = anthropic.Anthropic(api_key="sk-floor-sdk", base_url=mock.anthropic_base_url, max_retries=0)

        def call() -> Any:
            return client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)

    else:
        client = genai.Client(api_key="sk-floor-sdk", http_options=types.HttpOptions(base_url=mock.gemini_base_url))

        def call() -> Any:
            return client.models.generate_content(model="gemini-2.5-flash", contents="hi")

    slots = install_floor(client, provider, "sk-floor-key")
    for _ in range(2):
        call()
    assert [r.label for r in mock.requests] == ["floor", "floor"]
    assert (slots.successes, slots.in_flight) == (2, 0)
    if provider != "gemini":  # Gemini sends no remaining counts (nor does the mock)
        assert slots.left and all(isinstance(n, int) for n in slots.left)
        sent = call().http_request.headers
        assert "sk-floor-key" not in str(dict(sent)) and "sk-floor-sdk" in str(dict(sent))
