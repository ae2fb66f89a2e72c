"""A fleet sharing key health through a real redis-server: two processes, the real openai SDK, MockProvider.

A 429 seen by one process keeps the other off that key (for that model only); a revoked key is disabled in all;
Redis killed mid-run fails no request, and sharing resumes when it is back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from byok_client import OpenAI
from byok_client.state import close_shared
from byok_client.testing import MockProvider, invalid_key, ok, rate_limited
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]  # the fixture, re-exported so pytest finds it here

MESSAGES: Any = [{"role": "user", "content": "hi"}]

WORKER = """
import json, sys
from byok_client import OpenAI
config = json.loads(sys.argv[1])
client = OpenAI(api_keys=config["keys"], base_url=config["base_url"], state=config["state"], max_retries=0)
print("ready", flush=True)
for line in sys.stdin:
    command, model = line.split()
    if command == "chat":
        try:
            reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            print(reply.choices[0].message.content, flush=True)
        except Exception as exc:
            print("error " + type(exc).__name__, flush=True)
    elif command == "status":
        print(json.dumps([[s.label, s.state, sorted(s.models_cooling)] for s in client.key_pool.status()]), flush=True)
"""


class Worker:
    """Another process of the fleet: the same keys, base URL and state URL."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.ask_line() == "ready"

    def ask_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def send(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.ask_line()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


@pytest.fixture
def fleet(mock: MockProvider, redis_server: RedisServer) -> Iterator[tuple[OpenAI, Worker, list[str]]]:
    run = uuid.uuid4().hex[:8]
    values = [f"sk-fleet-{run}-{i}-secret" for i in range(2)]
    for i, value in enumerate(values):
        mock.add_key(value, ok(), label=f"k{i}")
    config = {"keys": values, "base_url": mock.openai_base_url, "state": redis_server.url}
    local = OpenAI(api_keys=values, base_url=mock.openai_base_url, state=redis_server.url, max_retries=0)
    worker = Worker(config)
    yield local, worker, values
    worker.close()
    close_shared()


def chat(client: OpenAI, model: str = "model-a") -> str:
    reply = client.chat.completions.create(model=model, messages=MESSAGES)
    return reply.choices[0].message.content or ""


def eventually(check: Any, timeout: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_a_429_in_one_process_keeps_the_other_off_that_key_for_that_model(
    mock: MockProvider, fleet: tuple[OpenAI, Worker, list[str]]
) -> None:
    local, worker, values = fleet
    mock.set(values[0], rate_limited(retry_after=30), model="model-a")
    assert chat(local) == "served by k1"  # k0 answered 429 for model-a, k1 served
    assert eventually(lambda: json.loads(worker.send("status -"))[0][2] == ["model-a"])  # propagated
    mock.clear()
    assert worker.send("chat model-a") == "served by k1"
    assert worker.send("chat model-b") == "served by k0"  # only model-a cools
    assert mock.labels() == ["k1", "k0"]  # the worker never asked k0 for model-a


def test_a_revoked_key_is_disabled_in_every_process(
    mock: MockProvider, fleet: tuple[OpenAI, Worker, list[str]]
) -> None:
    local, worker, values = fleet
    mock.set(values[0], invalid_key())
    assert chat(local) == "served by k1"
    assert eventually(lambda: json.loads(worker.send("status -"))[0][1] == "disabled")
    mock.clear()
    assert [worker.send("chat model-b") for _ in range(3)] == ["served by k1"] * 3
    assert "k0" not in mock.labels()


def test_redis_killed_mid_run_fails_no_request_and_sharing_resumes(
    mock: MockProvider, fleet: tuple[OpenAI, Worker, list[str]], redis_server: RedisServer
) -> None:
    local, worker, values = fleet
    redis_server.kill()
    began = time.monotonic()
    assert [chat(local) for _ in range(5)] == ["served by k0"] * 5
    assert [worker.send("chat model-a") for _ in range(5)] == ["served by k0"] * 5
    assert time.monotonic() - began < 5  # no request waited on the dead server
    redis_server.start()
    mock.set(values[0], rate_limited(retry_after=30), model="model-a")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until both sides are back on the server
        assert chat(local) in ("served by k0", "served by k1")
        if json.loads(worker.send("status -"))[0][2] == ["model-a"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("sharing did not resume after Redis came back")
    mock.clear()
    assert worker.send("chat model-a") == "served by k1"
