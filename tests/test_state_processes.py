"""Two PROCESSES sharing one scope through a real redis-server: what one publishes reaches the other's apply."""

from __future__ import annotations

import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

from byok_client.state import RedisState, StateChange
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

SCOPE = "openai https://api.openai.com/v1"
CHANGES = 200


def _receiver(url: str, conn: Connection) -> None:
    """The other process: attach, say so, record each arrival (wall clock), answer with what it saw."""
    arrivals: dict[str, float] = {}
    kinds: dict[str, tuple[str, str | None]] = {}
    state = RedisState.from_url(url)
    loaded: list[StateChange] = []

    def apply(change: StateChange) -> None:
        if change.reason is not None and change.reason.startswith("n"):
            arrivals[change.reason] = time.time()
            kinds[change.reason] = (change.kind, change.model)
        else:
            loaded.append(change)

    state.attach(SCOPE, apply)
    deadline = time.monotonic() + 10
    while not any(s.loaded for group in state._subscribers.values() for s in group):
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    conn.send([(c.kind, c.fingerprint, c.reason) for c in loaded])
    # and the other way: a change made here reaches the parent
    state.publish(StateChange(SCOPE, "fp-child", "disable", reason="from child"))
    deadline = time.monotonic() + 30
    while len(arrivals) < CHANGES and time.monotonic() < deadline:
        time.sleep(0.01)
    conn.send((arrivals, kinds))
    state.close()


def test_two_processes_share_changes_within_100ms(redis_server: RedisServer) -> None:
    parent = RedisState.from_url(redis_server.url)
    inbox: list[StateChange] = []
    parent.attach(SCOPE, inbox.append)
    parent.publish(
        StateChange(
            SCOPE,
            "fp-old",
            "cooldown",
            until=time.time() + 60,
            failure="rate_limited",
            reason="before the child started",
        )
    )
    time.sleep(0.2)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_receiver, args=(redis_server.url, theirs), daemon=True)
    child.start()
    try:
        assert ours.poll(30), "the child process did not attach"
        loaded = ours.recv()
        assert loaded == [("cooldown", "fp-old", "before the child started")]  # a late process learns it
        sent: dict[str, float] = {}
        for i in range(CHANGES):
            reason = f"n{i}"
            if i % 2:
                change = StateChange(
                    SCOPE,
                    f"fp-{i % 4}",
                    "cooldown",
                    model="gpt-4o",
                    until=time.time() + 30,
                    failure="rate_limited",
                    reason=reason,
                )
            else:
                change = StateChange(SCOPE, f"fp-{i % 4}", "disable", reason=reason)
            sent[reason] = time.time()
            parent.publish(change)
            time.sleep(0.003)
        assert ours.poll(30), "the child process did not answer"
        arrivals, kinds = ours.recv()
        child.join(10)
    finally:
        if child.is_alive():
            child.kill()
        parent.close()
    assert set(arrivals) == set(sent)
    assert kinds["n1"] == ("cooldown", "gpt-4o") and kinds["n0"] == ("disable", None)
    latencies = sorted(arrivals[r] - sent[r] for r in sent)
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"\ncross-process propagation over {CHANGES} changes: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    assert p99 < 100
    assert [(c.fingerprint, c.reason) for c in inbox if c.kind == "disable"] == [("fp-child", "from child")]
