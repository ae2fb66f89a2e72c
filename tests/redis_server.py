"""A real redis-server for tests: started on a free 127.0.0.1 port in a temp dir, without persistence.

``RedisServer`` can be killed (SIGKILL, like a crash) and started again on the same port. The ``redis_server``
fixture fails (never skips) when redis-server is not installed: the state tests must run in CI.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

__all__ = ["RedisCluster", "RedisServer", "free_port", "redis_cluster", "redis_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free too, both below 65536."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on ``127.0.0.1:<port>``; ``url`` is its ``redis://`` address."""

    def __init__(self, port: int | None = None, *extra: str) -> None:
        self.extra = extra
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed; the shared-state tests need it: apt-get install -y redis-server",
                pytrace=False,
            )
        self.binary = binary
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="byok-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        # fmt: off
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self._dir.name, "--daemonize", "no", "--loglevel", "warning", *self.extra,
        ]
        # fmt: on
        self._process = subprocess.Popen(
            command,
            cwd=self._dir.name,
            stdout=subprocess.DEVNULL,
            stderr=(Path(self._dir.name) / "redis.log").open("ab"),
        )
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (Path(self._dir.name) / "redis.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}: {log}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Stop the server at once, as a crash would (its data is gone: no persistence)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers, like a hung or very slow Redis."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Kill the server and start a fresh one on the same port."""
        self.kill()
        self.start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for one test."""
    with RedisServer() as server:
        yield server


class RedisCluster:
    """Three redis-server nodes in cluster mode (no replicas), all slots assigned; ``port`` is the first node's."""

    def __init__(self) -> None:
        self.nodes = [
            RedisServer(free_cluster_port(), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            for _ in "abc"
        ]
        self.port = self.nodes[0].port

    def __enter__(self) -> RedisCluster:
        cli = shutil.which("redis-cli") or shutil.which("valkey-cli")
        if cli is None:
            pytest.fail("redis-cli is not installed; apt-get install -y redis-server (it brings redis-tools)")
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=30,
            )
            deadline = time.monotonic() + 15
            while True:
                info = subprocess.run(
                    [cli, "-p", str(self.port), "cluster", "info"], capture_output=True, timeout=5, text=True
                ).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster did not come up: {info}")
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@pytest.fixture
def redis_cluster() -> Iterator[RedisCluster]:
    """A fresh three-node Redis Cluster for one test."""
    with RedisCluster() as cluster:
        yield cluster
