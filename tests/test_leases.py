"""Every attempt's lease (its key's in-flight slot) comes back on every exit path, through the real SDK over real
sockets: a body that resets or stalls after the status line, a classifier or injection that raises, asyncio
cancellation, KeyboardInterrupt. After each, every key's in-flight count is 0."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from byok_client import AsyncOpenAI, FailoverPolicy, Key, KeyPool, OpenAI
from byok_client.providers.openai import OpenAIProvider
from byok_client.transports import _shell

MESSAGES: Any = [{"role": "user", "content": "hi"}]
OK_BODY = b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'  # noqa: E501
LIMITED = b'{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}'


class RawServer:
    """A loopback HTTP/1.1 server whose answer per request is scripted: ``ok``, ``429``, ``reset`` (status and
    headers, part of the body, then a TCP reset) or ``stall`` (status and headers, then silence)."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.default = "ok"
        self.received = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                self.received += 1
                mode = self.script.pop(0) if self.script else self.default
                if mode == "ok":
                    conn.sendall(_response(200, OK_BODY))
                elif mode == "429":
                    conn.sendall(_response(429, LIMITED, b"retry-after: 30\r\n"))
                elif mode == "reset":
                    conn.sendall(_response(429, LIMITED)[:-20])
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                elif mode == "stall":
                    conn.sendall(_response(429, LIMITED)[:-20])
                    self.stop.wait(3.0)
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


@pytest.fixture
def server() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.close()


def pool_of(n: int = 2) -> KeyPool:
    return KeyPool([Key(f"sk-lease-{i}-{time.monotonic_ns()}", f"k{i}") for i in range(n)], cooldown_scope="key")


def in_flight(pool: KeyPool) -> list[int]:
    return [s.in_flight for s in pool.status()]


def client_for(server: RawServer, pool: KeyPool, **kwargs: Any) -> OpenAI:
    return OpenAI(key_pool=pool, base_url=server.base_url, max_retries=0, **kwargs)


def test_error_body_reset_after_the_status_line_releases_and_counts(server: RawServer) -> None:
    pool = pool_of()
    server.script = ["reset"]
    with pytest.raises(openai.APIConnectionError):
        client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    assert in_flight(pool) == [0, 0]
    assert pool.status()[0].timeouts == 1  # recorded, not blamed
    assert pool.status()[0].state == "ready"
    assert server.received == 1  # the request may have been served: the SDK decides, byok_client re-sends nothing


def test_error_body_stalling_past_the_read_timeout_releases(server: RawServer) -> None:
    pool = pool_of()
    server.script = ["stall"]
    with pytest.raises(openai.APITimeoutError):
        client_for(server, pool, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
    assert in_flight(pool) == [0, 0]
    assert pool.status()[0].timeouts == 1
    assert server.received == 1  # it may have reached the provider: never re-sent on the next key


def test_a_classifier_that_raises_hands_the_sdk_its_own_error(
    server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise ValueError("unreadable")

    monkeypatch.setattr(OpenAIProvider, "classify", broken)
    pool = pool_of()
    server.script = ["429"]
    with pytest.raises(openai.RateLimitError):
        client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    assert in_flight(pool) == [0, 0]


def test_injection_that_raises_releases(server: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("cannot inject")

    monkeypatch.setattr(_shell, "_inject", broken)
    pool = pool_of()
    with pytest.raises(RuntimeError, match="cannot inject"):  # not an HTTP error: the SDK lets it through
        client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    assert in_flight(pool) == [0, 0]


def test_keyboard_interrupt_while_reading_an_error_body_releases(
    server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(_shell, "_observe", interrupted)
    pool = pool_of()
    server.script = ["429"]
    with pytest.raises(KeyboardInterrupt):
        client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    assert in_flight(pool) == [0, 0]


async def test_a_task_cancelled_mid_request_releases(server: RawServer) -> None:
    pool = pool_of()
    server.script = ["stall"]
    client = AsyncOpenAI(key_pool=pool, base_url=server.base_url, max_retries=0, timeout=5.0)
    task = asyncio.create_task(client.chat.completions.create(model="m", messages=MESSAGES))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if in_flight(pool) != [0, 0]:
            break
    assert in_flight(pool) == [1, 0]  # the attempt is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert in_flight(pool) == [0, 0]
    await client.close()


def test_failover_then_success_leaves_nothing_in_flight_once_the_body_is_read(server: RawServer) -> None:
    pool = pool_of()
    server.script = ["429", "ok"]
    reply = client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "ok"
    assert in_flight(pool) == [0, 0]
    assert pool.status()[0].state == "cooling"


def test_an_error_body_longer_than_the_cap_reaches_the_sdk_whole(server: RawServer) -> None:
    big = b'{"error":{"message":"' + b"x" * 200_000 + b'","type":"invalid_request_error","code":null}}'
    pool = KeyPool([Key(f"sk-lease-big-{time.monotonic_ns()}", "k0")], policy=FailoverPolicy(max_error_body=4096))
    orig = server._serve

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(_response(400, big))
            time.sleep(0.2)

    server._serve = serve  # type: ignore[method-assign]
    with pytest.raises(openai.BadRequestError) as info:
        client_for(server, pool).chat.completions.create(model="m", messages=MESSAGES)
    server._serve = orig  # type: ignore[method-assign]
    assert len(info.value.response.content) == len(big)
    assert in_flight(pool) == [0]
