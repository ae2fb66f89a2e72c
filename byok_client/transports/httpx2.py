"""Key-injecting transports for httpx2 (openai 3.x, anthropic 2.x, google-genai 3.x)."""

from __future__ import annotations

from typing import ClassVar

import httpx2

from ._shell import AsyncShell, ReleasingStream, SyncShell

__all__ = ["AsyncKeyInjectingTransport", "KeyInjectingTransport", "install", "install_async"]


class _SyncReleasingStream(ReleasingStream, httpx2.SyncByteStream):
    pass


class _AsyncReleasingStream(ReleasingStream, httpx2.AsyncByteStream):
    pass


class KeyInjectingTransport(SyncShell, httpx2.BaseTransport):
    """Wraps an httpx2 transport: requests a byok client marked get a managed key and fail over between keys;
    every other request passes through untouched. Attributes of the wrapped transport stay reachable."""

    _byte_stream: ClassVar[type[httpx2.ByteStream]] = httpx2.ByteStream
    _response_cls: ClassVar[type[httpx2.Response]] = httpx2.Response
    _releasing: ClassVar[type[ReleasingStream]] = _SyncReleasingStream

    def __init__(self, transport: httpx2.BaseTransport) -> None:
        self._inner = transport

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = SyncShell.handle_request(self, request)
        return response


class AsyncKeyInjectingTransport(AsyncShell, httpx2.AsyncBaseTransport):
    """The async twin of ``KeyInjectingTransport``."""

    _byte_stream: ClassVar[type[httpx2.ByteStream]] = httpx2.ByteStream
    _response_cls: ClassVar[type[httpx2.Response]] = httpx2.Response
    _releasing: ClassVar[type[ReleasingStream]] = _AsyncReleasingStream

    def __init__(self, transport: httpx2.AsyncBaseTransport) -> None:
        self._inner = transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = await AsyncShell.handle_async_request(self, request)
        return response


def install(client: httpx2.Client) -> httpx2.Client:
    """Wrap every transport ``client`` routes through (its default and each proxy mount) once. Returns it."""
    if not isinstance(client._transport, KeyInjectingTransport):
        client._transport = KeyInjectingTransport(client._transport)
    for pattern, transport in client._mounts.items():
        if transport is not None and not isinstance(transport, KeyInjectingTransport):
            client._mounts[pattern] = KeyInjectingTransport(transport)
    return client


def install_async(client: httpx2.AsyncClient) -> httpx2.AsyncClient:
    """The async twin of ``install``."""
    if not isinstance(client._transport, AsyncKeyInjectingTransport):
        client._transport = AsyncKeyInjectingTransport(client._transport)
    for pattern, transport in client._mounts.items():
        if transport is not None and not isinstance(transport, AsyncKeyInjectingTransport):
            client._mounts[pattern] = AsyncKeyInjectingTransport(transport)
    return client
