"""``make bench`` / ``python -m benchmarks [--quick] [--update]``: byok_client against the raw SDKs, in one run.

Every figure is a ratio measured inside this run, arms interleaved (A B, B A, ...: each round swaps which arm goes
first), the median of the per-round ratios of at least 9 rounds, against the bundled MockProvider on 127.0.0.1
running in its own process. On a machine with two or more cores the server process and this one are pinned to
different cores, and a garbage collection runs before each arm, so neither arm pays for the other's garbage. The
sync per-request figures use many short rounds (20 requests an arm): on a shared host the speed drifts within a
second, and two arms run side by side see the same drift (the raw SDK measured against itself reads 1.00 +- 0.015
this way; with 300-request arms it read 0.95-1.05). Prints a table and writes ``benchmarks/latest.json``
(untracked); ``--update`` also writes the tracked ``benchmarks/results.json``. Nothing
here is asserted by the test suite.

``--floor`` adds a fourth arm to the sync per-request figures: a raw SDK client carrying the minimal shell of
``benchmarks/floor.py`` (key slot, header, two limit counts, release at close; nothing else), the least any
client-side rotation costs. ``--only SECTION`` runs one section (``overhead``, ``streaming``, ``failover``,
``scale``, ``import``, ``memory``); ``--no-pin`` leaves both processes wherever the OS puts them.
``--baseline DIR`` adds a third arm to the sync per-request figures: the ``byok_client`` package of another
checkout (``DIR/byok_client``, e.g. a ``git worktree`` of an older commit), loaded under another name in this
process, so a change's cost reads as "this checkout ÷ that checkout" from the same interleaved rounds.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from google import genai as google_genai
from google.genai import types

import byok_client
from byok_client import Failure, Key, KeyPool, Verdict
from byok_client import genai as byok_genai

from ._calls import GOOD, MESSAGES, chat, generate, message
from ._server import ServerProcess
from .floor import install_floor

QUICK = "--quick" in sys.argv
# A casual run must not rewrite the tracked figures: only ``--update`` touches results.json.
UPDATE = "--update" in sys.argv
# Many short rounds, the two arms alternating A B, B A, ...: drift (CPU frequency, the other process) hits both.
ROUNDS = 9 if QUICK else 15
SYNC_REQUESTS = 20  # per arm per round of the sync per-request figures: short arms, many rounds (below)
SYNC_ROUNDS = 80 if QUICK else 200  # 200 x 20 = 4,000 requests per arm; adjacent arms share the host's state
ASYNC_TASKS = 256
ASYNC_PER_TASK = 1 if QUICK else 2
STREAMS = 60 if QUICK else 150
FAILOVER_CALLS = 60 if QUICK else 150
SCALE_REQUESTS = 100 if QUICK else 250
IMPORT_RUNS = 9 if QUICK else 21
results: dict[str, Any] = {}


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(y / x for x, y in zip(a, b, strict=True))


def _arg(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv[:-1] else None


def load_baseline(root: str | None) -> Any:
    """The ``byok_client`` package of another checkout, imported as ``byok_baseline`` (its imports are relative)."""
    if root is None:
        return None
    init = Path(root) / "byok_client" / "__init__.py"
    spec = importlib.util.spec_from_file_location("byok_baseline", init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline: no byok_client package in {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["byok_baseline"] = module
    spec.loader.exec_module(module)
    return module


BASELINE = load_baseline(_arg("--baseline"))
ONLY = _arg("--only")  # one section: overhead, streaming, failover, scale, import or memory
FLOOR = "--floor" in sys.argv  # a fourth arm in the sync figures: the minimal shell of benchmarks/floor.py


def pin(cpu: int) -> None:
    """Run this process on one core (where the OS allows it and there are two or more)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2 and "--no-pin" not in sys.argv:
        os.sched_setaffinity(0, {cpu})


