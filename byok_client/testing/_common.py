"""Pieces shared by the provider emulations: JSON/SSE encoding, token estimates, the answer type."""

from __future__ import annotations

import base64
import itertools
import json
import struct
from typing import Any, Final

from ._behaviours import ErrorResponse, Headers, bad_request, behaviour_error
from ._replies import Reply, ToolCall

Answer = tuple[int, Headers, bytes | list[bytes]]
"""``(status, headers, body)``; a list body is sent with chunked transfer encoding, one chunk per item (an SSE
stream is one item per event, so a fault can cut it between events)."""

ids: Final = itertools.count(1)
EMBEDDING: Final = [0.125, -0.25, 0.375, -0.5, 0.625, -0.75, 0.875, -1.0]
EMBEDDING_B64: Final = base64.b64encode(struct.pack("<8f", *EMBEDDING)).decode()
JSON_HEADER: Final = ("content-type", "application/json")
GOOGLE_JSON_HEADER: Final = ("content-type", "application/json; charset=UTF-8")
SSE_HEADERS: Final = (("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"))

_encode: Final = json.JSONEncoder(separators=(",", ":")).encode


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes."""
    return _encode(obj).encode()


def text_pieces(text: str) -> list[str]:
    """``text`` cut into word-sized deltas whose concatenation is ``text``."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def arg_pieces(arguments: str, size: int = 8) -> list[str]:
    """A tool call's JSON arguments cut into deltas of ``size`` characters (as providers stream them)."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def tokens(body: bytes) -> int:
    """The cheap input-token estimate used everywhere: four bytes per token, at least one."""
    return max(1, len(body) // 4)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    payload = b"data: " + dumps(data) + b"\n\n"
    return payload if event is None else b"event: " + event.encode() + b"\n" + payload


def load(body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object (``{}`` when empty), ``None`` when it is not one."""
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def bad_json(provider: str) -> ErrorResponse:
    """The provider's 400 for a body that is not a JSON object."""
    error = behaviour_error(bad_request(), provider, "")
    assert error is not None
    return error


def usage_of(reply: Reply, body: bytes) -> tuple[int, int]:
    """``(input, output)`` token counts of a reply: the scripted ones, else estimates."""
    prompt = reply.input_tokens if reply.input_tokens is not None else tokens(body)
    if reply.output_tokens is not None:
        return prompt, reply.output_tokens
    content = reply.content
    completion = len(content.split(" ")) if content else 0
    completion += sum(max(1, len(call.arguments) // 4) for call in reply.tool_calls)
    return prompt, max(1, completion)


def call_id(call: ToolCall, prefix: str) -> str:
    """The call's scripted id, or a fresh one with the provider's prefix."""
    return call.id if call.id is not None else f"{prefix}mock{next(ids)}"
