"""KeyPool and Failover: the pure core, driven without any I/O, on a hand-moved clock."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest

from byok_client import ByokConfigError, FailoverPolicy, Failure, Key, KeyPool, NoUsableKeyError, Verdict
from byok_client.core.flow import GiveUp
from byok_client.core.policy import Observation
from byok_client.providers.openai import OpenAIProvider

from .conftest import FakeClock
from .flows import Drive as Failover

PROVIDER = OpenAIProvider()
RATE_LIMITED = Observation(429, {"retry-after": "30"}, b'{"error": {"code": "rate_limit_exceeded"}}')
QUOTA = Observation(429, {}, b'{"error": {"code": "insufficient_quota", "type": "insufficient_quota"}}')
INVALID = Observation(401, {}, b'{"error": {"code": "invalid_api_key"}}')
SERVER = Observation(500, {}, b'{"error": {"type": "server_error"}}')
BAD = Observation(400, {}, b'{"error": {"type": "invalid_request_error", "code": null}}')


def pool_of(n: int, clock: FakeClock, on_exhausted: Any = "wait", **policy: Any) -> KeyPool:
    keys = [Key(f"sk-{i}", f"k{i}") for i in range(n)]
    return KeyPool(keys, clock=clock, policy=FailoverPolicy(**policy), on_exhausted=on_exhausted)


def labels_until_done(pool: KeyPool, outcomes: list[Observation]) -> tuple[list[str], GiveUp | None]:
    """Run one request: each outcome answers the next attempt; returns the labels tried and any GiveUp."""
    flow = Failover(pool, PROVIDER)
    key = flow.first()
    tried = [key.label]
    for obs in outcomes:
        step = flow.failed(obs)
        if isinstance(step, GiveUp):
            return tried, step
        tried.append(step.label)
    flow.succeeded(200, {})
    return tried, None


def test_keys_are_tried_in_order_and_a_good_key_stays_first(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    assert labels_until_done(pool, []) == (["k0"], None)
    assert labels_until_done(pool, []) == (["k0"], None)


def test_rate_limited_key_cools_exactly_as_long_as_the_provider_says(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    assert labels_until_done(pool, [RATE_LIMITED])[0][0] == "k0"
    for _ in range(5):
        clock.advance(5.9)
        assert labels_until_done(pool, [])[0] != ["k0"]  # k0 gets nothing while it cools (29.5 s)
    assert pool.status_of("k0").state == "cooling"
    clock.advance(0.6)
    assert pool.status_of("k0").state == "ready"
    assert labels_until_done(pool, [])[0] == ["k0"]


def test_rate_limit_without_reset_uses_policy_default(clock: FakeClock) -> None:
    pool = pool_of(2, clock, rate_limit_cooldown=7)
    labels_until_done(pool, [Observation(429, {}, b"")])
    assert pool.status_of("k0").cooling_for == pytest.approx(7)


def test_quota_cools_long_and_invalid_key_is_disabled_until_reload(clock: FakeClock) -> None:
    pool = pool_of(3, clock, quota_cooldown=3600)
    assert labels_until_done(pool, [QUOTA, INVALID])[0] == ["k0", "k1", "k2"]
    st0, st1 = pool.status_of("k0"), pool.status_of("k1")
    assert (st0.state, st0.cooldown_reason, st0.cooling_for) == ("cooling", Failure.QUOTA_EXHAUSTED, 3600)
    assert (st1.state, st1.disabled_reason) == ("disabled", "HTTP 401 invalid_api_key")
    clock.advance(10_000)
    for _ in range(3):
        assert labels_until_done(pool, [])[0] == ["k0"]
    assert all(labels_until_done(pool, [SERVER])[0] != ["k1"] for _ in range(3))
    pool.reload(pool.keys)
    assert pool.status_of("k1").state == "ready"


def test_disabled_key_is_never_used_again(clock: FakeClock) -> None:
    pool = pool_of(2, clock, on_exhausted="send")  # the rate-limited k1 is sent to while it cools
    labels_until_done(pool, [INVALID])
    seen = [label for _ in range(20) for label in labels_until_done(pool, [RATE_LIMITED])[0]]
    assert "k0" not in seen


def test_server_error_tries_next_key_without_cooling(clock: FakeClock) -> None:
    pool = pool_of(2, clock)
    tried, give_up = labels_until_done(pool, [SERVER])
    assert tried == ["k0", "k1"]
    assert give_up is None
    assert pool.status_of("k0").state == "ready"
    assert labels_until_done(pool, [])[0] == ["k0"]


def test_bad_request_is_returned_at_once_and_blames_no_key(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    tried, give_up = labels_until_done(pool, [BAD])
    assert tried == ["k0"]
    assert give_up is not None
    assert give_up.verdict.failure is Failure.CLIENT_ERROR
    assert give_up.headers == {}
    assert pool.status_of("k0").failures == {}


def test_all_rate_limited_gives_sdk_retry_after_until_first_key_is_back(clock: FakeClock) -> None:
    pool = pool_of(2, clock, on_exhausted="send")
    tried, give_up = labels_until_done(pool, [RATE_LIMITED, Observation(429, {"retry-after": "12"}, b"")])
    assert tried == ["k0", "k1"]
    assert give_up is not None
    assert give_up.headers == {"retry-after-ms": "12000", "x-should-retry": "true"}
    # every key cooling, on_exhausted="send": the next request still makes a real request, to the key back first
    clock.advance(1)
    assert labels_until_done(pool, [])[0] == ["k1"]


def test_retry_after_hint_is_capped_so_the_sdk_still_retries(clock: FakeClock) -> None:
    pool = pool_of(1, clock, retry_after_cap=45)
    _, give_up = labels_until_done(pool, [Observation(429, {"retry-after": "600"}, b"")])
    assert give_up is not None
    assert give_up.headers["retry-after-ms"] == "45000"


def test_an_unreadable_retry_after_invents_no_wait_for_the_sdk(clock: FakeClock) -> None:
    pool = pool_of(1, clock)
    _, give_up = labels_until_done(
        pool, [Observation(429, {"retry-after": "abc"}, b'{"error": {"code": "rate_limit_exceeded"}}')]
    )
    assert give_up is not None
    assert "retry-after-ms" not in give_up.headers  # the SDK's own backoff decides, as without byok_client
    assert pool.status_of("k0").state == "cooling"  # the pool still cools the key by its default


def test_no_retry_when_every_key_is_out_of_quota_or_disabled(clock: FakeClock) -> None:
    pool = pool_of(2, clock)
    _, give_up = labels_until_done(pool, [QUOTA, INVALID])
    assert give_up is not None
    assert give_up.headers == {"x-should-retry": "false"}


def test_every_key_disabled_is_a_typed_error_naming_labels_not_values(clock: FakeClock) -> None:
    pool = pool_of(2, clock)
    labels_until_done(pool, [INVALID, INVALID])
    with pytest.raises(NoUsableKeyError) as info:
        Failover(pool, PROVIDER).first()
    assert "k0" in str(info.value)
    assert "sk-0" not in str(info.value)


def test_each_key_tried_at_most_once_per_request(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    tried, give_up = labels_until_done(pool, [SERVER] * 10)
    assert tried == ["k0", "k1", "k2"]
    assert give_up is not None


def test_reload_keeps_health_of_staying_keys_and_drops_removed_ones(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    labels_until_done(pool, [RATE_LIMITED])
    pool.reload([Key("sk-new", "new"), Key("sk-0", "k0"), Key("sk-2", "k2")])
    assert [k.label for k in pool.keys] == ["new", "k0", "k2"]
    assert pool.status_of("k0").state == "cooling"
    assert pool.status_of("k0").requests == 1
    assert labels_until_done(pool, [])[0] == ["new"]
    with pytest.raises(KeyError):
        pool.status_of("k1")


def test_bad_pool_input_is_typed_and_keeps_secrets(clock: FakeClock) -> None:
    with pytest.raises(ByokConfigError, match="duplicates key #1"):
        KeyPool(["sk-same", "sk-same"])
    with pytest.raises(ByokConfigError, match="#2 is empty"):
        KeyPool(["sk-a", "  "])
    with pytest.raises(ByokConfigError, match="not a single key"):
        KeyPool("sk-a")
    with pytest.raises(ByokConfigError, match="must be a str or Key, not int"):
        KeyPool(["sk-a", 3])  # type: ignore[list-item]
    pool = pool_of(2, clock)
    with pytest.raises(ByokConfigError):
        pool.reload(["sk-x", ""])
    assert [k.label for k in pool.keys] == ["k0", "k1"]  # a failed reload keeps the old keys
    with pytest.raises(TypeError):
        pickle.dumps(pool)
    assert "sk-0" not in repr(pool)


def test_policy_is_validated_and_immutable() -> None:
    with pytest.raises(ByokConfigError, match="quota_cooldown"):
        FailoverPolicy(quota_cooldown=-1)
    with pytest.raises(ByokConfigError, match="retry_after_cap"):
        FailoverPolicy(retry_after_cap=500)
    policy = FailoverPolicy()
    assert policy.replace(quota_cooldown=60).quota_cooldown == 60
    assert policy.quota_cooldown == 3600


def test_pools_of_the_same_scope_share_key_health(clock: FakeClock) -> None:
    a = KeyPool(["sk-shared", "sk-other"], clock=clock, scope="openai https://x:443")
    b = KeyPool(["sk-shared"], clock=clock, scope="openai https://x:443")
    private = KeyPool(["sk-shared"], clock=clock)
    labels_until_done(a, [RATE_LIMITED])
    assert b.status()[0].state == "cooling"
    assert private.status()[0].state == "ready"


def test_selection_under_many_threads_is_consistent(clock: FakeClock) -> None:
    pool = pool_of(4, clock)
    labels_until_done(pool, [RATE_LIMITED])  # k0 cools
    labels_until_done(pool, [INVALID, INVALID])  # k1 and k2 are disabled: k3 is the only ready key
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            tried, _ = labels_until_done(pool, [])
            with lock:
                results.extend(tried)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ready = [s.label for s in pool.status() if s.state == "ready"]
    assert len(ready) == 1
    assert results == ready * 1600
    status = pool.status_of(ready[0])
    assert status.successes == 1602  # 1600 + the two requests that failed over to it
    assert status.requests == 1602


def test_verdict_value_object() -> None:
    v = Verdict(Failure.RATE_LIMITED, 3.0, "why")
    assert v.failure.blames_key
    assert not Failure.CLIENT_ERROR.blames_key


def test_selection_stays_cheap_with_many_cooling_keys(clock: FakeClock) -> None:
    # 10,000 keys with the first 9,000 cooling: each request must not rescan them (checked by count of
    # heap entries touched: the ready heap's head is valid after the first walk).
    pool = KeyPool([f"sk-{i}" for i in range(10_000)], clock=clock, strategy="round_robin")
    for _ in range(9_000):
        labels_until_done(pool, [RATE_LIMITED])
    assert sum(s.state == "cooling" for s in pool.status()) == 9_000
    calls = 0
    entries = pool._entries

    def counting(i: int) -> bool:
        nonlocal calls
        calls += 1
        h = entries[i].health
        return h.disabled_reason is None and h.cooldown_until <= clock.now

    for _ in range(10_000):  # one turn of the ring drops the cooling keys; after that a pick is O(1)
        pool._selector.pick(set(), counting)
    calls = 0
    for _ in range(100):
        assert pool._selector.pick(set(), counting) is not None
    assert calls == 100
