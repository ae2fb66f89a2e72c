"""HTTP/1.1 for :class:`~byok_client.testing.MockProvider`: an :class:`asyncio.Protocol` parsed by hand.

Keep-alive, ``Content-Length`` and chunked request bodies, pipelining (answered strictly in order), chunked
responses; plus the misbehaviours a fault needs (reset, cut or stalled answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import Callable
from http import HTTPStatus
from typing import Final, Protocol

from ._behaviours import Headers

__all__ = ["CREDENTIAL_HEADERS", "Connection", "Handler"]

CREDENTIAL_HEADERS: Final = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})
_MAX_HEAD: Final = 64 * 1024
_REASONS: Final = {s.value: s.phrase for s in HTTPStatus} | {529: "Site Overloaded"}


class Handler(Protocol):
    """What a :class:`Connection` calls (implemented by ``MockProvider``)."""

    def _connection_made(self, conn: Connection) -> None: ...

    def _connection_lost(self, conn: Connection) -> None: ...

    def _handle(
        self,
        conn: Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        ncred: int,
        body: bytes,
        keep_alive: bool,
    ) -> None: ...


_HEADER_LINE: Final = re.compile(r"\r\n([^:\r\n]+):[ \t]*([^\r\n]*)")
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER = range(5)


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered strictly in order."""

    def __init__(self, mock: Handler) -> None:
        self._mock = mock
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._scan = 0
        self._state = _HEAD
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # the request being read
        self._method = ""
        self._target = ""
        self._headers: dict[str, str] = {}
        self._ncred = 0
        self._keep_alive = True
        self._remaining = 0
        self._chunks: list[bytes] = []

    # -- asyncio.Protocol ------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._mock._connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._mock._connection_lost(self)
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    # -- parsing ---------------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, status: int) -> None:
        self._send(status, [("content-type", "text/plain")], HTTPStatus(status).phrase.encode(), close=True)

    def _process(self) -> None:
        while not self._busy and not self._closed:
            body = self._parse()
            if body is None:
                return
            try:
                self._mock._handle(self, self._method, self._target, self._headers, self._ncred, body, self._keep_alive)
            except Exception as exc:  # a bug in the mock: say so instead of silently dropping the connection
                self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> None:
        message = f"MockProvider internal error: {exc!r}".encode()
        self._send(500, [("content-type", "text/plain")], message, close=True)

    def _parse(self) -> bytes | None:
        buf = self._buf
        if self._state == _HEAD:
            end = buf.find(b"\r\n\r\n", self._scan)
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail(431)
                self._scan = max(0, len(buf) - 3)
                return None
            self._scan = 0
            head = buf[:end].decode("latin-1").lstrip("\r\n")  # tolerate stray CRLF between requests
            del buf[: end + 4]
            if not head:
                return self._parse()
            line_end = head.find("\r\n")
            parts = (head if line_end < 0 else head[:line_end]).split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._fail(400)
                return None
            self._method, self._target, version = parts
            pairs = _HEADER_LINE.findall(head)
            if len(pairs) != head.count("\r\n"):
                self._fail(400)
                return None
            headers: dict[str, str] = {}
            ncred = 0
            for name, value in pairs:
                name = name.lower()
                if name in CREDENTIAL_HEADERS:
                    ncred += 1
                if name in headers:
                    headers[name] += ", " + value.rstrip()
                else:
                    headers[name] = value.rstrip()
            self._headers = headers
            self._ncred = ncred
            connection = headers.get("connection", "").lower()
            self._keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._state = _CHUNK_SIZE
                self._chunks = []
            else:
                try:
                    self._remaining = int(headers.get("content-length", "0"))
                except ValueError:
                    self._fail(400)
                    return None
                if self._remaining < 0:
                    self._fail(400)
                    return None
                self._state = _BODY
            if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._state == _BODY:
            n = self._remaining
            if len(buf) < n:
                return None
            body = bytes(buf[:n])
            del buf[:n]
            self._state = _HEAD
            return body
        while True:
            if self._state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                try:
                    size = int(bytes(buf[:end]).split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self._fail(400)
                    return None
                del buf[: end + 2]
                if size == 0:
                    self._state = _TRAILER
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif self._state == _CHUNK_DATA:
                n = self._remaining
                if len(buf) < n + 2:
                    return None
                if buf[n : n + 2] != b"\r\n":
                    self._fail(400)
                    return None
                self._chunks.append(bytes(buf[:n]))
                del buf[: n + 2]
                self._state = _CHUNK_SIZE
            else:  # _TRAILER
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                del buf[: end + 2]
                if end == 0:
                    self._state = _HEAD
                    body = b"".join(self._chunks)
                    self._chunks = []
                    return body

    # -- writing ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _head(status: int, headers: Headers, body: bytes | list[bytes], close: bool) -> bytes:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers]
        if close:
            head.append("connection: close\r\n")
        if isinstance(body, bytes):
            head.append(f"content-length: {len(body)}\r\n\r\n")
        else:
            head.append("transfer-encoding: chunked\r\n\r\n")
        return "".join(head).encode("latin-1")

    @staticmethod
    def _chunks_of(body: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in body:
            if chunk:
                out += (f"{len(chunk):x}\r\n".encode(), chunk, b"\r\n")
        return out

    def _writable(self) -> asyncio.Transport | None:
        transport = self._transport
        if transport is None or self._closed or transport.is_closing():
            return None
        return transport

    def _send(self, status: int, headers: Headers, body: bytes | list[bytes], close: bool = False) -> None:
        transport = self._writable()
        if transport is None:
            return
        if isinstance(body, bytes):
            transport.write(self._head(status, headers, body, close) + body)
        else:
            transport.write(b"".join([self._head(status, headers, body, close), *self._chunks_of(body), b"0\r\n\r\n"]))
        if close:
            self._closed = True
            self._busy = True
            transport.close()

    def _defer(self, seconds: float, then: Callable[[], None]) -> None:
        """Answer later (after a scripted delay): hold back further requests on this connection until done."""
        self._busy = True
        self._task = asyncio.get_running_loop().create_task(self._later(seconds, then))

    async def _later(self, seconds: float, then: Callable[[], None]) -> None:
        try:
            await asyncio.sleep(seconds)
            try:
                then()
            except Exception as exc:
                self._internal_error(exc)
        finally:
            self._task = None
        if not self._closed:
            self._busy = False
            self._process()

    # -- misbehaving (faults) --------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop the connection with a TCP RST (``SO_LINGER`` 0): the peer reads ``ECONNRESET``, not a clean EOF."""
        transport = self._transport
        self._closed = self._busy = True
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def send_cut(
        self,
        status: int,
        headers: Headers,
        body: bytes | list[bytes],
        *,
        then: str,
        keep: int | None = None,
        seconds: float = 0.0,
    ) -> None:
        """Send the status line, the headers and only part of ``body``, then misbehave; nothing more is read.

        The part is the first ``keep`` chunks of a chunked body (default: half of them), or the first half of a
        ``bytes`` body. ``then`` is ``"reset"`` (a TCP RST ``seconds`` later, so the client has read the head),
        ``"close"`` (a clean FIN, no final chunk: a truncated stream) or ``"stall"`` (silence for ``seconds``,
        then a reset).
        """
        transport = self._writable()
        if transport is None:
            return
        self._busy = True  # the connection is spoilt: no pipelined request is answered after this
        if isinstance(body, bytes):
            part = body[: len(body) // 2]
        else:
            n = len(body) // 2 if keep is None else max(0, min(keep, len(body) - 1))
            part = b"".join(self._chunks_of(body[:n]))
        if then == "stall":
            part = b""
        transport.write(self._head(status, headers, body, False) + part)
        if then == "close":
            self._closed = True
            transport.close()
            return
        self._task = asyncio.get_running_loop().create_task(self._reset_later(seconds))

    async def _reset_later(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            self._task = None
        self.reset()
