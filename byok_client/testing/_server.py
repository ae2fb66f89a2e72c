"""A small, fast HTTP/1.1 server that imitates the OpenAI, Anthropic and Gemini REST APIs for tests.

Pure standard library: one asyncio event loop in one daemon thread, HTTP/1.1 parsed by hand in an
:class:`asyncio.Protocol` (keep-alive, ``Content-Length`` and chunked request bodies, chunked SSE responses).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qs, unquote

from ._behaviours import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    Behaviour,
    Delay,
    ErrorResponse,
    Headers,
    Ok,
    bad_request,
    behaviour_error,
    invalid_key_error,
    missing_key_error,
    multiple_credentials_error,
    not_found_error,
    ok,
    request_id,
)

__all__ = ["MockProvider", "RecordedRequest"]

NO_KEY_LABEL: Final = "<none>"
UNKNOWN_KEY_LABEL: Final = "<unknown>"
MULTIPLE_KEYS_LABEL: Final = "<multiple>"

_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})
_MAX_HEAD: Final = 64 * 1024
_REASONS: Final = {s.value: s.phrase for s in HTTPStatus} | {529: "Site Overloaded"}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the mock received it (in arrival order, recorded before any scripted delay)."""

    label: str
    """Label of the key that was used; ``"<none>"`` without a credential, ``"<unknown>"`` for an unregistered key,
    ``"<multiple>"`` when the request carried more than one credential header."""
    method: str
    path: str
    """The path, without the query string."""
    query: str
    """The raw query string (no leading ``?``)."""
    headers: dict[str, str]
    """Request headers, names lower-cased (repeated headers joined with ``", "``)."""
    body: bytes
    """The request body exactly as received (de-chunked)."""
    provider: str
    """``"openai"``, ``"anthropic"`` or ``"gemini"``: which API the mock decided the request was for."""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        redacted = f"<{self.label}>"
        headers = {k: (redacted if k in _CREDENTIAL_HEADERS else v) for k, v in self.headers.items()}
        query = self.query
        if "key=" in query:
            query = "&".join(f"key={redacted}" if part.startswith("key=") else part for part in query.split("&"))
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (
            f"RecordedRequest(label={self.label!r}, provider={self.provider!r}, method={self.method!r}, "
            f"path={self.path!r}, query={query!r}, headers={headers!r}, body={body!r})"
        )


class _Key:
    __slots__ = ("index", "label", "script")

    def __init__(self, label: str, script: tuple[Behaviour, ...]) -> None:
        self.label = label
        self.script = script
        self.index = 0


# --------------------------------------------------------------------------------------------------------------------
# OK payloads
# --------------------------------------------------------------------------------------------------------------------

_ids = itertools.count(1)
_EMBEDDING: Final = [0.125, -0.25, 0.375, -0.5, 0.625, -0.75, 0.875, -1.0]
_EMBEDDING_B64: Final = base64.b64encode(struct.pack("<8f", *_EMBEDDING)).decode()
_JSON_HEADER: Final = ("content-type", "application/json")
_GOOGLE_JSON_HEADER: Final = ("content-type", "application/json; charset=UTF-8")
_SSE_HEADERS: Final = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
_OPENAI_OK_HEADERS: Final = [
    ("x-ratelimit-limit-requests", "10000"),
    ("x-ratelimit-remaining-requests", "9999"),
    ("x-ratelimit-reset-requests", "6ms"),
    ("x-ratelimit-limit-tokens", "10000000"),
    ("x-ratelimit-remaining-tokens", "9999990"),
    ("x-ratelimit-reset-tokens", "0s"),
]
_OPENAI_MODELS: Final = ("gpt-4o-mini", "text-embedding-3-small")
_ANTHROPIC_MODELS: Final = ("claude-sonnet-4-5", "claude-haiku-4-5")
_GEMINI_MODELS: Final = ("gemini-2.5-flash", "text-embedding-004")

