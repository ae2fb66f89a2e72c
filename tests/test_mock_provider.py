"""Tests of byok_client.testing.MockProvider, driven through the real SDKs and plain httpx2."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from byok_client.testing import (
    Behaviour,
    MockProvider,
    RecordedRequest,
    bad_request,
    delay,
    invalid_key,
    ok,
    quota_exhausted,
    rate_limited,
    server_error,
)

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def mock() -> Iterator[MockProvider]:
    with MockProvider() as m:
        m.add_key("sk-good", label="good")
        yield m


def oai(mock: MockProvider, key: str = "sk-good") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=mock.openai_base_url, max_retries=0)


def claude(mock: MockProvider, key: str = "sk-good") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=mock.anthropic_base_url, max_retries=0)


def gemini(mock: MockProvider, key: str = "sk-good") -> genai.Client:
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=mock.gemini_base_url))


def chat(client: openai.OpenAI) -> str | None:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content


def claude_text(client: anthropic.Anthropic) -> str:
    block = client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES).content[0]
    assert block.type == "text"
    return block.text


def gemini_text(client: genai.Client) -> str | None:
    return client.models.generate_content(model="gemini-2.5-flash", contents="hi").text


# --------------------------------------------------------------------------------------------------------------------
# OK answers through the SDKs
# --------------------------------------------------------------------------------------------------------------------


def test_addresses(mock: MockProvider) -> None:
    assert mock.url.startswith("http://127.0.0.1:") and not mock.url.endswith("/")
    assert mock.openai_base_url == mock.url + "/v1"
    assert mock.anthropic_base_url == mock.gemini_base_url == mock.url


def test_openai_sync(mock: MockProvider) -> None:
    with oai(mock) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert completion.choices[0].message.content == "served by good"
        assert completion.usage is not None and completion.usage.total_tokens > 0
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "served by good"
        assert chunks[-1].usage is not None
        embeddings = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])
        assert [len(e.embedding) for e in embeddings.data] == [8, 8, 8]
        assert len(client.embeddings.create(model="text-embedding-3-small", input="a").data) == 1
        assert [m.id for m in client.models.list()] == ["gpt-4o-mini", "text-embedding-3-small"]
        assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
        assert raw.headers["x-ratelimit-remaining-requests"] == "9999"
        assert raw.headers["x-ratelimit-reset-requests"] == "6ms"
    assert {r.provider for r in mock.requests} == {"openai"}
    assert mock.requests[0].path == "/v1/chat/completions"


def test_openai_responses_api(mock: MockProvider) -> None:
    with oai(mock) as client:
        response = client.responses.create(model="gpt-5-mini", input="hi")
        assert response.output_text == "served by good" and response.usage is not None
        events = [e.type for e in client.responses.create(model="gpt-5-mini", input="hi", stream=True)]
        assert events[0] == "response.created" and events[-1] == "response.completed"
        with client.responses.stream(model="gpt-5-mini", input="hi") as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
        assert "".join(deltas) == "served by good" and final.output_text == "served by good"
    assert [r.path for r in mock.requests] == ["/v1/responses"] * 3


async def test_openai_async(mock: MockProvider) -> None:
    async with openai.AsyncOpenAI(api_key="sk-good", base_url=mock.openai_base_url, max_retries=0) as client:
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert completion.choices[0].message.content == "served by good"
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "served by good"


def test_openai_file_upload_records_raw_body(mock: MockProvider) -> None:
    payload = b"line one\nline two\n" * 100
    with oai(mock) as client:
        file = client.files.create(file=("notes.jsonl", payload), purpose="batch")
    assert file.filename == "notes.jsonl" and file.bytes == len(payload) and file.purpose == "batch"
    (record,) = mock.requests
    assert record.path == "/v1/files" and record.method == "POST"
    assert record.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert payload in record.body and len(record.body) == int(record.headers["content-length"])


def test_azure_openai(mock: MockProvider) -> None:
    client = openai.AzureOpenAI(api_key="sk-good", azure_endpoint=mock.url, api_version="2024-10-21", max_retries=0)
    with client:
        assert chat(client) == "served by good"
    (record,) = mock.requests
    assert record.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert record.query == "api-version=2024-10-21" and "api-key" in record.headers
    assert record.provider == "openai"


def test_anthropic_sync(mock: MockProvider) -> None:
    with claude(mock) as client:
        assert claude_text(client) == "served by good"
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream) == "served by good"
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3
        assert final.content[0].type == "text" and final.content[0].text == "served by good"
        assert [m.id for m in client.models.list()] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
        raw = client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES)
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == "3999"
    assert [(r.provider, r.path) for r in mock.requests[-2:]] == [
        ("anthropic", "/v1/models"),
        ("anthropic", "/v1/messages"),
    ]


async def test_anthropic_async(mock: MockProvider) -> None:
    async with anthropic.AsyncAnthropic(api_key="sk-good", base_url=mock.url, max_retries=0) as client:
        message = await client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES)
        assert message.content[0].type == "text" and message.content[0].text == "served by good"
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES) as stream:
            assert "".join([t async for t in stream.text_stream]) == "served by good"
            final = await stream.get_final_message()
        assert final.stop_reason == "end_turn"


def test_gemini_sync(mock: MockProvider) -> None:
    with gemini(mock) as client:
        response = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert response.text == "served by good"
        assert response.usage_metadata is not None and response.usage_metadata.total_token_count
        parts = [c.text for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")]
        assert "".join(p or "" for p in parts) == "served by good" and len(parts) > 1
        assert [m.name for m in client.models.list()] == ["models/gemini-2.5-flash", "models/text-embedding-004"]
    paths = [(r.method, r.path, r.query, r.provider) for r in mock.requests]
    assert paths[0] == ("POST", "/v1/models/gemini-2.5-flash:generateContent", "", "gemini")
    assert paths[1] == ("POST", "/v1/models/gemini-2.5-flash:streamGenerateContent", "alt=sse", "gemini")
    assert paths[2][:2] == ("GET", "/v1/models") and paths[2][3] == "gemini"


async def test_gemini_async(mock: MockProvider) -> None:
    client = gemini(mock).aio
    try:
        response = await client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert response.text == "served by good"
        stream = await client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
        assert "".join([c.text or "" async for c in stream]) == "served by good"
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------------------------------
# Behaviours
# --------------------------------------------------------------------------------------------------------------------

OPENAI_ERRORS: list[tuple[Behaviour, int, type[openai.APIStatusError]]] = [
    (rate_limited(retry_after=1), 429, openai.RateLimitError),
    (quota_exhausted(), 429, openai.RateLimitError),
    (invalid_key(), 401, openai.AuthenticationError),
    (server_error(), 500, openai.InternalServerError),
    (server_error(503), 503, openai.InternalServerError),
    (bad_request(), 400, openai.BadRequestError),
]


@pytest.mark.parametrize(("behaviour", "status", "exc"), OPENAI_ERRORS)
def test_openai_errors(mock: MockProvider, behaviour: Behaviour, status: int, exc: type[openai.APIStatusError]) -> None:
    mock.set("sk-good", behaviour)
    with oai(mock) as client, pytest.raises(exc) as info:
        chat(client)
    assert type(info.value) is exc and info.value.status_code == status
    assert info.value.response.headers["content-type"] == "application/json"
    assert info.value.response.headers["x-request-id"]
    body = info.value.body
    assert isinstance(body, dict) and {"message", "type", "param", "code"} <= body.keys()
    if isinstance(behaviour, type(quota_exhausted())):
        assert info.value.code == "insufficient_quota"
    if isinstance(behaviour, type(rate_limited())):
        assert info.value.code == "rate_limit_exceeded"


def test_openai_invalid_key_is_masked(mock: MockProvider) -> None:
    key = "sk-proj-0123456789abcdefSECRET"
    with oai(mock, key) as client, pytest.raises(openai.AuthenticationError) as info:
        chat(client)
    assert info.value.code == "invalid_api_key"
    assert key not in info.value.message and "CRET" in info.value.message
    assert mock.labels() == ["<unknown>"]


ANTHROPIC_ERRORS: list[tuple[Behaviour, int, type[anthropic.APIStatusError], str]] = [
    (rate_limited(retry_after=1), 429, anthropic.RateLimitError, "rate_limit_error"),
    (quota_exhausted(), 400, anthropic.BadRequestError, "invalid_request_error"),
    (invalid_key(), 401, anthropic.AuthenticationError, "authentication_error"),
    (server_error(), 500, anthropic.InternalServerError, "api_error"),
    (server_error(529), 529, anthropic.OverloadedError, "overloaded_error"),
    (bad_request(), 400, anthropic.BadRequestError, "invalid_request_error"),
]


@pytest.mark.parametrize(("behaviour", "status", "exc", "error_type"), ANTHROPIC_ERRORS)
def test_anthropic_errors(
    mock: MockProvider, behaviour: Behaviour, status: int, exc: type[anthropic.APIStatusError], error_type: str
) -> None:
    mock.set("sk-good", behaviour)
    with claude(mock) as client, pytest.raises(exc) as info:
        claude_text(client)
    assert isinstance(info.value, exc) and info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"] == error_type
    if isinstance(behaviour, type(quota_exhausted())):
        assert "credit balance is too low" in body["error"]["message"]


GEMINI_ERRORS: list[tuple[Behaviour, int, type[genai_errors.APIError], str]] = [
    (rate_limited(retry_after=7), 429, genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
    (quota_exhausted(), 429, genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
    (invalid_key(), 400, genai_errors.ClientError, "INVALID_ARGUMENT"),
    (server_error(), 500, genai_errors.ServerError, "INTERNAL"),
    (server_error(503), 503, genai_errors.ServerError, "UNAVAILABLE"),
    (bad_request(), 400, genai_errors.ClientError, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("behaviour", "status", "exc", "grpc_status"), GEMINI_ERRORS)
def test_gemini_errors(
    mock: MockProvider, behaviour: Behaviour, status: int, exc: type[genai_errors.APIError], grpc_status: str
) -> None:
    mock.set("sk-good", behaviour)
    with gemini(mock) as client, pytest.raises(exc) as info:
        gemini_text(client)
    assert info.value.code == status and info.value.status == grpc_status
    details = json.dumps(info.value.details)
    if isinstance(behaviour, type(invalid_key())):
        assert "API_KEY_INVALID" in details
    if isinstance(behaviour, type(bad_request())):
        assert "API_KEY_INVALID" not in details
    if isinstance(behaviour, type(quota_exhausted())):
        assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in details
    if isinstance(behaviour, type(rate_limited())):
        assert "PerMinute" in details and '"retryDelay": "7s"' in details


def test_missing_and_unknown_keys(mock: MockProvider) -> None:
    with httpx2.Client(base_url=mock.url) as http:
        assert http.post("/v1/chat/completions", json={}).status_code == 401
        missing = http.post("/v1/messages", json={}, headers={"anthropic-version": "2023-06-01"})
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
        gmissing = http.post("/v1beta/models/gemini-2.5-flash:generateContent", json={})
        assert gmissing.status_code == 403 and gmissing.json()["error"]["status"] == "PERMISSION_DENIED"
        assert gmissing.headers["content-type"] == "application/json"
        unknown = http.post("/v1beta/models/gemini-2.5-flash:generateContent?key=nope", json={})
        assert unknown.status_code == 400 and "API_KEY_INVALID" in unknown.text
    with claude(mock, "sk-nope") as client, pytest.raises(anthropic.AuthenticationError):
        claude_text(client)
    assert mock.labels() == ["<none>", "<none>", "<none>", "<unknown>", "<unknown>"]


def test_gemini_zero_limit_quota_and_reset(mock: MockProvider) -> None:
    mock.add_key("sk-zero", quota_exhausted(per_day=False), label="zero")
    with gemini(mock, "sk-zero") as client, pytest.raises(genai_errors.ClientError) as info:
        gemini_text(client)
    assert info.value.code == 429 and "limit: 0" in json.dumps(info.value.details)
    assert "PerDay" not in json.dumps(info.value.details)
    mock.reset()
    assert mock.requests == [] and mock.connections == 0
    with oai(mock) as client, pytest.raises(openai.AuthenticationError):
        chat(client)  # the keys are gone too
    assert mock.labels() == ["<unknown>"] and mock.connections == 1


def test_rate_limited_headers(mock: MockProvider) -> None:
    mock.add_key("sk-a", rate_limited(30, 1500, "6m0s", "1s"), label="a")
    mock.add_key("sk-date", rate_limited(retry_after=120, retry_date=True), label="date")
    mock.add_key("sk-bare", rate_limited(), label="bare")
    with httpx2.Client(base_url=mock.url) as http:
        r = http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-a"})
        assert r.status_code == 429 and r.json()["error"]["type"] == "requests"
        assert r.headers["retry-after"] == "30" and r.headers["retry-after-ms"] == "1500"
        assert r.headers["x-ratelimit-reset-requests"] == "6m0s" and r.headers["x-ratelimit-reset-tokens"] == "1s"
        r = http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-date"})
        wait = parsedate_to_datetime(r.headers["retry-after"]).timestamp() - time.time()
        assert 100 < wait <= 121
        r = http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-bare"})
        assert r.status_code == 429 and "retry-after" not in r.headers and "x-ratelimit-reset-requests" not in r.headers
        r = http.post("/v1/messages", json={}, headers={"x-api-key": "sk-a", "anthropic-version": "2023-06-01"})
        assert r.status_code == 429 and r.headers["retry-after"] == "30" and r.headers["x-should-retry"] == "true"
        assert r.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        body = r.json()
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
        assert body["request_id"] == r.headers["request-id"]
    with oai(mock, "sk-a") as client, pytest.raises(openai.RateLimitError) as info:
        chat(client)
    assert info.value.response.headers["retry-after"] == "30"


def test_script_sequence_then_repeat(mock: MockProvider) -> None:
    mock.script("sk-good", server_error(), rate_limited(), ok())
    with oai(mock) as client:
        with pytest.raises(openai.InternalServerError):
            chat(client)
        with pytest.raises(openai.RateLimitError):
            chat(client)
        assert [chat(client) for _ in range(3)] == ["served by good"] * 3
        mock.set("sk-good", invalid_key())
        for _ in range(2):
            with pytest.raises(openai.AuthenticationError):
                chat(client)
    assert mock.labels() == ["good"] * 7
    mock.clear()
    assert mock.requests == [] and mock.labels() == []
    with pytest.raises(KeyError):
        mock.script("sk-never-added", ok())


def test_record_and_repr(mock: MockProvider) -> None:
    mock.add_key("sk-secret-value-123456", label="other")
    with oai(mock, "sk-secret-value-123456") as client:
        chat(client)
    with httpx2.Client(base_url=mock.url) as http:
        http.get("/v1beta/models?key=sk-secret-value-123456&pageSize=5")
    first, second = mock.requests
    assert isinstance(first, RecordedRequest)
    assert first.label == "other" and first.method == "POST" and first.provider == "openai"
    assert first.headers["authorization"] == "Bearer sk-secret-value-123456"
    assert first.json()["messages"] == MESSAGES
    assert second.provider == "gemini" and second.path == "/v1beta/models" and second.label == "other"
    assert second.query == "key=sk-secret-value-123456&pageSize=5"
    for record in (first, second):
        text = repr(record)
        assert "sk-secret-value" not in text and "<other>" in text
    with pytest.raises(AttributeError):
        first.label = "x"  # type: ignore[misc]


def test_two_credential_headers_rejected(mock: MockProvider) -> None:
    with httpx2.Client(base_url=mock.url) as http:
        r = http.post(
            "/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-good", "x-api-key": "sk-good"}
        )
        assert r.status_code == 400
        assert r.json() == {"error": {"message": "multiple credential headers", "type": "invalid_request_error"}}
        r = http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-good"})
        assert r.status_code == 200
    assert mock.labels() == ["<multiple>", "good"]


def test_unknown_path_is_404_in_provider_shape(mock: MockProvider) -> None:
    with httpx2.Client(base_url=mock.url) as http:
        r = http.post("/v1/nope", json={}, headers={"authorization": "Bearer sk-good"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
        r = http.get("/v1/nope", headers={"x-api-key": "sk-good", "anthropic-version": "2023-06-01"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
        r = http.post("/v1beta/models/m:nope", json={}, headers={"x-goog-api-key": "sk-good"})
        assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


# --------------------------------------------------------------------------------------------------------------------
# HTTP behaviour
# --------------------------------------------------------------------------------------------------------------------


def test_keep_alive_sequential(mock: MockProvider) -> None:
    with oai(mock) as client:
        for _ in range(100):
            assert chat(client) == "served by good"
    assert mock.connections == 1 and len(mock.requests) == 100


def test_chunked_request_body(mock: MockProvider) -> None:
    pieces = [b'{"model": "m", ', b'"messages": [{"role": "user", ', b'"content": "' + b"x" * 70000 + b'"}]}']

    def body() -> Iterator[bytes]:
        yield from pieces

    with httpx2.Client(base_url=mock.url, headers={"authorization": "Bearer sk-good"}) as http:
        r = http.post("/v1/chat/completions", content=body())
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "served by good"
        r = http.post("/v1/chat/completions", json={"messages": []})
        assert r.status_code == 200
    record = mock.requests[0]
    assert record.headers["transfer-encoding"] == "chunked" and record.body == b"".join(pieces)
    assert mock.connections == 1


def test_raw_pipelined_requests_and_connection_close(mock: MockProvider) -> None:
    port = int(mock.url.rsplit(":", 1)[1])
    get = b"GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-good\r\n"
    chunked = (
        b"POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nx-api-key: nope\r\nauthorization: Bearer sk-good\r\n"
        b"transfer-encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(get + b"\r\n" + chunked + get + b"connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.count(b"HTTP/1.1 400 Bad Request") == 1
    assert data.index(b"400 Bad Request") < data.rindex(b"200 OK")
    assert b"connection: close" in data
    assert mock.labels() == ["good", "<multiple>", "good"]


async def test_concurrent_async_requests(mock: MockProvider) -> None:
    async with openai.AsyncOpenAI(api_key="sk-good", base_url=mock.openai_base_url, max_retries=0) as client:
        results = await asyncio.gather(
            *[client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES) for _ in range(50)]
        )
    assert [r.choices[0].message.content for r in results] == ["served by good"] * 50
    assert len(mock.requests) == 50


async def test_delay_does_not_block_other_requests(mock: MockProvider) -> None:
    mock.add_key("sk-slow", delay(0.5, server_error(503)), label="slow")
    async with httpx2.AsyncClient(base_url=mock.url) as http:
        started = time.perf_counter()
        slow = asyncio.ensure_future(
            http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-slow"})
        )
        await asyncio.sleep(0.05)
        fast = await http.post("/v1/chat/completions", json={}, headers={"authorization": "Bearer sk-good"})
        assert fast.status_code == 200 and time.perf_counter() - started < 0.45
        assert (await slow).status_code == 503 and time.perf_counter() - started >= 0.5
    assert mock.labels() == ["slow", "good"]


def test_delay_then_client_timeout(mock: MockProvider) -> None:
    mock.script("sk-good", delay(2), ok())
    with openai.OpenAI(api_key="sk-good", base_url=mock.openai_base_url, max_retries=0, timeout=0.2) as client:
        with pytest.raises(openai.APITimeoutError):
            chat(client)
        assert chat(client) == "served by good"


def test_start_stop() -> None:
    mock = MockProvider()
    with pytest.raises(RuntimeError):
        _ = mock.url
    mock.start()
    mock.add_key("k", label="k")
    with httpx2.Client() as http:
        assert http.get(mock.url + "/v1/models", headers={"authorization": "Bearer k"}).status_code == 200
    mock.stop()
    mock.stop()
    with pytest.raises(ValueError):
        server_error(404)
