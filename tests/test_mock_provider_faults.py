"""MockProvider fault injection, seen through the real openai, anthropic and google-genai SDKs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from byok_client.testing import (
    FAULT_KINDS,
    Behaviour,
    ConnectionReset,
    MockProvider,
    ResetMidBody,
    Stall,
    TruncatedStream,
    connection_reset,
    invalid_key,
    ok,
    rate_limited,
    reset_mid_body,
    server_error,
    stall,
    truncated_stream,
)

MESSAGES: Any = [{"role": "user", "content": "hi"}]
TIMEOUT = 0.4


@pytest.fixture
def mock(mock: MockProvider) -> Iterator[MockProvider]:
    mock.add_key("sk-a", label="a")
    mock.add_key("sk-b", label="b")
    yield mock


def oai(mock: MockProvider, key: str = "sk-a") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=mock.openai_base_url, max_retries=0, timeout=TIMEOUT)


def claude(mock: MockProvider, key: str = "sk-a") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=mock.anthropic_base_url, max_retries=0, timeout=TIMEOUT)


def gemini(mock: MockProvider, key: str = "sk-a") -> genai.Client:
    options = genai_types.HttpOptions(base_url=mock.gemini_base_url, timeout=int(TIMEOUT * 1000))
    return genai.Client(api_key=key, http_options=options)


def call_openai(mock: MockProvider, stream: bool) -> None:
    with oai(mock) as client:
        if stream:
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def call_anthropic(mock: MockProvider, stream: bool) -> None:
    with claude(mock) as client:
        if stream:
            for _ in client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES, stream=True):
                pass
        else:
            client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)


def call_gemini(mock: MockProvider, stream: bool) -> None:
    client = gemini(mock)
    if stream:
        for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            pass
    else:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")


CALLS: dict[str, Callable[[MockProvider, bool], None]] = {
    "openai": call_openai,
    "anthropic": call_anthropic,
    "gemini": call_gemini,
}

# What each SDK raises for each transport fault, as it would for a real server doing the same: the SDKs wrap
# transport errors while they read the head (and openai also while streaming an OK answer), but a body read later
# (an error body of a streamed request, an anthropic stream) leaks the transport's own exception; genai never wraps.
TRANSPORT_CASES: list[tuple[str, Behaviour, bool, type[BaseException]]] = [
    ("openai", connection_reset(), False, openai.APIConnectionError),
    ("openai", connection_reset(), True, openai.APIConnectionError),
    ("openai", reset_mid_body(), False, openai.APIConnectionError),
    ("openai", reset_mid_body(), True, openai.APIConnectionError),
    ("openai", reset_mid_body(429), False, openai.APIConnectionError),
    ("openai", reset_mid_body(429), True, httpx2.ReadError),
    ("openai", stall(3), False, openai.APITimeoutError),
    ("openai", stall(3), True, openai.APITimeoutError),
    ("openai", stall(3, 500), True, httpx2.ReadTimeout),
    ("openai", truncated_stream(2), True, openai.APIConnectionError),
    ("anthropic", connection_reset(), False, anthropic.APIConnectionError),
    ("anthropic", reset_mid_body(), False, anthropic.APIConnectionError),
    ("anthropic", reset_mid_body(), True, httpx2.ReadError),
    ("anthropic", stall(3), False, anthropic.APITimeoutError),
    ("anthropic", stall(3, 429), False, anthropic.APITimeoutError),
    ("anthropic", truncated_stream(2), True, httpx2.RemoteProtocolError),
    ("gemini", connection_reset(), False, httpx2.ReadError),
    ("gemini", reset_mid_body(), True, httpx2.ReadError),
    ("gemini", stall(3), False, httpx2.ReadTimeout),
    ("gemini", truncated_stream(1), True, httpx2.RemoteProtocolError),
]


FAULT_NAMES: dict[type[Behaviour], str] = {
    ConnectionReset: "reset",
    ResetMidBody: "reset_mid_body",
    Stall: "stall",
    TruncatedStream: "truncated_stream",
}


@pytest.mark.parametrize(("sdk", "behaviour", "stream", "exc"), TRANSPORT_CASES)
def test_transport_faults_through_sdks(
    mock: MockProvider, sdk: str, behaviour: Behaviour, stream: bool, exc: type[BaseException]
) -> None:
    mock.set("sk-a", behaviour)
    started = time.monotonic()
    with pytest.raises(exc):
        CALLS[sdk](mock, stream)
    elapsed = time.monotonic() - started
    (record,) = mock.requests
    assert record.fault == FAULT_NAMES[type(behaviour)]
    assert record.stream is stream
    if isinstance(behaviour, Stall):
        assert TIMEOUT * 0.9 <= elapsed < 2.5  # the client's read timeout fired, long before the stall ended
    mock.set("sk-a", ok())
    CALLS[sdk](mock, stream)  # the server itself is fine afterwards


def test_truncated_stream_delivers_some_events_then_stops(mock: MockProvider) -> None:
    mock.set("sk-a", truncated_stream(3))
    chunks: list[Any] = []
    with oai(mock) as client, pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            chunks.append(chunk)
    assert 1 <= len(chunks) <= 3
    assert all(c.choices[0].finish_reason is None for c in chunks)  # the final event never came


def test_reset_sends_a_tcp_reset_before_any_byte(mock: MockProvider) -> None:
    mock.set("sk-a", connection_reset())
    with httpx2.Client() as client, pytest.raises(httpx2.ReadError, match="reset"):
        client.post(mock.openai_base_url + "/chat/completions", headers={"authorization": "Bearer sk-a"}, json={})


def test_mid_body_reset_sends_the_head_first(mock: MockProvider) -> None:
    mock.set("sk-a", reset_mid_body(503))
    url = mock.openai_base_url + "/chat/completions"
    with httpx2.Client() as client, client.stream("POST", url, headers={"authorization": "Bearer sk-a"}, json={}) as r:
        assert r.status_code == 503 and r.headers["content-type"] == "application/json"
        with pytest.raises(httpx2.ReadError):
            r.read()


@pytest.mark.parametrize(
    ("kind", "openai_exc", "anthropic_exc", "gemini_code"),
    [
        ("429", openai.RateLimitError, anthropic.RateLimitError, 429),
        ("500", openai.InternalServerError, anthropic.InternalServerError, 500),
        ("503", openai.InternalServerError, anthropic.InternalServerError, 503),
        ("401", openai.AuthenticationError, anthropic.AuthenticationError, 400),
    ],
)
def test_status_faults_have_each_providers_shape(
    mock: MockProvider,
    kind: str,
    openai_exc: type[openai.APIStatusError],
    anthropic_exc: type[anthropic.APIStatusError],
    gemini_code: int,
) -> None:
    mock.inject_faults(seed=1, rate=1.0, kinds={kind})
    with oai(mock) as client, pytest.raises(openai_exc) as oe:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    mock.unrevoke()
    with claude(mock) as aclient, pytest.raises(anthropic_exc) as ae:
        aclient.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)
    mock.unrevoke()
    gclient = gemini(mock)  # held: a genai.Client closes its HTTP client when collected
    with pytest.raises(genai_errors.APIError) as ge:
        gclient.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert ge.value.code == gemini_code
    if kind == "429":
        assert oe.value.response.headers["retry-after"] == "1"
        assert oe.value.response.headers["retry-after-ms"] == "1000"
        assert oe.value.code == "rate_limit_exceeded"
        assert ae.value.response.headers["retry-after"] == "1"
        assert ge.value.status == "RESOURCE_EXHAUSTED"
        assert any(d.get("retryDelay") == "1s" for d in ge.value.details["error"]["details"])
    if kind == "401":
        assert oe.value.code == "invalid_api_key"
        assert ge.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert [r.fault for r in mock.requests] == [kind] * 3
    assert mock.fault_counts() == {kind: 3}


def test_401_revokes_the_key_for_good(mock: MockProvider) -> None:
    mock.inject_faults(seed=3, rate=1.0, kinds={"401"}, keys={"sk-a"})
    with oai(mock) as client:
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        mock.stop_faults()
        for _ in range(3):  # revoked: the injection is off, the key still fails
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with oai(mock, "sk-b") as other:
        assert other.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content
    assert mock.revoked() == ["a"]
    assert [r.fault for r in mock.requests] == ["401"] * 4 + [None]
    mock.unrevoke("sk-a")
    with oai(mock) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_max_revoked_and_revocable(mock: MockProvider) -> None:
    mock.add_key("sk-c", label="c")
    mock.inject_faults(seed=0, rate=1.0, kinds={"401", "500"}, max_revoked=1, revocable={"sk-b", "sk-c"})
    with httpx2.Client() as client:
        for _ in range(10):
            for key in ("sk-a", "sk-b", "sk-c"):
                client.post(mock.openai_base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"})
    assert len(mock.revoked()) == 1 and mock.revoked() != ["a"]
    assert all(r.fault == "500" for r in mock.requests if r.label == "a")


def run_sequence(mock: MockProvider, seed: int, n: int = 200) -> list[str | None]:
    mock.clear()
    mock.unrevoke()
    mock.inject_faults(seed=seed, rate=0.3, kinds=FAULT_KINDS - {"stall", "401"}, body_statuses=(200, 429))
    with httpx2.Client() as client:
        for i in range(n):
            key = "sk-a" if i % 2 else "sk-b"
            with contextlib.suppress(httpx2.TransportError):
                client.post(
                    mock.openai_base_url + "/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "m", "stream": i % 4 < 2, "messages": MESSAGES},
                ).read()
    return [r.fault for r in mock.requests]


def test_seeded_injection_is_reproducible_and_near_the_rate(mock: MockProvider) -> None:
    first = run_sequence(mock, seed=7)
    assert run_sequence(mock, seed=7) == first
    assert run_sequence(mock, seed=8) != first
    faulted = [f for f in first if f is not None]
    assert 0.2 * len(first) <= len(faulted) <= 0.4 * len(first)
    assert "truncated_stream" in faulted
    truncated = [r for r in mock.requests if r.fault == "truncated_stream"]
    assert all(r.stream for r in truncated)
    counts = mock.fault_counts()
    assert sum(counts.values()) == len([r for r in mock.requests if r.fault])


def test_records_carry_monotonic_timestamps_and_model(mock: MockProvider) -> None:
    before = time.monotonic()
    mock.inject_faults(seed=2, rate=0.5, kinds={"500", "429"}, keys={"sk-b"})
    with oai(mock) as client, oai(mock, "sk-b") as client_b:
        for i in range(20):
            client.chat.completions.create(model=f"gpt-{i % 2}", messages=MESSAGES)
            with contextlib.suppress(openai.APIStatusError):
                client_b.chat.completions.create(model="gpt-x", messages=MESSAGES)
    records = mock.requests
    stamps = [r.timestamp for r in records]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= time.monotonic()
    assert all(r.fault is None for r in records if r.label == "a")
    assert {r.model for r in records if r.label == "a"} == {"gpt-0", "gpt-1"}
    assert any(r.fault for r in records if r.label == "b")
    assert "sk-b" not in repr(records)


def test_scripted_faults_mix_with_answers(mock: MockProvider) -> None:
    mock.script("sk-a", connection_reset(), server_error(503), rate_limited(retry_after=2), invalid_key(), ok())
    with oai(mock) as client:
        for exc in (
            openai.APIConnectionError,
            openai.InternalServerError,
            openai.RateLimitError,
            openai.AuthenticationError,
        ):
            with pytest.raises(exc):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert [r.fault for r in mock.requests] == ["reset", "503", "429", "401", None]
    assert mock.fault_counts() == {"reset": 1, "503": 1, "429": 1, "401": 1}


def test_bad_fault_configuration_is_refused(mock: MockProvider) -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        mock.inject_faults(kinds={"teapot"})
    with pytest.raises(ValueError, match="rate"):
        mock.inject_faults(rate=1.5)
    with pytest.raises(ValueError, match="status"):
        mock.inject_faults(body_statuses=(302,))
    with pytest.raises(ValueError):
        stall(-1)
    with pytest.raises(KeyError):
        mock.revoke("sk-unknown")
    with pytest.raises(TypeError):
        mock.script("sk-a", "ok")  # type: ignore[arg-type]


def test_open_connections_back_to_baseline_after_faults() -> None:
    with MockProvider() as mock:
        mock.add_key("sk-a", label="a")
        assert mock.open_connections == 0
        check_baseline(mock)
        assert mock.connections >= 30


def check_baseline(mock: MockProvider) -> None:
    mock.inject_faults(seed=5, rate=0.5, kinds={"reset", "reset_mid_body", "truncated_stream", "500"})
    for i in range(30):
        with oai(mock) as client:
            try:
                for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=bool(i % 2)):
                    pass
            except (openai.APIError, httpx2.TransportError, TypeError):
                pass
    deadline = time.monotonic() + 2
    while mock.open_connections > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mock.open_connections == 0
