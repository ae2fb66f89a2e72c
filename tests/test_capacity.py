"""Capacity: budgets learned from the provider's rate-limit headers or configured on keys, admission when every key
is spent (wait / fail), and the capacity alerts. The real SDKs against MockProvider's token buckets."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

import anthropic
import openai
import pytest

from byok_client import Anthropic as ByokAnthropic
from byok_client import (
    AsyncOpenAI,
    ByokConfigError,
    FailoverPolicy,
    Key,
    KeyPool,
    OpenAI,
    PoolCapacityLow,
    PoolCapacityRestored,
    PoolEvent,
)
from byok_client.core.budget import Budgets, Demand, estimate_tokens
from byok_client.testing import MockProvider

from .conftest import FakeClock

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def keys(mock: MockProvider, n: int, **limits: Any) -> list[Key]:
    run = uuid.uuid4().hex[:10]
    out = []
    for i in range(n):
        value = f"sk-cap-{run}-{i}"
        mock.add_key(value, label=f"k{i}")
        out.append(Key(value, f"k{i}", **limits))
    return out


def client(mock: MockProvider, pool: KeyPool, **kwargs: Any) -> OpenAI:
    kwargs.setdefault("max_retries", 0)
    return OpenAI(base_url=mock.openai_base_url, key_pool=pool, **kwargs)


def chat(c: OpenAI) -> str:
    return c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content or ""


def provider_429s(mock: MockProvider) -> int:
    return sum(1 for r in mock.requests if r.fault == "rate_limit")


# -- the pure pieces ------------------------------------------------------------------------------------------------
def test_a_reading_teaches_the_refill_rate_and_the_next_unit_is_one_unit_away() -> None:
    budgets, key = Budgets(), Key("sk-pure", "k")
    # 20 a second; 10.99 left (reported 10), 0.4505 s until full: the rate is at least (20 - 10 - 1) / 0.4505
    assert budgets.observe(key, None, (10, None, 0.4505, None), (20, None), 0, 100.0) == 0.0
    assert budgets.wait(key, None, Demand(), 100.0) == 0.0
    # empty: the bucket is full again in 1 s, but the next request is allowed after about 1/20 s
    assert budgets.observe(key, None, (0, None, 1.0, None), (20, None), 0, 101.0) == pytest.approx(0.05, rel=0.01)
    assert budgets.wait(key, None, Demand(), 101.0) == pytest.approx(0.05, rel=0.01)
    assert budgets.wait(key, None, Demand(), 101.06) == 0.0
    # without the limit's size: the estimate is the largest remaining seen + 1, a lower bound
    other = Key("sk-pure-2", "k2")
    budgets.observe(other, None, (4, None, 1.0, None), None, 0, 100.0)
    assert budgets.observe(other, None, (0, None, 1.0, None), None, 0, 100.5) == pytest.approx(0.25)


def test_the_token_cost_is_body_bytes_over_four_plus_the_output_allowance() -> None:
    body = b'{"model": "m", "max_tokens": 100, "messages": []}'
    assert estimate_tokens(body) == len(body) // 4 + 100
    assert estimate_tokens(b'{"model": "m"}') == 14 // 4 + 256
    assert estimate_tokens(b'{"generationConfig": {"maxOutputTokens": 7}}') == 45 // 4 + 7


def test_bad_capacity_settings_are_typed_errors() -> None:
    with pytest.raises(ByokConfigError, match="rpm"):
        Key("sk-x", rpm=0)
    with pytest.raises(ByokConfigError, match="tpm"):
        Key("sk-x", tpm=1.5)  # type: ignore[arg-type]
    with pytest.raises(ByokConfigError, match="on_exhausted"):
        KeyPool(["sk-x"], on_exhausted="later")  # type: ignore[arg-type]
    with pytest.raises(ByokConfigError, match="max_wait"):
        KeyPool(["sk-x"], max_wait=-1)
    with pytest.raises(ByokConfigError, match="capacity_threshold"):
        KeyPool(["sk-x"], capacity_threshold=1.5)
    assert Key("sk-x", rpm=5, tpm=100, rpd=9).with_label("y").rpm == 5


# -- budgets learned and configured ---------------------------------------------------------------------------------
def test_no_429_is_sent_when_the_headers_said_nothing_remains(mock: MockProvider) -> None:
    mock.rate_limit(requests=10, per=100.0)  # each key: 10, then one every 10 s
    ks = keys(mock, 2)
    c = client(mock, KeyPool(ks, on_exhausted="fail"))
    for _ in range(20):
        chat(c)
    with pytest.raises(openai.RateLimitError) as info:
        chat(c)
    assert info.value.response.headers["x-byok-decided"] == "client"
    # the next unit in 10 s; the remaining count is rounded down, so the pool's estimate errs long: 100 / 9 s
    assert 9_000 <= int(info.value.response.headers["retry-after-ms"]) <= 11_200
    assert len(mock.requests) == 20  # the rejected call never reached the provider
    assert provider_429s(mock) == 0


def test_an_empty_key_cools_until_its_next_unit_not_until_its_bucket_is_full(mock: MockProvider) -> None:
    mock.rate_limit(requests=20, per=40.0)  # one unit every 2 s; empty, the reset header says 40 s until full
    ks = keys(mock, 1)
    pool = KeyPool(ks, on_exhausted="fail")
    c = client(mock, pool)
    for _ in range(20):
        chat(c)
    status = pool.status_of("k0")
    assert status.remaining_requests == 0
    assert status.requests_reset_in is not None and status.requests_reset_in > 30  # the header: full in ~40 s
    cooling_for, _ = status.models_cooling["gpt-4o-mini"]  # OpenAI limits are per model
    assert 1.0 < cooling_for <= 2.2  # the pool: the next request in ~2 s (40 / 19 at most)


def test_a_configured_rpm_is_respected_without_any_provider_header(mock: MockProvider) -> None:
    ks = keys(mock, 2, rpm=2)
    c = client(mock, KeyPool(ks, on_exhausted="fail"))
    for _ in range(4):
        chat(c)
    with pytest.raises(openai.RateLimitError) as info:
        chat(c)
    assert info.value.response.headers["x-byok-decided"] == "client"
    assert sorted(r.label for r in mock.requests) == ["k0", "k0", "k1", "k1"]


def test_fail_raises_the_anthropic_sdks_own_error_too(mock: MockProvider) -> None:
    ks = keys(mock, 1, rpm=1)
    c = ByokAnthropic(base_url=mock.anthropic_base_url, key_pool=KeyPool(ks, on_exhausted="fail"), max_retries=0)
    c.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError) as info:
        c.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)
    assert info.value.response.headers["x-byok-decided"] == "client"
    assert "decided client-side" in str(info.value)
    assert len(mock.requests) == 1


# -- admission --------------------------------------------------------------------------------------------------------
def test_wait_serves_waiters_in_arrival_order_and_succeeds(mock: MockProvider) -> None:
    mock.rate_limit(requests=2, per=0.4)  # one key, a unit every 200 ms
    ks = keys(mock, 1)
    pool = KeyPool(ks, on_exhausted="wait", max_wait=10)
    c = client(mock, pool)
    chat(c)  # the first answer teaches the bucket
    finished: list[int] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        chat(c)
        with lock:
            finished.append(i)

    threads = []
    for i in range(6):
        thread = threading.Thread(target=call, args=(i,))
        thread.start()
        threads.append(thread)
        time.sleep(0.03)  # arrival order 0, 1, 2, ...: well apart from the 200 ms between units
    for thread in threads:
        thread.join(30)
    assert finished == list(range(6))
    assert provider_429s(mock) == 0
    capacity = pool.stats().capacity
    assert capacity is not None and capacity.waited >= 4 and capacity.rejected == 0


def test_an_async_wait_never_blocks_the_loop(mock: MockProvider) -> None:
    mock.rate_limit(requests=2, per=1.0)  # 2 a second: the third call waits for the next unit
    ks = keys(mock, 1)
    pool = KeyPool(ks, on_exhausted="wait", max_wait=5)

    async def main() -> tuple[int, float]:
        c = AsyncOpenAI(base_url=mock.openai_base_url, key_pool=pool, max_retries=0)
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        start = time.monotonic()
        for _ in range(3):
            await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        elapsed = time.monotonic() - start
        stop.set()
        await task
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    assert elapsed >= 0.2  # it did wait
    assert ticks >= 10  # and the loop kept running meanwhile
    assert len(mock.requests) == 3


def test_a_wait_longer_than_max_wait_takes_the_fail_path_at_once(mock: MockProvider) -> None:
    ks = keys(mock, 1, rpm=1)  # the next unit in 60 s
    c = client(mock, KeyPool(ks, on_exhausted="wait", max_wait=0.5))
    chat(c)
    start = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info:
        chat(c)
    assert time.monotonic() - start < 5
    assert info.value.response.headers["x-byok-decided"] == "client"
    assert int(info.value.response.headers["retry-after-ms"]) > 50_000  # the true wait (under the 60 s cap)
    assert len(mock.requests) == 1


def test_send_keeps_sending_to_the_key_ready_soonest(mock: MockProvider) -> None:
    ks = keys(mock, 1, rpm=1)
    c = client(mock, KeyPool(ks, on_exhausted="send"))
    chat(c)
    chat(c)  # the mock has no limit: it answers
    assert len(mock.requests) == 2


# -- alerts -----------------------------------------------------------------------------------------------------------
def test_capacity_alerts_fire_once_per_episode(mock: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    seen: list[PoolEvent] = []
    ks = keys(mock, 2, rpm=1)
    pool = KeyPool(
        ks,
        clock=clock,
        on_exhausted="fail",
        capacity_threshold=0.5,
        capacity_window=1.0,
        on_event=seen.append,
        policy=FailoverPolicy(retry_after_cap=0.01),
    )
    c = client(mock, pool)
    chat(c)
    chat(c)
    with caplog.at_level(logging.WARNING, logger="byok_client"):
        for _ in range(6):  # both keys spent; the share stays at 100 % past the 1 s window
            with pytest.raises(openai.RateLimitError):
                chat(c)
            clock.advance(0.5)
        lows = [e for e in seen if isinstance(e, PoolCapacityLow)]
        assert len(lows) == 1 and lows[0].share == 1.0
        assert any("pool capacity low" in r.getMessage() for r in caplog.records)
        stats = pool.stats()
        assert stats.capacity is not None and stats.capacity.low and stats.capacity.rejected == 6
        assert stats.capacity.exhausted_seconds > 1.0
        assert "capacity LOW (100.0% of keys spent): " in str(stats)
        clock.advance(61)  # a unit back on both keys
        chat(c)
        chat(c)
    assert [type(e) for e in seen if isinstance(e, PoolCapacityLow | PoolCapacityRestored)] == [
        PoolCapacityLow,
        PoolCapacityRestored,
    ]
    assert any("pool capacity restored" in r.getMessage() for r in caplog.records)
    assert len(mock.requests) == 4


def test_offered_and_served_rates_count_every_request_over_the_last_ten_seconds(mock: MockProvider) -> None:
    # The pool counts plain integers on the request path; the per-second rates are fed from them at each look.
    clock = FakeClock(5000.0)
    pool = KeyPool(keys(mock, 2), clock=clock)
    c = client(mock, pool)
    for _ in range(5):  # 4 requests in each of 5 seconds, one look (at least) per second
        for _ in range(4):
            chat(c)
            clock.advance(0.25)
    stats = pool.stats().capacity
    assert stats is not None and stats.offered == 20 and stats.served == 20
    # seconds 5000-5004 are whole, the current one (5005) is left out: 20 requests over a 9-second span
    assert stats.offered_rate == pytest.approx(20 / 9) and stats.served_rate == pytest.approx(20 / 9)
    clock.advance(20)  # a quiet spell: nothing in the last ten seconds
    quiet = pool.stats().capacity
    assert quiet is not None and quiet.offered_rate == 0.0 and quiet.offered == 20


def test_forgetting_learned_budgets_keeps_configured_ceilings_in_force() -> None:
    budgets = Budgets()
    plain = Key("sk-plain")
    budgets.add_ceilings([plain])
    assert not budgets.active  # no bucket applies: the pool skips every budget check
    capped = Key("sk-capped", rpm=1)
    budgets.add_ceilings([plain, capped])
    assert budgets.active
    budgets.forget()
    assert budgets.active
    budgets.take(capped, None, Demand(), 100.0)
    assert budgets.wait(capped, None, Demand(), 100.0) == pytest.approx(60.0)
