"""``python -m benchmarks.goodput [--quick]``: how much of a key pool's capacity reaches the application.

MockProvider runs in its own process and enforces a token bucket per key (8 keys x 20 requests/s = 160 req/s,
real ``x-ratelimit-*`` headers, a 429 with the true ``retry-after-ms`` when a key is over). Calls arrive open-loop
(a fixed schedule, whatever the answers) at 0.7x and 1.5x of that capacity, from threads and from asyncio tasks,
for each strategy and each ``on_exhausted`` mode. Each run uses fresh keys; over capacity their buckets are first
drained (until the provider answers 429), so the initial burst allowance does not hide the overload.

Figures per run: goodput (successes / (capacity x time from the first arrival to the last answer)), the share of
calls that succeeded, the provider's 429s per success, latency percentiles (from the scheduled arrival, so queueing
counts), fairness across keys (Jain's index of successes per key, 1 = even), for ``fail`` the round trips
that rejected calls made, and the client process's CPU share (``cpu``: near 1.0 the client itself is the
bottleneck, and its latencies say more about the machine than about the pool). Prints a table and writes
``benchmarks/goodput-results.json`` (untracked).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

import byok_client
from byok_client import KeyPool

from ._server import ServerProcess

QUICK = "--quick" in sys.argv
KEYS = 8
# requests a second per key; ``--per-key 5`` runs the same loads at a quarter of the rate, for a machine on which the
# client itself cannot drive 1.5 x 160 calls a second (its CPU share is printed per run)
PER_KEY = int(sys.argv[sys.argv.index("--per-key") + 1]) if "--per-key" in sys.argv else 20
CAPACITY = KEYS * PER_KEY
DURATION = 1.5 if QUICK else 4.0  # seconds of arrivals per run
MAX_WAIT = 2.0 if QUICK else 3.0  # longer than the backlog a 1.5x run builds (half its duration)
STRATEGIES = ("round_robin", "least_loaded") if QUICK else ("ordered", "round_robin", "least_loaded", "random")
# (name, on_exhausted, the SDK's max_retries)
MODES = (("send, no retries", "send", 0), ("send, SDK retries", "send", 2), ("wait", "wait", 2), ("fail", "fail", 0))
LOADS = (0.7, 1.5)
MESSAGES: Any = [{"role": "user", "content": "hi"}]
OUT = Path(__file__).with_name("goodput-results.json")


class Outcome:
    __slots__ = ("error", "latency", "ok", "rejected", "rejected_attempts")

    def __init__(
        self, latency: float, ok: bool, rejected: bool = False, rejected_attempts: int = 0, error: str = ""
    ) -> None:
        self.latency, self.ok, self.rejected, self.rejected_attempts = latency, ok, rejected, rejected_attempts
        self.error = error  # the exception type of a call that failed with something other than an API error


def _failure(err: openai.APIError, latency: float) -> Outcome:
    response = getattr(err, "response", None)
    decided = response is not None and response.headers.get("x-byok-decided") == "client"
    return Outcome(latency, False, decided, len(byok_client.attempts_of(err)) if decided else 0)


def fresh_keys(server: ServerProcess) -> list[str]:
    run = uuid.uuid4().hex[:8]
    values = [f"sk-goodput-{run}-{i}" for i in range(KEYS)]
    server.add([(v, f"k{i}", "ok", {}) for i, v in enumerate(values)])
    return values


def drain(server: ServerProcess, values: list[str]) -> None:
    """Empty each key's bucket with raw requests just before the arrivals start, so a run measures the sustained
    rate, not the burst allowance of full buckets: each key is sent to until the provider answers 429, twice over
    (what refilled during the first pass goes in the second), with clients made beforehand so the passes are quick."""
    clients = [openai.OpenAI(api_key=value, base_url=server.url + "/v1", max_retries=0) for value in values]

    def one(raw: openai.OpenAI) -> None:
        for _ in range(20 * PER_KEY):
            try:
                raw.chat.completions.create(model="m", messages=MESSAGES)
            except openai.RateLimitError:
                break

    with ThreadPoolExecutor(KEYS) as pool:
        list(pool.map(one, clients))
        list(pool.map(one, clients))
    for raw in clients:
        raw.close()
    server.clear()


def prepare(server: ServerProcess, values: list[str], rate: float) -> None:
    """Over capacity the keys start drained (the run measures the sustained rate); under it they start as a key
    does in that steady state, near full (refill outpaces use), so no drain."""
    if rate > CAPACITY:
        drain(server, values)
    else:
        server.clear()


def run_threads(
    server: ServerProcess, values: list[str], pool: KeyPool, retries: int, rate: float
) -> tuple[list[Outcome], float, float]:
    url = server.url
    client = byok_client.OpenAI(base_url=url + "/v1", key_pool=pool, max_retries=retries)
    n = int(rate * DURATION)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def call(due: float) -> None:
        try:
            client.chat.completions.create(model="m", messages=MESSAGES)
            outcome = Outcome(time.perf_counter() - due, True)
        except openai.APIError as err:
            outcome = _failure(err, time.perf_counter() - due)
        except Exception as exc:  # counted, never lost: a call that raised anything else is a failed call
            outcome = Outcome(time.perf_counter() - due, False, error=type(exc).__name__)
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=min(n, 600)) as executor:
        prepare(server, values, rate)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            executor.submit(call, due)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.close()
    return outcomes, elapsed, cpu


def run_tasks(
    server: ServerProcess, values: list[str], pool: KeyPool, retries: int, rate: float
) -> tuple[list[Outcome], float, float]:
    url = server.url

    async def main() -> tuple[list[Outcome], float, float]:
        client = byok_client.AsyncOpenAI(base_url=url + "/v1", key_pool=pool, max_retries=retries)
        n = int(rate * DURATION)

        async def call(due: float) -> Outcome:
            try:
                await client.chat.completions.create(model="m", messages=MESSAGES)
                return Outcome(time.perf_counter() - due, True)
            except openai.APIError as err:
                return _failure(err, time.perf_counter() - due)
            except Exception as exc:
                return Outcome(time.perf_counter() - due, False, error=type(exc).__name__)

        tasks = []
        await asyncio.to_thread(prepare, server, values, rate)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(call(due)))
        outcomes = list(await asyncio.gather(*tasks))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await client.close()
        return outcomes, elapsed, cpu

    return asyncio.run(main())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def jain(counts: list[int]) -> float:
    total = sum(counts)
    squares = sum(c * c for c in counts)
    return total * total / (len(counts) * squares) if squares else float("nan")


def measure(
    server: ServerProcess, runner: str, strategy: str, mode: tuple[str, str, int], load: float
) -> dict[str, Any]:
    name, on_exhausted, retries = mode
    values = fresh_keys(server)
    pool = KeyPool(values, strategy=strategy, on_exhausted=on_exhausted, max_wait=MAX_WAIT)  # type: ignore[arg-type]
    run = run_threads if runner == "threads" else run_tasks
    outcomes, elapsed, cpu = run(server, values, pool, retries, load * CAPACITY)
    served = server.outcomes()
    successes = sum(o.ok for o in outcomes)
    limited = sum(v[1] for v in served.values())
    latencies = [o.latency for o in outcomes]
    ok_latencies = [o.latency for o in outcomes if o.ok]
    rejected = [o for o in outcomes if o.rejected]
    return {
        "runner": runner,
        "strategy": strategy,
        "mode": name,
        "load": load,
        "calls": len(outcomes),
        "goodput": successes / (CAPACITY * elapsed),
        "success": successes / len(outcomes),
        "429_per_success": limited / successes if successes else float("nan"),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "ok_p99_ms": percentile(ok_latencies, 0.99) * 1000,
        "service_ms": percentile(ok_latencies, 0.05) * 1000,
        "fairness": jain([served.get(f"k{i}", [0, 0])[0] for i in range(KEYS)]),
        "rejected": len(rejected),
        "rejected_round_trips": sum(o.rejected_attempts for o in rejected),
        "elapsed_s": elapsed,
        "errors": sorted({o.error for o in outcomes if o.error}),
        "client_cores": cpu / elapsed,  # the client process's CPU share over the run: near 1, it is CPU-bound
    }


def verdicts(row: dict[str, Any]) -> list[tuple[str, bool]]:
    """The issue's targets that apply to this run, and whether they were met."""
    checks: list[tuple[str, bool]] = []
    if row["load"] < 1:
        checks += [("100% success", row["success"] == 1.0), ("0 429s", row["429_per_success"] == 0)]
    elif row["mode"] == "send, SDK retries":
        checks.append(("p99 <= 150 ms", row["p99_ms"] <= 150))
    elif row["mode"] == "wait":
        checks += [
            (">= 99% succeed", row["success"] >= 0.99),
            ("goodput >= 97%", row["goodput"] >= 0.97),
            ("<= 0.02 429/success", row["429_per_success"] <= 0.02),
            ("p99 <= max_wait + service", row["p99_ms"] <= MAX_WAIT * 1000 + max(row["service_ms"], 5.0)),
        ]
    elif row["mode"] == "fail":
        checks.append(("0 round trips when rejected", row["rejected_round_trips"] == 0))
    return checks


