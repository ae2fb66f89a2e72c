"""The Gemini API emulation (generateContent, streamGenerateContent, countTokens, embeddings, models)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote

from ._behaviours import GEMINI
from ._common import (
    EMBEDDING,
    GOOGLE_JSON_HEADER,
    Answer,
    bad_json,
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

MODELS: Final = ("gemini-2.5-flash", "text-embedding-004")


def _gemini_generate(model: str, reply: Reply, body: bytes, stream: bool, as_sse: bool) -> Answer:
    prompt, completion = usage_of(reply, body)
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    response_id = f"mock{next(ids)}"
    calls = [{"functionCall": {"name": c.name, "args": c.args()}} for c in reply.tool_calls]
    for part, call in zip(calls, reply.tool_calls, strict=True):
        if call.id is not None:
            part["functionCall"]["id"] = call.id

    def response(parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": response_id}

    content = reply.content
    if not stream:
        parts = ([] if content is None else [{"text": content}]) + calls
        return 200, [GOOGLE_JSON_HEADER], dumps(response(parts, True))
    # text arrives in pieces; function calls come whole, in one chunk (Gemini does not stream their arguments)
    pieces: list[list[dict[str, Any]]] = [] if content is None else [[{"text": p}] for p in text_pieces(content)]
    if calls:
        pieces.append(calls)
    chunks = [response(p, i == len(pieces) - 1) for i, p in enumerate(pieces)]
    if as_sse:
        return 200, [("content-type", "text/event-stream"), ("cache-control", "no-cache")], [sse(c) for c in chunks]
    return 200, [GOOGLE_JSON_HEADER], [b"[" + b",\r\n".join(dumps(c) for c in chunks) + b"]"]


def _gemini_model(model_id: str) -> dict[str, Any]:
    return {
        "name": f"models/{model_id}",
        "version": "001",
        "displayName": model_id.replace("-", " ").title(),
        "description": "A mock model.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def route(method: str, path: str, query: str, body: bytes, reply: Reply) -> Answer | None:
    """The answer to a Gemini request (``None``: not a path the mock serves)."""
    # /{version}/models[/{model}[:{action}]]
    version, _, rest = path[1:].partition("/")
    if not version.startswith("v") or not rest.startswith("models"):
        return None
    rest = unquote(rest)
    if rest == "models":
        if method != "GET":
            return None
        return 200, [GOOGLE_JSON_HEADER], dumps({"models": [_gemini_model(m) for m in MODELS]})
    if not rest.startswith("models/"):
        return None
    model, _, action = rest[len("models/") :].partition(":")
    if not action:
        return (200, [GOOGLE_JSON_HEADER], dumps(_gemini_model(model))) if method == "GET" else None
    if method != "POST":
        return None
    req = load(body)
    if req is None:
        return bad_json(GEMINI)
    if action == "generateContent":
        return _gemini_generate(model, reply, body, stream=False, as_sse=False)
    if action == "streamGenerateContent":
        return _gemini_generate(model, reply, body, stream=True, as_sse="alt=sse" in query)
    if action == "countTokens":
        return 200, [GOOGLE_JSON_HEADER], dumps({"totalTokens": tokens(body)})
    if action == "embedContent":
        return 200, [GOOGLE_JSON_HEADER], dumps({"embedding": {"values": EMBEDDING}})
    if action == "batchEmbedContents":
        count = len(req.get("requests") or [None])
        return 200, [GOOGLE_JSON_HEADER], dumps({"embeddings": [{"values": EMBEDDING}] * count})
    return None
