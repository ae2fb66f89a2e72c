"""The request path's shortcuts keep their contracts: a provider's hooks run only where it defines them, a
reset header is read by the provider's own parser, and a body stream closed by the SDK leaves nothing to its
finalizer."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import httpx2
import pytest

from byok_client import Key, KeyPool, OpenAI
from byok_client.core.policy import Verdict
from byok_client.core.pool import PoolState
from byok_client.providers.anthropic import AnthropicProvider
from byok_client.providers.base import Provider, parse_duration
from byok_client.providers.openai import OpenAIProvider
from byok_client.testing import MockProvider

from .flows import Drive

MESSAGES: Any = [{"role": "user", "content": "hi"}]


class Quiet(Provider):
    name = "quiet"

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        raise NotImplementedError


class Listening(Quiet):
    def __init__(self) -> None:
        self.heard: list[tuple[str | None, str]] = []

    def on_success(self, headers: Mapping[str, str], key: Key) -> None:
        self.heard.append((headers.get("x-note"), key.label))


def test_on_success_runs_for_a_provider_that_defines_it_and_only_then() -> None:
    assert not Quiet.hears_success and not OpenAIProvider.hears_success
    assert Listening.hears_success
    listening = Listening()
    pool = PoolState()
    pool._install([Key("sk-a", "a")], {})
    drive = Drive(pool, listening)
    drive.first()
    drive.succeeded(200, {"x-note": "n1"})
    drive.release()
    assert listening.heard == [("n1", "a")]


class Clocked(OpenAIProvider):
    """Resets written as seconds with a suffix of its own: the byte view must reach this parser."""

    def parse_reset(self, text: str) -> float | None:
        return float(text.removesuffix("sec")) if text.endswith("sec") else None


def test_a_provider_parse_reset_reads_the_transports_byte_view_too() -> None:
    view = {
        b"x-ratelimit-remaining-requests": b"5",
        b"x-ratelimit-reset-requests": b"7sec",
        b"x-ratelimit-remaining-tokens": b"100",
        b"x-ratelimit-reset-tokens": b"2sec",
    }
    assert Clocked().read_limits(view) == (5, 100, 7.0, 2.0)  # type: ignore[arg-type]
    assert OpenAIProvider().read_limits(view) == (5, 100, None, None)  # type: ignore[arg-type]  # not Go durations
    go = {**view, b"x-ratelimit-reset-requests": b"1m30s", b"x-ratelimit-reset-tokens": b"6ms"}
    assert OpenAIProvider().read_limits(go) == (5, 100, 90.0, 0.006)  # type: ignore[arg-type]


class AnthropicTenths(AnthropicProvider):
    """A subclass that reads resets its own way: its parser, not Anthropic's, must see the byte view."""

    def parse_reset(self, text: str) -> float | None:
        return 0.1 if text == "soon" else None


class AnthropicAsIs(AnthropicProvider):
    """A subclass that changes nothing about resets: it keeps Anthropic's byte reader."""


def test_anthropic_reads_its_reset_moments_from_bytes_as_from_text() -> None:
    moment = "2999-01-01T00:00:00Z"
    view = {
        b"anthropic-ratelimit-requests-remaining": b"4",
        b"anthropic-ratelimit-requests-reset": moment.encode(),
        b"anthropic-ratelimit-tokens-remaining": b"900",
        b"anthropic-ratelimit-tokens-reset": b"2020-01-01T00:00:00Z",
    }
    for provider in (AnthropicProvider(), AnthropicAsIs()):
        requests, tokens, requests_reset, tokens_reset = provider.read_limits(view)  # type: ignore[arg-type,misc]
        assert (requests, tokens, tokens_reset) == (4, 900, 0.0)  # a past moment: usable now
        text = provider.parse_reset(moment)
        assert requests_reset is not None and text is not None and abs(requests_reset - text) < 1.0
        assert requests_reset > 30 * 365 * 86400
    assert AnthropicAsIs._parse_raw is AnthropicProvider._parse_raw
    own = {**view, b"anthropic-ratelimit-requests-reset": b"soon", b"anthropic-ratelimit-tokens-reset": b"later"}
    assert AnthropicTenths().read_limits(own) == (4, 900, 0.1, None)  # type: ignore[arg-type]
    assert AnthropicProvider().read_limits(own) == (4, 900, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [b"1m30s", "1m30s", b"6ms", " 2s "])
def test_parse_duration_reads_bytes_and_text_alike(text: str | bytes) -> None:
    as_text = text.decode() if isinstance(text, bytes) else text
    assert parse_duration(text) == parse_duration(as_text) and parse_duration(text) is not None
    assert parse_duration(b"x" * 100) is None and parse_duration("1s" * 200) is None  # past the length limit


def test_a_closed_success_stream_leaves_nothing_for_its_finalizer(mock: MockProvider) -> None:
    mock.add_key("sk-path-1", label="p1")
    pool = KeyPool(["sk-path-1"])
    client = OpenAI(base_url=mock.openai_base_url, key_pool=pool, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="m", messages=MESSAGES)
    gc.collect()
    assert pool._pending_release == []  # each lease ended at close, none by __del__
    assert [s.in_flight for s in pool.status()] == [0]
    with client.chat.completions.with_streaming_response.create(model="m", messages=MESSAGES) as response:
        assert pool.status()[0].in_flight == 1
        next(response.iter_bytes())
    gc.collect()
    assert pool._pending_release == [] and pool.status()[0].in_flight == 0
    assert isinstance(response.http_response, httpx2.Response)
