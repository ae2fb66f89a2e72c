"""The Anthropic API emulation (messages, count_tokens, models)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import unquote

from ._behaviours import ANTHROPIC, Headers, request_id
from ._common import JSON_HEADER, SSE_HEADERS, Answer, bad_json, dumps, ids, load, sse, text_pieces, tokens

__all__ = ["MODELS", "route"]

MODELS: Final = ("claude-sonnet-4-5", "claude-haiku-4-5")


def default_ratelimit_headers() -> Headers:
    """Sent on every OK answer when no rate limit is configured."""
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    return [
        ("anthropic-ratelimit-requests-limit", "4000"),
        ("anthropic-ratelimit-requests-remaining", "3999"),
        ("anthropic-ratelimit-requests-reset", reset),
    ]


def _anthropic_ok(headers: Iterable[tuple[str, str]]) -> Headers:
    return [*headers, *default_ratelimit_headers(), request_id(ANTHROPIC)]


def _anthropic_messages(req: dict[str, Any], text: str, body: bytes) -> Answer:
    model = str(req.get("model") or MODELS[0])
    mid = f"msg_mock{next(ids)}"
    prompt, completion = tokens(body), len(text.split(" "))
    if not req.get("stream"):
        payload = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        }
        return 200, _anthropic_ok([JSON_HEADER]), dumps(payload)
    start: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": 1},
    }
    events = [
        sse({"type": "message_start", "message": start}, "message_start"),
        sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
        sse({"type": "ping"}, "ping"),
    ]
    for piece in text_pieces(text):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        events.append(sse(delta, "content_block_delta"))
    events += [
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": completion},
            },
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]
    return 200, _anthropic_ok(SSE_HEADERS), events


def _anthropic_model(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id.replace("-", " ").title(),
        "created_at": "2025-09-29T00:00:00Z",
        "lifecycle": "active",
    }


def route(method: str, path: str, body: bytes, text: str) -> Answer | None:
    if method == "POST" and path == "/v1/messages":
        req = load(body)
        if req is None:
            return bad_json(ANTHROPIC)
        return _anthropic_messages(req, text, body)
    if method == "POST" and path == "/v1/messages/count_tokens":
        return 200, _anthropic_ok([JSON_HEADER]), dumps({"input_tokens": tokens(body)})
    if method == "GET" and path == "/v1/models":
        data = [_anthropic_model(m) for m in MODELS]
        payload = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        return 200, _anthropic_ok([JSON_HEADER]), dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _anthropic_ok([JSON_HEADER]), dumps(_anthropic_model(unquote(path[len("/v1/models/") :])))
    return None
