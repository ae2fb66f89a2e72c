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


def _openai_chat(req: dict[str, Any], model: str, reply: Reply, body: bytes) -> Answer:
    cid = f"chatcmpl-mock{next(ids)}"
    created = int(time.time())
    prompt, completion = usage_of(reply, body)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    content = reply.content
    calls = [(call_id(c, "call_"), c) for c in reply.tool_calls]
    finish = "tool_calls" if calls else "stop"
    if not req.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
        if calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for i, c in calls
            ]
        payload = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        }
        return 200, _openai_ok([JSON_HEADER]), dumps(payload)
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    base |= {"service_tier": "default", "system_fingerprint": "fp_mock"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse(base | {"choices": [choice]} | extra)

    events = [chunk({"role": "assistant", "content": "" if content is not None else None, "refusal": None}, None)]
    if content is not None:
        events += [chunk({"content": piece}, None) for piece in text_pieces(content)]
    for index, (tid, call) in enumerate(calls):
        head = {"index": index, "id": tid, "type": "function", "function": {"name": call.name, "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}, None))
        for piece in arg_pieces(call.arguments):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, None))
    events.append(chunk({}, finish))
    if include_usage:
        events.append(sse(base | {"choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return 200, _openai_ok(SSE_HEADERS), events


def _openai_response(req: dict[str, Any], model: str, reply: Reply, body: bytes) -> Answer:
    """The Responses API (``POST /v1/responses``), plain or streamed as its typed SSE events."""
    rid = f"resp_mock{next(ids)}"
    prompt, completion = usage_of(reply, body)
    content = reply.content
    output: list[dict[str, Any]] = []
    if content is not None:
        part = {"type": "output_text", "text": content, "annotations": [], "logprobs": []}
        mid = f"msg_mock{next(ids)}"
        output.append({"type": "message", "id": mid, "status": "completed", "role": "assistant", "content": [part]})
    for call in reply.tool_calls:
        output.append(
            {
                "type": "function_call",
                "id": f"fc_mock{next(ids)}",
                "call_id": call_id(call, "call_"),
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
        )
    text_format = (req.get("text") or {}).get("format") if isinstance(req.get("text"), dict) else None
    response: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": req.get("tools") or [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "text": {"format": text_format or {"type": "text"}},
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
    events = [event("response.created", response=started), event("response.in_progress", response=started)]
    for index, item in enumerate(output):
        if item["type"] == "message":
            part = item["content"][0]
            text = part["text"]
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            added = item | {"status": "in_progress", "content": []}
            events += [
                event("response.output_item.added", output_index=index, item=added),
                event("response.content_part.added", part=part | {"text": ""}, **where),
            ]
            events += [event("response.output_text.delta", delta=p, logprobs=[], **where) for p in text_pieces(text)]
            events += [
                event("response.output_text.done", text=text, logprobs=[], **where),
                event("response.content_part.done", part=part, **where),
            ]
        else:
            where = {"item_id": item["id"], "output_index": index}
            added = item | {"status": "in_progress", "arguments": ""}
            events.append(event("response.output_item.added", output_index=index, item=added))
            events += [
                event("response.function_call_arguments.delta", delta=p, **where) for p in arg_pieces(item["arguments"])
            ]
            events.append(event("response.function_call_arguments.done", arguments=item["arguments"], **where))
        events.append(event("response.output_item.done", output_index=index, item=item))
    events.append(event("response.completed", response=response))
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


def route(method: str, path: str, headers: dict[str, str], body: bytes, reply: Reply) -> Answer | None:
    """The answer to an OpenAI request (``None``: not a path the mock serves)."""
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
            return _openai_chat(req, model, reply, body)
        if path == "/v1/responses":
            return _openai_response(req, model, reply, body)
        return _openai_embeddings(req, model, body)
    if method == "POST" and path == "/v1/files":
        return _openai_file(headers, body)
    if method == "GET" and path == "/v1/models":
        payload = {"object": "list", "data": [_openai_model(m) for m in MODELS]}
        return 200, _openai_ok([JSON_HEADER]), dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _openai_ok([JSON_HEADER]), dumps(_openai_model(unquote(path[len("/v1/models/") :])))
    return None