# (status, headers, body) where a list body is sent as chunked transfer encoding, one chunk per item.
_Answer = tuple[int, Headers, bytes | list[bytes]]


_encode: Final = json.JSONEncoder(separators=(",", ":")).encode


def _dumps(obj: Any) -> bytes:
    return _encode(obj).encode()


def _text_pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def _tokens(body: bytes) -> int:
    return max(1, len(body) // 4)


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = b"data: " + _dumps(data) + b"\n\n"
    return payload if event is None else b"event: " + event.encode() + b"\n" + payload


def _openai_ok(headers: Headers) -> Headers:
    return headers + _OPENAI_OK_HEADERS + [request_id(OPENAI)]


def _anthropic_ok(headers: Headers) -> Headers:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    return [
        *headers,
        ("anthropic-ratelimit-requests-limit", "4000"),
        ("anthropic-ratelimit-requests-remaining", "3999"),
        ("anthropic-ratelimit-requests-reset", reset),
        request_id(ANTHROPIC),
    ]


def _openai_chat(req: dict[str, Any], model: str, text: str, body: bytes) -> _Answer:
    cid = f"chatcmpl-mock{next(_ids)}"
    created = int(time.time())
    prompt, completion = _tokens(body), len(text.split(" "))
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
        return 200, _openai_ok([_JSON_HEADER]), _dumps(payload)
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    base |= {"service_tier": "default", "system_fingerprint": "fp_mock"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(base | {"choices": [choice]} | extra)

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"content": piece}, None) for piece in _text_pieces(text)]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(_sse(base | {"choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return 200, _openai_ok(list(_SSE_HEADERS)), events


def _openai_response(req: dict[str, Any], model: str, text: str, body: bytes) -> _Answer:
    """The Responses API (``POST /v1/responses``), plain or streamed as its typed SSE events."""
    rid, mid = f"resp_mock{next(_ids)}", f"msg_mock{next(_ids)}"
    prompt, completion = _tokens(body), len(text.split(" "))
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
        return 200, _openai_ok([_JSON_HEADER]), _dumps(response)
    seq = itertools.count()

    def event(type_: str, **fields: Any) -> bytes:
        return _sse({"type": type_, "sequence_number": next(seq), **fields}, type_)

    started = response | {"status": "in_progress", "output": [], "usage": None}
    where = {"item_id": mid, "output_index": 0, "content_index": 0}
    events = [
        event("response.created", response=started),
        event("response.in_progress", response=started),
        event("response.output_item.added", output_index=0, item=item | {"status": "in_progress", "content": []}),
        event("response.content_part.added", part=part | {"text": ""}, **where),
    ]
    events += [event("response.output_text.delta", delta=p, logprobs=[], **where) for p in _text_pieces(text)]
    events += [
        event("response.output_text.done", text=text, logprobs=[], **where),
        event("response.content_part.done", part=part, **where),
        event("response.output_item.done", output_index=0, item=item),
        event("response.completed", response=response),
    ]
    return 200, _openai_ok(list(_SSE_HEADERS)), events


def _openai_embeddings(req: dict[str, Any], model: str, body: bytes) -> _Answer:
    inp = req.get("input")
    # a string, a token array, or a list of either
    count = len(inp) if isinstance(inp, list) and inp and not all(isinstance(x, int) for x in inp) else 1
    vector: Any = _EMBEDDING_B64 if req.get("encoding_format") == "base64" else _EMBEDDING
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
    tokens = _tokens(body)
    payload = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return 200, _openai_ok([_JSON_HEADER]), _dumps(payload)


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


def _openai_file(headers: dict[str, str], body: bytes) -> _Answer:
    filename, size, purpose = "upload", 0, "assistants"
    for disposition, content in _multipart_parts(headers.get("content-type", ""), body):
        if "filename" in disposition:
            filename, size = disposition["filename"], len(content)
        elif disposition.get("name") == "purpose":
            purpose = content.decode("utf-8", "replace")
    payload = {
        "id": f"file-mock{next(_ids)}",
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }
    return 200, _openai_ok([_JSON_HEADER]), _dumps(payload)


def _openai_model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1721172741, "owned_by": "system"}


def _anthropic_messages(req: dict[str, Any], text: str, body: bytes) -> _Answer:
    model = str(req.get("model") or _ANTHROPIC_MODELS[0])
    mid = f"msg_mock{next(_ids)}"
    prompt, completion = _tokens(body), len(text.split(" "))
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
        return 200, _anthropic_ok([_JSON_HEADER]), _dumps(payload)
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
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
        _sse({"type": "ping"}, "ping"),
    ]
    for piece in _text_pieces(text):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        events.append(_sse(delta, "content_block_delta"))
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": completion},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return 200, _anthropic_ok(list(_SSE_HEADERS)), events


def _anthropic_model(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id.replace("-", " ").title(),
        "created_at": "2025-09-29T00:00:00Z",
        "lifecycle": "active",
    }


def _gemini_generate(model: str, text: str, body: bytes, stream: bool, sse: bool) -> _Answer:
    prompt, completion = _tokens(body), len(text.split(" "))
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    response_id = f"mock{next(_ids)}"

    def response(part: str, last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": part}], "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": response_id}

    if not stream:
        return 200, [_GOOGLE_JSON_HEADER], _dumps(response(text, True))
    pieces = _text_pieces(text)
    chunks = [response(p, i == len(pieces) - 1) for i, p in enumerate(pieces)]
    if sse:
        return 200, [("content-type", "text/event-stream"), ("cache-control", "no-cache")], [_sse(c) for c in chunks]
    return 200, [_GOOGLE_JSON_HEADER], [b"[" + b",\r\n".join(_dumps(c) for c in chunks) + b"]"]


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


# --------------------------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------------------------


def _provider_of(path: str, headers: dict[str, str], query: str) -> str:
    if path.startswith("/v1/messages") or "anthropic-version" in headers:
        return ANTHROPIC
    if "x-goog-api-key" in headers or "x-goog-api-client" in headers or ":" in path or path.startswith("/v1beta"):
        return GEMINI
    if "x-api-key" in headers:
        return ANTHROPIC
    if query and "key=" in query and "key" in parse_qs(query):
        return GEMINI
    return OPENAI


def _credential(headers: dict[str, str], query: str) -> str | None:
    auth = headers.get("authorization")
    if auth is not None:
        return auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
        value = headers.get(name)
        if value is not None:
            return value.strip()
    if query and "key=" in query:
        keys = parse_qs(query).get("key")
        if keys:
            return keys[0]
    return None


def _load(body: bytes) -> dict[str, Any] | None:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _bad_json(provider: str) -> ErrorResponse:
    error = behaviour_error(bad_request(), provider, "")
    assert error is not None
    return error


def _route_openai(method: str, path: str, headers: dict[str, str], body: bytes, text: str) -> _Answer | None:
    deployment = None
    if path.startswith("/openai/deployments/"):
        deployment, _, rest = path[len("/openai/deployments/") :].partition("/")
        path = "/v1/" + rest
    elif path.startswith("/openai/v1/"):
        path = path[len("/openai") :]
    if method == "POST" and path in ("/v1/chat/completions", "/v1/embeddings", "/v1/responses"):
        req = _load(body)
        if req is None:
            return _bad_json(OPENAI)
        model = deployment or str(req.get("model") or _OPENAI_MODELS[0])
        if path == "/v1/chat/completions":
            return _openai_chat(req, model, text, body)
        if path == "/v1/responses":
            return _openai_response(req, model, text, body)
        return _openai_embeddings(req, model, body)
    if method == "POST" and path == "/v1/files":
        return _openai_file(headers, body)
    if method == "GET" and path == "/v1/models":
        payload = {"object": "list", "data": [_openai_model(m) for m in _OPENAI_MODELS]}
        return 200, _openai_ok([_JSON_HEADER]), _dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _openai_ok([_JSON_HEADER]), _dumps(_openai_model(unquote(path[len("/v1/models/") :])))
    return None


def _route_anthropic(method: str, path: str, body: bytes, text: str) -> _Answer | None:
    if method == "POST" and path == "/v1/messages":
        req = _load(body)
        if req is None:
            return _bad_json(ANTHROPIC)
        return _anthropic_messages(req, text, body)
    if method == "POST" and path == "/v1/messages/count_tokens":
        return 200, _anthropic_ok([_JSON_HEADER]), _dumps({"input_tokens": _tokens(body)})
    if method == "GET" and path == "/v1/models":
        data = [_anthropic_model(m) for m in _ANTHROPIC_MODELS]
        payload = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        return 200, _anthropic_ok([_JSON_HEADER]), _dumps(payload)
    if method == "GET" and path.startswith("/v1/models/"):
        return 200, _anthropic_ok([_JSON_HEADER]), _dumps(_anthropic_model(unquote(path[len("/v1/models/") :])))
    return None


def _route_gemini(method: str, path: str, query: str, body: bytes, text: str) -> _Answer | None:
    # /{version}/models[/{model}[:{action}]]
    version, _, rest = path[1:].partition("/")
    if not version.startswith("v") or not rest.startswith("models"):
        return None
    rest = unquote(rest)
    if rest == "models":
        if method != "GET":
            return None
        return 200, [_GOOGLE_JSON_HEADER], _dumps({"models": [_gemini_model(m) for m in _GEMINI_MODELS]})
    if not rest.startswith("models/"):
        return None
    model, _, action = rest[len("models/") :].partition(":")
    if not action:
        return (200, [_GOOGLE_JSON_HEADER], _dumps(_gemini_model(model))) if method == "GET" else None
    if method != "POST":
        return None
    req = _load(body)
    if req is None:
        return _bad_json(GEMINI)
    if action == "generateContent":
        return _gemini_generate(model, text, body, stream=False, sse=False)
    if action == "streamGenerateContent":
        return _gemini_generate(model, text, body, stream=True, sse="alt=sse" in query)
    if action == "countTokens":
        return 200, [_GOOGLE_JSON_HEADER], _dumps({"totalTokens": _tokens(body)})
    if action == "embedContent":
        return 200, [_GOOGLE_JSON_HEADER], _dumps({"embedding": {"values": _EMBEDDING}})
    if action == "batchEmbedContents":
        count = len(req.get("requests") or [None])
        return 200, [_GOOGLE_JSON_HEADER], _dumps({"embeddings": [{"values": _EMBEDDING}] * count})
    return None


# --------------------------------------------------------------------------------------------------------------------
# HTTP/1.1
# --------------------------------------------------------------------------------------------------------------------

_HEADER_LINE: Final = re.compile(r"\r\n([^:\r\n]+):[ \t]*([^\r\n]*)")
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER = range(5)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered strictly in order."""

    def __init__(self, mock: MockProvider) -> None:
        self._mock = mock
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._scan = 0
        self._state = _HEAD
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # the request being read
        self._method = ""
        self._target = ""
        self._headers: dict[str, str] = {}
        self._ncred = 0
        self._keep_alive = True
        self._remaining = 0
        self._chunks: list[bytes] = []

    # -- asyncio.Protocol ------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._mock._connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._mock._connection_lost(self)
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    # -- parsing ---------------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, status: int) -> None:
        self._send(status, [("content-type", "text/plain")], HTTPStatus(status).phrase.encode(), close=True)

    def _process(self) -> None:
        while not self._busy and not self._closed:
            body = self._parse()
            if body is None:
                return
            try:
                self._mock._handle(self, self._method, self._target, self._headers, self._ncred, body, self._keep_alive)
            except Exception as exc:  # a bug in the mock: say so instead of silently dropping the connection
                self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> None:
        message = f"MockProvider internal error: {exc!r}".encode()
        self._send(500, [("content-type", "text/plain")], message, close=True)

    def _parse(self) -> bytes | None:
        buf = self._buf
        if self._state == _HEAD:
            end = buf.find(b"\r\n\r\n", self._scan)
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail(431)
                self._scan = max(0, len(buf) - 3)
                return None
            self._scan = 0
            head = buf[:end].decode("latin-1").lstrip("\r\n")  # tolerate stray CRLF between requests
            del buf[: end + 4]
            if not head:
                return self._parse()
            line_end = head.find("\r\n")
            parts = (head if line_end < 0 else head[:line_end]).split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._fail(400)
                return None
            self._method, self._target, version = parts
            pairs = _HEADER_LINE.findall(head)
            if len(pairs) != head.count("\r\n"):
                self._fail(400)
                return None
            headers: dict[str, str] = {}
            ncred = 0
            for name, value in pairs:
                name = name.lower()
                if name in _CREDENTIAL_HEADERS:
                    ncred += 1
                if name in headers:
                    headers[name] += ", " + value.rstrip()
                else:
                    headers[name] = value.rstrip()
            self._headers = headers
            self._ncred = ncred
            connection = headers.get("connection", "").lower()
            self._keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._state = _CHUNK_SIZE
                self._chunks = []
            else:
                try:
                    self._remaining = int(headers.get("content-length", "0"))
                except ValueError:
                    self._fail(400)
                    return None
                if self._remaining < 0:
                    self._fail(400)
                    return None
                self._state = _BODY
            if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._state == _BODY:
            n = self._remaining
            if len(buf) < n:
                return None
            body = bytes(buf[:n])
            del buf[:n]
            self._state = _HEAD
            return body
        while True:
            if self._state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                try:
                    size = int(bytes(buf[:end]).split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self._fail(400)
                    return None
                del buf[: end + 2]
                if size == 0:
                    self._state = _TRAILER
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif self._state == _CHUNK_DATA:
                n = self._remaining
                if len(buf) < n + 2:
                    return None
                if buf[n : n + 2] != b"\r\n":
                    self._fail(400)
                    return None
                self._chunks.append(bytes(buf[:n]))
                del buf[: n + 2]
                self._state = _CHUNK_SIZE
            else:  # _TRAILER
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                del buf[: end + 2]
                if end == 0:
                    self._state = _HEAD
                    body = b"".join(self._chunks)
                    self._chunks = []
                    return body

    # -- writing ---------------------------------------------------------------------------------------------------

    def _send(self, status: int, headers: Headers, body: bytes | list[bytes], close: bool = False) -> None:
        transport = self._transport
        if transport is None or self._closed or transport.is_closing():
            return
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers]
        if close:
            head.append("connection: close\r\n")
        if isinstance(body, bytes):
            head.append(f"content-length: {len(body)}\r\n\r\n")
            transport.write("".join(head).encode("latin-1") + body)
        else:
            head.append("transfer-encoding: chunked\r\n\r\n")
            out = ["".join(head).encode("latin-1")]
            for chunk in body:
                if chunk:
                    out += (f"{len(chunk):x}\r\n".encode(), chunk, b"\r\n")
            out.append(b"0\r\n\r\n")
            transport.write(b"".join(out))
        if close:
            self._closed = True
            self._busy = True
            transport.close()

    def _defer(self, seconds: float, then: Callable[[], None]) -> None:
        """Answer later (after a scripted delay): hold back further requests on this connection until done."""
        self._busy = True
        self._task = asyncio.get_running_loop().create_task(self._later(seconds, then))

    async def _later(self, seconds: float, then: Callable[[], None]) -> None:
        try:
            await asyncio.sleep(seconds)
            try:
                then()
            except Exception as exc:
                self._internal_error(exc)
        finally:
            self._task = None
        if not self._closed:
            self._busy = False
            self._process()


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


class MockProvider:
    """A local HTTP server that answers like the OpenAI, Anthropic and Gemini APIs, with a script per API key.

    Use as a context manager (``with MockProvider() as mock:``) or call :meth:`start` and :meth:`stop`.
    The server runs its own event loop in a daemon thread, so it works the same from sync and async tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        # resumable uploads (Gemini): upload_id -> [label of the key that started it, bytes received]
        self._uploads: dict[str, list[Any]] = {}
        self._records: list[RecordedRequest] = []
        self._connections = 0
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on ``127.0.0.1`` on a free port; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("MockProvider is already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, backlog=1024)
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="byok-mock-provider", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._open):
                conn.close()
            for _ in range(3):  # let connection_lost callbacks close the sockets
                await asyncio.sleep(0)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if not self._port:
            raise RuntimeError("MockProvider is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``: :attr:`url` + ``/v1``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for ``anthropic.Anthropic(base_url=...)``."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """Base URL for ``google.genai.types.HttpOptions(base_url=...)``."""
        return self.url

    # -- keys and scripts ------------------------------------------------------------------------------------------

    def add_key(self, key: str, behaviour: Behaviour | None = None, *, label: str | None = None) -> None:
        """Register ``key`` (replacing any previous registration) with a single repeating behaviour (default
        :func:`ok`). ``label`` names the key in records and answers; it defaults to ``"key<N>"``."""
        with self._lock:
            if label is None:
                label = f"key{len(self._keys) + 1}"
            self._keys[key] = _Key(label, (ok() if behaviour is None else behaviour,))

    def remove_key(self, key: str) -> None:
        """Forget ``key``: later requests with it are answered as an unknown key."""
        with self._lock:
            del self._keys[key]

    def script(self, key: str, *behaviours: Behaviour) -> None:
        """Give ``key`` a sequence: each request consumes the next behaviour and the last repeats forever."""
        if not behaviours:
            raise ValueError("script() needs at least one behaviour")
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                raise KeyError("key is not registered; call add_key() first")
            state.script = behaviours
            state.index = 0

    def set(self, key: str, behaviour: Behaviour) -> None:
        """Replace ``key``'s script with a single repeating behaviour."""
        self.script(key, behaviour)

    # -- records ---------------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start (or :meth:`clear`), in arrival order; a snapshot copy."""
        with self._lock:
            return list(self._records)

    def labels(self) -> list[str]:
        """The label of each recorded request, in order."""
        with self._lock:
            return [r.label for r in self._records]

    def clear(self) -> None:
        """Forget the recorded requests and restart :attr:`connections` from 0 (keys and scripts stay)."""
        with self._lock:
            self._records.clear()
            self._connections = 0

    def reset(self) -> None:
        """Back to a fresh server: no keys, no records, :attr:`connections` from 0 (open connections stay open)."""
        with self._lock:
            self._keys.clear()
            self._records.clear()
            self._uploads.clear()
            self._connections = 0

    @property
    def connections(self) -> int:
        """Number of TCP connections accepted since start (or :meth:`clear` / :meth:`reset`)."""
        return self._connections

    # -- serving (event-loop thread) -------------------------------------------------------------------------------

    def _connection_made(self, conn: _Connection) -> None:
        with self._lock:
            self._connections += 1
        self._open.add(conn)

    def _connection_lost(self, conn: _Connection) -> None:
        self._open.discard(conn)

    def _handle(
        self,
        conn: _Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        ncred: int,
        body: bytes,
        keep_alive: bool,
    ) -> None:
        if target.startswith(("http://", "https://")):  # absolute-form
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        path, _, query = target.partition("?")
        provider = _provider_of(path, headers, query)
        credential = _credential(headers, query)
        if path.startswith("/upload/") and "upload_id=" in query:
            self._upload_chunk(conn, path, query, headers, credential, body, not keep_alive)
            return
        behaviour: Behaviour | None = None
        with self._lock:
            if ncred > 1:
                label = MULTIPLE_KEYS_LABEL
            elif credential is None:
                label = NO_KEY_LABEL
            else:
                state = self._keys.get(credential)
                if state is None:
                    label = UNKNOWN_KEY_LABEL
                else:
                    label = state.label
                    index = state.index
                    behaviour = state.script[index]
                    if index + 1 < len(state.script):
                        state.index = index + 1
            self._records.append(RecordedRequest(label, method, path, query, headers, body, provider))

        close = not keep_alive
        error: ErrorResponse | None
        if ncred > 1:
            error = multiple_credentials_error(provider)
        elif credential is None:
            error = missing_key_error(provider)
        elif behaviour is None:
            error = invalid_key_error(provider, credential)
        else:
            self._answer(conn, provider, behaviour, credential, label, method, path, query, headers, body, close)
            return
        conn._send(*error, close=close)

    def _upload_start(self, path: str, label: str) -> _Answer:
        with self._lock:
            upload_id = f"up{len(self._uploads) + 1}"
            self._uploads[upload_id] = [label, 0]
        upload_url = f"{self.url}{path}?upload_id={upload_id}&upload_protocol=resumable"
        return 200, [_GOOGLE_JSON_HEADER, ("x-goog-upload-url", upload_url), ("x-goog-upload-status", "active")], b"{}"

    def _upload_chunk(
        self,
        conn: _Connection,
        path: str,
        query: str,
        headers: dict[str, str],
        credential: str | None,
        body: bytes,
        close: bool,
    ) -> None:
        """A chunk of a Gemini resumable upload. The upload URL authorises it; a chunk sent with a different key
        than the one that started the session is refused (a session never changes keys)."""
        upload_id = parse_qs(query).get("upload_id", [""])[0]
        with self._lock:
            session = self._uploads.get(upload_id)
            state = self._keys.get(credential) if credential is not None else None
            label = state.label if state is not None else (NO_KEY_LABEL if credential is None else UNKNOWN_KEY_LABEL)
            self._records.append(RecordedRequest(label, "POST", path, query, headers, body, GEMINI))
            if session is not None and credential is not None and label != session[0]:
                session = None
            elif session is not None:
                session[1] += len(body)
        if session is None:
            message = "Upload session not found or started with another key."
            conn._send(
                400,
                [_GOOGLE_JSON_HEADER],
                _dumps({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}),
                close=close,
            )
            return
        command = headers.get("x-goog-upload-command", "")
        if "finalize" not in command:
            conn._send(200, [("x-goog-upload-status", "active")], b"", close=close)
            return
        file = {
            "name": f"files/{upload_id}",
            "displayName": f"uploaded by {session[0]}",
            "mimeType": "text/plain",
            "sizeBytes": str(session[1]),
            "state": "ACTIVE",
            "uri": f"{self.url}/v1beta/files/{upload_id}",
        }
        conn._send(200, [_GOOGLE_JSON_HEADER, ("x-goog-upload-status", "final")], _dumps({"file": file}), close=close)

    def _answer(
        self,
        conn: _Connection,
        provider: str,
        behaviour: Behaviour,
        credential: str,
        label: str,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        close: bool,
    ) -> None:
        if isinstance(behaviour, Delay):
            then = behaviour.then
            conn._defer(
                behaviour.seconds,
                lambda: self._answer(
                    conn, provider, then, credential, label, method, path, query, headers, body, close
                ),
            )
            return
        answer: _Answer | ErrorResponse | None
        if isinstance(behaviour, Ok):
            text = f"served by {label}"
            if provider == OPENAI:
                answer = _route_openai(method, path, headers, body, text)
            elif provider == ANTHROPIC:
                answer = _route_anthropic(method, path, body, text)
            elif path.startswith("/upload/") and "start" in headers.get("x-goog-upload-command", ""):
                answer = self._upload_start(path, label)
            else:
                answer = _route_gemini(method, path, query, body, text)
            if answer is None:
                answer = not_found_error(provider, method, path)
        else:
            answer = behaviour_error(behaviour, provider, credential)
            assert answer is not None
        conn._send(*answer, close=close)