def interleave_all(*arms: Callable[[], float], rounds: int = ROUNDS) -> list[list[float]]:
    """Each arm once to warm up, then ``rounds`` rounds of all arms, the order rotating every round."""
    for arm in arms:
        arm()  # warm up: connections, caches, lazy imports
    times: list[list[float]] = [[] for _ in arms]
    for r in range(rounds):
        order = list(range(len(arms)))
        order = order[r % len(arms) :] + order[: r % len(arms)]
        for i in order:
            gc.collect()
            times[i].append(arms[i]())
    return times


def interleave(
    arm_a: Callable[[], float], arm_b: Callable[[], float], rounds: int = ROUNDS
) -> tuple[list[float], list[float]]:
    a, b = interleave_all(arm_a, arm_b, rounds=rounds)
    return a, b


async def ainterleave(
    arm_a: Callable[[], Awaitable[float]], arm_b: Callable[[], Awaitable[float]], rounds: int = ROUNDS
) -> tuple[list[float], list[float]]:
    await arm_a()
    await arm_b()
    a, b = [], []
    for i in range(rounds):
        gc.collect()
        if i % 2:
            b.append(await arm_b())
            gc.collect()
            a.append(await arm_a())
        else:
            a.append(await arm_a())
            gc.collect()
            b.append(await arm_b())
    return a, b


def record(
    name: str, a: list[float], b: list[float], target: float | None, unit: str = "µs/request", **extra: Any
) -> None:
    ratio = median_ratio(a, b)
    results[name] = {
        "raw": statistics.median(a) * 1e6,
        "byok": statistics.median(b) * 1e6,
        "unit": unit,
        "ratio": ratio,
        "target": target,
        "met": None if target is None else ratio <= target,
        "rounds": len(a),
        **extra,
    }
    print(
        f"  {name:44} raw {statistics.median(a) * 1e6:9.1f}  byok {statistics.median(b) * 1e6:9.1f}  ratio {ratio:6.3f}"
    )


# -- 1. per-request overhead ------------------------------------------------------------------------------------------
def sync_per_request(call: Callable[[], object], n: int) -> Callable[[], float]:
    def arm() -> float:
        start = time.perf_counter()
        for _ in range(n):
            call()
        return (time.perf_counter() - start) / n

    return arm


def async_per_request(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[float]]:
    async def worker() -> None:
        for _ in range(ASYNC_PER_TASK):
            await call()

    async def arm() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(ASYNC_TASKS)))
        return (time.perf_counter() - start) / (ASYNC_TASKS * ASYNC_PER_TASK)

    return arm


def sync_figure(
    name: str,
    call: Callable[[Any], object],
    raw: Any,
    ours: Any,
    base: Any = None,
    floor: Any = None,
    **extra: Any,
) -> None:
    """One sync sequential figure: ``call(client)`` through the raw SDK ``raw`` against byok_client ``ours`` (with
    ``--baseline``, also ``base``, the other checkout's client; with ``--floor``, also ``floor``, a raw client with
    the minimal shell of ``benchmarks/floor.py``), all arms in the same rounds."""
    extra_arms = [(label, client) for label, client in (("base", base), ("floor", floor)) if client is not None]
    clients = [raw, ours, *(client for _, client in extra_arms)]
    times = interleave_all(*(sync_per_request(partial(call, c), SYNC_REQUESTS) for c in clients), rounds=SYNC_ROUNDS)
    record(name, times[0], times[1], 1.02, **extra)
    for (label, _), arm_times in zip(extra_arms, times[2:], strict=True):
        versus = median_ratio(arm_times, times[1])
        to_raw = median_ratio(times[0], arm_times)
        if label == "base":
            results[name].update(baseline=statistics.median(arm_times) * 1e6, baseline_ratio=to_raw, vs_baseline=versus)
            title, versus_label = "  the --baseline checkout", "this ÷ baseline"
        else:
            results[name].update(floor=statistics.median(arm_times) * 1e6, floor_ratio=to_raw, vs_floor=versus)
            title, versus_label = "  the floor (benchmarks/floor.py)", "byok ÷ floor"
        print(
            f"  {title:44} raw {statistics.median(times[0]) * 1e6:9.1f}  "
            f"{label:5}{statistics.median(arm_times) * 1e6:9.1f}  ratio {to_raw:6.3f}  {versus_label} {versus:6.3f}"
        )


