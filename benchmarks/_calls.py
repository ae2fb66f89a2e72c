"""What the benchmarks send: the keys, and one request per SDK through any client of it (sync, or async: then
the call returns the awaitable)."""

from __future__ import annotations

from typing import Any

GOOD = [f"sk-bench-good-{i}" for i in range(3)]
"""byok_client's keys (MockProvider answers each)."""
RAW = "sk-bench-raw"
"""The raw SDK's own key."""
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def chat(client: Any) -> Any:
    return client.chat.completions.create(model="m", messages=MESSAGES)


def message(client: Any) -> Any:
    return client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)


def generate(client: Any) -> Any:
    return client.models.generate_content(model="gemini-2.5-flash", contents="hi")
