"""``python -m benchmarks.state``: what shared key state costs a caller, and how fast it spreads.

Starts its own redis-server (127.0.0.1, no persistence). Measures ``publish()`` and ``count()`` per call with Redis
up and with Redis down (the calls only queue, so both should be a few microseconds), and the propagation latency of
a change from one process to another's ``apply``. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection

from byok_client.state import InMemoryState, RedisState, StateBackend, StateChange
from tests.redis_server import RedisServer

QUICK = "--quick" in sys.argv
CALLS = 5_000 if QUICK else 20_000
CHANGES = 200 if QUICK else 1_000
SCOPE = "openai https://api.openai.com/v1"


def per_call_us(state: StateBackend, what: str) -> float:
    """Median over 5 rounds of the cost of one call (the change already built), in microseconds."""
    rounds = []
    until = time.time() + 30
    changes = [StateChange(SCOPE, f"fp-{i % 8}", "cooldown", until=until, failure="rate_limited") for i in range(8)]
    fingerprints = [f"fp-{i}" for i in range(8)]
    for _ in range(5):
        start = time.perf_counter()
        if what == "publish":
            for i in range(CALLS):
                state.publish(changes[i & 7])
        else:
            for i in range(CALLS):
                state.count(SCOPE, fingerprints[i & 7], "requests")
        rounds.append((time.perf_counter() - start) / CALLS * 1e6)
        time.sleep(0.05)  # let the thread drain what was queued
    return statistics.median(rounds)


def _receiver(url: str, conn: Connection, expected: int) -> None:
    arrivals: dict[str, float] = {}
    state = RedisState.from_url(url, prefix="bench")

    def apply(change: StateChange) -> None:
        if change.reason is not None:
            arrivals[change.reason] = time.time()

    state.attach(SCOPE, apply)
    time.sleep(0.5)
    conn.send("ready")
    deadline = time.monotonic() + 60
    while len(arrivals) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    conn.send(arrivals)
    state.close()


def propagation_ms(url: str) -> tuple[float, float, int]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_receiver, args=(url, theirs, CHANGES), daemon=True)
    child.start()
    sender = RedisState.from_url(url, prefix="bench")
    try:
        ours.poll(60) and ours.recv()
        sent: dict[str, float] = {}
        for i in range(CHANGES):
            reason = str(i)
            sent[reason] = time.time()
            sender.publish(StateChange(SCOPE, f"fp-{i % 8}", "cooldown", until=time.time() + 30, reason=reason))
            time.sleep(0.002)
        arrivals: dict[str, float] = ours.recv() if ours.poll(60) else {}
    finally:
        sender.close()
        child.join(10)
        if child.is_alive():
            child.kill()
    latencies = sorted(arrivals[r] - sent[r] for r in sent if r in arrivals)
    if len(latencies) < 2:
        return float("nan"), float("nan"), len(latencies)
    return (
        statistics.median(latencies) * 1000,
        statistics.quantiles(latencies, n=100)[98] * 1000,
        len(latencies),
    )


def main() -> None:
    rows: list[tuple[str, str]] = []
    memory = InMemoryState()
    rows.append(("InMemoryState.publish (reference)", f"{per_call_us(memory, 'publish'):.2f} us/call"))
    with RedisServer() as server:
        up = RedisState.from_url(server.url, prefix="bench")
        rows.append(("RedisState.publish, Redis up", f"{per_call_us(up, 'publish'):.2f} us/call"))
        rows.append(("RedisState.count, Redis up", f"{per_call_us(up, 'count'):.2f} us/call"))
        p50, p99, got = propagation_ms(server.url)
        rows.append((f"propagation between 2 processes ({got}/{CHANGES})", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"))
        server.kill()
        time.sleep(0.2)
        rows.append(("RedisState.publish, Redis down", f"{per_call_us(up, 'publish'):.2f} us/call"))
        rows.append(("RedisState.count, Redis down", f"{per_call_us(up, 'count'):.2f} us/call"))
        start = time.perf_counter()
        up.close()
        rows.append(("RedisState.close, Redis down", f"{(time.perf_counter() - start) * 1000:.1f} ms"))
    width = max(len(name) for name, _ in rows)
    print(f"{'shared key state':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