def floored(client: Any, provider: str) -> Any:
    """``client`` (a raw SDK client) with the floor's shell, sending the first good key; None without ``--floor``."""
    if not FLOOR:
        return None
    install_floor(client, provider, GOOD[0])
    return client


def overhead(server: ServerProcess) -> None:
    url = server.url
    print("1. per-request overhead (3 good keys vs the raw SDK)")
    openai_clients = (
        openai.OpenAI(api_key="sk-bench-raw", base_url=url + "/v1"),
        byok_client.OpenAI(api_keys=GOOD, base_url=url + "/v1"),
        BASELINE.OpenAI(api_keys=GOOD, base_url=url + "/v1") if BASELINE else None,
        floored(openai.OpenAI(api_key="sk-bench-raw", base_url=url + "/v1"), "openai"),
    )
    cpu0, wall0 = server.cpu(), time.perf_counter()
    sync_figure("openai sync, sequential", chat, *openai_clients)
    results["openai sync, sequential"]["mock_cpu_share"] = (server.cpu() - cpu0) / (time.perf_counter() - wall0)
    sync_figure(
        "anthropic sync, sequential",
        message,
        anthropic.Anthropic(api_key="sk-bench-raw", base_url=url),
        byok_client.Anthropic(api_keys=GOOD, base_url=url),
        BASELINE.Anthropic(api_keys=GOOD, base_url=url) if BASELINE else None,
        floored(anthropic.Anthropic(api_key="sk-bench-raw", base_url=url), "anthropic"),
    )
    options = types.HttpOptions(base_url=url)
    sync_figure(
        "gemini sync, sequential",
        generate,
        google_genai.Client(api_key="sk-bench-raw", http_options=options),
        byok_genai.Client(api_keys=GOOD, http_options=options),
        BASELINE.genai.Client(api_keys=GOOD, http_options=options) if BASELINE else None,
        floored(google_genai.Client(api_key="sk-bench-raw", http_options=options), "gemini"),
    )

    async def run_async() -> None:
        raw = openai.AsyncOpenAI(api_key="sk-bench-raw", base_url=url + "/v1")
        ours = byok_client.AsyncOpenAI(api_keys=GOOD, base_url=url + "/v1")
        a, b = await ainterleave(async_per_request(partial(chat, raw)), async_per_request(partial(chat, ours)))
        record(f"openai async, {ASYNC_TASKS} concurrent", a, b, 1.02)
        raw_a = anthropic.AsyncAnthropic(api_key="sk-bench-raw", base_url=url)
        our_a = byok_client.AsyncAnthropic(api_keys=GOOD, base_url=url)
        a, b = await ainterleave(async_per_request(partial(message, raw_a)), async_per_request(partial(message, our_a)))
        record(f"anthropic async, {ASYNC_TASKS} concurrent", a, b, 1.02)
        # Raw genai goes through aiohttp when it is installed; ours always uses httpx2. Compare like with like:
        # raw genai on httpx2 (the overhead figure), and raw genai on its default stack for information.
        httpx2_options = types.HttpOptions(base_url=url, async_client_args={"transport": httpx2.AsyncHTTPTransport()})
        raw_g = google_genai.Client(api_key="sk-bench-raw", http_options=httpx2_options).aio
        our_g = byok_genai.Client(api_keys=GOOD, http_options=options).aio
        a, b = await ainterleave(
            async_per_request(partial(generate, raw_g)), async_per_request(partial(generate, our_g))
        )
        record(f"gemini async, {ASYNC_TASKS} concurrent (httpx2 both)", a, b, 1.02)
        raw_default = google_genai.Client(api_key="sk-bench-raw", http_options=options).aio
        a, b = await ainterleave(
            async_per_request(partial(generate, raw_default)), async_per_request(partial(generate, our_g))
        )
        record("gemini async vs raw on aiohttp (info)", a, b, None)

    asyncio.run(run_async())


