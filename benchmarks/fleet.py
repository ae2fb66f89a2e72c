"""``python -m benchmarks.fleet [--quick]``: what sharing key health through Redis costs a request, and what it saves
a fleet.

1. Per-request overhead with ``state="redis://..."`` against in-memory state: sync sequential calls through
   ``byok_client.OpenAI`` on 3 good keys, arms interleaved, median of the per-round ratios (target <= 1.05).
2. The fleet: 4 processes share 8 keys under the MockProvider's per-key rate limit (each key 5 requests/s, so 40/s
   in all), offered about 1.5x that from 4 threads per process, with ``max_retries=0``: 429 round trips the provider
   sent per successful call, with in-memory state (each process learns alone) and with Redis state (one process's
   429 keeps the others off that key).
Starts its own redis-server and MockProvider (another process, 127.0.0.1). Prints a table; nothing is asserted.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import threading
import time
import uuid
from typing import Any

from byok_client import OpenAI
from byok_client.state import close_shared
from tests.redis_server import RedisServer

from ._server import ServerProcess

QUICK = "--quick" in sys.argv
ROUNDS = 7 if QUICK else 15
CALLS = 150 if QUICK else 300
FLEET_SECONDS = 4.0 if QUICK else 10.0
PROCESSES, THREADS, KEYS, PER_KEY = 4, 4, 8, 5.0
LOADS = (0.8, 1.5)
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def overhead(server: ServerProcess, redis_url: str) -> tuple[float, float, float]:
    url = server.url
    run = uuid.uuid4().hex[:8]
    values = [f"sk-bench-{run}-{i}" for i in range(3)]
    server.add([(v, f"k{i}", "ok", {}) for i, v in enumerate(values)])
    plain = OpenAI(api_keys=values, base_url=url + "/v1", max_retries=0)
    # another origin (the same server): its own scope, so only this client shares through Redis
    shared = OpenAI(api_keys=values, base_url=url.replace("127.0.0.1", "localhost") + "/v1", state=redis_url)

    def arm(client: OpenAI) -> float:
        start = time.perf_counter()
        for _ in range(CALLS):
            client.chat.completions.create(model="m", messages=MESSAGES)
        return (time.perf_counter() - start) / CALLS * 1e6

    arm(plain), arm(shared)
    a, b = [], []
    for i in range(ROUNDS):
        first, second = (plain, shared) if i % 2 == 0 else (shared, plain)
        x, y = arm(first), arm(second)
        a.append(x if first is plain else y)
        b.append(y if first is plain else x)
    return statistics.median(a), statistics.median(b), statistics.median(y / x for x, y in zip(a, b, strict=True))


def _worker(url: str, values: list[str], state: str | None, seconds: float, load: float, out: Any) -> None:
    client = OpenAI(api_keys=values, base_url=url + "/v1", state=state, max_retries=0, strategy="round_robin")
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    pause = THREADS / (PER_KEY * KEYS * load / PROCESSES)  # each thread's share of the offered load

    def loop() -> None:
        while time.monotonic() < stop:
            began = time.monotonic()
            try:
                client.chat.completions.create(model="m", messages=MESSAGES)
                outcome = "ok"
            except Exception:
                outcome = "failed"
            with lock:
                counts[outcome] += 1
            time.sleep(max(0.0, pause - (time.monotonic() - began)))

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_shared()
    out.put(counts)


def fleet(server: ServerProcess, state: str | None, load: float) -> dict[str, float]:
    url = server.url
    run = uuid.uuid4().hex[:8]
    values = [f"sk-fleet-{run}-{i}" for i in range(KEYS)]
    server.add([(v, f"k{i}", "ok", {}) for i, v in enumerate(values)])
    before = server.faults().get("rate_limit", 0)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, values, state, FLEET_SECONDS, load, out)) for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=FLEET_SECONDS + 60) for _ in workers]
    for w in workers:
        w.join(10)
    limited = server.faults().get("rate_limit", 0) - before
    ok = sum(r["ok"] for r in results)
    failed = sum(r["failed"] for r in results)
    return {"ok": ok, "failed": failed, "429s": limited, "per_success": limited / max(ok, 1)}


if __name__ == "__main__":
    redis = RedisServer()
    redis.start()
    server = ServerProcess()
    try:
        plain_us, shared_us, ratio = overhead(server, redis.url)
        server.rate_limit(
            requests=int(PER_KEY), per=1.0
        )  # every key: 5 requests/s, a bucket of 5, refilling continuously
        runs = [(load, name, fleet(server, state, load)) for load in LOADS for name, state in
                (("in-memory", None), ("Redis", redis.url))]  # fmt: skip
    finally:
        close_shared()
        server.stop()
        redis.stop()
    print(f"byok_client fleet benchmarks ({'quick' if QUICK else 'full'} run, {ROUNDS} interleaved rounds)")
    print(f"  per request, in-memory state        {plain_us:8.1f} µs")
    print(f"  per request, Redis state            {shared_us:8.1f} µs   ratio {ratio:.3f} (target <= 1.05)")
    print(f"  fleet: {PROCESSES} processes x {THREADS} threads, {KEYS} keys x {PER_KEY:.0f} req/s, max_retries=0, "
          f"{FLEET_SECONDS:.0f} s each")  # fmt: skip
    for load, name, r in runs:
        print(
            f"  {load:.1f}x offered, {name:10s} ok {r['ok']:5.0f}  failed {r['failed']:5.0f}  "
            f"429s sent {r['429s']:5.0f}  429s per success {r['per_success']:.3f}"
        )
