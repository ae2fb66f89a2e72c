"""The Anthropic API emulation (messages, count_tokens, models)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import unquote

from ._behaviours import ANTHROPIC, Headers, request_id
from ._common import (
    JSON_HEADER,
    SSE_HEADERS,
    Answer,
    arg_pieces,
    bad_json,
    call_id,
    dumps,
    ids,
    load,
    sse,
    text_pieces,
    tokens,
    usage_of,
)
from ._replies import Reply

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


def _anthropic_messages(req: dict[str, Any], reply: Reply, body: bytes) -> Answer:
    model = str(req.get("model") or MODELS[0])
    mid = f"msg_mock{next(ids)}"
    prompt, completion = usage_of(reply, body)
    content = reply.content
    blocks: list[dict[str, Any]] = [] if content is None else [{"type": "text", "text": content}]
    for call in reply.tool_calls:
        blocks.append({"type": "tool_use", "id": call_id(call, "toolu_"), "name": call.name, "input": call.args()})
    stop = "tool_use" if reply.tool_calls else "end_turn"
    if not req.get("stream"):
        payload = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
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
    events = [sse({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in text_pieces(block["text"])]
        else:
            opened = block | {"input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in arg_pieces(dumps(block["input"]).decode())
            ]
        events.append(
            sse({"type": "content_block_start", "index": index, "content_block": opened}, "content_block_start")
        )
        if index == 0:
            events.append(sse({"type": "ping"}, "ping"))
        for delta in deltas:
            events.append(sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"))
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    events += [
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
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


def route(method: str, path: str, body: bytes, reply: Reply) -> Answer | None:
    """The answer to an Anthropic request (``None``: not a path the mock serves)."""
    if method == "POST" and path == "/v1/messages":
        req = load(body)
        if req is None:
            return bad_json(ANTHROPIC)
        return _anthropic_messages(req, reply, body)
    if method == "POST" and path == "/v1/messages/count_tokens":
        return 200, _anthropic_ok([JSON_HEADER]), dumps({"input_tokens": tokens(body)})
    if method == "GET" and path == "/v1/models":
        data = [_anthropic_model(m) for m in MODELS]
        payload = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        return 200, _anthropic_ok([JSON_HEADER]), dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _anthropic_ok([JSON_HEADER]), dumps(_anthropic_model(unquote(path[len("/v1/models/") :])))
    return None
