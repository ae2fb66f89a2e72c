"""An error body that echoes the key is scrubbed (the key replaced by its label) before the SDK sees it, whatever
its content-encoding and transfer encoding, for every provider; the SDK still parses it."""

from __future__ import annotations

import gzip
import json
import pickle
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import anthropic
import brotli  # type: ignore[import-untyped]
import openai
import pytest
import zstandard

from byok_client import Anthropic, Key, KeyPool, OpenAI, genai

ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda b: b,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}
CREDENTIALS = (b"authorization", b"x-api-key", b"x-goog-api-key")


def error_body(provider: str, key: str) -> tuple[int, bytes]:
    if provider == "openai":
        error: dict[str, Any] = {
            "error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error",
                      "param": None, "code": "invalid_api_key"}
        }  # fmt: skip
        return 401, json.dumps(error).encode()
    if provider == "anthropic":
        error = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"}}
        return 401, json.dumps(error).encode()
    error = {
        "error": {"code": 400, "message": f"API key {key} not valid. Please pass a valid API key.",
                  "status": "INVALID_ARGUMENT",
                  "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}
    }  # fmt: skip
    return 400, json.dumps(error).encode()


class EchoServer:
    """Answers every request with the provider's invalid-key error echoing the credential it was sent, encoded."""

    def __init__(self, provider: str, encoding: str, chunked: bool) -> None:
        self.provider, self.encoding, self.chunked = provider, encoding, chunked
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0]
            key = ""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() in CREDENTIALS:
                    key = value.strip().decode().removeprefix("Bearer ")
            status, body = error_body(self.provider, key)
            encoded = ENCODERS[self.encoding](body)
            headers = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nconnection: close\r\n"
            if self.encoding != "identity":
                headers += f"content-encoding: {self.encoding}\r\n"
            if self.chunked:
                half = len(encoded) // 2
                parts = [encoded[:half], encoded[half:]]
                payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
                conn.sendall((headers + "transfer-encoding: chunked\r\n\r\n").encode() + payload)
            else:
                conn.sendall((headers + f"content-length: {len(encoded)}\r\n\r\n").encode() + encoded)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()


def call(provider: str, url: str, pool: KeyPool) -> BaseException:
    try:
        if provider == "openai":
            OpenAI(key_pool=pool, base_url=url + "/v1", max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
        elif provider == "anthropic":
            Anthropic(key_pool=pool, base_url=url, max_retries=0).messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
        else:
            client = genai.Client(key_pool=pool, http_options={"base_url": url})  # kept: a dropped client closes
            client.models.generate_content(model="gemini-x", contents="hi")
    except Exception as exc:
        return exc
    raise AssertionError("the call succeeded")


EXPECTED: dict[str, type[BaseException]] = {
    "openai": openai.AuthenticationError,
    "anthropic": anthropic.AuthenticationError,
    "gemini": genai.errors.ClientError,
}


@pytest.fixture(params=["content-length", "chunked"])
def chunked(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "chunked")


@pytest.mark.parametrize("encoding", list(ENCODERS))
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_an_echoed_key_is_scrubbed_in_every_encoding(provider: str, encoding: str, chunked: bool) -> None:
    import httpx2._decoders

    if encoding not in httpx2._decoders.SUPPORTED_DECODERS:
        pytest.skip(f"httpx2 does not decode {encoding} (it never asks for it), so no SDK on it can read such a body")
    secret = f"sk-echo-{provider}-{encoding}-{time.monotonic_ns()}"
    pool = KeyPool([Key(secret, "echo-key")])
    server = EchoServer(provider, encoding, chunked)
    try:
        error = call(provider, server.url, pool)
    finally:
        server.close()
    assert isinstance(error, EXPECTED[provider]), repr(error)
    response: Any = getattr(error, "response", None)
    texts = [str(error), repr(error), str(getattr(error, "body", "")), str(getattr(error, "details", ""))]
    if response is not None:
        texts += [response.text, repr(response.headers)]
    assert any("echo-key" in t for t in texts), texts  # the SDK parsed the scrubbed body
    for text in texts:
        assert secret not in text
    try:
        pickled = pickle.dumps(error)
    except Exception:
        pickled = b""
    assert secret.encode() not in pickled
    import traceback

    assert secret not in "".join(traceback.format_exception(error))