# -- 2. streaming time to first chunk -------------------------------------------------------------------------------
def first_chunk(client: openai.OpenAI) -> Callable[[], float]:
    def arm() -> float:
        total = 0.0
        for _ in range(STREAMS):
            start = time.perf_counter()
            stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            next(iter(stream))
            total += time.perf_counter() - start
            stream.close()
        return total / STREAMS

    return arm


def streaming(server: ServerProcess) -> None:
    print("2. streaming: time to first chunk")
    raw = openai.OpenAI(api_key="sk-bench-raw", base_url=server.url + "/v1")
    ours = byok_client.OpenAI(api_keys=GOOD, base_url=server.url + "/v1")
    a, b = interleave(first_chunk(raw), first_chunk(ours))
    record("openai stream, time to first chunk", a, b, 1.02, unit="µs")


# -- 3. failover cost -----------------------------------------------------------------------------------------------
def failover(server: ServerProcess) -> None:
    print("3. failover: key 1 answers 429 (one extra round trip, no sleep)")
    url = server.url + "/v1"
    limited = Key("sk-bench-limited", "limited")
    good = Key(GOOD[0], "good")
    client = byok_client.OpenAI(key_pool=KeyPool([good]), base_url=url, max_retries=0)

    def calls(make_pool: Callable[[], KeyPool], repeat_on_same: bool = False) -> Callable[[], float]:
        def arm() -> float:
            total = 0.0
            pool = make_pool()
            for _ in range(FAILOVER_CALLS):
                if not repeat_on_same:
                    pool = make_pool()  # a fresh pool: key 1 is not known to be limited yet
                client.key_pool = pool
                start = time.perf_counter()
                client.chat.completions.create(model="m", messages=MESSAGES)
                total += time.perf_counter() - start
            return total / FAILOVER_CALLS

        return arm

    plain = calls(lambda: KeyPool([good]))
    a, b = interleave(plain, calls(lambda: KeyPool([limited, good])))
    record("429 on key 1, then key 2 (vs a plain call)", a, b, 2.05, unit="µs/call")

    warmed = KeyPool([limited, good])
    client.key_pool = warmed
    client.chat.completions.create(model="m", messages=MESSAGES)  # key 1 now cools
    a, b = interleave(plain, calls(lambda: warmed, repeat_on_same=True))
    record("the next call (key 1 cooling, untouched)", a, b, 1.02, unit="µs/call")


# -- 4. scale ---------------------------------------------------------------------------------------------------------
def scale(server: ServerProcess) -> None:
    print("4. scale: per-request cost with N keys, 90% cooling")
    url = server.url + "/v1"
    raw = openai.OpenAI(api_key="sk-bench-raw", base_url=url)
    per_request: dict[int, float] = {}
    for n in (10, 1000, 10000):
        values = [f"sk-bench-scale-{n}-{i}" for i in range(n)]
        server.add([(v, f"s{i}", "ok", {}) for i, v in enumerate(values)])
        pool = KeyPool(values)
        cooling = int(n * 0.9)
        for entry in pool._entries[:cooling]:  # the core's own bookkeeping for a 429 with a 50-minute reset
            pool._record_failure(entry, Verdict(Failure.RATE_LIMITED, 3000.0), None, None, "openai", "")
        assert sum(s.state == "cooling" for s in pool.status()) == cooling
        ours = byok_client.OpenAI(key_pool=pool, base_url=url)
        a, b = interleave(
            sync_per_request(lambda: raw.chat.completions.create(model="m", messages=MESSAGES), SCALE_REQUESTS),
            sync_per_request(partial(ours.chat.completions.create, model="m", messages=MESSAGES), SCALE_REQUESTS),
        )
        record(f"{n:>6} keys, 90% cooling (vs raw)", a, b, 1.02 if n == 10 else None)
        per_request[n] = statistics.median(y / x for x, y in zip(a, b, strict=True))
    flat = per_request[10000] / per_request[10]
    results["scale: 10,000-key figure / 10-key figure"] = {"ratio": flat, "target": 1.1, "met": flat <= 1.1}
    print(f"  {'10,000-key ratio / 10-key ratio':44} {flat:6.3f}")