HEAD = (
    f"{'runner':8} {'strategy':12} {'mode':18} {'load':>4} {'calls':>5} {'goodput':>7} {'ok':>7} {'429/ok':>6} "
    f"{'p50':>7} {'p95':>7} {'p99':>7} {'fair':>5} {'rej':>4} {'cpu':>4}  targets"
)


def line(row: dict[str, Any]) -> str:
    marks = ", ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in verdicts(row))
    return (
        f"{row['runner']:8} {row['strategy']:12} {row['mode']:18} {row['load']:>4.1f} {row['calls']:>5} "
        f"{row['goodput']:>7.1%} {row['success']:>7.1%} {row['429_per_success']:>6.3f} {row['p50_ms']:>5.0f}ms "
        f"{row['p95_ms']:>5.0f}ms {row['p99_ms']:>5.0f}ms {row['fairness']:>5.3f} {row['rejected']:>4} "
        f"{row['client_cores']:>4.2f}  {marks}"
    )


def main() -> None:
    # every surplus call of an overloaded "send" run logs a WARNING; the table is what this run is for
    logging.getLogger("byok_client").setLevel(logging.ERROR)
    server = ServerProcess()
    server.rate_limit(requests=PER_KEY, per=1.0)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    print(
        f"goodput: {KEYS} keys x {PER_KEY} req/s = {CAPACITY} req/s; {DURATION:g} s of arrivals a run; "
        f"max_wait {MAX_WAIT:g} s"
    )
    print(HEAD)
    try:
        for load in LOADS:
            for runner in ("threads", "asyncio"):
                for strategy in STRATEGIES:
                    for mode in MODES:
                        row = measure(server, runner, strategy, mode, load)
                        rows.append(row)
                        print(line(row), flush=True)
    finally:
        server.stop()
    met = [m for row in rows for _, m in verdicts(row)]
    print(f"targets met: {sum(met)} of {len(met)}; {time.perf_counter() - started:.0f} s")
    for target in sorted({name for row in rows for name, _ in verdicts(row)}):
        results = [m for row in rows for name, m in verdicts(row) if name == target]
        print(f"  {target}: met in {sum(results)} of {len(results)} runs")
    summary = {"quick": QUICK, "per_key": PER_KEY, "duration": DURATION, "max_wait": MAX_WAIT, "rows": rows}
    OUT.write_text(json.dumps(summary, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
