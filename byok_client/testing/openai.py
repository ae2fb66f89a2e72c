"""The OpenAI API emulation (chat completions, Responses, embeddings, files, models; Azure deployment paths)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import unquote

from ._behaviours import OPENAI, Headers, request_id
from ._common import (
    EMBEDDING,
    EMBEDDING_B64,
    JSON_HEADER,
    SSE_HEADERS,
    Answer,
    bad_json,
    dumps,
    ids,
    load,
    sse,
    text_pieces,
    tokens,
)

__all__ = ["DEFAULT_RATELIMIT_HEADERS", "MODELS", "route"]

MODELS: Final = ("gpt-4o-mini", "text-embedding-3-small")
DEFAULT_RATELIMIT_HEADERS: Final = (
    ("x-ratelimit-limit-requests", "10000"),
    ("x-ratelimit-remaining-requests", "9999"),
    ("x-ratelimit-reset-requests", "6ms"),
    ("x-ratelimit-limit-tokens", "10000000"),
    ("x-ratelimit-remaining-tokens", "9999990"),
    ("x-ratelimit-reset-tokens", "0s"),
)
"""Sent on every OK answer when no rate limit is configured."""


def _openai_ok(headers: Iterable[tuple[str, str]]) -> Headers:
    return [*headers, *DEFAULT_RATELIMIT_HEADERS, request_id(OPENAI)]


def _openai_chat(req: dict[str, Any], model: str, text: str, body: bytes) -> Answer:
    cid = f"chatcmpl-mock{next(ids)}"
    created = int(time.time())
    prompt, completion = tokens(body), len(text.split(" "))
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if not req.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        payload = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        }
        return 200, _openai_ok([JSON_HEADER]), dumps(payload)
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    base |= {"service_tier": "default", "system_fingerprint": "fp_mock"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse(base | {"choices": [choice]} | extra)

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"content": piece}, None) for piece in text_pieces(text)]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(sse(base | {"choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return 200, _openai_ok(SSE_HEADERS), events


def _openai_response(req: dict[str, Any], model: str, text: str, body: bytes) -> Answer:
    """The Responses API (``POST /v1/responses``), plain or streamed as its typed SSE events."""
    rid, mid = f"resp_mock{next(ids)}", f"msg_mock{next(ids)}"
    prompt, completion = tokens(body), len(text.split(" "))
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    item = {"type": "message", "id": mid, "status": "completed", "role": "assistant", "content": [part]}
    response: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        },
    }
    if not req.get("stream"):
        return 200, _openai_ok([JSON_HEADER]), dumps(response)
    seq = itertools.count()

    def event(type_: str, **fields: Any) -> bytes:
        return sse({"type": type_, "sequence_number": next(seq), **fields}, type_)

    started = response | {"status": "in_progress", "output": [], "usage": None}
    where = {"item_id": mid, "output_index": 0, "content_index": 0}
    events = [
        event("response.created", response=started),
        event("response.in_progress", response=started),
        event("response.output_item.added", output_index=0, item=item | {"status": "in_progress", "content": []}),
        event("response.content_part.added", part=part | {"text": ""}, **where),
    ]
    events += [event("response.output_text.delta", delta=p, logprobs=[], **where) for p in text_pieces(text)]
    events += [
        event("response.output_text.done", text=text, logprobs=[], **where),
        event("response.content_part.done", part=part, **where),
        event("response.output_item.done", output_index=0, item=item),
        event("response.completed", response=response),
    ]
    return 200, _openai_ok(SSE_HEADERS), events


def _openai_embeddings(req: dict[str, Any], model: str, body: bytes) -> Answer:
    inp = req.get("input")
    # a string, a token array, or a list of either
    count = len(inp) if isinstance(inp, list) and inp and not all(isinstance(x, int) for x in inp) else 1
    vector: Any = EMBEDDING_B64 if req.get("encoding_format") == "base64" else EMBEDDING
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
    n_tokens = tokens(body)
    payload = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens},
    }
    return 200, _openai_ok([JSON_HEADER]), dumps(payload)


def _multipart_parts(content_type: str, body: bytes) -> Iterable[tuple[dict[str, str], bytes]]:
    boundary = ""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return
    delimiter = b"--" + boundary.encode()
    for raw in body.split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        head, _, content = raw.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disposition: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            hname, _, hvalue = line.partition(":")
            if hname.strip().lower() != "content-disposition":
                continue
            for item in hvalue.split(";")[1:]:
                key, _, val = item.strip().partition("=")
                disposition[key.lower()] = val.strip('"')
        yield disposition, content


def _openai_file(headers: dict[str, str], body: bytes) -> Answer:
    filename, size, purpose = "upload", 0, "assistants"
    for disposition, content in _multipart_parts(headers.get("content-type", ""), body):
        if "filename" in disposition:
            filename, size = disposition["filename"], len(content)
        elif disposition.get("name") == "purpose":
            purpose = content.decode("utf-8", "replace")
    payload = {
        "id": f"file-mock{next(ids)}",
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }
    return 200, _openai_ok([JSON_HEADER]), dumps(payload)


def _openai_model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1721172741, "owned_by": "system"}


def route(method: str, path: str, headers: dict[str, str], body: bytes, text: str) -> Answer | None:
    deployment = None
    if path.startswith("/openai/deployments/"):
        deployment, _, rest = path[len("/openai/deployments/") :].partition("/")
        path = "/v1/" + rest
    elif path.startswith("/openai/v1/"):
        path = path[len("/openai") :]
    if method == "POST" and path in ("/v1/chat/completions", "/v1/embeddings", "/v1/responses"):
        req = load(body)
        if req is None:
            return bad_json(OPENAI)
        model = deployment or str(req.get("model") or MODELS[0])
        if path == "/v1/chat/completions":
            return _openai_chat(req, model, text, body)
        if path == "/v1/responses":
            return _openai_response(req, model, text, body)
        return _openai_embeddings(req, model, body)
    if method == "POST" and path == "/v1/files":
        return _openai_file(headers, body)
    if method == "GET" and path == "/v1/models":
        payload = {"object": "list", "data": [_openai_model(m) for m in MODELS]}
        return 200, _openai_ok([JSON_HEADER]), dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _openai_ok([JSON_HEADER]), dumps(_openai_model(unquote(path[len("/v1/models/") :])))
    return None