# -- 5. import time ---------------------------------------------------------------------------------------------------
def import_time() -> None:
    print("5. import time (fresh processes)")
    # pip compiles an installed package's bytecode; an editable checkout (PYTHONDONTWRITEBYTECODE may be set, as on
    # this project's machines) would be compiled from source on every import. Measure byok_client as installed.
    import compileall

    compileall.compile_dir(str(Path(byok_client.__file__).parent), quiet=1)

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    raw, ours = [], []
    for _ in range(IMPORT_RUNS):
        raw.append(run("import openai"))
        ours.append(run("from byok_client import OpenAI"))
    extra_ms = (statistics.median(ours) - statistics.median(raw)) * 1000
    leaked = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, byok_client; from byok_client import OpenAI; "
            "heavy = ('anthropic', 'google.genai', 'pydantic_settings', 'yaml'); "
            "print(','.join(m for m in heavy if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    results["import: from byok_client import OpenAI minus import openai"] = {
        "raw_ms": statistics.median(raw) * 1000,
        "byok_ms": statistics.median(ours) * 1000,
        "extra_ms": extra_ms,
        "target_ms": 30,
        "met": extra_ms <= 30 and not leaked,
        "also_imported": leaked or "nothing",
    }
    print(f"  {'import openai':44} {statistics.median(raw) * 1000:9.1f} ms")
    print(f"  {'from byok_client import OpenAI':44} {statistics.median(ours) * 1000:9.1f} ms  (+{extra_ms:.1f} ms)")
    print(f"  {'modules it drags in (anthropic, genai, ...)':44} {leaked or 'none'}")


# -- 6. memory --------------------------------------------------------------------------------------------------------
def memory() -> None:
    print("6. memory per key (10,000 keys, 90% of them cooled once)")
    values = [f"sk-mem-{i:08d}-{'x' * 40}" for i in range(10000)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    pool = KeyPool(values, scope="openai https://api.openai.com:443")
    for entry in pool._entries[:9000]:
        pool._record_failure(entry, Verdict(Failure.RATE_LIMITED, 3000.0), None, None, "openai", "")
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_key = used / len(values)
    results["memory per key at 10,000 keys"] = {"bytes": per_key, "target_bytes": 2048, "met": per_key <= 2048}
    print(f"  {'bytes per key (Key, health, selection state)':44} {per_key:9.0f}")
    del pool


def main() -> None:
    print(
        f"byok_client benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{'quick' if QUICK else 'full'} run, {ROUNDS} interleaved rounds per figure"
        + (f", baseline {_arg('--baseline')}" if BASELINE else "")
        + "\n"
    )
    server = ServerProcess(cpu=None if "--no-pin" in sys.argv else 1)
    pin(0)
    try:
        server.add([(v, f"g{i}", "ok", {}) for i, v in enumerate([*GOOD, "sk-bench-raw"])])
        server.add([("sk-bench-limited", "limited", "rate_limited", {"retry_after": 30})])
        for name, section in (
            ("overhead", overhead),
            ("streaming", streaming),
            ("failover", failover),
            ("scale", scale),
        ):
            if ONLY in (None, name):
                section(server)
    finally:
        server.stop()
    if ONLY in (None, "import"):
        import_time()
    if ONLY in (None, "memory"):
        memory()
    results["_machine"] = {"cores": os.cpu_count(), "python": platform.python_version(), "quick": QUICK}
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    paths = [Path(__file__).with_name("latest.json")]
    if UPDATE:
        paths.append(Path(__file__).with_name("results.json"))
    for path in paths:
        path.write_text(text)
    missed = [name for name, r in results.items() if isinstance(r, dict) and r.get("met") is False]
    print(f"\nwrote {', '.join(map(str, paths))}; targets missed: {', '.join(missed) if missed else 'none'}")


if __name__ == "__main__":
    main()
