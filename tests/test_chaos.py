"""A bounded chaos test: thousands of calls through byok_client against a MockProvider faulting ~30 % of attempts.

The server runs in a child process (so it does not share the clients' GIL); every attempt is recorded there with a
monotonic timestamp (CLOCK_MONOTONIC is system-wide on Linux, so it compares with this process's clock), the key's
label, the fault applied and the call id sent in a header.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx2
import openai
import pytest

from byok_client import AsyncOpenAI, Key, OpenAI
from byok_client.events import KeyDisabled, PoolEvent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a system-wide monotonic clock")

KEYS = 10
# The brief's full run is 5,000 + 5,000 calls (CHAOS_SYNC_CALLS=5000 CHAOS_ASYNC_CALLS=5000); the default is smaller
# so the suite stays fast on a shared 2-core machine, where the SDKs alone spend ~6 ms of CPU per call.
SYNC_CALLS = int(os.environ.get("CHAOS_SYNC_CALLS", "1000"))
SYNC_THREADS = 64
ASYNC_CALLS = int(os.environ.get("CHAOS_ASYNC_CALLS", "1000"))
ASYNC_TASKS = 512
MAX_RETRIES = 1
GRACE = 0.25  # seconds; see the KeyDisabled check
READ_TIMEOUT = 0.5
STALL_SECONDS = 1.0
MESSAGES: Any = [{"role": "user", "content": "hi"}]
HANG_LIMIT = 60.0 + (SYNC_CALLS + ASYNC_CALLS) * 0.05
"""Seconds after which a phase counts as hung."""

KNOWN_CORE_ISSUES: frozenset[str] = frozenset()
"""Failures owned by the failover core, which is being fixed (in-flight slots leak when an error head is followed by
a reset or a stall of its body; requests picked before a KeyDisabled arrive after it). While only these fail, the
test reports them as xfail with the figures; empty this set once the core is fixed."""


def _serve(conn: Connection) -> None:
    from byok_client.testing import MockProvider

    with MockProvider() as mock:
        conn.send(mock.openai_base_url)
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "setup":
                for i in range(KEYS):
                    mock.add_key(f"sk-chaos-{i:02d}-secret", label=f"k{i}")
                mock.inject_faults(**args)
                conn.send(None)
            elif command == "faults":
                mock.inject_faults(**args)
                conn.send(None)
            elif command == "unrevoke":
                mock.unrevoke()
                conn.send(None)
            elif command == "records":
                conn.send(
                    [(r.label, r.timestamp, r.fault, r.headers.get("x-call-id", ""), r.stream) for r in mock.requests]
                )
            elif command == "status":
                conn.send((mock.open_connections, mock.fault_counts()))


class Server:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def call(self, command: str, args: Any = None) -> Any:
        self._conn.send((command, args))
        return self._conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    s.call(
        "setup",
        {
            "seed": 1234,
            "rate": 0.3,
            "retry_after": 0.2,
            "stall_seconds": STALL_SECONDS,
            "max_revoked": 2,
            "body_statuses": (200, 429, 500),
        },
    )
    yield s
    s.stop()


@dataclass
class Outcome:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    untyped: list[str] = field(default_factory=list)
    bad_streams: list[str] = field(default_factory=list)
    slowest: float = 0.0


def check_stream(chunks: list[Any], outcome: Outcome, call: str) -> None:
    ids = {c.id for c in chunks}
    if len(ids) > 1:
        outcome.bad_streams.append(f"{call}: chunks from {len(ids)} responses")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = bool(chunks and chunks[-1].choices and chunks[-1].choices[0].finish_reason == "stop")
    if finished and not (text.startswith("served by k") and text.count("served by") == 1):
        outcome.bad_streams.append(f"{call}: text {text!r}")


def record_error(exc: BaseException, outcome: Outcome) -> None:
    if isinstance(exc, openai.APIError):
        outcome.errors[type(exc).__name__] += 1
    else:
        outcome.untyped.append(f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:80]}")


@pytest.mark.timeout(int(HANG_LIMIT * 3))
def test_chaos(server: Server) -> None:
    disabled: dict[str, float] = {}
    events: Counter[str] = Counter()
    lock = threading.Lock()

    def on_event(event: PoolEvent) -> None:
        with lock:
            events[type(event).__name__] += 1
            if isinstance(event, KeyDisabled):
                disabled.setdefault(event.key_label, time.monotonic())

    picks: list[tuple[str, float]] = []

    class Picks(logging.Handler):
        """When each attempt picked its key: the flow logs "using key <label>" right after the pick, before
        the send, so a pick after a key's KeyDisabled would be a request sent with a disabled key."""

        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "%s %s: using key %s":
                picks.append((str(record.args[-1]), time.monotonic()))  # type: ignore[index]

    byok_log = logging.getLogger("byok_client")
    picks_handler, level = Picks(logging.DEBUG), byok_log.level
    byok_log.addHandler(picks_handler)
    byok_log.setLevel(logging.DEBUG)
    keys = [Key(f"sk-chaos-{i:02d}-secret", label=f"k{i}") for i in range(KEYS)]
    timeout = httpx2.Timeout(5.0, read=READ_TIMEOUT)
    started = time.monotonic()
    gc.collect()  # what earlier tests left for the collector warns now, not inside the window measured below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        sync_outcome = Outcome()
        client = OpenAI(api_keys=keys, base_url=server.url, max_retries=MAX_RETRIES, timeout=timeout, on_event=on_event)

        def one_sync(i: int) -> None:
            t0 = time.monotonic()
            call = f"s{i}"
            try:
                if i % 10 < 3:
                    chunks: list[Any] = []
                    with client.chat.completions.create(
                        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers={"x-call-id": call}
                    ) as stream:
                        for chunk in stream:
                            chunks.append(chunk)
                    check_stream(chunks, sync_outcome, call)
                else:
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-call-id": call}
                    )
                with lock:
                    sync_outcome.ok += 1
            except Exception as exc:
                with lock:
                    record_error(exc, sync_outcome)
            with lock:
                sync_outcome.slowest = max(sync_outcome.slowest, time.monotonic() - t0)

        with ThreadPoolExecutor(SYNC_THREADS) as pool:
            for _ in pool.map(one_sync, range(SYNC_CALLS), timeout=HANG_LIMIT):
                pass
        sync_seconds = time.monotonic() - started
        sync_status = client.key_pool.status() if client.key_pool is not None else []
        client.close()

        async_outcome = Outcome()

        async def run_async() -> list[Any]:
            aclient = AsyncOpenAI(
                api_keys=keys, base_url=server.url, max_retries=MAX_RETRIES, timeout=timeout, on_event=on_event
            )
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(ASYNC_CALLS):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    t0 = time.monotonic()
                    call = f"a{i}"
                    try:
                        if i % 10 < 3:
                            chunks: list[Any] = []
                            stream = await aclient.chat.completions.create(
                                model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers={"x-call-id": call}
                            )
                            async with stream:
                                async for chunk in stream:
                                    chunks.append(chunk)
                            check_stream(chunks, async_outcome, call)
                        else:
                            await aclient.chat.completions.create(
                                model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-call-id": call}
                            )
                        async_outcome.ok += 1
                    except Exception as exc:
                        record_error(exc, async_outcome)
                    async_outcome.slowest = max(async_outcome.slowest, time.monotonic() - t0)

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(ASYNC_TASKS))), timeout=HANG_LIMIT)
            status = aclient.key_pool.status() if aclient.key_pool is not None else []
            await aclient.close()
            return status

        async_started = time.monotonic()
        async_status = asyncio.run(run_async())
        async_seconds = time.monotonic() - async_started
        gc.collect()
    resource_warnings = [w for w in caught if issubclass(w.category, ResourceWarning)]

    deadline = time.monotonic() + 5
    open_connections, fault_counts = server.call("status")
    while open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
        open_connections, fault_counts = server.call("status")
    records = server.call("records")

    attempts: Counter[str] = Counter(r[3] for r in records)
    faulted = sum(1 for r in records if r[2] is not None)
    byok_log.removeHandler(picks_handler)
    byok_log.setLevel(level)
    # Attempts that picked a key after its KeyDisabled was delivered. The pick is logged just after the pool's lock
    # is released and the event just after the disable's, so a thread descheduled between its pick and its log line
    # (the GIL switches every 5 ms; 576 threads and tasks here) can log a pick made before the disable: picks logged
    # within GRACE of the event are such races, not picks of a disabled key (that is checked exactly, without
    # threads, in tests/test_locks.py).
    late: list[tuple[str, float]] = []
    for label, stamp in picks:
        when = disabled.get(label)
        if when is not None and stamp > when + GRACE:
            late.append((label, stamp - when))
    arrived_late = sum(1 for label, stamp, _, _, _ in records if label in disabled and stamp > disabled[label])
    in_flight = {s.label: s.in_flight for s in [*sync_status, *async_status] if s.in_flight}
    max_attempts = KEYS * (MAX_RETRIES + 1)
    over = {c: n for c, n in attempts.items() if n > max_attempts}

    print(
        f"\nchaos: sync {SYNC_CALLS} calls / {SYNC_THREADS} threads in {sync_seconds:.1f}s: ok {sync_outcome.ok}, "
        f"typed errors {dict(sync_outcome.errors)}, untyped {len(sync_outcome.untyped)}, "
        f"slowest {sync_outcome.slowest:.2f}s"
    )
    print(
        f"chaos: async {ASYNC_CALLS} calls / {ASYNC_TASKS} tasks in {async_seconds:.1f}s: ok {async_outcome.ok}, "
        f"typed errors {dict(async_outcome.errors)}, untyped {len(async_outcome.untyped)}, "
        f"slowest {async_outcome.slowest:.2f}s"
    )
    print(
        f"chaos: {len(records)} attempts, {faulted} faulted ({faulted / max(1, len(records)):.0%}), faults "
        f"{fault_counts}; events {dict(events)}; disabled {sorted(disabled)}; max attempts/call "
        f"{max(attempts.values(), default=0)} (limit {max_attempts})"
    )
    print(
        f"chaos: in flight left {in_flight}; picked after KeyDisabled {len(late)}, in flight when it came and "
        f"arrived after it {arrived_late} (max lag "
        f"{max((lag for _, lag in late), default=0):.3f}s); open connections {open_connections}; "
        f"ResourceWarnings {len(resource_warnings)}; "
        f"bad streams {len(sync_outcome.bad_streams + async_outcome.bad_streams)}"
    )
    for line in (sync_outcome.untyped + async_outcome.untyped)[:5]:
        print("chaos: untyped:", line)

    failures: dict[str, str] = {}
    if sync_outcome.ok + sum(sync_outcome.errors.values()) + len(sync_outcome.untyped) != SYNC_CALLS:
        failures["ended"] = "not every sync call ended"
    if async_outcome.ok + sum(async_outcome.errors.values()) + len(async_outcome.untyped) != ASYNC_CALLS:
        failures["ended_async"] = "not every async call ended"
    if sync_outcome.untyped or async_outcome.untyped:
        n = len(sync_outcome.untyped) + len(async_outcome.untyped)
        failures["typed"] = f"{n} calls ended in a non-SDK exception"
    if in_flight:
        failures["in_flight"] = f"in-flight slots leaked: {in_flight}"
    if late:
        failures["after_disabled"] = (
            f"{len(late)} attempts picked a key after its KeyDisabled event "
            f"(lag up to {max(lag for _, lag in late):.3f}s)"
        )
    if sync_outcome.bad_streams or async_outcome.bad_streams:
        failures["streams"] = f"bad streams: {(sync_outcome.bad_streams + async_outcome.bad_streams)[:3]}"
    if resource_warnings:
        failures["warnings"] = f"{len(resource_warnings)} ResourceWarnings: {resource_warnings[0].message}"
    if open_connections:
        failures["connections"] = f"{open_connections} connections still open at the mock"
    if over:
        failures["attempts"] = f"{len(over)} calls over {max_attempts} attempts"
    share = faulted / max(1, len(records))
    if not 0.2 <= share <= 0.5:
        failures["share"] = f"fault share {share:.0%} is not about 30 %"
    if sum(1 for r in records if r[4]) < 0.2 * len(records):
        failures["streamed"] = "fewer than 20 % streamed attempts"
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_CORE_ISSUES}
    assert not unexpected, "; ".join(unexpected.values())
    if failures:
        pytest.xfail("known failover-core issues: " + "; ".join(failures.values()))
