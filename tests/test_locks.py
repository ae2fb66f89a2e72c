"""Locks: one per shared-health scope, never held while user code runs; the cooling heap stays bounded."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from byok_client import ALL, FailoverPolicy, Failure, Key, KeyPool, KeyView
from byok_client.core.policy import Observation
from byok_client.providers.openai import OpenAIProvider

from .conftest import FakeClock
from .flows import Drive

PROVIDER = OpenAIProvider()
LIMITED = Observation(429, {"retry-after": "30"}, b'{"error": {"code": "rate_limit_exceeded"}}')


def keys(n: int) -> list[Key]:
    return [Key(f"sk-lock-{i}-{time.monotonic_ns()}", f"k{i}") for i in range(n)]


def one_request(pool: KeyPool, fail_first: bool = False) -> str:
    flow = Drive(pool, PROVIDER)
    key = flow.first()
    if fail_first:
        step = flow.failed(LIMITED)
        assert isinstance(step, Key)
        key = step
    flow.succeeded(200, {})
    flow.release()
    return key.label


def test_a_strategy_may_read_the_pools_status_and_stats(clock: FakeClock) -> None:
    box: dict[str, KeyPool] = {}

    def strategy(views: list[KeyView]) -> KeyView:
        pool = box["pool"]
        assert len(pool.status()) == 3  # would deadlock if the strategy ran under the pool's lock
        assert "k0" in str(pool.stats())
        return views[-1]

    pool = box["pool"] = KeyPool(keys(3), clock=clock, strategy=strategy)
    assert one_request(pool) == "k2"


def test_a_slow_strategy_does_not_stall_another_pool() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(views: list[KeyView]) -> KeyView:
        started.set()
        release.wait(5)
        return views[0]

    slow_pool = KeyPool(keys(2), strategy=slow)
    other = KeyPool(keys(2))
    worker = threading.Thread(target=one_request, args=(slow_pool,))
    worker.start()
    assert started.wait(5)
    begun = time.monotonic()
    assert one_request(other) == "k0"  # no process-wide lock: served while the slow strategy runs
    elapsed = time.monotonic() - begun
    release.set()
    worker.join(5)
    assert elapsed < 2.0


def test_pools_of_one_scope_share_a_lock_and_others_do_not() -> None:
    a = KeyPool(keys(1), scope="openai https://a:443")
    b = KeyPool(keys(1), scope="openai https://a:443")
    c = KeyPool(keys(1), scope="openai https://c:443")
    d = KeyPool(keys(1))
    assert a._lock is b._lock
    assert a._lock is not c._lock and d._lock is not a._lock


def test_a_pick_that_became_unusable_while_the_strategy_ran_is_picked_again(clock: FakeClock) -> None:
    box: dict[str, Any] = {}
    calls: list[int] = []

    def strategy(views: list[KeyView]) -> KeyView:
        calls.append(len(views))
        if len(calls) == 1:  # meanwhile, another request finds k0 rate-limited
            pool = box["pool"]
            with pool._lock:
                pool._cool(pool._entries[0], Failure.RATE_LIMITED, 30.0, True, clock(), None, "openai", "")
        return views[0]

    pool = box["pool"] = KeyPool(keys(2), clock=clock, strategy=strategy)
    assert one_request(pool) == "k1"
    assert calls == [2, 1]


@pytest.mark.parametrize(
    "strategy",
    ["ordered", "round_robin", "weighted", "random", "least_loaded", [lambda k: k.in_flight < 5, ALL], lambda v: v[0]],
    ids=["ordered", "round_robin", "weighted", "random", "least_loaded", "filters", "callable"],
)
def test_the_cooling_heap_holds_at_most_one_entry_per_key(clock: FakeClock, strategy: Any) -> None:
    pool = KeyPool(keys(3), clock=clock, strategy=strategy, policy=FailoverPolicy())
    flow = Drive(pool, PROVIDER)
    first = flow.first()
    flow.failed(LIMITED)  # one key cools for 30 s
    flow.succeeded(200, {})
    flow.release()
    for _ in range(10_000):
        label = one_request(pool)
        assert label != first.label
    assert len(pool._cooling) <= len(pool)


def test_a_key_disabled_through_one_pool_is_never_picked_by_another_of_its_scope(clock: FakeClock) -> None:
    ks = keys(3)
    a = KeyPool(ks, clock=clock, scope="openai https://shared:443")
    b = KeyPool(ks, clock=clock, scope="openai https://shared:443", strategy="round_robin", on_exhausted="send")
    flow = Drive(a, PROVIDER)
    assert flow.first().label == "k0"
    flow.failed(Observation(401, {}, b'{"error": {"code": "invalid_api_key"}}'))
    flow.succeeded(200, {})
    flow.release()
    picked = {one_request(b) for _ in range(30)}
    assert picked == {"k1", "k2"}
    for key in ks[1:]:  # even when every other key cools, the fallback never takes a disabled key
        b._cool(b._entries[ks.index(key)], Failure.RATE_LIMITED, 60.0, True, clock(), None, "openai", "")
    assert one_request(b) in ("k1", "k2")
