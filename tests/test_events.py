"""Events, the x-byok-key header, attempt history, in-flight counts and stats, through the real SDKs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openai
import pytest

from byok_client import (
    AsyncOpenAI,
    AttemptCompleted,
    FailedOver,
    FailoverPolicy,
    Key,
    KeyDisabled,
    KeyPool,
    KeyQuotaExhausted,
    KeyRateLimited,
    KeyRecovered,
    KeysReloaded,
    OpenAI,
    PoolEvent,
    PoolExhausted,
    attempts_of,
)
from byok_client.testing import MockProvider, invalid_key, ok, quota_exhausted, rate_limited

from .conftest import FakeClock

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def keys(mock: MockProvider, *behaviours: Any) -> list[Key]:
    """Fresh key values per call: clients of one provider and origin share key health across tests otherwise."""
    prefix = f"sk-events-{uuid.uuid4().hex[:12]}"
    result = []
    for i, behaviour in enumerate(behaviours):
        mock.add_key(f"{prefix}-{i}", behaviour, label=f"k{i}")
        result.append(Key(f"{prefix}-{i}", f"k{i}"))
    return result


def chat(client: OpenAI) -> str:
    return client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content or ""


def kinds(events: list[PoolEvent]) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, AttemptCompleted)]


def test_events_fire_once_per_transition(mock: MockProvider, clock: FakeClock) -> None:
    ks = keys(mock, rate_limited(retry_after=30), quota_exhausted(), invalid_key(), ok())
    events: list[PoolEvent] = []
    pool = KeyPool(
        ks, clock=clock, on_event=events.append, policy=FailoverPolicy(retry_after_cap=0.01), cooldown_scope="key"
    )
    client = OpenAI(key_pool=pool, base_url=mock.openai_base_url, max_retries=0)
    assert chat(client) == "served by k3"
    assert kinds(events) == [
        "KeyRateLimited", "FailedOver", "KeyQuotaExhausted", "FailedOver", "KeyDisabled", "FailedOver",
    ]  # fmt: skip
    transitions = [e for e in events if not isinstance(e, AttemptCompleted)]
    limited = transitions[0]
    assert isinstance(limited, KeyRateLimited)
    assert (limited.provider, limited.key_label, limited.cooldown, limited.path) == (
        "openai", "k0", 30.0, "/v1/chat/completions",
    )  # fmt: skip
    over = transitions[1]
    assert isinstance(over, FailedOver)
    assert (over.key_label, over.to_label, over.status, str(over.failure)) == ("k0", "k1", 429, "rate_limited")
    assert isinstance(transitions[2], KeyQuotaExhausted) and transitions[2].cooldown == 3600
    assert isinstance(transitions[4], KeyDisabled) and "401" in transitions[4].reason
    attempts = [e for e in events if isinstance(e, AttemptCompleted)]
    assert [(a.key_label, a.status, a.outcome) for a in attempts] == [
        ("k0", 429, "rate_limited"), ("k1", 429, "quota_exhausted"), ("k2", 401, "invalid_key"), ("k3", 200, "success"),
    ]  # fmt: skip
    events.clear()
    # the earliest-cooling key meets another 429 while still cooling: no second KeyRateLimited
    mock.set(ks[3].get_secret_value(), rate_limited(retry_after=5))
    with pytest.raises(openai.RateLimitError):
        chat(client)
    assert kinds(events) == ["KeyRateLimited", "PoolExhausted"]
    exhausted = next(e for e in events if isinstance(e, PoolExhausted))
    assert [a.key_label for a in exhausted.attempts] == ["k3"]
    events.clear()
    mock.set(ks[3].get_secret_value(), ok())
    clock.advance(6)
    assert chat(client) == "served by k3"
    assert kinds(events) == ["KeyRecovered"]
    assert [e.key_label for e in events if isinstance(e, KeyRecovered)] == ["k3"]
    events.clear()
    pool.reload([ks[3], Key("sk-events-new", "new")])
    reloaded = [e for e in events if isinstance(e, KeysReloaded)]
    assert len(reloaded) == 1
    assert (reloaded[0].added, reloaded[0].removed) == (("new",), ("k0", "k1", "k2"))


def test_reload_that_revives_a_disabled_key_says_so(mock: MockProvider) -> None:
    ks = keys(mock, invalid_key(), ok())
    events: list[PoolEvent] = []
    pool = KeyPool(ks, on_event=events.append)
    chat(OpenAI(key_pool=pool, base_url=mock.openai_base_url))
    events.clear()
    pool.reload(ks)
    assert kinds(events) == ["KeysReloaded", "KeyRecovered"]


def test_a_raising_callback_never_breaks_a_request(mock: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())

    def broken(event: PoolEvent) -> None:
        raise RuntimeError("alerting is down")

    seen: list[PoolEvent] = []
    with caplog.at_level(logging.ERROR, logger="byok_client"):
        client = OpenAI(key_pool=KeyPool(ks, on_event=[broken, seen.append]), base_url=mock.openai_base_url)
        assert chat(client) == "served by k1"
    assert "alerting is down" in caplog.text
    assert kinds(seen) == ["KeyRateLimited", "FailedOver"]  # the other listener still got everything


def test_client_on_event_sees_its_requests_and_copies_keep_it(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    seen: list[PoolEvent] = []
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, on_event=seen.append, max_retries=0)
    chat(client)
    assert kinds(seen) == ["KeyRateLimited", "FailedOver"]
    seen.clear()
    mock.set(ks[1].get_secret_value(), invalid_key())
    with pytest.raises(openai.AuthenticationError):
        chat(client.with_options(timeout=5))
    assert kinds(seen) == ["KeyDisabled", "PoolExhausted"]


def test_alerting_on_rate_limits_is_one_callback(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    alerts: list[str] = []

    def alert(event: PoolEvent) -> None:
        if isinstance(event, KeyRateLimited):
            alerts.append(f"{event.key_label} rate-limited for {event.cooldown:.0f}s")

    chat(OpenAI(api_keys=ks, base_url=mock.openai_base_url, on_event=alert))
    assert alerts == ["k0 rate-limited for 30s"]


def test_serving_key_label_is_on_the_raw_response(mock: MockProvider) -> None:
    ks = keys(mock, quota_exhausted(), ok())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.headers["x-byok-key"] == "k1"
    assert "sk-events" not in str(raw.headers)


def test_attempt_history_is_reachable_from_the_sdk_exception(mock: MockProvider) -> None:
    ks = keys(mock, rate_limited(retry_after=30), invalid_key())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        chat(client)
    history = attempts_of(info.value)
    assert [(a.key_label, a.status, str(a.failure)) for a in history] == [
        ("k0", 429, "rate_limited"),
        ("k1", 401, "invalid_key"),
    ]
    assert info.value.response.headers["x-byok-key"] == "k1"
    assert attempts_of(ValueError()) == ()
    # the request the exception shows carries the SDK's placeholder, not a managed key
    assert "sk-events" not in str(info.value.response.request.headers)


def test_in_flight_counts_a_stream_until_it_is_closed(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    pool = KeyPool(ks)
    client = OpenAI(key_pool=pool, base_url=mock.openai_base_url)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert pool.status_of("k0").in_flight == 1
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "served by k0"
    assert pool.status_of("k0").in_flight == 0
    chat(client)
    assert pool.status_of("k0").in_flight == 0
    assert pool.status_of("k0").remaining_requests == 9999  # read from the mock's x-ratelimit-* headers


async def test_async_in_flight_and_max_in_flight_spill(mock: MockProvider) -> None:
    mock.add_key("sk-events-small", ok(), label="small")
    mock.add_key("sk-events-big", ok(), label="big")
    pool = KeyPool([Key("sk-events-small", "small", max_in_flight=1), Key("sk-events-big", "big")])
    async with AsyncOpenAI(key_pool=pool, base_url=mock.openai_base_url) as client:
        first = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert pool.status_of("small").in_flight == 1
        second = await client.chat.completions.create(model="m", messages=MESSAGES)
        assert second.choices[0].message.content == "served by big"  # small is full
        assert "".join([c.choices[0].delta.content or "" async for c in first if c.choices]) == "served by small"
        await asyncio.sleep(0)
        assert pool.status_of("small").in_flight == 0


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._in = tag in ("td", "th")

    def handle_endtag(self, tag: str) -> None:
        self._in = False

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.cells.append(data.strip())


def test_pool_renders_in_notebooks_and_terminals(mock: MockProvider, tmp_path: Path) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    pool = KeyPool(ks, cooldown_scope="key")
    chat(OpenAI(key_pool=pool, base_url=mock.openai_base_url))
    html = pool._repr_html_()
    parser = _Cells()
    parser.feed(html)
    assert "k0" in parser.cells and "k1" in parser.cells
    assert any(c.startswith("cooling") for c in parser.cells)
    text = str(pool.stats())
    assert text.splitlines()[0].startswith("KeyPool: 2 keys (1 ready, 1 cooling, 0 disabled), strategy ordered")
    for secret in (k.get_secret_value() for k in ks):
        assert secret not in html and secret not in text


def test_log_levels_failover_info_exhaustion_warning_detail_debug(
    mock: MockProvider, caplog: pytest.LogCaptureFixture
) -> None:
    ks = keys(mock, rate_limited(retry_after=30), invalid_key())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="byok_client"), pytest.raises(openai.AuthenticationError):
        chat(client)
    ours = [r for r in caplog.records if r.name == "byok_client"]
    levels = {r.levelname: r.getMessage() for r in ours}
    assert "key k0 failed (rate_limited, HTTP 429); retrying with key k1" in levels["INFO"]
    assert "every key failed" in levels["WARNING"] or "no key can serve" in levels["WARNING"]
    debug = [r.getMessage() for r in ours if r.levelname == "DEBUG"]
    assert any("using key k0" in m for m in debug)
    assert any("key k1 got HTTP 401: invalid_key" in m for m in debug)
    for record in ours:
        for key in ks:
            assert key.get_secret_value() not in record.getMessage()


def test_breaking_out_of_a_stream_gives_its_slot_back(mock: MockProvider) -> None:
    import gc

    ks = keys(mock, ok(), ok())
    pool = KeyPool([Key(ks[0].get_secret_value(), "k0", max_in_flight=1), ks[1]])
    client = OpenAI(key_pool=pool, base_url=mock.openai_base_url)

    def abandon() -> None:
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        for _ in stream:
            break  # no close(): the common way to stop reading early

    abandon()
    gc.collect()
    assert chat(client) == "served by k0"  # its slot came back at the next pick
    assert pool.status_of("k0").in_flight == 0
