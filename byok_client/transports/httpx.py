"""Key-injecting transports for httpx (legacy SDK lines: openai 1.x-2.x, anthropic 0.x-1.x, google-genai 1.x)."""

from __future__ import annotations

from typing import ClassVar

import httpx

from ._shell import AsyncShell, ReleasingStream, SyncShell

__all__ = ["AsyncKeyInjectingTransport", "KeyInjectingTransport", "install", "install_async"]


class _SyncReleasingStream(ReleasingStream, httpx.SyncByteStream):
    pass


class _AsyncReleasingStream(ReleasingStream, httpx.AsyncByteStream):
    pass


class KeyInjectingTransport(SyncShell, httpx.BaseTransport):
    """Wraps an httpx transport: requests a byok client marked get a managed key and fail over between keys;
    every other request passes through untouched. Attributes of the wrapped transport stay reachable."""

    _byte_stream: ClassVar[type[httpx.ByteStream]] = httpx.ByteStream
    _response_cls: ClassVar[type[httpx.Response]] = httpx.Response
    _releasing: ClassVar[type[ReleasingStream]] = _SyncReleasingStream

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._inner = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = SyncShell.handle_request(self, request)
        return response


class AsyncKeyInjectingTransport(AsyncShell, httpx.AsyncBaseTransport):
    """The async twin of ``KeyInjectingTransport``."""

    _byte_stream: ClassVar[type[httpx.ByteStream]] = httpx.ByteStream
    _response_cls: ClassVar[type[httpx.Response]] = httpx.Response
    _releasing: ClassVar[type[ReleasingStream]] = _AsyncReleasingStream

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._inner = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await AsyncShell.handle_async_request(self, request)
        return response


def install(client: httpx.Client) -> httpx.Client:
    """Wrap every transport ``client`` routes through (its default and each proxy mount) once. Returns it."""
    if not isinstance(client._transport, KeyInjectingTransport):
        client._transport = KeyInjectingTransport(client._transport)
    for pattern, transport in client._mounts.items():
        if transport is not None and not isinstance(transport, KeyInjectingTransport):
            client._mounts[pattern] = KeyInjectingTransport(transport)
    return client


def install_async(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The async twin of ``install``."""
    if not isinstance(client._transport, AsyncKeyInjectingTransport):
        client._transport = AsyncKeyInjectingTransport(client._transport)
    for pattern, transport in client._mounts.items():
        if transport is not None and not isinstance(transport, AsyncKeyInjectingTransport):
            client._mounts[pattern] = AsyncKeyInjectingTransport(transport)
    return client
