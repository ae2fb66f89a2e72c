"""``python -m benchmarks.steps``: the work a request does, counted exactly, where timings only estimate it.

For each SDK, a few requests of each arm (the raw SDK, byok_client with 3 good keys, the floor of
``benchmarks/floor.py``) run under ``sys.settrace`` with opcode tracing, against MockProvider in its own process, and
the table gives per request: the Python calls and bytecode instructions the whole client process executes, and
those in byok_client's own code (the floor's, for the floor arm). The counts are the same on every run and every
machine with the same packages, so a change to the request path reads as a difference of a few instructions, where
the timed figures of ``python -m benchmarks`` move by a point or two between runs. Timed inside a real request, an
instruction of ours costs about 0.1 µs on this project's machine (the SDK's work between two requests has pushed our
code out of the CPU's caches), so 100 instructions are about 0.3% of a 3 ms mock round trip.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from benchmarks._calls import GOOD, RAW, chat, generate, message
from benchmarks._server import ServerProcess

__all__ = ["Steps", "count_steps", "main"]

OURS = ("/byok_client/", "/benchmarks/floor.py")


@dataclass(frozen=True)
class Steps:
    """Per request: (calls, instructions) in the whole process, and in our code (byok_client's, or the floor's)."""

    calls: float
    instructions: float
    own_calls: float
    own_instructions: float


def _request(provider: str, arm: str, url: str) -> Callable[[], Any]:
    import byok_client

    client: Any
    if provider == "openai":
        import openai

        client = (
            byok_client.OpenAI(api_keys=GOOD, base_url=url + "/v1")
            if arm == "byok"
            else openai.OpenAI(api_key=RAW, base_url=url + "/v1")
        )
        send = chat
    elif provider == "anthropic":
        import anthropic

        client = (
            byok_client.Anthropic(api_keys=GOOD, base_url=url)
            if arm == "byok"
            else anthropic.Anthropic(api_key=RAW, base_url=url)
        )
        send = message
    else:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=url)
        client = (
            byok_client.genai.Client(api_keys=GOOD, http_options=options)
            if arm == "byok"
            else genai.Client(api_key=RAW, http_options=options)
        )
        send = generate
    if arm == "floor":
        from benchmarks.floor import install_floor

        install_floor(client, provider, GOOD[0])
    return lambda: send(client)


def count_steps(provider: str, arm: str, url: str, requests: int = 20) -> Steps:
    """Run ``requests`` requests of ``arm`` (raw, byok or floor) for ``provider`` against the mock at ``url``,
    traced; warmed up first, so one-time work (imports, first-use caches) is not counted."""
    call = _request(provider, arm, url)
    for _ in range(10):
        call()
    counts = [0, 0, 0, 0]  # calls, instructions, own calls, own instructions

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        own = any(part in frame.f_code.co_filename for part in OURS)
        counts[0] += 1
        counts[2] += own
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False

        def local(frame: FrameType, event: str, arg: object) -> Any:
            if event == "opcode":
                counts[1] += 1
                counts[3] += own
            return local

        return local

    sys.settrace(tracer)
    try:
        for _ in range(requests):
            call()
    finally:
        sys.settrace(None)
    return Steps(*(n / requests for n in counts))


def main() -> None:
    server = ServerProcess()
    try:
        server.add([(value, f"g{i}", "ok", {}) for i, value in enumerate([*GOOD, RAW])])
        print("per request, exact (MockProvider in another process); own: in byok_client's code (the floor's)\n")
        columns = ("calls", "instructions", "+calls", "+instructions", "own calls", "own instr")
        print(f"{'':22} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, (7, 13, 7, 14, 10, 10), strict=True)))
        for provider in ("openai", "anthropic", "gemini"):
            raw = count_steps(provider, "raw", server.url)
            for arm in ("raw", "byok", "floor"):
                steps = raw if arm == "raw" else count_steps(provider, arm, server.url)
                print(
                    f"{provider + ' ' + arm:22} {steps.calls:7.0f} {steps.instructions:13.0f} "
                    f"{steps.calls - raw.calls:+7.0f} {steps.instructions - raw.instructions:+14.0f} "
                    f"{steps.own_calls:10.0f} {steps.own_instructions:10.0f}"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
