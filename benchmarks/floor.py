"""A floor for the per-request figures: the least work any client-side key rotation does on each request.

``install_floor(client, key)`` puts a minimal shell on a raw SDK client's own transport, the way byok_client
installs its shell: per request it reads the body (so it could be sent again), takes a key's in-flight slot under
a lock, writes the key into the credential header, reads the two remaining-count headers of the response, counts
the success under the lock, wraps the body so its close gives the slot back, and puts the SDK's header back. No
failover, health window, budget, model scope or event: what is left is the cost of being there at all, measured
with ``--floor`` as a fourth arm of the sync figures. It is a benchmark arm, never a client to use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx2

__all__ = ["Slots", "install_floor"]

# provider -> the remaining-count headers the floor reads (Gemini sends none)
_COUNTS = {
    "openai": (b"x-ratelimit-remaining-requests", b"x-ratelimit-remaining-tokens"),
    "anthropic": (b"anthropic-ratelimit-requests-remaining", b"anthropic-ratelimit-tokens-remaining"),
    "gemini": (),
}
# The credential headers the SDKs send (anthropic 2.x sends its key as a bearer token, older lines as x-api-key).
_CREDENTIALS = (b"authorization", b"x-api-key", b"x-goog-api-key")


class Slots:
    """The floor's key: its in-flight count, successes and last reading, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.successes = 0
        self.left: list[int] = []


class _Releasing(httpx2.SyncByteStream):
    def __init__(self, stream: Any, slots: Slots) -> None:
        self._stream = stream
        self._slots: Slots | None = slots

    def __iter__(self) -> Iterator[bytes]:
        return self._stream.__iter__()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stream.close()
        slots, self._slots = self._slots, None
        if slots is not None:
            with slots.lock:
                slots.in_flight -= 1


def _transport(client: Any) -> Any:
    """The httpx2 transport a raw SDK client sends through (openai, anthropic: ``_client``; genai: its API
    client's ``_httpx_client``)."""
    http = getattr(client, "_client", None)
    if http is None:
        http = client._api_client._httpx_client
    return http._transport


def install_floor(client: Any, provider: str, key: str) -> Slots:
    """Give raw SDK ``client`` the minimal shell (``provider``: openai, anthropic or gemini) sending ``key``; its
    counts are returned."""
    names = _COUNTS[provider]
    values = {name: (("Bearer " if name == b"authorization" else "") + key).encode() for name in _CREDENTIALS}
    transport = _transport(client)
    send = transport.handle_request
    slots = Slots()

    def handle_request(request: Any) -> Any:
        request.read()
        raw = request.headers._list
        saved = list(raw)
        with slots.lock:
            slots.in_flight += 1
        try:
            for i, entry in enumerate(raw):
                if entry[1] in values:  # the SDK's own credential header, whichever it is
                    raw[i] = (entry[0], entry[1], values[entry[1]])
                    break
            response = send(request)
        except BaseException:
            with slots.lock:
                slots.in_flight -= 1
            raise
        finally:
            raw[:] = saved
        left = [int(entry[2]) for entry in response.headers._list if entry[1] in names]
        with slots.lock:
            slots.successes += 1
            slots.left = left
        response.stream = _Releasing(response.stream, slots)
        return response

    transport.handle_request = handle_request
    return slots
