"""``byok demo``: byok_client in one screen: two keys, the first rate-limited, on the bundled MockProvider (no
network). Every call is the plain openai SDK API; byok_client injects the keys and moves a request to the next key
when the provider blames the key. ``examples/quickstart.py`` runs this too."""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["main"]


def main() -> int:
    """Run the demo; 0 on success. Raises ``MissingDependencyError`` without the ``openai`` extra."""
    from .. import Key, OpenAI
    from ..testing import MockProvider, ok, rate_limited

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("   log: %(levelname)s %(message)s"))
    logger = logging.getLogger("byok_client")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    try:
        with MockProvider() as mock:
            # The mock plays OpenAI on 127.0.0.1: "limited" answers 429 (retry in 30 s), "good" answers normally.
            mock.add_key("sk-demo-limited-0000", rate_limited(retry_after=30), label="limited")
            mock.add_key("sk-demo-good-1111", ok(), label="good")

            events: list[str] = []
            client = OpenAI(
                api_keys=[Key("sk-demo-limited-0000", "limited"), Key("sk-demo-good-1111", "good")],
                base_url=mock.openai_base_url,
                on_event=lambda event: events.append(type(event).__name__),  # alerting hooks in here
            )
            messages: Any = [{"role": "user", "content": "Say hello"}]

            print("1. plain call (key 'limited' answers 429, the same request goes to 'good'):")
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            print(f"   -> {reply.choices[0].message.content!r}")

            print("2. streaming call ('limited' is cooling, so it is skipped):")
            stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            print(f"   -> {text!r}")

            print("3. with_options() shares the pool:")
            reply = client.with_options(timeout=10).chat.completions.create(model="gpt-4o-mini", messages=messages)
            print(f"   -> {reply.choices[0].message.content!r}")

            print("\nrequests the provider saw (key label, path):")
            for request in mock.requests:
                print(f"   {request.label:8} {request.method} {request.path}")

            print("\npool state:")
            assert client.key_pool is not None
            for status in client.key_pool.status():
                detail = (
                    f"cooling {status.cooling_for:4.1f}s ({status.cooldown_reason})"
                    if status.state == "cooling"
                    else status.state
                )
                print(f"   {status.label:8} {detail:32} requests={status.requests} successes={status.successes}")
            print(f"\nrepr(client.key_pool) = {client.key_pool!r}   (labels only, never a key)")
            print(f"events seen by on_event: {', '.join(name for name in events if name != 'AttemptCompleted')}")
            print("\nclient.key_pool.stats() (a table; an HTML one in notebooks):")
            print(client.key_pool.stats())
    finally:
        logger.removeHandler(handler)
    return 0
