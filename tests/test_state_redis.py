"""RedisState against a real redis-server: sharing, loading, TTLs, isolation, outages, batching, close."""

from __future__ import annotations

import contextlib
import gc
import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from byok_client.state import RedisState, StateChange
from tests.redis_server import RedisCluster, RedisServer, redis_cluster, redis_server

__all__ = ["redis_cluster", "redis_server"]  # the fixtures, re-exported so pytest finds them here

SCOPE = "openai https://api.openai.com/v1"


class Inbox:
    """An ``apply`` callback that records what arrives, and when, and lets a test wait for it."""

    def __init__(self) -> None:
        self.changes: list[StateChange] = []
        self.arrived: list[float] = []
        self._cond = threading.Condition()

    def __call__(self, change: StateChange) -> None:
        with self._cond:
            self.changes.append(change)
            self.arrived.append(time.perf_counter())
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[StateChange]], bool], timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.changes), timeout)

    def wait_count(self, n: int, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda changes: len(changes) >= n, timeout)


@pytest.fixture
def make(redis_server: RedisServer) -> Iterator[Callable[..., RedisState]]:
    made: list[RedisState] = []

    def factory(**options: Any) -> RedisState:
        state = RedisState.from_url(redis_server.url, **options)
        made.append(state)
        return state

    yield factory
    for state in made:
        state.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    yield client
    client.close()


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Timing without collection pauses: those are not Redis's doing (the full suite leaves a large heap)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def names(raw: redis.Redis) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else str(k) for k in raw.keys("*")]


def attached(state: RedisState, scope: str = SCOPE) -> Inbox:
    """Attach an inbox and wait until its subscription is live (its initial load has run)."""
    inbox = Inbox()
    state.attach(scope, inbox)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with state._lock:
            subscribers = list(state._subscribers.get(scope, ()))
        if any(s.apply is inbox and s.loaded for s in subscribers):
            return inbox
        time.sleep(0.005)
    raise AssertionError("the subscription did not become live")


def cooldown(fp: str = "fp-a", seconds: float = 30.0, model: str | None = None, **kw: Any) -> StateChange:
    return StateChange(SCOPE, fp, "cooldown", model=model, until=time.time() + seconds, failure="rate_limited", **kw)


