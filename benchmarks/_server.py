"""The MockProvider in a child process, so the server and the client under test do not share a GIL."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["ServerProcess"]

BEHAVIOURS = ("ok", "rate_limited", "invalid_key", "server_error")


def _serve(conn: Connection, cpu: int | None = None) -> None:
    import os

    from byok_client import testing

    if cpu is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})

    with testing.MockProvider() as mock:
        conn.send(mock.url)
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "add":
                for value, label, behaviour, kwargs in args[0]:
                    mock.add_key(value, getattr(testing, behaviour)(**kwargs), label=label)
                conn.send(None)
            elif command == "cpu":
                conn.send(time.process_time())
            elif command == "count":
                conn.send(len(mock.requests))
            elif command == "clear":
                mock.clear()
                conn.send(None)
            elif command == "rate_limit":
                mock.clear_rate_limits()
                mock.rate_limit(**args[0])
                conn.send(None)
            elif command == "outcomes":  # label -> [answered, rate-limited by a bucket]
                counts: dict[str, list[int]] = {}
                for r in mock.requests:
                    counts.setdefault(r.label or "", [0, 0])[1 if r.fault == "rate_limit" else 0] += 1
                conn.send(counts)
            elif command == "faults":
                conn.send(mock.fault_counts())


class ServerProcess:
    """A MockProvider in another process (``cpu``: pinned to that core, where the OS allows): ``add(keys)``,
    ``cpu()`` (its CPU seconds), ``stop()``."""

    def __init__(self, cpu: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, cpu), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def add(self, keys: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Register keys: (value, label, behaviour name in byok_client.testing, behaviour kwargs)."""
        self._conn.send(("add", keys))
        self._conn.recv()

    def cpu(self) -> float:
        self._conn.send(("cpu",))
        return float(self._conn.recv())

    def clear(self) -> None:
        self._conn.send(("clear",))
        self._conn.recv()

    def rate_limit(self, **limits: Any) -> None:
        """Replace the server's rate limits (``MockProvider.rate_limit`` keyword arguments)."""
        self._conn.send(("rate_limit", limits))
        self._conn.recv()

    def outcomes(self) -> dict[str, list[int]]:
        """Per key label: [requests answered, requests refused by a rate-limit bucket with a 429]."""
        self._conn.send(("outcomes",))
        return dict(self._conn.recv())

    def faults(self) -> dict[str, int]:
        """``MockProvider.fault_counts()``: 429s from its rate limits count under ``rate_limit``."""
        self._conn.send(("faults",))
        return dict(self._conn.recv())

    def count(self) -> int:
        self._conn.send(("count",))
        return int(self._conn.recv())

    def stop(self) -> None:
        self._conn.send(("stop",))
        self._process.join(5)
