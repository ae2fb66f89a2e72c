"""Selection strategies, health from response headers, in-flight limits: the pure core on a fixed clock."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from byok_client import ALL, ByokConfigError, FailoverPolicy, Key, KeyPool, KeyView
from byok_client.cel import CelStrategy
from byok_client.core.policy import Observation
from byok_client.core.selection import WeightedSelector
from byok_client.providers.anthropic import AnthropicProvider
from byok_client.providers.openai import OpenAIProvider

from .conftest import FakeClock
from .flows import Drive as Failover

PROVIDER = OpenAIProvider()
LIMITED = Observation(429, {"retry-after": "30"}, b'{"error": {"code": "rate_limit_exceeded"}}')
INVALID = Observation(401, {}, b"")
SERVER = Observation(500, {}, b"")


def pool_of(n: int, clock: FakeClock, strategy: Any = "ordered", **key_args: Any) -> KeyPool:
    keys = [Key(f"sk-strategy-{i}", f"k{i}", **key_args.get(f"k{i}", {})) for i in range(n)]
    return KeyPool(keys, clock=clock, strategy=strategy, policy=FailoverPolicy())


def one(pool: KeyPool, outcomes: list[Observation] = (), headers: dict[str, str] | None = None) -> list[str]:  # type: ignore[assignment]
    """One finished request: the labels tried."""
    flow = Failover(pool, PROVIDER)
    tried = [flow.first().label]
    for obs in outcomes:
        step = flow.failed(obs)
        if not isinstance(step, Key):
            return tried
        tried.append(step.label)
    flow.succeeded(200, headers or {})
    flow.release()
    return tried


def served(pool: KeyPool, n: int) -> list[str]:
    return [one(pool)[-1] for _ in range(n)]


def test_ordered_keeps_the_first_key_and_spreads_while_it_cools(clock: FakeClock) -> None:
    pool = pool_of(4, clock)
    assert served(pool, 3) == ["k0"] * 3
    assert one(pool, [LIMITED])[0] == "k0"
    burst = served(pool, 9)
    assert "k0" not in burst
    assert Counter(burst) == {"k1": 3, "k2": 3, "k3": 3}  # spread, not a stampede on k1
    clock.advance(30)
    assert served(pool, 3) == ["k0"] * 3  # back to the primary as soon as it is ready


def test_ordered_with_a_disabled_first_key_has_a_new_primary(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    one(pool, [INVALID])
    assert served(pool, 4) == ["k1"] * 4


def test_ordered_moves_to_the_next_key_after_a_server_error(clock: FakeClock) -> None:
    pool = pool_of(3, clock)
    assert one(pool, [SERVER]) == ["k0", "k1"]
    assert served(pool, 2) == ["k0", "k0"]


def test_round_robin_takes_turns_and_skips_cooling_keys(clock: FakeClock) -> None:
    pool = pool_of(3, clock, "round_robin")
    assert served(pool, 6) == ["k0", "k1", "k2", "k0", "k1", "k2"]
    assert one(pool, [LIMITED]) == ["k0", "k1"]
    assert served(pool, 4) == ["k2", "k1", "k2", "k1"]
    clock.advance(31)
    assert set(served(pool, 3)) == {"k0", "k1", "k2"}


def test_weighted_follows_weights(clock: FakeClock) -> None:
    keys = {"k0": {"weight": 1}, "k1": {"weight": 3}, "k2": {"weight": 6}}
    pool = pool_of(3, clock, WeightedSelector(random.Random(7)), **keys)
    counts = Counter(served(pool, 5000))
    assert 400 < counts["k0"] < 600
    assert 1300 < counts["k1"] < 1700
    assert 2800 < counts["k2"] < 3200
    # a cooling key gets nothing while it cools
    flow = Failover(pool, PROVIDER)
    first = flow.first()
    flow.failed(LIMITED)
    assert first.label not in served(pool, 200)


def test_random_is_uniform_over_ready_keys(clock: FakeClock) -> None:
    pool = pool_of(4, clock, WeightedSelector(random.Random(3), uniform=True))
    assert pool.strategy == "random"
    counts = Counter(served(pool, 4000))
    assert all(850 < counts[f"k{i}"] < 1150 for i in range(4))
    assert KeyPool(["sk-a"], strategy="random").strategy == "random"


def openai_headers(remaining: int, reset: str = "1s", tokens: int = 100000) -> dict[str, str]:
    return {
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-remaining-tokens": str(tokens),
        "x-ratelimit-reset-tokens": "1s",
    }


def test_least_loaded_prefers_most_remaining_then_fewest_in_flight(clock: FakeClock) -> None:
    pool = pool_of(3, clock, "least_loaded")
    # each key reports what it has left
    for label, remaining in (("k0", 50), ("k1", 500), ("k2", 200)):
        flow = Failover(pool, PROVIDER)
        key = flow.first()
        for _ in range(10):  # walk to the key we want to report for
            if key.label == label:
                break
            flow.release()
            flow = Failover(pool, PROVIDER)
            key = flow.first()
        assert key.label == label, "least_loaded never offered the key without a report"
        flow.succeeded(200, openai_headers(remaining))
        flow.release()
    assert [s.remaining_requests for s in pool.status()] == [50, 500, 200]
    assert one(pool, headers=openai_headers(499)) == ["k1"]
    # equal remaining: the key with fewer requests in flight wins
    pool2 = pool_of(2, clock, "least_loaded")
    held = Failover(pool2, PROVIDER)
    assert held.first().label == "k0"  # now k0 has one in flight
    assert one(pool2) == ["k1"]
    held.release()
    assert one(pool2) == ["k0"]


def test_filters_are_tried_in_order_until_one_leaves_a_key(clock: FakeClock) -> None:
    strategy = [lambda k: k.remaining_requests is not None and k.remaining_requests > 100, ALL]
    pool = pool_of(3, clock, strategy)
    assert pool.strategy == "custom"
    assert served(pool, 2) == ["k0", "k0"]  # nobody reported yet: ALL, first in order
    flow = Failover(pool, PROVIDER)
    flow.first()
    flow.succeeded(200, openai_headers(10))  # k0 is low
    flow.release()
    pool._entries[2].health.remaining_requests = 1000  # k2 reported plenty
    assert served(pool, 3) == ["k2"] * 3


def test_a_callable_strategy_chooses_among_usable_keys(clock: FakeClock) -> None:
    seen: list[list[str]] = []

    def last(keys: list[KeyView]) -> KeyView:
        seen.append([k.label for k in keys])
        return keys[-1]

    pool = pool_of(3, clock, last)
    assert one(pool, [LIMITED]) == ["k2", "k1"]
    assert seen == [["k0", "k1", "k2"], ["k0", "k1"]]  # the tried key is not offered again


def test_bad_strategies_are_typed_errors() -> None:
    with pytest.raises(ByokConfigError, match="unknown strategy 'fastest'"):
        KeyPool(["sk-a"], strategy="fastest")
    with pytest.raises(ByokConfigError, match="non-empty list of filters"):
        KeyPool(["sk-a"], strategy=[])
    with pytest.raises(ByokConfigError, match="weight must be a positive number"):
        Key("sk-a", weight=0)
    with pytest.raises(ByokConfigError, match="max_in_flight must be an int >= 1"):
        Key("sk-a", max_in_flight=0)


def test_max_in_flight_spills_over_and_comes_back(clock: FakeClock) -> None:
    pool = pool_of(2, clock, k0={"max_in_flight": 1})
    first = Failover(pool, PROVIDER)
    assert first.first().label == "k0"
    assert one(pool) == ["k1"]  # k0 is full
    first.succeeded(200, {})
    first.release()
    assert one(pool) == ["k0"]


def test_zero_remaining_requests_cools_the_key_before_any_429(clock: FakeClock) -> None:
    pool = pool_of(2, clock)
    assert one(pool, headers=openai_headers(0, reset="6.5s")) == ["k0"]
    status = pool.status_of("k0")
    assert status.state == "cooling"
    assert status.cooling_for == pytest.approx(6.5)
    assert served(pool, 3) == ["k1"] * 3
    clock.advance(6.5)
    assert one(pool) == ["k0"]
    # tokens at zero count too
    assert one(pool, headers=openai_headers(100, tokens=0)) == ["k0"]
    assert pool.status_of("k0").state == "cooling"


def test_anthropic_limit_headers_are_read() -> None:
    from datetime import UTC, datetime, timedelta

    reset = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    limits = AnthropicProvider().read_limits(
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-tokens-remaining": "1200",
        }
    )
    assert limits is not None
    assert limits[0] == 0 and limits[1] == 1200
    assert limits[2] is not None and 18 <= limits[2] <= 20
    assert AnthropicProvider().read_limits({}) is None


def test_error_rates_over_the_sliding_window(clock: FakeClock) -> None:
    pool = pool_of(2, clock, "round_robin")
    one(pool)  # k0 ok
    one(pool, [LIMITED])  # k1 limited, then k0 ok
    rates = pool.status_of("k1").error_rate
    assert (rates.total, rates.rate_limit, rates.timeout) == (1.0, 1.0, 0.0)
    flow = Failover(pool, PROVIDER)
    flow.first()
    flow.errored()  # a timeout on k0
    r0 = pool.status_of("k0").error_rate
    assert r0.timeout == pytest.approx(1 / 3)
    assert pool.status_of("k0").timeouts == 1
    clock.advance(61)
    assert pool.status_of("k1").error_rate.total == 0.0  # out of the window


def test_cel_strategy_over_the_gateway_variables(clock: FakeClock) -> None:
    strategy = CelStrategy(["ai.keys.filter(k, k.quota.remaining_requests > 100)", "ai.keys"])
    pool = pool_of(3, clock, strategy)
    pool._entries[0].health.remaining_requests = 5
    pool._entries[1].health.remaining_requests = 50
    assert served(pool, 2) == ["k2", "k2"]  # k2 has reported nothing: plenty
    pool._entries[2].health.remaining_requests = 7
    assert served(pool, 1) == ["k0"]  # nobody above 100: the second expression, all keys, first in order
    by_errors = CelStrategy(["ai.keys.filter(k, k.error_rate.rate_limit < 0.5 && k.label != 'k0')"])
    assert one(pool_of(3, clock, by_errors)) == ["k1"]


def test_cel_errors_are_typed() -> None:
    with pytest.raises(ByokConfigError, match=r"strategy\[0\]: not a valid CEL expression"):
        CelStrategy(["ai.keys.filter(k, "])
    with pytest.raises(ByokConfigError, match="non-empty list"):
        CelStrategy([])


def test_cel_strategy_from_a_config_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from byok_client import OpenAI

    for name in ("A", "B", "C"):
        monkeypatch.setenv(f"CEL_KEY_{name}", f"sk-cel-config-{name.lower()}")
    path = tmp_path / "byok.yaml"
    path.write_text(
        "providers:\n"
        "  - id: openai\n"
        "    api_keys:\n"
        "      - value: ${env.CEL_KEY_A}\n"
        "      - value: ${env.CEL_KEY_B}\n"
        "      - value: ${env.CEL_KEY_C}\n"
        "    api_key_selection:\n"
        "      strategy:\n"
        '        - "ai.keys.filter(k, k.quota.remaining_requests > 100 && k.error_rate.total < 0.5)"\n'
        '        - "ai.keys"\n'
    )
    pool = OpenAI(config=path).key_pool
    assert pool is not None
    assert pool.strategy == "custom"
    pool._entries[0].health.remaining_requests = 3
    flow = Failover(pool, PROVIDER)
    assert flow.first().label == "config:env.CEL_KEY_B"
    flow.release()
    path.write_text(path.read_text().replace("ai.keys.filter(k, ", "ai.keys.filter(k "))
    with pytest.raises(ByokConfigError, match=r"api_key_selection\.strategy\[0\]: not a valid CEL expression"):
        OpenAI(config=path)


def test_strategy_from_settings_and_client_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    from byok_client import OpenAI

    monkeypatch.setenv("OPENAI_API_KEYS", "sk-strat-a,sk-strat-b")
    assert OpenAI().key_pool.strategy == "ordered"  # type: ignore[union-attr]
    monkeypatch.setenv("BYOK_OPENAI__STRATEGY", "round_robin")
    assert OpenAI().key_pool.strategy == "round_robin"  # type: ignore[union-attr]
    assert OpenAI(strategy="least_loaded").key_pool.strategy == "least_loaded"  # type: ignore[union-attr]
    with pytest.raises(ByokConfigError, match="belongs to the KeyPool"):
        OpenAI(key_pool=KeyPool(["sk-x"]), strategy="random")


def test_max_in_flight_is_soft_when_every_key_is_full(clock: FakeClock) -> None:
    pool = pool_of(2, clock, k0={"max_in_flight": 1}, k1={"max_in_flight": 2})
    held = []
    for _ in range(3):
        flow = Failover(pool, PROVIDER)
        flow.first()
        held.append(flow)
    assert [s.in_flight for s in pool.status()] == [1, 2]  # both full now
    extra = Failover(pool, PROVIDER)
    assert extra.first().label == "k0"  # no refusal: the key with the fewest in flight serves
    assert [s.in_flight for s in pool.status()] == [2, 2]
    for flow in (*held, extra):
        flow.release()
    assert [s.in_flight for s in pool.status()] == [0, 0]
    assert one(pool) == ["k0"]