def test_cooldown_and_disable_reach_the_other_instance_within_100ms(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    inbox = attached(b)
    own = attached(a)
    latencies = []
    for i in range(200):
        change = (
            cooldown(f"fp-{i % 5}", reason=str(i))
            if i % 2
            else StateChange(SCOPE, f"fp-{i % 5}", "disable", reason=str(i))
        )
        start = time.perf_counter()
        a.publish(change)
        assert inbox.wait_count(i + 1), f"change {i} never arrived"
        latencies.append(inbox.arrived[i] - start)
    assert [c.reason for c in inbox.changes] == [str(i) for i in range(200)]
    assert inbox.changes[1].kind == "cooldown" and inbox.changes[1].failure == "rate_limited"
    assert inbox.changes[0].kind == "disable" and inbox.changes[0].origin == a.origin
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"\nin-process propagation over 200 changes: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    assert p99 < 100
    assert own.changes == []  # its own echoes are not delivered back


def test_echo_skipped_for_a_caller_supplied_origin(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    mine, theirs = attached(a), attached(b)
    a.publish(cooldown(origin="pool-1"))
    assert theirs.wait_count(1)
    assert theirs.changes[0].origin == "pool-1"
    time.sleep(0.1)
    assert mine.changes == []


def test_attach_loads_existing_state(make: Callable[..., RedisState]) -> None:
    a = make()
    until = time.time() + 60
    a.publish(StateChange(SCOPE, "fp-a", "cooldown", until=until, failure="quota_exhausted", reason="credit"))
    a.publish(StateChange(SCOPE, "fp-b", "disable", failure="invalid_key", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-c", "cooldown", until=time.time() - 1, failure="rate_limited"))  # over
    a.publish(
        StateChange(
            SCOPE, "fp-a", "limits", model="gpt-4o", remaining_requests=7, remaining_tokens=900, requests_reset=until
        )
    )
    a.close()  # flushes
    late = make()
    inbox = attached(late)
    by_kind = {c.kind: c for c in inbox.changes}
    assert set(by_kind) == {"cooldown", "disable", "limits"}
    assert len(inbox.changes) == 3  # the cooldown that is over is not delivered
    cool = by_kind["cooldown"]
    assert (cool.fingerprint, cool.model, cool.failure, cool.reason) == ("fp-a", None, "quota_exhausted", "credit")
    assert cool.until == pytest.approx(until)
    off = by_kind["disable"]
    assert (off.fingerprint, off.reason, off.failure) == ("fp-b", "revoked", "invalid_key")
    limits = by_kind["limits"]
    assert (limits.model, limits.remaining_requests, limits.remaining_tokens) == ("gpt-4o", 7, 900)
    assert limits.requests_reset == pytest.approx(until)


def test_enable_clears_the_disabled_flag(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    inbox = attached(b)
    a.publish(StateChange(SCOPE, "fp-a", "disable", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-a", "enable"))
    assert inbox.wait_count(2)
    assert [c.kind for c in inbox.changes] == ["disable", "enable"]
    late = attached(make())
    assert late.changes == []
    rows = b.snapshot()
    assert [(r["fingerprint"], r["state"]) for r in rows] == [("fp-a", "ready")]


def test_per_model_cooldowns_stay_per_model(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    inbox = attached(b)
    a.publish(cooldown("fp-a", 30, model="gpt-4o"))
    a.publish(cooldown("fp-a", 60, model="gpt-4o-mini"))
    assert inbox.wait_count(2)
    assert [(c.fingerprint, c.model) for c in inbox.changes] == [("fp-a", "gpt-4o"), ("fp-a", "gpt-4o-mini")]
    late = attached(make())
    assert sorted((c.model or "", c.kind) for c in late.changes) == [
        ("gpt-4o", "cooldown"),
        ("gpt-4o-mini", "cooldown"),
    ]  # nothing key-wide
    rows = {r["model"]: r for r in b.snapshot()}
    assert rows[None]["state"] == "ready"
    assert rows["gpt-4o"]["state"] == "cooling" and 28 < rows["gpt-4o"]["cooling_for"] <= 30
    assert rows["gpt-4o-mini"]["state"] == "cooling" and 58 < rows["gpt-4o-mini"]["cooling_for"] <= 60
    assert rows["gpt-4o"]["reason"] == "rate_limited"


def test_a_shorter_cooldown_does_not_cut_a_longer_entry_short(
    make: Callable[..., RedisState], raw: redis.Redis
) -> None:
    a = make(cooldown_margin=1)
    a.publish(cooldown("fp-a", 100, model="m1"))
    a.publish(cooldown("fp-a", 2, model="m2"))
    a.close()
    (key,) = raw.keys("byok:*:cool:fp-a")
    assert 100_000 < raw.pttl(key) <= 101_000


def test_ttls_expire(make: Callable[..., RedisState], raw: redis.Redis) -> None:
    a = make(ttl=0.8, cooldown_margin=0.2, flush_interval=0.05)
    a.publish(cooldown("fp-a", 0.3))
    a.publish(StateChange(SCOPE, "fp-b", "disable", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-c", "limits", remaining_requests=1))
    a.count(SCOPE, "fp-d", "requests", 3)
    a.close()
    keys = set(names(raw))
    assert {k.rsplit(":", 2)[-2] for k in keys if k.count(":") >= 3} == {"cool", "off", "limits", "count"}
    assert all(0 < raw.pttl(k) <= 1000 for k in keys), {k: raw.pttl(k) for k in keys}
    deadline = time.monotonic() + 5
    while raw.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert raw.dbsize() == 0, raw.keys("*")


def test_keys_are_named_by_fingerprint_and_share_one_hash_tag(
    make: Callable[..., RedisState], raw: redis.Redis
) -> None:
    a = make(prefix="fleet")
    a.publish(cooldown("fp-a"))
    a.publish(StateChange(SCOPE, "fp-b", "disable", reason="revoked"))
    a.count(SCOPE, "fp-a", "requests")
    a.publish(StateChange("anthropic https://api.anthropic.com", "fp-a", "disable"))
    a.close()
    keys = sorted(names(raw))
    assert all(k.startswith("fleet:") for k in keys)
    tags = {k.split("{")[1].split("}")[0] for k in keys if "{" in k}
    assert len(tags) == 2  # one per scope
    assert "fleet:scopes" in keys
    assert set(raw.zrange("fleet:scopes", 0, -1)) == {SCOPE.encode(), b"anthropic https://api.anthropic.com"}


def test_two_prefixes_do_not_see_each_other(make: Callable[..., RedisState]) -> None:
    a, b, c = make(prefix="fleet-a"), make(prefix="fleet-b"), make(prefix="fleet-a")
    inbox_b, inbox_c = attached(b), attached(c)
    a.publish(cooldown("fp-a"))
    assert inbox_c.wait_count(1)
    time.sleep(0.15)
    assert inbox_b.changes == []
    assert attached(make(prefix="fleet-b")).changes == []
    assert b.snapshot() == []
    assert [r["fingerprint"] for r in c.snapshot()] == ["fp-a"]


def test_other_scopes_are_not_delivered(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    inbox = attached(b)
    other = attached(b, "anthropic https://api.anthropic.com")
    a.publish(StateChange("anthropic https://api.anthropic.com", "fp-a", "disable"))
    assert other.wait_count(1)
    time.sleep(0.1)
    assert inbox.changes == []


def test_detach_stops_delivery(make: Callable[..., RedisState]) -> None:
    a, b = make(), make()
    inbox = Inbox()
    detach = b.attach(SCOPE, inbox)
    keep = attached(b)
    a.publish(cooldown("fp-1"))
    assert keep.wait_count(1) and inbox.wait_count(1)
    detach()
    detach()  # twice is harmless
    a.publish(cooldown("fp-2"))
    assert keep.wait_count(2)
    time.sleep(0.1)
    assert len(inbox.changes) == 1


def test_counters_are_batched(make: Callable[..., RedisState], raw: redis.Redis) -> None:
    a = make(flush_interval=0.1)
    a.count(SCOPE, "warm", "requests")
    a.close()
    raw.config_resetstat()
    b = make(flush_interval=0.1)
    calls = 0
    for round_ in range(10):
        for i in range(300):
            fp = f"fp-{i % 3}"
            b.count(SCOPE, fp, "requests")
            b.count(SCOPE, fp, "successes" if i % 4 else "rate_limited")
            calls += 2
        time.sleep(0.03)
        del round_
    b.close()
    stats = raw.info("commandstats")
    evals = stats.get("cmdstat_eval", {}).get("calls", 0)
    print(f"\n{calls} count() calls -> {evals} EVAL commands")
    assert 0 < evals <= 3 * 10  # one script per key per flush, a handful of flushes
    assert stats["cmdstat_hincrby"]["calls"] <= 3 * 3 * 10
    rows = {r["fingerprint"]: r for r in b.snapshot() if r["fingerprint"] != "warm"}
    assert sum(r["requests"] for r in rows.values()) == 3000
    assert sum(r["successes"] for r in rows.values()) == 2250
    assert sum(r["failures"].get("rate_limited", 0) for r in rows.values()) == 750
    assert rows["fp-0"]["failures"] == {"rate_limited": 250}


def test_rate_limit_readings_are_coalesced(make: Callable[..., RedisState], raw: redis.Redis) -> None:
    a, b = make(flush_interval=0.1), make()
    inbox = attached(b)
    raw.config_resetstat()
    for i in range(500):
        a.publish(StateChange(SCOPE, "fp-a", "limits", model="gpt-4o", remaining_requests=1000 - i))
        a.publish(StateChange(SCOPE, "fp-a", "limits", model="o3", remaining_requests=5000 - i))
    assert inbox.wait_for(lambda cs: any(c.remaining_requests == 501 for c in cs))
    assert inbox.wait_for(lambda cs: any(c.remaining_requests == 4501 for c in cs))
    publishes = raw.info("commandstats")["cmdstat_publish"]["calls"]
    print(f"\n1000 readings -> {len(inbox.changes)} delivered, {publishes} PUBLISH commands")
    assert len(inbox.changes) <= 10 and publishes <= 10
    assert {(c.model, c.kind) for c in inbox.changes} == {("gpt-4o", "limits"), ("o3", "limits")}
    rows = {r["model"]: r for r in b.snapshot()}
    assert rows["gpt-4o"]["remaining_requests"] == 501 and rows["o3"]["remaining_requests"] == 4501


def test_snapshot_rows(make: Callable[..., RedisState]) -> None:
    a = make()
    a.publish(cooldown("fp-a", 20))
    a.publish(StateChange(SCOPE, "fp-b", "disable", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-c", "limits", model="m", remaining_requests=5, remaining_tokens=10))
    a.count(SCOPE, "fp-c", "requests", 4)
    a.count(SCOPE, "fp-c", "server_error", 1)
    a.close()
    rows = make().snapshot()
    assert [(r["fingerprint"], r["model"], r["state"]) for r in rows] == [
        ("fp-a", None, "cooling"),
        ("fp-b", None, "disabled"),
        ("fp-c", None, "ready"),
        ("fp-c", "m", "ready"),
    ]
    a_row, b_row, c_row, cm_row = rows
    assert 18 < a_row["cooling_for"] <= 20 and a_row["reason"] == "rate_limited"
    assert b_row["reason"] == "revoked" and b_row["cooling_for"] == 0.0
    assert (c_row["requests"], c_row["failures"], c_row["reason"]) == (4, {"server_error": 1}, None)
    assert (cm_row["remaining_requests"], cm_row["remaining_tokens"], cm_row["requests"]) == (5, 10, 0)
    assert all(r["scope"] == SCOPE for r in rows)
    assert set(rows[0]) >= {"scope", "fingerprint", "model", "state", "cooling_for", "reason", "requests", "failures"}
    assert make().snapshot(["no such scope"]) == []


def test_redis_killed_keeps_calls_instant_and_logs_one_warning(
    redis_server: RedisServer, make: Callable[..., RedisState], caplog: pytest.LogCaptureFixture
) -> None:
    a = make()
    attached(a)
    a.publish(cooldown("fp-warm"))
    time.sleep(0.1)
    with no_gc(), caplog.at_level(logging.INFO, logger="byok_client"):
        redis_server.kill()
        durations = []
        end = time.monotonic() + 1.5  # several reconnect attempts happen meanwhile
        i = 0
        while time.monotonic() < end:
            start = time.perf_counter()
            a.publish(cooldown(f"fp-{i % 7}", reason=str(i)))
            a.count(SCOPE, f"fp-{i % 7}", "requests")
            durations.append(time.perf_counter() - start)
            i += 1
            if i % 50 == 0:
                time.sleep(0.005)
        assert a._thread is not None and a._thread.is_alive()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unreachable" in warnings[0].getMessage()
    durations.sort()
    p50, p99, worst = durations[len(durations) // 2], durations[int(len(durations) * 0.99)], durations[-1]
    print(
        f"\nRedis down: {len(durations)} publish+count pairs, p50 {p50 * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us, "
        f"max {worst * 1e3:.2f} ms"
    )
    assert p99 < 0.002
    assert worst < 0.05  # far below the 0.5 s socket timeout: nothing waited on Redis


def test_redis_restarted_sharing_resumes_and_queued_changes_arrive(
    redis_server: RedisServer, make: Callable[..., RedisState], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make(), make()
    inbox = attached(b)
    with caplog.at_level(logging.INFO, logger="byok_client"):
        redis_server.kill()
        time.sleep(0.3)
        a.publish(cooldown("fp-a", 60, model="gpt-4o", reason="while down"))
        a.publish(StateChange(SCOPE, "fp-b", "disable", reason="revoked while down"))
        a.count(SCOPE, "fp-a", "requests", 5)
        time.sleep(0.3)
        redis_server.start()
        assert inbox.wait_for(lambda cs: {c.reason for c in cs} >= {"while down", "revoked while down"}, timeout=10), (
            inbox.changes
        )
        # and live sharing after the restart
        before = len(inbox.changes)
        a.publish(cooldown("fp-c", reason="after"))
        assert inbox.wait_for(lambda cs: any(c.reason == "after" for c in cs[before:]), timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum("reachable again" in r.getMessage() for r in caplog.records) < 2:
            time.sleep(0.02)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    infos = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(warnings) == 2  # one per instance
    assert len(infos) == 2
    a.close()
    rows = {(r["fingerprint"], r["model"]): r for r in b.snapshot()}
    assert rows[("fp-a", "gpt-4o")]["state"] == "cooling"
    assert rows[("fp-b", None)]["state"] == "disabled"
    assert rows[("fp-a", None)]["requests"] == 5


def test_what_a_restart_lost_is_asserted_again(redis_server: RedisServer, make: Callable[..., RedisState]) -> None:
    a = make()
    attached(a)
    a.publish(cooldown("fp-a", 60, model="gpt-4o"))
    a.publish(cooldown("fp-gone", 0.2))  # over by the time Redis is back: not sent again
    a.publish(StateChange(SCOPE, "fp-b", "disable", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-c", "disable", reason="revoked"))
    a.publish(StateChange(SCOPE, "fp-c", "enable"))
    reader = make()
    deadline = time.monotonic() + 5
    while len(reader.snapshot()) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    redis_server.restart()  # no persistence: everything stored is gone
    expected = [("fp-a", None, "ready"), ("fp-a", "gpt-4o", "cooling"), ("fp-b", None, "disabled")]
    deadline = time.monotonic() + 10
    rows: list[tuple[str, str | None, str]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            rows = [(r["fingerprint"], r["model"], r["state"]) for r in reader.snapshot([SCOPE])]
        if rows == expected:
            break
        time.sleep(0.05)
    assert rows == expected
    late = attached(make())
    assert sorted((c.fingerprint, c.kind) for c in late.changes) == [("fp-a", "cooldown"), ("fp-b", "disable")]


def test_a_hung_redis_never_delays_callers(
    redis_server: RedisServer, make: Callable[..., RedisState], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make(), make()
    inbox = attached(b)
    with caplog.at_level(logging.INFO, logger="byok_client"):
        redis_server.pause()
        try:
            with no_gc():
                worst = 0.0
                end = time.monotonic() + 1.5  # the thread's commands time out (0.5 s) meanwhile
                i = 0
                while time.monotonic() < end:
                    start = time.perf_counter()
                    a.publish(cooldown(f"fp-{i % 3}", reason=f"hung {i}"))
                    a.count(SCOPE, "fp-0", "requests")
                    worst = max(worst, time.perf_counter() - start)
                    i += 1
                    time.sleep(0.001)
        finally:
            redis_server.resume()
        print(f"\nRedis hung: {i} publish+count pairs, worst {worst * 1e3:.2f} ms")
        assert worst < 0.05
        assert inbox.wait_for(lambda cs: any(c.reason == f"hung {i - 1}" for c in cs), timeout=10)
    # the publisher's commands timed out: one warning (the idle receiver may notice too, at its next probe)
    assert 1 <= sum(r.levelno == logging.WARNING for r in caplog.records) <= 2


def test_queue_is_bounded_and_drops_counters_first(redis_server: RedisServer, make: Callable[..., RedisState]) -> None:
    redis_server.kill()
    a = make(max_queue=10)
    for i in range(8):
        a.count(SCOPE, f"fp-{i}", "requests")
    for i in range(6):
        a.publish(cooldown(f"fp-{i}", reason=str(i)))
    with a._lock:
        assert len(a._changes) == 6 and len(a._counts) == 4
        assert list(a._counts) == [(SCOPE, f"fp-{i}", "requests") for i in range(4, 8)]
    for i in range(6, 16):
        a.publish(cooldown(f"fp-{i}", reason=str(i)))
    a.count(SCOPE, "new", "requests")  # a counter never pushes out a change
    with a._lock:
        assert [c.reason for c in a._changes] == [str(i) for i in range(6, 16)]
        assert a._counts == {}
    assert a.dropped == 4 + 4 + 6 + 1


def test_close_flushes_within_a_bound(make: Callable[..., RedisState], redis_server: RedisServer) -> None:
    a = make(flush_interval=60, close_timeout=1.0)
    attached(a)
    for i in range(100):
        a.publish(cooldown(f"fp-{i}"))
        a.count(SCOPE, f"fp-{i}", "requests", 2)
    start = time.perf_counter()
    a.close()
    took = time.perf_counter() - start
    assert took < 1.0
    rows = make().snapshot()
    assert len(rows) == 100
    assert all(r["state"] == "cooling" and r["requests"] == 2 for r in rows)
    a.close()  # twice is harmless
    a.publish(cooldown("after close"))  # ignored, no error
    a.count(SCOPE, "after close", "requests")

    down = make(close_timeout=0.5)
    down.publish(cooldown("fp-x"))
    redis_server.kill()
    down.publish(cooldown("fp-y"))
    start = time.perf_counter()
    down.close()
    assert time.perf_counter() - start < 0.5 + 0.2


def test_a_failing_apply_or_bad_message_does_not_stop_delivery(
    make: Callable[..., RedisState], raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make(), make()
    inbox = attached(b)

    def broken(change: StateChange) -> None:
        raise RuntimeError("boom")

    b.attach(SCOPE, broken)
    time.sleep(0.1)
    channel = b._keys(SCOPE).channel
    with caplog.at_level(logging.WARNING, logger="byok_client"):
        raw.publish(channel, b"not json")
        raw.publish(channel, b'{"kind": "explode", "fingerprint": "x"}')
        raw.publish(channel, b'{"kind": "cooldown", "fingerprint": 3}')
        a.publish(cooldown("fp-1"))
        a.publish(cooldown("fp-2"))
        assert inbox.wait_count(2)
    assert [c.fingerprint for c in inbox.changes] == ["fp-1", "fp-2"]
    assert len([r for r in caplog.records if "applying" in r.getMessage()]) == 1


def test_a_given_client_works_too(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.5)
    a, b = RedisState(client=client), RedisState(client=redis.Redis.from_url(redis_server.url))
    try:
        inbox = attached(b)
        a.publish(cooldown())
        assert inbox.wait_count(1)
    finally:
        a.close()
        b.close()
    assert client.ping()  # a given client is the caller's: not closed
    client.close()


def test_redis_cluster(redis_cluster: RedisCluster) -> None:
    """One scope's keys share a hash tag, so its scripts run in one slot; pub/sub spans the cluster."""
    from redis.cluster import RedisCluster as Client
    from redis.crc import key_slot

    clients = [Client(host="127.0.0.1", port=redis_cluster.port, socket_timeout=0.5) for _ in range(3)]
    a, b = RedisState(client=clients[0]), RedisState(client=clients[1])
    try:
        inbox = attached(b)
        scopes = [SCOPE, *(f"scope {i}" for i in range(6))]  # spread over the nodes
        for scope in scopes:
            a.publish(StateChange(scope, "fp-a", "cooldown", model="m", until=time.time() + 30, failure="rate_limited"))
            a.publish(StateChange(scope, "fp-b", "disable", reason="revoked"))
            a.publish(StateChange(scope, "fp-b", "limits", remaining_requests=3))
            a.count(scope, "fp-a", "requests", 2)
        assert inbox.wait_count(2)
        a.close()
        assert [(c.kind, c.fingerprint, c.model) for c in inbox.changes[:2]] == [
            ("cooldown", "fp-a", "m"),
            ("disable", "fp-b", None),
        ]
        rows = b.snapshot()
        assert {r["scope"] for r in rows} == set(scopes)
        assert len(rows) == 3 * len(scopes)
        assert all(r["requests"] == 2 for r in rows if r["fingerprint"] == "fp-a" and r["model"] is None)
        late = RedisState(client=clients[2])
        try:
            loaded = attached(late, "scope 3")
            assert sorted(c.kind for c in loaded.changes) == ["cooldown", "disable", "limits"]
        finally:
            late.close()
        names = [k.decode() if isinstance(k, bytes) else str(k) for k in clients[2].keys(target_nodes=Client.ALL_NODES)]
        tags = {name.split("{")[1].split("}")[0] for name in names if "{" in name}
        assert len(tags) == len(scopes)
        slots = {key_slot(f"byok:{{{tag}}}".encode()) for tag in tags}
        assert len({slot * 3 // 16384 for slot in slots}) > 1  # the scopes really live on different nodes
    finally:
        a.close()
        b.close()
        for client in clients:
            client.close()
